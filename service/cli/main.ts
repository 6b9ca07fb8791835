import { parseArgs } from "node:util";
import { adminCommand, ADMIN_USAGE } from "./admin.js";
import { devCommand } from "./dev.js";
import { exitWith, JOB_COMMANDS, JOB_USAGE } from "./job-commands.js";
import { serveCommand } from "./serve.js";

const USAGE = `remote-builder — warm, isolated, per-account BuildKit builders

In a CI job:
${JOB_USAGE}

Running the service:
  remote-builder dev [--data-dir .data] [--port 8080]   run everything on this machine (Redis and PostgreSQL included)
  remote-builder serve                                  run the service, configured by RB_* environment variables

Administration:
${ADMIN_USAGE}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const job = command ? JOB_COMMANDS[command] : undefined;
  if (job) return job(rest);
  switch (command) {
    case "dev": {
      const { values } = parseArgs({
        args: rest,
        options: {
          "data-dir": { type: "string", default: ".data" },
          port: { type: "string", default: "8080" },
        },
      });
      return devCommand({ dataDir: values["data-dir"], port: Number(values.port) });
    }
    case "serve":
      return serveCommand();
    case "admin":
      return adminCommand(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`remote-builder: there is no command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

exitWith(main(process.argv.slice(2)));
