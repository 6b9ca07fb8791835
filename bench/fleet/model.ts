/**
 * The fleet model's numbers, in one place so that docs/fleet-simulation.md can quote them. Times
 * in seconds. They are estimates, not measurements of a production fleet: the point of the
 * simulation is how the answer moves with the pool size and the idle TTL, not its third digit.
 */
import { defaultOf } from "../../service/config/variable.js";
import { DECLARATIONS } from "../../service/config/variables.js";
import type { PrewarmSettings } from "../../service/core/prewarm-policy.js";
import type { LogNormal } from "./random.js";

export const SHAPES = ["small", "medium", "large"] as const;
export type ShapeName = (typeof SHAPES)[number];

export interface FleetModel {
  /** Measured span; arrivals start `warmupS` earlier so that idle builders and pools exist at 0. */
  days: number;
  warmupS: number;
  accounts: number;
  /** Sessions of pipeline runs a day per account: lognormal across accounts, so a few build a lot. */
  runsPerDay: LogNormal;
  /**
   * Runs come in sessions: after each run, another follows with this probability, an exponential
   * gap later (a fix pushed after review, a re-run). `runsPerDay` counts sessions.
   */
  followUp: { probability: number; meanGapS: number };
  /** A run starts 1 build, and one more with this probability each time (a job matrix), up to max. */
  burst: { more: number; max: number; spreadS: number };
  /** Arrivals follow 1 + amplitude·cos(…), peaking at `peakHour` of each day. */
  diurnal: { amplitude: number; peakHour: number };
  /** The shape each account builds on, by share of accounts, and what a pod of it requests. */
  shapes: Record<ShapeName, { share: number; cpu: number }>;
  buildS: LogNormal;
  /** Runs whose credential may not write the cache (pull requests): they want no volume. */
  noCacheWriteShare: number;
  nodes: number;
  nodeCpu: number;
  nodeDiskGiB: number;
  volumeGiB: number;
  /** Volumes unused this long are deleted. */
  retentionDays: number;
  idleReadyS: number;
  warmReadyS: number;
  /** A cold pod: scheduling, microVM boot, sometimes an image pull, the volume's attach. */
  scheduleS: number;
  bootS: LogNormal;
  pull: { probability: number; s: LogNormal };
  attachS: LogNormal;
  /** mkfs.ext4 of a fresh volume (warm pods pay it before they are ready; cold ones, in line). */
  formatS: number;
  /** Preempting idle and warm pods (a lower PriorityClass) to make room for a cold one. */
  preemptS: number;
  nodeLossPerNodeDay: number;
  nodeReplaceS: number;
  /** Where builds come from, and the CI's "job queued" events that precede them (pre-warming). */
  jobs: JobModel;
}

/**
 * The repositories and workflows an account builds, and the CI's queued events. Assumptions, not
 * measurements (this machine has no network and the service has no pre-warm data yet); production
 * measures the lead as `remote_builder_prewarm_lead_seconds` (build arrival − queued event) and
 * the no-build share as the pre-warms that stop unused.
 */
export interface JobModel {
  /** Repositories that build images, per account (weights for 1, 2, 3…); a session picks one, by rank 1/k. */
  repositories: number[];
  /** Workflows that ask for a builder, per repository (weights for 1, 2…); a run picks one, by rank 1/k. */
  workflows: number[];
  /**
   * From the CI's queued event to the build's request (its builder-setup step): runner assignment
   * (queued → in_progress) plus the job's steps before the setup (checkout, logins, the action).
   */
  leadS: LogNormal;
  /**
   * Per workflow, the share of its queued runs whose jobs never ask for a builder (cancelled by a
   * newer push, failed or skipped before the build step): uniform in [0, max]. The history holds
   * only the builds, so these are the decision's false positives.
   */
  noBuildShareMax: number;
  /** Such a job was queued this long (exponential mean) before the run it goes with. */
  noBuildGapS: number;
  /** Builds drawn before the simulated span, as the service's history of them (not simulated). */
  historyDays: number;
}

export interface PoolConfig {
  warmPool: Record<ShapeName, number>;
  idleTtlS: number;
  /** Pre-warming from queued events, with the service's settings; none when absent. */
  prewarm?: PrewarmSettings;
}

export const DEFAULT_MODEL: FleetModel = {
  days: 7,
  warmupS: 6 * 3600,
  accounts: 1000,
  runsPerDay: { median: 0.5, sigma: 1.5 },
  followUp: { probability: 0.35, meanGapS: 600 },
  burst: { more: 0.3, max: 8, spreadS: 10 },
  diurnal: { amplitude: 0.6, peakHour: 14 },
  shapes: {
    small: { share: 0.6, cpu: 2 },
    medium: { share: 0.3, cpu: 4 },
    large: { share: 0.1, cpu: 8 },
  },
  buildS: { median: 240, sigma: 0.8 },
  noCacheWriteShare: 0.3,
  nodes: 6,
  nodeCpu: 40,
  nodeDiskGiB: 8000,
  volumeGiB: 50,
  retentionDays: 14,
  idleReadyS: 0.2,
  warmReadyS: 0.3,
  scheduleS: 0.5,
  bootS: { median: 2.8, sigma: 0.2 },
  pull: { probability: 0.02, s: { median: 20, sigma: 0.5 } },
  attachS: { median: 0.8, sigma: 0.3 },
  formatS: 1.5,
  preemptS: 1,
  nodeLossPerNodeDay: 1 / 60,
  nodeReplaceS: 1800,
  jobs: {
    repositories: [0.5, 0.3, 0.2],
    workflows: [0.7, 0.3],
    leadS: { median: 40, sigma: 1 },
    noBuildShareMax: 0.3,
    noBuildGapS: 3600,
    historyDays: 14,
  },
};

/**
 * The service's own pre-warm defaults (RB_PREWARM_*, read from its declarations so the two cannot
 * drift): 14 days of history, 2 builds of the workflow, a 300 s TTL, 2 pre-warmed builders per
 * account at once, counted over both kinds (the account's volume holds one; a warm one is the other).
 */
export const DEFAULT_PREWARM: PrewarmSettings = {
  historyDays: defaultOf(DECLARATIONS.prewarm.historyDays),
  minBuilds: defaultOf(DECLARATIONS.prewarm.minBuilds),
  ttlMs: defaultOf(DECLARATIONS.prewarm.ttlMs),
  maxPerAccount: defaultOf(DECLARATIONS.prewarm.maxPerAccount),
};

/** Every pool size the same for each shape. */
export function uniformPool(size: number): Record<ShapeName, number> {
  return { small: size, medium: size, large: size };
}
