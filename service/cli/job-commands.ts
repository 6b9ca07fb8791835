import { type CommandRun, EXIT_CODES_HELP } from "./command.js";

/** A command whose code is imported when it runs. */
const lazily =
  (load: () => Promise<CommandRun>): CommandRun =>
  async (args) =>
    (await load())(args);

/**
 * The commands a CI job runs. They need only Node.js and the HTTP API, so they are also bundled
 * alone into dist/remote-builder.mjs, which other CI systems download and run as it is. Each is
 * imported when it runs: the client's `import` of node:http alone costs `--version` and `--help`
 * tens of milliseconds (Node then loads its fetch implementation, undici).
 */
export const JOB_COMMANDS: Record<string, CommandRun> = {
  setup: lazily(async () => (await import("./builder.js")).setupCommand),
  finish: lazily(async () => (await import("./builder.js")).finishCommand),
  status: lazily(async () => (await import("./builder.js")).statusCommand),
  cache: lazily(async () => (await import("./cache.js")).cacheCommand),
  usage: lazily(async () => (await import("./usage.js")).usageCommand),
  dashboard: lazily(async () => (await import("./dashboard.js")).dashboardCommand),
  "keep-alive": lazily(async () => (await import("./builder.js")).keepAliveCommand),
};

export const JOB_COMMANDS_HELP = `In a CI job:
  setup      get a remote builder for this job, as a docker buildx builder
  finish     hand the builder back with the job's result
  status     where this job's build stands
  cache      list the account's cache volumes, or reset one
  usage      the account's build minutes, cache GiB-hours and costs
  dashboard  a one-time sign-in link to the account's dashboard (opened where it can be)`;

export const HELP_FOOTER = `Every command takes --help, and --json to print its result as JSON for scripts.
remote-builder --version (or remote-builder version) prints the version.

${EXIT_CODES_HELP}`;
