import { EXIT_CODES_HELP } from "./command.js";

/** The flags and help of the job's builder commands: setup, finish, status and keep-alive (builder.ts). */

const COMMON = {
  server: { type: "string" },
  token: { type: "string" },
  audience: { type: "string", default: "remote-builder" },
  account: { type: "string" },
  name: { type: "string", default: "remote-builder" },
  "state-dir": { type: "string" },
} as const;

/** The flags setup, finish and status share, as their help lists them. */
const COMMON_HELP = `  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             an agent token (RB_TOKEN); without one, the CI's OIDC identity token is
                        exchanged for a credential
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --account HANDLE      the account to act for, when several accounts trust this job
  --name N              the docker buildx builder's name (default remote-builder); one job may
                        set up several builders under different names
  --state-dir DIR       where the job's state and key files are kept between steps
                        (RB_STATE_DIR; default <temp>/remote-builder-<uid>)
  --json                print the result as JSON, for scripts
  -h, --help            print this help`;

export const SETUP = {
  name: "setup",
  help: `Usage: remote-builder setup [options]

Gets a remote builder for this CI job and makes it a docker buildx builder (the default one,
unless --no-use). Progress goes to stderr; stdout gets one line of JSON whether or not --json
is given: {"name", "buildId", "endpoint", "tier", "readySeconds"}.

Options:
  --shape S             the builder's size, as the account's plan allows (default: the plan's)
  --cache wait|cold     wait for the account's cache volume while another build holds it, or
                        start with an empty cache at once (default: wait)
  --wait-timeout D      how long to wait for a ready builder: 90, 90s, 10m or 1h (default: 10m)
  --label K=V           a label on the build, shown in usage and the API; repeatable
  --no-use              do not make it docker's default builder (name it with --builder)
${COMMON_HELP}

Examples:
  remote-builder setup --shape medium --wait-timeout 15m
  remote-builder setup --name rb-$CI_JOB_ID --label pipeline=$CI_PIPELINE_ID --no-use

${EXIT_CODES_HELP}`,
  options: {
    ...COMMON,
    shape: { type: "string" },
    cache: { type: "string", default: "wait" },
    "wait-timeout": { type: "string", default: "10m" },
    "no-use": { type: "boolean", default: false },
    label: { type: "string", multiple: true },
  },
} as const;

export const FINISH = {
  name: "finish",
  help: `Usage: remote-builder finish [options]

Hands the builder back with the job's result and removes the docker buildx builder and the key
files. Prints a summary of the build (with --json: the build as the API shows it).

Options:
  --result R            success, failure or cancelled, or the CI's word for one (failed,
                        canceled, ABORTED, …) (default: success)
  --keep-builder        leave the docker buildx builder and the key files in place
${COMMON_HELP}

Examples:
  remote-builder finish --result "$CI_JOB_STATUS"
  remote-builder finish --name rb-$CI_JOB_ID --result failure --json

${EXIT_CODES_HELP}`,
  options: {
    ...COMMON,
    result: { type: "string", default: "success" },
    "keep-builder": { type: "boolean" },
  },
} as const;

export const STATUS = {
  name: "status",
  help: `Usage: remote-builder status [options]

Where this job's build stands: its state, tier, time to ready, cache and duration (with --json:
the build as the API shows it).

Options:
${COMMON_HELP}

Example:
  remote-builder status --json | jq -r .state

${EXIT_CODES_HELP}`,
  options: COMMON,
} as const;

export const KEEP_ALIVE = {
  name: "keep-alive",
  help: `Usage: remote-builder keep-alive

The heartbeat process setup starts in the background and finish stops; not for running by hand.
It reads what to keep alive from RB_KEEPER_* environment variables.`,
  options: {},
} as const;
