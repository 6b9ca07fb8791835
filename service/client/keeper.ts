import { spawn } from "node:child_process";
import { constants, setPriority } from "node:os";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { type ApiClient, ApiError } from "./api-client.js";

/** Why a keeper stops for good: the build is over, or it was told to. */
const FINAL = new Set(["illegal-transition", "claim-lost", "not-found"]);

/**
 * Sends the build's heartbeats between the setup step and the end of the job, while docker
 * commands come and go. A lost network is retried; a build that ended stops it.
 */
export async function keepAlive(
  client: ApiClient,
  buildId: string,
  intervalSeconds: number,
  signal: AbortSignal,
  log: (line: string) => void = () => {},
): Promise<string> {
  while (!signal.aborted) {
    const final = await heartbeatOnce(client, buildId, log);
    if (final) return final;
    await sleep(intervalSeconds * 1000, undefined, { signal }).catch(() => {});
  }
  return "stopped";
}

/**
 * One of keepAlive's heartbeats: null when the build goes on, else why it ended. The client's
 * credential renews itself on the way when it is due (see RenewingCredential).
 */
export async function heartbeatOnce(
  client: ApiClient,
  buildId: string,
  log: (line: string) => void = () => {},
): Promise<string | null> {
  try {
    await client.heartbeat(buildId);
    return null;
  } catch (err) {
    if (err instanceof ApiError && FINAL.has(err.kind)) {
      log(`heartbeats stopped: ${err.message}`);
      return err.kind;
    }
    log(`heartbeat failed, retrying: ${(err as Error).message}`);
    return null;
  }
}

/**
 * Starts this same program again, detached, with `args` (its keep-alive command): a process that
 * outlives this step (CI runners keep a job's processes until it ends) and runs `keepAlive`.
 * Secrets go through its environment, never its argv.
 */
export function spawnKeeper(args: string[], env: Record<string, string>, logPath: string): number {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...env, RB_KEEPER_LOG: logPath },
  });
  child.unref();
  if (child.pid === undefined) throw new Error("could not start the heartbeat process");
  // Its first heartbeat is not due for a while: its start must not take CPU from the job's build.
  try {
    setPriority(child.pid, constants.priority.PRIORITY_LOW);
  } catch {
    // Not allowed here: it runs at the job's priority, as before.
  }
  return child.pid;
}

/**
 * The body of the process spawnKeeper starts: heartbeats for RB_KEEPER_BUILD every
 * RB_KEEPER_INTERVAL seconds, with a line in RB_KEEPER_LOG for each problem, until the build
 * ends or SIGTERM comes.
 */
export async function keeperProcess(client: ApiClient, env = process.env): Promise<void> {
  // Told to stop, it stops at once: a heartbeat abandoned mid-flight does no harm.
  process.on("SIGTERM", () => process.exit(0));
  const interval = Number(env.RB_KEEPER_INTERVAL) || 10;
  await keepAlive(client, env.RB_KEEPER_BUILD ?? "", interval, new AbortController().signal, keeperLog(env));
}

/** The keeper's log (RB_KEEPER_LOG): one line per problem or renewal, never a secret. */
export function keeperLog(env = process.env): (line: string) => void {
  return (line) => {
    if (env.RB_KEEPER_LOG) appendFileSync(env.RB_KEEPER_LOG, `${new Date().toISOString()} ${line}\n`);
  };
}

export function stopKeeper(pid: number): void {
  // A pid saved long ago may belong to another process by now: stop it only if it is a keeper.
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, "utf8").includes("keep-alive")) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // Already gone: the build ended or the runner cleaned it up.
  }
}
