import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient, type TokenSource } from "../client/api-client.js";
import { keeperLog, keeperProcess, spawnKeeper, stopKeeper } from "../client/keeper.js";
import { type HeldCredential, RenewingCredential } from "../client/renewal.js";
import type { SessionState } from "../client/session.js";
import { progressLine } from "../client/wait.js";
import { buildSummary } from "./build-summary.js";
import { FINISH, KEEP_ALIVE, SETUP, STATUS } from "./builder-flags.js";
import { command, durationFlag, printResult, UsageError } from "./command.js";
import { serverUrl } from "./http.js";
import { cliCredential } from "./id-token.js";

interface CliState {
  server: string;
  session: SessionState;
  keeperPid: number | null;
  /**
   * The credential setup's exchange gave, when there was no agent token. A CI identity token is
   * good for one exchange, and GitLab's or CircleCI's is the same one for every step of the job,
   * so finish and status could not exchange it again. Kept beside the build's private key, as
   * owner-only. The heartbeat process writes each renewal of it here, for finish.
   */
  credential?: string | null;
  /** When the credential expires and when to renew it, in this machine's time (ms). */
  credentialExpiresAt?: number | null;
  credentialRenewAt?: number | null;
}

/** The job's state lives beside the key files, one file per builder name, owner-only. */
const stateDir = (given: string | undefined) =>
  given ?? process.env.RB_STATE_DIR ?? join(tmpdir(), `remote-builder-${process.getuid?.() ?? "user"}`);
const statePath = (dir: string, name: string) => join(dir, `${name}.json`);
const USER_AGENT = "remote-builder-cli/1";
const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The session (key files, the wait, docker buildx) is loaded by setup and finish when they run:
 * it brings the docker runner along, and status, --help and --version start faster without it.
 */
const session = () => import("../client/session.js");

export const setupCommand = command(SETUP, async ({ values }) => {
  const { cache, waitTimeoutSeconds, labels } = setupFlags(values);
  const { setUp, tearDown } = await session();
  const server = serverUrl(values.server);
  const dir = stateDir(values["state-dir"]);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = statePath(dir, values.name);
  if (existsSync(path)) {
    throw new Error(
      `a builder named "${values.name}" is already set up here; run \`remote-builder finish --name ${values.name}\` first, or pick another --name`,
    );
  }
  const auth = cliCredential(server, values);
  await auth.token();
  const client = new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT });
  const save = (session: SessionState, keeperPid: number | null = null) =>
    writeFileSync(
      path,
      JSON.stringify({ server, session, keeperPid, ...credentialFields(heldBy(auth)) } satisfies CliState),
      { mode: 0o600 },
    );
  let started: SessionState | null = null;
  try {
    const result = await setUp(client, {
      shape: values.shape,
      cache,
      waitTimeoutSeconds,
      name: values.name,
      use: !values["no-use"],
      labels,
      keyParent: dir,
      bootstrapTimeoutSeconds: 60,
      log: say,
      onState: (s) => {
        started = s;
        save(s);
      },
    });
    // Renewed first if it is due, so that the keeper gets the credential and its times together.
    const keeperToken = await auth.token();
    const held = heldBy(auth);
    const pid = spawnKeeper(
      ["keep-alive"],
      {
        RB_KEEPER_SERVER: server,
        RB_KEEPER_BUILD: result.build.id,
        RB_KEEPER_INTERVAL: String(result.build.heartbeatIntervalSeconds),
        RB_KEEPER_CREDENTIAL: keeperToken,
        RB_KEEPER_AUDIENCE: values.audience,
        RB_KEEPER_STATE: path,
        ...(held
          ? {
              RB_KEEPER_CREDENTIAL_EXPIRES_AT: String(held.expiresAt),
              RB_KEEPER_CREDENTIAL_RENEW_AT: String(held.renewAt),
            }
          : {}),
      },
      join(result.state.keyDir, "heartbeats.log"),
    );
    save(result.state, pid);
    say(
      `Next: docker buildx build --builder ${values.name} …   (then: remote-builder finish --result success)`,
    );
    // One line of JSON with or without --json: scripts have read it since the first release.
    process.stdout.write(
      `${JSON.stringify({ name: values.name, buildId: result.build.id, endpoint: result.endpoint, tier: result.build.tier, readySeconds: result.readySeconds })}\n`,
    );
    return 0;
  } catch (err) {
    // Nothing of a failed setup may outlive it: no later `finish` is coming to clean up.
    if (started) await tearDown(client, started, "cancelled", { cleanup: true, log: say }).catch(() => {});
    rmSync(path, { force: true });
    throw err;
  }
});

/** Setup's flags that take a value from a set or a form, checked before anything is done. */
function setupFlags(values: { cache: string; "wait-timeout": string; label?: string[] | undefined }) {
  const cache = values.cache;
  if (cache !== "wait" && cache !== "cold") throw new UsageError(`--cache is wait or cold, not "${cache}"`);
  return {
    cache,
    waitTimeoutSeconds: durationFlag("--wait-timeout", values["wait-timeout"]),
    labels: parseLabels(values.label ?? []),
  } as const;
}

