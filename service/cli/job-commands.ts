import { BUILDER_USAGE, finishCommand, keepAliveCommand, setupCommand, statusCommand } from "./builder.js";
import { CACHE_USAGE, cacheCommand } from "./cache.js";
import { usageCommand, USAGE_USAGE } from "./usage.js";

/**
 * The commands a CI job runs. They need only Node.js and the HTTP API, so they are also bundled
 * alone into dist/remote-builder.mjs, which other CI systems download and run as it is.
 */
export const JOB_USAGE = `${BUILDER_USAGE}
${USAGE_USAGE}
${CACHE_USAGE}`;

export const JOB_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  setup: setupCommand,
  finish: finishCommand,
  status: statusCommand,
  cache: cacheCommand,
  usage: usageCommand,
  "keep-alive": () => keepAliveCommand(),
};

/**
 * Runs a command's promise to an exit code, printing a failure the way every command does, and
 * exits once its output is written: waiting for the event loop to drain (idle keep-alive sockets,
 * a child's last handles) cost every job step a tenth of a second (bench:headline).
 */
export function exitWith(run: Promise<number>): void {
  run
    .then(
      (code) => code,
      (err: Error) => {
        process.stderr.write(`remote-builder: ${err.message}\n`);
        return 1;
      },
    )
    .then((code) => {
      process.exitCode = code;
      process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
    });
}
