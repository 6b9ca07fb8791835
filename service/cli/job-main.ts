import { exitWith, JOB_COMMANDS, JOB_USAGE } from "./job-commands.js";

/** dist/remote-builder.mjs: the CI job's commands alone, for CI systems other than GitHub Actions. */
const USAGE = `remote-builder — a warm, isolated BuildKit builder for this CI job

${JOB_USAGE}
`;

async function main([command, ...rest]: string[]): Promise<number> {
  const run = command ? JOB_COMMANDS[command] : undefined;
  if (run) return run(rest);
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  process.stderr.write(`remote-builder: there is no command "${command}".\n\n${USAGE}`);
  return 2;
}

exitWith(main(process.argv.slice(2)));
