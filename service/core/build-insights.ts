/**
 * What BuildKit's own build history says about a build's solves: how many steps, how many were
 * cached, which were slowest, what failed. Read from the builder when the build ends (the
 * `BuildInsightsReader` port), reduced here to what the build keeps.
 */

/** One step (a BuildKit vertex) of a solve, from the solve's trace. */
export interface StepTiming {
  /** The vertex's name as BuildKit shows it: "[2/3] RUN make -j8". */
  name: string;
  seconds: number;
  cached: boolean;
}

/** One solve in the builder's history, as the reader found it. */
export interface SolveRecord {
  ref: string;
  createdAt: number;
  completedAt: number | null;
  /** The solve's error message, or null when it succeeded (or is still running). */
  error: string | null;
  totalSteps: number;
  cachedSteps: number;
  completedSteps: number;
  /** The solve's steps with their durations, or null when its trace was not there (yet). */
  steps: StepTiming[] | null;
}

export interface BuildInsights {
  /** `unavailable`: the history could not be read; `reason` says why and the counts are zero. */
  status: "read" | "unavailable";
  reason: string | null;
  solves: number;
  /**
   * The build's own steps (a Dockerfile's `[n/m]` steps): BuildKit's count without the steps that
   * load the build's inputs (`[internal] load build context`, `[context base] …`), which run on
   * every build and are never cached. Where a solve's trace is missing, BuildKit's count as is.
   */
  steps: number;
  cachedSteps: number;
  /** cachedSteps / steps, or null when there were no steps. */
  cacheHitRatio: number | null;
  /** BuildKit's own count of the solves' steps, input loading included. */
  buildkitSteps: number;
  /** The slowest steps that ran (not cached; input loading included), slowest first. */
  slowest: StepTiming[];
  /** The failed solves' errors. */
  errors: string[];
  readAt: number;
}

/** How many of the slowest steps a build keeps. */
export const SLOWEST_STEPS = 5;

/**
 * The solves a build made: those its builder started while the build held it. A builder serves
 * one build at a time, so the window between the build's ready and its end is the build's own.
 * `skewMs` allows for the builder's clock being a little off the service's.
 */
export function solvesOfBuild<T extends SolveRecord>(
  records: T[],
  window: { from: number; to: number },
  skewMs = 1_000,
): T[] {
  return records.filter((r) => r.createdAt >= window.from - skewMs && r.createdAt <= window.to + skewMs);
}

/** BuildKit's steps that load a build's inputs (the Dockerfile, the context, named contexts). */
export function loadsInputs(stepName: string): boolean {
  return /^\[(internal|context [^\]]*)\] /.test(stepName);
}

/**
 * A solve's own steps: the cached ones (BuildKit counts them) and those that ran, as its trace
 * tells (a vertex that ran has a span; a cached one often has none). Without a trace, all of
 * BuildKit's steps.
 */
function ownSteps(record: SolveRecord): number {
  if (record.steps === null) return record.totalSteps;
  const ran = record.steps.filter((s) => !s.cached && !loadsInputs(s.name)).length;
  return Math.min(record.totalSteps, record.cachedSteps + ran);
}

/** The build's insights from its solves. */
export function summarizeSolves(records: SolveRecord[], readAt: number): BuildInsights {
  const steps = sum(records.map(ownSteps));
  const cachedSteps = sum(records.map((r) => Math.min(r.cachedSteps, ownSteps(r))));
  const slowest = records
    .flatMap((r) => r.steps ?? [])
    .filter((s) => !s.cached)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, SLOWEST_STEPS);
  return {
    status: "read",
    reason: null,
    solves: records.length,
    steps,
    cachedSteps,
    cacheHitRatio: steps === 0 ? null : cachedSteps / steps,
    buildkitSteps: sum(records.map((r) => r.totalSteps)),
    slowest,
    errors: records.flatMap((r) => (r.error === null ? [] : [r.error])),
    readAt,
  };
}

/** What a build keeps when its builder's history could not be read. */
export function unavailableInsights(reason: string, readAt: number): BuildInsights {
  return {
    status: "unavailable",
    reason,
    solves: 0,
    steps: 0,
    cachedSteps: 0,
    cacheHitRatio: null,
    buildkitSteps: 0,
    slowest: [],
    errors: [],
    readAt,
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
