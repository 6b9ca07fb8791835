/**
 * The labels and annotations that carry the driver's state on the objects themselves: any
 * replica (and the next leader) reads the fleet back from Kubernetes, never from memory.
 */
const PREFIX = "remote-builder.tuist.dev";

export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  account: `${PREFIX}/account`,
  build: `${PREFIX}/build`,
  shape: `${PREFIX}/shape`,
  role: `${PREFIX}/role`,
  builder: `${PREFIX}/builder`,
  volume: `${PREFIX}/volume`,
} as const;

export const ANNOTATIONS = {
  /** When an idle builder's last build ended (ms since the epoch): the idle TTL counts from it. */
  idleSince: `${PREFIX}/idle-since`,
  /** When a serving builder got its build: the core's orphan grace counts from it. */
  assignedAt: `${PREFIX}/assigned-at`,
  /**
   * How a serving builder came to its build (idle, warm or cold): a second placement of the same
   * build, racing the first, reports the tier the first took.
   */
  placedAs: `${PREFIX}/placed-as`,
  /**
   * When a pre-warmed builder started (ms since the epoch), until a build takes it: the build
   * reports how early it was started. Only on an idle or warm builder no build has taken yet.
   */
  prewarmedAt: `${PREFIX}/prewarmed-at`,
  /**
   * When that pre-warmed builder stops if no build takes it (ms since the epoch): its own TTL. On
   * an ordinary idle builder a pre-warm kept up for a job, it stops at the later of this and its
   * idle TTL.
   */
  prewarmExpiresAt: `${PREFIX}/prewarm-expires-at`,
  /** The cache volume size the builder's GC keeps within (GiB). */
  volumeSizeGiB: `${PREFIX}/volume-size-gib`,
} as const;

export const MANAGER = "remote-builder";

/** A builder pod's part: pre-booted in the pool, serving a build, or kept for its account's next one. */
export type BuilderRole = "warm" | "serving" | "idle";

/** A cache-volume claim's part: the account's volume, or a fresh one held by a warm builder. */
export type ClaimRole = "account" | "warm";

/** Selects every object the driver manages. */
export const MANAGED = `${LABELS.managedBy}=${MANAGER}`;
