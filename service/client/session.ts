import type { Writable } from "node:stream";
import { type ApiClient, ApiError, type Build, type CacheVolume, type JobResult } from "./api-client.js";
import { buildxBootstrapArgs, buildxCreateArgs, buildxRmArgs, docker } from "./docker.js";
import { withInsights } from "./insights.js";
import { keepAlive } from "./keeper.js";
import { createKeyFiles, removeKeyFiles, writeCertificates } from "./keys.js";
import { waitUntilReady } from "./wait.js";

/**
 * What the GitHub Action and the CLI do around a job, in one place: set a builder up (key pair,
 * build, wait, `docker buildx create`), and tear it down (complete, `buildx rm`, key files).
 */
export interface SetupOptions {
  shape?: string | undefined;
  cache: "wait" | "cold";
  waitTimeoutSeconds: number;
  name?: string | undefined;
  use: boolean;
  labels: Record<string, string>;
  /** Where the key folder goes (RUNNER_TEMP on GitHub). */
  keyParent: string;
  bootstrapTimeoutSeconds: number;
  log: (line: string) => void;
  /** Runs a stage under a heading (the Action's `core.group`); by default it just runs it. */
  group?: Group | undefined;
  /** Where docker's command lines and output go (the Action's log); by default nowhere. */
  dockerOutput?: Writable | undefined;
  /** Called as soon as there is something to clean up, so that a later failure leaves nothing behind. */
  onState: (state: SessionState) => void;
  /** Called with the private key before it is used, so that CI logs can mask it. */
  onSecret?: (secret: string) => void;
}

/** A stage of the setup or teardown, `name`d for a log that folds (GitHub's `::group::`). */
export type Group = <T>(name: string, stage: () => Promise<T>) => Promise<T>;

const ungrouped: Group = (_name, stage) => stage();

export interface SessionState {
  buildId: string | null;
  name: string;
  keyDir: string;
  /** Whether `docker buildx create` ran, so there is a builder to remove. */
  builderCreated: boolean;
  startedAt: number;
  readySeconds: number | null;
}

export interface SetupResult {
  build: Build;
  state: SessionState;
  endpoint: string;
  readySeconds: number;
}

export async function setUp(client: ApiClient, o: SetupOptions): Promise<SetupResult> {
  const group = o.group ?? ungrouped;
  const startedAt = Date.now();
  const keys = createKeyFiles(o.keyParent);
  o.onSecret?.(keys.privateKeyPem);
  const state: SessionState = {
    buildId: null,
    name: o.name ?? "",
    keyDir: keys.dir,
    builderCreated: false,
    startedAt,
    readySeconds: null,
  };
  o.onState(state);
  // The claim's lease runs from admission: booting, `buildx create` and the bootstrap may take
  // longer than one lease, so heartbeats start now, not when the detached keeper takes over.
  const beating = new AbortController();
  try {
    const { ready, readySeconds } = await group("Waiting for a builder", async () => {
      const created = await client.createBuild({
        ...(o.shape ? { shape: o.shape } : {}),
        cache: o.cache,
        waitSeconds: o.waitTimeoutSeconds,
        labels: o.labels,
        publicKey: keys.publicKeyPem,
      });
      state.buildId = created.id;
      state.name = o.name ?? `remote-builder-${created.id.slice(0, 8)}`;
      o.onState(state);
      o.log(
        created.state === "queued"
          ? `Build ${created.id} queued (shape ${created.shape}); waiting for ${created.queue?.waitingFor === "cache" ? "the cache volume" : "a concurrency slot"}`
          : `Build ${created.id} admitted (shape ${created.shape}, cache ${describeCache(created)})`,
      );
      // Cannot reject: keepAlive retries a failed heartbeat and returns when `beating` aborts.
      void keepAlive(client, created.id, created.heartbeatIntervalSeconds, beating.signal);
      const build = await waitUntilReady(client, created, o.waitTimeoutSeconds, o.log, startedAt);
      const seconds = (Date.now() - startedAt) / 1000;
      o.log(
        `Builder ready in ${seconds.toFixed(1)} s (${build.tier ?? "unknown"} tier, shape ${build.shape})`,
      );
      return { ready: build, readySeconds: seconds };
    });
    state.readySeconds = readySeconds;
    await group("Setting up docker buildx", async () => {
      if (!ready.certificate) throw new Error("the service returned no client certificate for the build");
      writeCertificates(keys, ready.certificate, ready.broker.caCertificate);
      const args = buildxCreateArgs({
        name: state.name,
        endpoint: ready.broker.endpoint,
        serverName: ready.broker.serverName,
        caPath: keys.caPath,
        certPath: keys.certPath,
        keyPath: keys.keyPath,
        use: o.use,
      });
      await docker(args, { timeoutMs: 30_000, output: o.dockerOutput });
      state.builderCreated = true;
      o.onState(state);
      const bootstrap = { timeoutMs: o.bootstrapTimeoutSeconds * 1000, output: o.dockerOutput };
      await docker(buildxBootstrapArgs(state.name), bootstrap).catch((err: Error) => {
        throw new Error(
          `the builder did not answer through the broker at ${ready.broker.endpoint}: ${err.message}`,
        );
      });
      o.log(`docker buildx builder "${state.name}" is ready${o.use ? " and in use" : ""}`);
    });
    return { build: ready, state, endpoint: ready.broker.endpoint, readySeconds };
  } finally {
    beating.abort();
  }
}

