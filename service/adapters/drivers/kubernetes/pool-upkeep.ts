import { idleExpired } from "../../../core/fleet-policy.js";
import { warmDeficit } from "../../../core/placement.js";
import { type BuilderPodView, inPool, isPrewarmed } from "./builder-pod.js";
import type { FleetSnapshot } from "./fleet-snapshot.js";
import type { MaintenanceContext } from "./maintenance-context.js";
import { podFailure, podReady } from "./pod-status.js";

/**
 * Pool builders past their time (idle beyond the TTL, pre-warmed and untaken past their own
 * expiry) or that will never serve (failed) are removed; a warm one that failed to start holds off
 * the next of its shape, and a pre-warmed one no build took is reported with the time it ran for
 * nothing. A serving builder's end is its build's: the core terminates it. Returns the builders
 * that stay, for the next passes.
 */
export async function reapPoolBuilders(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  gone: Set<string>,
): Promise<BuilderPodView[]> {
  const { now } = fleet;
  const alive: BuilderPodView[] = [];
  for (const b of fleet.builders) {
    if (b.deleting || (b.cacheClaim !== undefined && gone.has(b.cacheClaim))) continue;
    const expired = isPrewarmed(b)
      ? now >= (b.prewarmExpiresAt ?? now)
      : b.role === "idle" && idleExpired(b.idleSince ?? now, now, c.options.idleTtlMs);
    const failure = podFailure(b.pod);
    const shape = b.shape ?? "";
    // Only the version seen: a build may have taken it since the cache was read.
    if (inPool(b) && (expired || failure) && (await c.writer.deleteBuilder(b.name, { seen: b.pod }))) {
      if (b.role === "warm" && failure) c.warmFailed(shape, failure, c.warmRetries.failed(shape, now));
      if (isPrewarmed(b)) c.options.onPrewarmExpired?.(b.accountId ?? "", (now - b.prewarmedAt!) / 1000);
      continue;
    }
    if (b.role === "warm" && podReady(b.pod)) c.warmRetries.succeeded(shape);
    alive.push(b);
  }
  return alive;
}

/** A warm builder whose adoption was cut short: its volume is the account's all the same. */
export async function finishAdoptions(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  alive: BuilderPodView[],
): Promise<void> {
  for (const b of alive) {
    const claim = fleet.claims.find((x) => x.name === b.cacheClaim);
    if (b.role === "serving" && b.accountId && b.volume && claim?.role === "warm") {
      await c.writer.adoptClaim(b.pod, b.accountId, b.volume);
    }
  }
}

/** Starts the warm builders each shape lacks, unless its last ones failed too recently. */
export async function refillWarmPool(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  alive: BuilderPodView[],
): Promise<void> {
  const warm: Record<string, number> = {};
  for (const b of alive) {
    if (b.role === "warm") warm[b.shape!] = (warm[b.shape!] ?? 0) + 1;
  }
  for (const { shape, missing } of warmDeficit(c.options.warmPool, warm)) {
    if (!c.warmRetries.mayStart(shape, fleet.now)) continue;
    for (let i = 0; i < missing; i++) await c.startWarm(shape);
  }
}