export const finishCommand = command(FINISH, async ({ values }) => {
  const { jobResult, tearDown } = await session();
  const result = jobResult(values.result);
  if (!result) {
    throw new UsageError(
      `--result is success, failure or cancelled (or the CI's word for one: failed, canceled, ABORTED, …), not "${values.result}"`,
    );
  }
  const path = statePath(stateDir(values["state-dir"]), values.name);
  const state = readState(path, values.name);
  if (state.keeperPid) stopKeeper(state.keeperPid);
  const client = new ApiClient({
    serverUrl: state.server,
    auth: savedCredential(state, values, path),
    userAgent: USER_AGENT,
  });
  const { build, warnings } = await tearDown(client, state.session, result, {
    cleanup: !values["keep-builder"],
    log: say,
  });
  rmSync(path, { force: true });
  for (const warning of warnings) say(`warning: ${warning}`);
  if (build) printResult(values.json, build, buildSummary);
  return 0;
});

export const statusCommand = command(STATUS, async ({ values }) => {
  const path = statePath(stateDir(values["state-dir"]), values.name);
  const state = readState(path, values.name);
  if (!state.session.buildId) throw new Error("the setup never got as far as a build");
  const client = new ApiClient({
    serverUrl: state.server,
    auth: savedCredential(state, values, path),
    userAgent: USER_AGENT,
  });
  const build = await client.getBuild(state.session.buildId);
  say(progressLine(build, (Date.now() - state.session.startedAt) / 1000));
  printResult(values.json, build, buildSummary);
  return 0;
});

/** The detached heartbeat process `setup` starts and `finish` stops. */
export const keepAliveCommand = command(KEEP_ALIVE, async () => {
  await keeperProcess(keeperClient(process.env));
  return 0;
});

/**
 * The heartbeat process's client, from what setup put in its environment: the credential setup
 * got, renewed when due, each renewal written to the state file (RB_KEEPER_STATE) finish reads.
 */
export function keeperClient(env: NodeJS.ProcessEnv, now?: () => number): ApiClient {
  const server = env.RB_KEEPER_SERVER ?? "";
  const credential = env.RB_KEEPER_CREDENTIAL;
  const statePath = env.RB_KEEPER_STATE;
  const auth = cliCredential(server, {
    audience: env.RB_KEEPER_AUDIENCE ?? "remote-builder",
    initial: credential
      ? {
          credential,
          // Unknown times (an older setup): renewed only after a 401.
          expiresAt: Number(env.RB_KEEPER_CREDENTIAL_EXPIRES_AT) || Infinity,
          renewAt: Number(env.RB_KEEPER_CREDENTIAL_RENEW_AT) || Infinity,
        }
      : undefined,
    ...(statePath ? { onRenewed: (held: HeldCredential) => saveCredential(statePath, held) } : {}),
    log: keeperLog(env),
    ...(now ? { now } : {}),
  });
  return new ApiClient({ serverUrl: server, auth, userAgent: USER_AGENT });
}

/** `--label key=value`, many times; a value may hold "=" itself. */
function parseLabels(given: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const label of given) {
    const at = label.indexOf("=");
    if (at < 1) throw new UsageError(`--label takes key=value, not "${label}"`);
    labels[label.slice(0, at)] = label.slice(at + 1);
  }
  return labels;
}

/**
 * The agent token if one is given now, else the credential setup exchanged or the heartbeat
 * process last renewed: renewed again when due, exchanged again once it cannot be.
 */
export function savedCredential(
  state: CliState,
  values: { token?: string | undefined; audience: string; account?: string | undefined },
  path: string,
  now?: () => number,
): TokenSource {
  return cliCredential(state.server, {
    ...values,
    initial: state.credential
      ? {
          credential: state.credential,
          expiresAt: state.credentialExpiresAt ?? Infinity,
          renewAt: state.credentialRenewAt ?? Infinity,
        }
      : undefined,
    onRenewed: (held) => saveCredential(path, held),
    ...(now ? { now } : {}),
  });
}

const heldBy = (auth: TokenSource) => (auth instanceof RenewingCredential ? auth.current() : null);

function credentialFields(held: HeldCredential | null) {
  return {
    credential: held?.credential ?? null,
    credentialExpiresAt: held?.expiresAt ?? null,
    credentialRenewAt: held?.renewAt ?? null,
  };
}

/**
 * Puts a renewed credential into the job's state file, whole or not at all (finish may be reading
 * it), owner-only. A state file finish already removed stays removed: the job is over.
 */
export function saveCredential(path: string, held: HeldCredential): void {
  if (!existsSync(path)) return;
  const state = { ...(JSON.parse(readFileSync(path, "utf8")) as CliState), ...credentialFields(held) };
  const next = `${path}.${process.pid}.tmp`;
  writeFileSync(next, JSON.stringify(state), { mode: 0o600 });
  renameSync(next, path);
}

export function readState(path: string, name: string): CliState {
  if (!existsSync(path)) {
    throw new Error(
      `no builder named "${name}" was set up here (looked for ${path}); run \`remote-builder setup\` first`,
    );
  }
  return JSON.parse(readFileSync(path, "utf8")) as CliState;
}
