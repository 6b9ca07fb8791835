import type { BuildInsights } from "./build-insights.js";
import type { BuildState } from "./lifecycle.js";

export type CacheRequest = "wait" | "cold";

/**
 * How the build got its cache: `persistent` holds the account's volume (single writer); `cold` got
 * an empty, throw-away one because the volume was busy and the client asked not to wait.
 */
export type CacheMode = "persistent" | "cold";

export type JobResult = "success" | "failure" | "cancelled";

/**
 * Which placement served the build: the account's idle builder (warm cache, no boot), a warm
 * builder from the shape's pool (booted, fresh volume), or a cold start.
 */
export type BuilderTier = "idle" | "warm" | "cold";
export const BUILDER_TIERS = ["idle", "warm", "cold"] as const satisfies readonly BuilderTier[];

export interface Build {
  id: string;
  accountId: string;
  tokenId: string | null;
  shape: string;
  profile: string | null;
  state: BuildState;
  cacheRequest: CacheRequest;
  cacheVolume: string;
  cacheMode: CacheMode | null;
  cacheReason: string | null;
  labels: Record<string, string>;
  builderId: string | null;
  tier: BuilderTier | null;
  /** The idle builder it took was started ahead of it, on a CI's job-queued hook. */
  prewarmed: boolean;
  endpoint: string | null;
  claimFence: number | null;
  volumeFence: number | null;
  createdAt: number;
  startedAt: number | null;
  readyAt: number | null;
  endedAt: number | null;
  lastActivityAt: number | null;
  /** The client's last heartbeat (or its admission): a vanished client is billed until then. */
  lastSeenAt: number | null;
  deadlineAt: number;
  waitDeadlineAt: number | null;
  endReason: string | null;
  result: JobResult | null;
  /** The client certificate signed for this build (PEM), when the client sent a public key. */
  clientCertificate: string | null;
  /** Bytes the broker carried from the client to the builder, and back. */
  bytesIn: number;
  bytesOut: number;
  /** The CI run behind an exchanged credential (repository, ref, workflow, run); null for agent tokens. */
  repository: string | null;
  ref: string | null;
  workflow: string | null;
  run: string | null;
  /**
   * The CI repository, as the issuer and the repository's stable id (repositoryKey() in
   * ci-identity.ts): what a job-queued hook names, to find the account's history. Null for agent tokens.
   */
  repositoryKey: string | null;
  /** The exchanged credential's run key (see CiRun): which credentials may see the build; null for agent tokens. */
  runKey: string | null;
  /** False when the credential may not write the warm cache: the build gets a cold builder. */
  cacheWrite: boolean;
  /** What BuildKit's history says of the build's solves, read once it ended; null until then. */
  insights: BuildInsights | null;
}

/** The fields a transition may change besides `state`. */
export type BuildPatch = Partial<Omit<Build, "id" | "accountId" | "state" | "createdAt">>;
