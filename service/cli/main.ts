import { parseArgs } from "node:util";
import { adminCommand, ADMIN_USAGE } from "./admin.js";
import { BUILDER_USAGE, finishCommand, keepAliveCommand, setupCommand, statusCommand } from "./builder.js";
import { CACHE_USAGE, cacheCommand } from "./cache.js";
import { devCommand } from "./dev.js";
import { serveCommand } from "./serve.js";
import { usageCommand, USAGE_USAGE } from "./usage.js";

const USAGE = `remote-builder — warm, isolated, per-account BuildKit builders

In a CI job:
${BUILDER_USAGE}
${USAGE_USAGE}
${CACHE_USAGE}

Running the service:
  remote-builder dev [--data-dir .data] [--port 8080]   run everything on this machine (Redis and PostgreSQL included)
  remote-builder serve                                  run the service, configured by RB_* environment variables

Administration:
${ADMIN_USAGE}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
    case "setup":
      return setupCommand(rest);
    case "finish":
      return finishCommand(rest);
    case "status":
      return statusCommand(rest);
    case "cache":
      return cacheCommand(rest);
    case "keep-alive":
      return keepAliveCommand();
    case "admin":
      return adminCommand(rest);
    case "usage":
      return usageCommand(rest);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`remote-builder: ${err.message}\n`);
    process.exitCode = 1;
  },
);
