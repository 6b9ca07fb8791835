import type {
  V1Node,
  V1NodeSelector,
  V1NodeSelectorRequirement,
  V1PersistentVolume,
  V1Pod,
  V1Taint,
  V1Toleration,
} from "@kubernetes/client-node";

/**
 * The filters of kube-scheduler that matter to the driver — node selector, required node affinity,
 * taints and tolerations, pod count, and volume node affinity — as pure functions. The messages
 * follow the real scheduler's ("0/3 nodes are available: 1 node(s) had volume node affinity
 * conflict, …"), because operators and the driver's diagnostics read them.
 */
export interface Placement {
  node: string | null;
  /** Why no node fits, in the scheduler's words (when node is null). */
  message: string;
}

export interface ScheduleInput {
  pod: V1Pod;
  nodes: V1Node[];
  /** Pods counted against capacity, by node name. */
  podsOnNode: (node: string) => number;
  capacity: (node: string) => number;
  /** PVs the pod's bound claims use (their node affinity restricts the pod). */
  volumes: V1PersistentVolume[];
  /** Nodes the pod's unbound claims were already promised to (volume.kubernetes.io/selected-node). */
  selectedNodes: string[];
}

export function choose(input: ScheduleInput): Placement {
  const { pod, nodes } = input;
  const reasons = new Map<string, number>();
  const fail = (why: string) => reasons.set(why, (reasons.get(why) ?? 0) + 1);
  const fits: V1Node[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? "";
    const labels = node.metadata?.labels ?? {};
    const taint = untolerated(node.spec?.taints ?? [], pod.spec?.tolerations ?? []);
    if (node.spec?.unschedulable) fail("node(s) were unschedulable");
    else if (taint) fail(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);
    else if (!selectorMatches(pod.spec?.nodeSelector ?? {}, labels))
      fail("node(s) didn't match Pod's node affinity/selector");
    else if (
      !nodeSelectorMatches(
        pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
        node,
      )
    )
      fail("node(s) didn't match Pod's node affinity/selector");
    else if (input.podsOnNode(name) >= input.capacity(name)) fail("Too many pods");
    else if (!input.volumes.every((pv) => nodeSelectorMatches(pv.spec?.nodeAffinity?.required, node)))
      fail("node(s) had volume node affinity conflict");
    else if (input.selectedNodes.some((n) => n !== name)) fail("node(s) did not have enough free storage");
    else fits.push(node);
  }
  if (fits.length > 0) {
    // Least loaded first, then by name: spreads pods, and stays deterministic.
    fits.sort((a, b) => {
      const an = a.metadata?.name ?? "";
      const bn = b.metadata?.name ?? "";
      return input.podsOnNode(an) - input.podsOnNode(bn) || (an < bn ? -1 : an > bn ? 1 : 0);
    });
    return { node: fits[0]?.metadata?.name ?? null, message: "" };
  }
  const parts = [...reasons.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([why, n]) => `${n} ${why}`);
  const total = nodes.length;
  return {
    node: null,
    message: `0/${total} nodes are available: ${parts.join(", ")}${parts.length ? ". " : ""}preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`,
  };
}

/** The first NoSchedule/NoExecute taint the tolerations do not cover. */
export function untolerated(taints: V1Taint[], tolerations: V1Toleration[]): V1Taint | undefined {
  return taints
    .filter((t) => t.effect === "NoSchedule" || t.effect === "NoExecute")
    .find((t) => !tolerations.some((tol) => tolerates(tol, t)));
}

export function tolerates(tol: V1Toleration, taint: V1Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (tol.operator === "Exists") return !tol.key || tol.key === taint.key;
  return tol.key === taint.key && (tol.value ?? "") === (taint.value ?? "");
}

function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A required NodeSelector: terms are ORed, expressions within a term ANDed. */
export function nodeSelectorMatches(selector: V1NodeSelector | undefined, node: V1Node): boolean {
  const terms = selector?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return true;
  const labels = node.metadata?.labels ?? {};
  const fields: Record<string, string> = { "metadata.name": node.metadata?.name ?? "" };
  return terms.some(
    (t) =>
      (t.matchExpressions ?? []).every((r) => requirementMatches(r, labels)) &&
      (t.matchFields ?? []).every((r) => requirementMatches(r, fields)),
  );
}

function requirementMatches(r: V1NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = r.key in labels;
  const value = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return has && values.includes(value as string);
    case "NotIn":
      return !has || !values.includes(value as string);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
      return has && Number(value) > Number(values[0]);
    case "Lt":
      return has && Number(value) < Number(values[0]);
    default:
      return false;
  }
}
