import { type ApiClient, ApiError, type Build } from "./api-client.js";

const POLL_SECONDS = 10;
const TERMINAL = new Set(["completed", "failed", "expired", "reaped"]);

/** One line for where the build stands while the client waits for it. */
export function progressLine(build: Build, elapsedSeconds: number): string {
  const after = `(${elapsedSeconds.toFixed(0)} s)`;
  if (build.state === "queued" && build.queue) {
    const ahead = Math.max(0, build.queue.position - 1);
    return build.queue.waitingFor === "concurrency"
      ? `Queued: the account runs as many builds as its plan allows; ${ahead} build(s) ahead of this one ${after}`
      : `Queued: another build holds the cache volume "${build.cache.volume}"; ${ahead} build(s) ahead ${after}`;
  }
  if (build.state === "queued") return `Queued ${after}`;
  if (build.state === "pending") {
    const tier = build.tier ?? "new";
    return `Booting ${tier === "idle" ? "an" : "a"} ${tier} builder (shape ${build.shape}) ${after}`;
  }
  return `Build ${build.state} ${after}`;
}

/**
 * Long-polls until the build is ready (or building), printing a line whenever where it stands
 * changes, and at least every 30 s. Throws, saying why, when it ends or the wait runs out.
 */
export async function waitUntilReady(
  client: ApiClient,
  created: Build,
  timeoutSeconds: number,
  log: (line: string) => void,
  startedAt = Date.now(),
): Promise<Build> {
  const deadline = startedAt + timeoutSeconds * 1000;
  let build = created;
  let said = "";
  let saidAt = 0;
  let lastQueue = created.queue;
  const timedOut = () =>
    new ApiError(
      `the builder was not ready within ${timeoutSeconds} s (the build is ${build.state === "failed" ? "queued" : build.state}` +
        `${lastQueue ? `, position ${lastQueue.position} in the queue` : ""}); raise the wait timeout` +
        (lastQueue?.waitingFor === "cache"
          ? ", or ask for a cold cache (cache: cold, --cache cold) rather than wait for the volume"
          : ""),
      0,
      "wait-timeout",
    );
  for (;;) {
    if (build.state === "ready" || build.state === "building") return build;
    // The service ends a queued build at its own wait deadline, which usually lands within the
    // client's last long poll: that is the same timeout, and says so the same way.
    if (build.state === "failed" && build.endReason === "wait-timeout") throw timedOut();
    if (TERMINAL.has(build.state)) {
      throw new ApiError(
        `the build ${build.id} ${build.state} before it was ready: ${build.endReason ?? "no reason given"}`,
        0,
        "build-ended",
      );
    }
    if (build.queue) lastQueue = build.queue;
    const now = Date.now();
    const where = `${build.state}:${build.queue?.waitingFor ?? ""}:${build.queue?.position ?? ""}`;
    if (where !== said || now - saidAt >= 30_000) {
      log(progressLine(build, (now - startedAt) / 1000));
      said = where;
      saidAt = now;
    }
    const left = Math.ceil((deadline - now) / 1000);
    if (left <= 0) throw timedOut();
    build = await client.getBuild(build.id, Math.min(left, POLL_SECONDS));
  }
}
