import { dispatch, exitWith } from "./command.js";
import { HELP_FOOTER, JOB_COMMANDS, JOB_COMMANDS_HELP } from "./job-commands.js";
import { SERVICE_COMMANDS, SERVICE_COMMANDS_HELP } from "./service-commands.js";

/**
 * The whole CLI: the job's commands and the service's. Each command's code is loaded with
 * `import()` when it runs, so that `--help` and `--version` load none of it and a job's command
 * only the client, never the server side (express, pg, ioredis, the Kubernetes client).
 */
const HELP = `remote-builder — warm, isolated, per-account BuildKit builders

Usage: remote-builder <command> [options]

${JOB_COMMANDS_HELP}

${SERVICE_COMMANDS_HELP}

${HELP_FOOTER}`;

exitWith(dispatch(process.argv.slice(2), { ...JOB_COMMANDS, ...SERVICE_COMMANDS }, HELP));
