import type { V1Pod } from "@kubernetes/client-node";
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
  /** Started ahead of a build (prewarm) and not taken yet: when, and when it stops unless taken. */
  readonly prewarmedAt: number | undefined;
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

/** An idle builder started ahead of a build (prewarm) that no build has taken yet. */
export function isPrewarmed(b: BuilderPodView): boolean {
  return b.role === "idle" && b.prewarmedAt !== undefined;
}

/** A pool builder: pre-booted (warm) or kept for its account (idle); neither serves a build. */
export function inPool(b: BuilderPodView): boolean {
  return b.role === "warm" || b.role === "idle";
}

function millis(annotation: string | undefined): number | undefined {
  return annotation === undefined ? undefined : Number(annotation);
}
