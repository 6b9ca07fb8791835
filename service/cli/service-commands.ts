import { type CommandRun, command, EXIT_CODES_HELP, UsageError } from "./command.js";

/**
 * The commands that run or administer the service. Each loads its code with `import()` only when
 * it runs: the server side (express, pg, ioredis, the Kubernetes client) takes longer to load
 * than a CI job's whole `remote-builder status`, and no job command needs any of it.
 */

const DEV = {
  name: "dev",
  help: `Usage: remote-builder dev [options]

Runs everything on this machine until Ctrl-C: Redis and PostgreSQL of its own in the data
folder, the service with the local buildkitd driver (the in-memory test driver when buildkitd
or runc is missing), and a "dev" account with its agent token. Running it again keeps the data
and the build cache.

Options:
  --data-dir DIR        where the data lives (default .data)
  --port N              the API's port (default 8080)
  -h, --help            print this help

${EXIT_CODES_HELP}`,
  options: {
    "data-dir": { type: "string", default: ".data" },
    port: { type: "string", default: "8080" },
  },
} as const;

const SERVE = {
  name: "serve",
  help: `Usage: remote-builder serve

Runs the service until SIGINT or SIGTERM, configured by RB_* environment variables, every one
of them in docs/configuration.md. RB_DRIVER (local or kubernetes) has no default: without it,
serve refuses to start.

Options:
  -h, --help            print this help

${EXIT_CODES_HELP}`,
  options: {},
} as const;

const devCommand = command(DEV, async ({ values }) => {
  const port = values.port;
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`--port is a TCP port number, not "${port}"`);
  }
  const { devCommand: runDev } = await import("./dev.js");
  return runDev({ dataDir: values["data-dir"], port: Number(port) });
});

const serveCommand = command(SERVE, async () => (await import("./serve.js")).serveCommand());

/** Admin has sub-commands with help of their own, so all of it, help included, loads when it runs. */
const adminCommand: CommandRun = async (args) => (await import("./admin.js")).adminCommand(args);

export const SERVICE_COMMANDS: Record<string, CommandRun> = {
  dev: devCommand,
  serve: serveCommand,
  admin: adminCommand,
};

export const SERVICE_COMMANDS_HELP = `Running the service:
  dev        run everything on this machine (Redis and PostgreSQL included)
  serve      run the service, configured by RB_* environment variables

Administration:
  admin      accounts, agent tokens and trust relationships (remote-builder admin --help)`;
