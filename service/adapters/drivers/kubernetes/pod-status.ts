import type { V1Pod } from "@kubernetes/client-node";

/** Running, Ready (buildkitd accepts connections) and addressable. */
export function podReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === "Running" &&
    !pod.metadata?.deletionTimestamp &&
    Boolean(pod.status.podIP) &&
    (pod.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
}

/** Why a pod will never serve, in the words Kubernetes gives; null while it may. */
export function podFailure(pod: V1Pod): string | null {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const terminated = s.state?.terminated;
    if (terminated && (terminated.exitCode !== 0 || s.name === "buildkitd")) {
      const words = [terminated.reason, terminated.message].filter(Boolean).join(": ");
      return `${s.name} exited with code ${terminated.exitCode}${words ? ` (${words})` : ""}`;
    }
    const waiting = s.state?.waiting;
    if (
      waiting &&
      ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"].includes(
        waiting.reason ?? "",
      )
    ) {
      return `${s.name} cannot start: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ""}`;
    }
  }
  if (pod.status?.phase === "Failed") {
    return `the builder's pod failed${pod.status.reason ? `: ${pod.status.reason}` : ""}${pod.status.message ? ` (${pod.status.message})` : ""}`;
  }
  if (pod.status?.phase === "Succeeded") return "the builder's pod exited";
  return null;
}

/** When an object was created (ms since the epoch); 0 when it does not say. */
export function created(o: { metadata?: { creationTimestamp?: Date | string } }): number {
  const t = o.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}
