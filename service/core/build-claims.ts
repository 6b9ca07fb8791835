import type { Build, BuildPatch } from "./build.js";
import type { ClaimScope, ClaimStore } from "./ports.js";
import { Problem } from "./problems.js";

export interface ClaimSettings {
  claimLeaseMs: number;
  /** What a `concurrency-limit` refusal tells the client to wait before retrying. */
  concurrencyRetryAfterSeconds: number;
}

/** What a queued build waits for. */
export type WaitingFor = "concurrency" | "cache";

export type ClaimOutcome =
  | { ok: true; patch: BuildPatch }
  | { ok: false; patch: BuildPatch; refusal?: Problem; waitingFor?: WaitingFor };

export function concurrencyScope(accountId: string): ClaimScope {
  return { kind: "concurrency", accountId };
}

export function volumeScope(build: Pick<Build, "accountId" | "cacheVolume">): ClaimScope {
  return { kind: "volume", accountId: build.accountId, volume: build.cacheVolume };
}

/**
 * Takes the concurrency slot, then the cache volume, in that order (so no two builds can each
 * hold what the other waits for).
 */
export async function claimFor(
  claims: ClaimStore,
  settings: ClaimSettings,
  build: Build,
  limit: number,
  now: number,
): Promise<ClaimOutcome> {
  const opts = { leaseMs: settings.claimLeaseMs, now, waitDeadline: build.waitDeadlineAt };
  const slot = await claims.acquire(concurrencyScope(build.accountId), build.id, {
    ...opts,
    capacity: limit,
  });
  if (slot.outcome === "busy") {
    return {
      ok: false,
      patch: {},
      refusal: new Problem(
        "concurrency-limit",
        `The account already runs ${slot.holders} of ${limit} concurrent builds. ` +
          `Retry later, or pass waitSeconds to queue for a slot.`,
        { limit, current: slot.holders },
        settings.concurrencyRetryAfterSeconds,
      ),
    };
  }
  if (slot.outcome === "queued") return { ok: false, patch: {}, waitingFor: "concurrency" };
  const patch: BuildPatch = { claimFence: slot.fence };
  const cold = coldReason(build);
  if (cold !== null) return { ok: true, patch: { ...patch, cacheMode: "cold", cacheReason: cold } };
  const volume = await claims.acquire(volumeScope(build), build.id, { ...opts, capacity: 1 });
  switch (volume.outcome) {
    case "granted":
      return {
        ok: true,
        patch: { ...patch, volumeFence: volume.fence, cacheMode: "persistent", cacheReason: null },
      };
    case "queued":
      return { ok: false, patch, waitingFor: "cache" };
    case "busy":
      return {
        ok: true,
        patch: {
          ...patch,
          cacheMode: "cold",
          cacheReason:
            "the account's cache volume is in use by another build and waitSeconds was 0, so this build runs cold",
        },
      };
  }
}

/** Why a build must not touch the account's volume at all, or null when it may. */
function coldReason(build: Build): string | null {
  if (build.cacheRequest === "cold") return "the client asked for a cold builder";
  // The credential's trust relationship does not let this ref write the warm cache (a pull
  // request, say): it must not poison what the default branch's builds read.
  if (!build.cacheWrite) {
    return `${build.ref ?? "this ref"} may not write the account's warm cache (its trust relationship's cache policy), so this build runs cold`;
  }
  return null;
}