export interface TeardownResult {
  build: Build | null;
  volume: CacheVolume | null;
  warnings: string[];
}

/**
 * Ends the build with the job's result and removes what setUp left. Nothing here fails a job:
 * every problem becomes a warning, and each step runs whatever happened to the one before.
 */
export async function tearDown(
  client: ApiClient,
  state: SessionState,
  result: JobResult,
  o: { cleanup: boolean; log: (line: string) => void; dockerOutput?: Writable | undefined },
): Promise<TeardownResult> {
  const warnings: string[] = [];
  // The builder's removal is local (buildx's own files): it runs while the service is asked, and
  // is said after the build's end, whichever finished first, so a job's log reads the same each time.
  const removed =
    o.cleanup && state.builderCreated
      ? docker(buildxRmArgs(state.name), { timeoutMs: 30_000, output: o.dockerOutput }).then(
          () => `Removed docker buildx builder "${state.name}"`,
          (err: Error) => {
            warnings.push(`could not remove the buildx builder "${state.name}": ${err.message}`);
            return null;
          },
        )
      : null;
  const completed = state.buildId
    ? await completeBuild(client, state.buildId, result, warnings, o.log)
    : null;
  // The service reads the builder's BuildKit history once the build ends: a few seconds.
  const build = completed && (await withInsights(client, completed));
  const volume =
    build && build.cache.mode === "persistent"
      ? ((await client.listCacheVolumes(build.accountId).catch(() => [])).find(
          (v) => v.name === build.cache.volume,
        ) ?? null)
      : null;
  const removal = await removed;
  if (removal) o.log(removal);
  removeKeyFiles(state.keyDir);
  return { build, volume, warnings };
}

/** Completes the build with the job's result; what went wrong becomes a warning, never an error. */
async function completeBuild(
  client: ApiClient,
  buildId: string,
  result: JobResult,
  warnings: string[],
  log: (line: string) => void,
): Promise<Build | null> {
  const build = await client.complete(buildId, result).catch(async (err: Error) => {
    if (err instanceof ApiError && err.kind === "illegal-transition") {
      // It ended on its own (deadline, idle, lost heartbeats); say how, and report it as it is.
      const ended = await client.getBuild(buildId).catch(() => null);
      warnings.push(`the build had already ended (${ended?.state ?? "unknown"}: ${ended?.endReason ?? "?"})`);
      return ended;
    }
    warnings.push(`could not complete build ${buildId}: ${err.message}`);
    return null;
  });
  if (build?.state === "completed") log(`Build ${build.id} completed as ${build.result}`);
  if (build?.state === "completed" && build.result !== result) {
    warnings.push(`the build had already been completed as ${build.result}, not ${result}`);
  }
  return build;
}

/**
 * A job's result in the words CIs use for it: ours, GitHub's `job.status`, GitLab's
 * `$CI_JOB_STATUS` (failed, canceled), Jenkins' `currentResult` (SUCCESS, FAILURE, UNSTABLE,
 * ABORTED). Null for anything else.
 */
export function jobResult(status: string): JobResult | null {
  const word = status.trim().toLowerCase();
  if (word === "success") return "success";
  if (["failure", "failed", "unstable"].includes(word)) return "failure";
  if (["cancelled", "canceled", "aborted"].includes(word)) return "cancelled";
  return null;
}

function describeCache(build: Build): string {
  if (build.cache.mode === "cold") return `cold: ${build.cache.reason ?? "no warm cache"}`;
  if (build.cache.mode === "persistent") {
    return `volume "${build.cache.volume}"${build.cache.reason ? `; ${build.cache.reason}` : ""}`;
  }
  return `waiting for volume "${build.cache.volume}"`;
}
