import type { CacheMode } from "./build.js";

/** How pre-warming decides and how far it may go; from RB_PREWARM_* (docs/configuration.md). */
export interface PrewarmSettings {
  /** How far back the account's history is read. */
  historyDays: number;
  /** How many of the job's past builds (its workflow's, in that window) it takes to start a builder. */
  minBuilds: number;
  /** How long a pre-warmed builder waits for its build before it stops. */
  ttlMs: number;
  /** Pre-warmed builders an account may have waiting at once. */
  maxPerAccount: number;
}

/** One of the account's earlier builds of the job's repository, as the build store keeps it. */
export interface PastBuild {
  createdAt: number;
  workflow: string | null;
  ref: string | null;
  shape: string;
  cacheVolume: string;
  cacheMode: CacheMode | null;
}

export type PrewarmDecision =
  { prewarm: true; shape: string; volume: string } | { prewarm: false; reason: string };

/**
 * Whether a queued job (its workflow and ref) is likely to ask for a builder, from the account's
 * builds of the same repository: at least `minBuilds` builds of that workflow in the window (those
 * of the same ref when there are that many, the workflow's otherwise), most of which held the
 * persistent volume. A job whose builds run cold (pull requests, refs that may not write the cache)
 * gains nothing from a builder on the volume, so it gets none. The builder gets the shape and
 * volume of the latest such build.
 */
export function decidePrewarm(
  job: { workflow: string | null; ref: string | null },
  history: PastBuild[],
  now: number,
  settings: Pick<PrewarmSettings, "historyDays" | "minBuilds">,
): PrewarmDecision {
  const since = now - settings.historyDays * 86_400_000;
  const ofWorkflow = history.filter(
    (b) => b.createdAt >= since && (job.workflow === null || b.workflow === job.workflow),
  );
  const ofRef = ofWorkflow.filter((b) => job.ref !== null && b.ref === job.ref);
  const basis = ofRef.length >= settings.minBuilds ? ofRef : ofWorkflow;
  const what = job.workflow === null ? "this repository" : `the workflow "${job.workflow}"`;
  if (basis.length < settings.minBuilds) {
    return {
      prewarm: false,
      reason: `${basis.length} build(s) of ${what} in the last ${settings.historyDays} days; pre-warming takes ${settings.minBuilds}`,
    };
  }
  const persistent = basis.filter((b) => b.cacheMode === "persistent");
  if (persistent.length * 2 <= basis.length) {
    return {
      prewarm: false,
      reason: `most builds of ${what} ran on a cold builder (no cache volume to warm)`,
    };
  }
  const latest = persistent.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
  return { prewarm: true, shape: latest.shape, volume: latest.cacheVolume };
}
