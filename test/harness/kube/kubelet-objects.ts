import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { FakeNodeSpec } from "./kubelet.js";

/**
 * What a real kubelet writes: its Node (labels, capacity, conditions, nodeInfo) and its pods'
 * statuses through their lifecycle (ContainerCreating → Running → terminated/CrashLoopBackOff), so
 * that the driver's status interpretation meets the shapes of production.
 */
export const iso = (d = new Date()) => d.toISOString().replace(/\.\d+Z$/, "Z");

export function nodeConditions(status: "True" | "Unknown", heartbeat: string, transition: string) {
  return [
    ["MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
    ["DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
    ["PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
    ["Ready", "KubeletReady", "kubelet is posting ready status"],
  ].map(([type, reason, message]) => ({
    type: type as string,
    status: status === "Unknown" ? "Unknown" : type === "Ready" ? "True" : "False",
    // The node lifecycle controller's words once heartbeats stop.
    reason: status === "Unknown" ? "NodeStatusUnknown" : reason,
    message: status === "Unknown" ? "Kubelet stopped posting node status." : message,
    lastHeartbeatTime: heartbeat,
    lastTransitionTime: transition,
  }));
}

export function nodeObject(spec: FakeNodeSpec, hostIP: string): V1Node {
  const name = spec.name;
  const now = iso();
  const capacity = {
    cpu: "8",
    memory: "32Gi",
    pods: String(spec.podCapacity ?? 110),
    "ephemeral-storage": "100Gi",
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        ...spec.labels,
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" },
    },
    spec: { ...(spec.taints?.length ? { taints: spec.taints } : {}) },
    status: {
      capacity,
      allocatable: capacity,
      conditions: nodeConditions("True", now, now) as never,
      addresses: [
        { type: "InternalIP", address: hostIP },
        { type: "Hostname", address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: name,
        systemUUID: name,
        bootID: name,
        kernelVersion: "6.1.0-fake",
        osImage: "Fake Linux",
        containerRuntimeVersion: "containerd://1.7.0-fake",
        kubeletVersion: "v1.31.0-fake",
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  } as V1Node;
}

export function podCondition(type: string, status: string, extra: Record<string, unknown> = {}) {
  return { type, status, lastProbeTime: null, lastTransitionTime: iso(), ...extra };
}

type Base = { hostIP: string; hostIPs: Array<{ ip: string }>; startTime: string };
const containers = (p: V1Pod) =>
  (p.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image ?? "" }));
const containerID = (p: V1Pod, i: number) => `containerd://${(p.metadata?.uid ?? "").replace(/-/g, "")}${i}`;

/** Bound, volumes being mounted, containers being created. */
export function pendingStatus(p: V1Pod, base: Base, restarts: number) {
  const names = containers(p).map((c) => c.name);
  return {
    phase: "Pending",
    ...base,
    conditions: [
      podCondition("PodReadyToStartContainers", "False"),
      podCondition("Initialized", "True"),
      podCondition("Ready", "False", {
        reason: "ContainersNotReady",
        message: `containers with unready status: [${names.join(" ")}]`,
      }),
      podCondition("ContainersReady", "False", {
        reason: "ContainersNotReady",
        message: `containers with unready status: [${names.join(" ")}]`,
      }),
      podCondition("PodScheduled", "True"),
    ],
    containerStatuses: containers(p).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      ready: false,
      started: false,
      restartCount: restarts,
      state: { waiting: { reason: "ContainerCreating" } },
    })),
  };
}

export function runningStatus(p: V1Pod, base: Base, ip: string, restarts: number) {
  const startedAt = iso();
  return {
    phase: "Running",
    ...base,
    podIP: ip,
    podIPs: [{ ip }],
    // Merge-patch nulls: clear what an earlier failure left.
    message: null,
    reason: null,
    conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(
      (t) => podCondition(t, "True"),
    ),
    containerStatuses: containers(p).map((c, i) => ({
      name: c.name,
      image: c.image,
      imageID: `${c.image.split(":")[0]}@sha256:${"0".repeat(63)}${i}`,
      containerID: containerID(p, i),
      ready: true,
      started: true,
      restartCount: restarts,
      state: { running: { startedAt } },
      lastState: {},
    })),
  };
}

/** The container exited: Failed for restartPolicy Never, else CrashLoopBackOff until a restart. */
export function exitedStatus(p: V1Pod, base: Base, restarts: number, exitCode: number, message: string) {
  const now = iso();
  const never = p.spec?.restartPolicy === "Never";
  const why = never ? "PodFailed" : "ContainersNotReady";
  return {
    phase: never ? "Failed" : "Running",
    ...base,
    conditions: [
      podCondition("PodReadyToStartContainers", never ? "False" : "True"),
      podCondition("Initialized", "True"),
      podCondition("Ready", "False", { reason: why }),
      podCondition("ContainersReady", "False", { reason: why }),
      podCondition("PodScheduled", "True"),
    ],
    containerStatuses: containers(p).map((c, i) => {
      const terminated = {
        exitCode,
        reason: "Error",
        message,
        startedAt: now,
        finishedAt: now,
        containerID: containerID(p, i),
      };
      return {
        name: c.name,
        image: c.image,
        imageID: "",
        ready: false,
        started: false,
        restartCount: restarts,
        ...(never
          ? { state: { terminated }, lastState: {} }
          : {
              state: {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: `back-off restarting failed container ${c.name}`,
                },
              },
              lastState: { terminated },
            }),
      };
    }),
  };
}
