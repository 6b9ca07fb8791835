import type { V1Pod } from "@kubernetes/client-node";
import { BUILDER_TIERS, type BuilderTier } from "../../../core/build.js";
import { ANNOTATIONS, type BuilderRole, LABELS } from "./labels.js";

/**
 * What the driver reads off a builder pod, read in one place: its labels and annotations say
 * what the pod is doing (the fleet's state lives on the objects), its spec which claim it holds.
 */
export interface BuilderPodView {
  /** The object as read: a write conditional on what was seen takes this version. */
  readonly pod: V1Pod;
  readonly name: string;
  readonly role: BuilderRole | undefined;
  readonly shape: string | undefined;
  readonly accountId: string | undefined;
  readonly volume: string | undefined;
  readonly buildId: string | undefined;
  /** When its last build ended (ms since the epoch), while idle. */
  readonly idleSince: number | undefined;
  /** When it got its build (ms since the epoch), while serving. */
  readonly assignedAt: number | undefined;
  /** The tier it was placed from, while serving. */
  readonly placedAs: BuilderTier | undefined;
  /** Started ahead of a build (prewarm) and not taken yet: when it started. */
  readonly prewarmedAt: number | undefined;
  /**
   * When it stops unless a build takes it: a pre-warmed builder's own TTL, or on an idle one kept
   * up for a job's build (prewarm found it on the volume), the later of this and its idle TTL.
   */
  readonly prewarmExpiresAt: number | undefined;
  /** The claim mounted as its cache; none for a throw-away cache. */
  readonly cacheClaim: string | undefined;
  /** Kubernetes is deleting it. */
  readonly deleting: boolean;
}

export function viewBuilderPod(pod: V1Pod): BuilderPodView {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  return {
    pod,
    name: pod.metadata!.name!,
    role: labels[LABELS.role] as BuilderRole | undefined,
    shape: labels[LABELS.shape],
    accountId: labels[LABELS.account],
    volume: labels[LABELS.volume],
    buildId: labels[LABELS.build],
    idleSince: millis(annotations[ANNOTATIONS.idleSince]),
    assignedAt: millis(annotations[ANNOTATIONS.assignedAt]),
    placedAs: tierOf(annotations[ANNOTATIONS.placedAs]),
    prewarmedAt: millis(annotations[ANNOTATIONS.prewarmedAt]),
    prewarmExpiresAt: millis(annotations[ANNOTATIONS.prewarmExpiresAt]),
    cacheClaim: pod.spec?.volumes?.find((v) => v.name === "cache")?.persistentVolumeClaim?.claimName,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
  };
}

/** The builder an account's volume stays booted in between its builds. */
export function isIdleBuilderOf(b: BuilderPodView, accountId: string, volume: string): boolean {
  return b.role === "idle" && b.accountId === accountId && b.volume === volume;
}

/**
 * A builder started ahead of a build (prewarm) that no build has taken yet: an idle one on the
 * account's volume, or a warm one (outside the pool's target) for a job whose builds run cold.
 * Its account label is the account that asked for it, whose cap it counts toward.
 */
export function isPrewarmed(b: BuilderPodView): boolean {
  return inPool(b) && b.prewarmedAt !== undefined;
}

/** A warm builder the pool keeps toward its target: not one a job's pre-warm started. */
export function isPoolWarm(b: BuilderPodView): boolean {
  return b.role === "warm" && !isPrewarmed(b);
}

/** A pool builder: pre-booted (warm) or kept for its account (idle); neither serves a build. */
export function inPool(b: BuilderPodView): boolean {
  return b.role === "warm" || b.role === "idle";
}

function millis(annotation: string | undefined): number | undefined {
  return annotation === undefined ? undefined : Number(annotation);
}

function tierOf(annotation: string | undefined): BuilderTier | undefined {
  return BUILDER_TIERS.find((t) => t === annotation);
}
