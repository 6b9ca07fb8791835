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

/**
 * What to start for a queued job: the account's builder on its volume (`volume`), a fresh builder
 * of the shape for a job whose builds run cold (`warm`: pull requests, refs that may not write the
 * cache, matrix jobs that found the volume busy), or nothing.
 */
export type PrewarmDecision =
  | { prewarm: "volume"; shape: string; volume: string }
  | { prewarm: "warm"; shape: string }
  | { prewarm: false; reason: string };

/**
 * Whether a queued job (its workflow and ref) is likely to ask for a builder, and which, from the
 * account's builds of the same repository: at least `minBuilds` builds of that workflow in the
 * window (those of the same ref when there are that many, the workflow's otherwise). When most of
 * them held the persistent volume, the account's builder on the volume of the latest such build;
 * otherwise they ran cold, and a fresh builder of the latest build's shape serves the job as well
 * as the warm pool would. Either gets the shape of the builds it stands for.
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
  const latest = (builds: PastBuild[]) => builds.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
  const persistent = basis.filter((b) => b.cacheMode === "persistent");
  if (persistent.length * 2 <= basis.length) return { prewarm: "warm", shape: latest(basis).shape };
  const last = latest(persistent);
  return { prewarm: "volume", shape: last.shape, volume: last.cacheVolume };
}
