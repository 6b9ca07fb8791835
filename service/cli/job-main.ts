import { dispatch, exitWith } from "./command.js";
import { HELP_FOOTER, JOB_COMMANDS, JOB_COMMANDS_HELP } from "./job-commands.js";

/** dist/remote-builder.mjs: the CI job's commands alone, for CI systems other than GitHub Actions. */
const HELP = `remote-builder — a warm, isolated BuildKit builder for this CI job

Usage: remote-builder <command> [options]

${JOB_COMMANDS_HELP}

${HELP_FOOTER}`;

exitWith(dispatch(process.argv.slice(2), JOB_COMMANDS, HELP));
