import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { connect, createServer, type Server } from "node:net";
import { eventually } from "../wait.js";
import { type FakeCluster, listenOnLoopbackIP, startFakeCluster } from "./cluster.js";

let cluster: FakeCluster;
let core: CoreV1Api;
const servers = new Map<string, Server>();
const stopped: string[] = [];
const failNames = new Set<string>();

beforeAll(async () => {
  cluster = await startFakeCluster({
    nodes: [
      { name: "node-a", labels: { pool: "builders" } },
      { name: "node-b", labels: { pool: "builders" } },
      {
        name: "node-tainted",
        taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }],
        podCapacity: 1,
      },
    ],
    kubelet: { heartbeatMs: 200, restartBackoffMs: 200 },
    // Each pod "runs" a TCP server on its own loopback address: the pod IP.
    onPodRunning: async (pod) => {
      if (failNames.has(pod.metadata?.name ?? "")) throw new Error("image pull failed: not found");
      const server = createServer((s) => s.end(`hello from ${pod.metadata?.name}\n`));
      const podIP = await listenOnLoopbackIP(server, 4321);
      servers.set(pod.metadata?.uid ?? "", server);
      return { podIP };
    },
    onPodStopped: (pod) => {
      stopped.push(pod.metadata?.name ?? "");
      servers.get(pod.metadata?.uid ?? "")?.close();
    },
  });
  core = cluster.kubeconfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "b" } } });
});
afterAll(async () => {
  await cluster.close();
  for (const s of servers.values()) s.close();
  expect(cluster.kubelet.errors).toEqual([]);
});

const builder = (
  name: string,
  extra: { claim?: string; nodeSelector?: Record<string, string> } = {},
): V1Pod => ({
  metadata: { name, labels: { app: "builder" } },
  spec: {
    automountServiceAccountToken: false,
    restartPolicy: "Never",
    containers: [
      {
        name: "buildkitd",
        image: "moby/buildkit:v0.16.0",
        ...(extra.claim ? { volumeMounts: [{ name: "cache", mountPath: "/cache" }] } : {}),
      },
    ],
    ...(extra.claim
      ? { volumes: [{ name: "cache", persistentVolumeClaim: { claimName: extra.claim } }] }
      : {}),
    ...(extra.nodeSelector ? { nodeSelector: extra.nodeSelector } : {}),
  },
});

const claim = (name: string) =>
  core.createNamespacedPersistentVolumeClaim({
    namespace: "b",
    body: {
      metadata: { name },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } },
    },
  });

const read = (name: string) => core.readNamespacedPod({ namespace: "b", name }).catch(() => null);
const running = (name: string) =>
  eventually(`${name} Running`, async () => {
    const p = await read(name);
    return p?.status?.phase === "Running" &&
      p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")
      ? p
      : null;
  });
const gone = (name: string) => eventually(`${name} deleted`, async () => (await read(name)) === null);

function hello(ip: string): Promise<string> {
  return new Promise((ok, fail) => {
    let data = "";
    const s = connect(4321, ip);
    s.on("data", (d) => (data += d.toString()));
    s.on("end", () => ok(data));
    s.on("error", fail);
  });
}

describe("fake kubelet", () => {
  it("registers Ready nodes with the standard labels and keeps heartbeating", async () => {
    const node = await core.readNode({ name: "node-a" });
    expect(node.metadata?.labels).toMatchObject({
      "kubernetes.io/hostname": "node-a",
      "kubernetes.io/os": "linux",
      pool: "builders",
    });
    expect(node.status?.allocatable?.pods).toBe("110");
    // TaintNodesByCondition tainted it not-ready at creation; the kubelet lifted that, keeping its own.
    expect(node.spec?.taints ?? []).toEqual([]);
    const tainted = await core.readNode({ name: "node-tainted" });
    expect(tainted.spec?.taints).toEqual([{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]);
    const ready = () => node.status?.conditions?.find((c) => c.type === "Ready");
    expect(ready()?.status).toBe("True");
    const first = new Date(ready()?.lastHeartbeatTime as Date).getTime();
    await eventually(
      "a newer heartbeat",
      async () => {
        const again = await core.readNode({ name: "node-a" });
        const t = again.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime;
        return t && new Date(t).getTime() > first;
      },
      5_000,
    );
  });

  it("provisions a local PV for an unbound claim on the chosen node and runs the pod there", async () => {
    await claim("cache-1");
    await core.createNamespacedPod({ namespace: "b", body: builder("p1", { claim: "cache-1" }) });
    const pod = await running("p1");
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: "b", name: "cache-1" });
    expect(pvc.status?.phase).toBe("Bound");
    expect(pvc.metadata?.annotations?.["volume.kubernetes.io/selected-node"]).toBe(pod.spec?.nodeName);
    const pv = await core.readPersistentVolume({ name: pvc.spec?.volumeName as string });
    expect(pv.spec?.local?.path).toContain(pv.metadata?.name);
    expect(pv.spec?.claimRef).toMatchObject({ name: "cache-1", namespace: "b", uid: pvc.metadata?.uid });
    expect(pv.spec?.capacity?.storage).toBe("5Gi");
    expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values).toEqual([
      pod.spec?.nodeName,
    ]);
    expect(pv.status?.phase).toBe("Bound");
    expect(pod.spec?.nodeName).not.toBe("node-tainted");
    expect(pod.status?.podIP).toMatch(/^127\./);
    expect(pod.status?.containerStatuses?.[0]?.state?.running).toBeDefined();
    expect(await hello(pod.status?.podIP as string)).toBe("hello from p1\n");
  });

  it("pins a second pod on the same claim to the same node", async () => {
    // Spreading alone would pick the other node; the PV's node affinity decides.
    await core.createNamespacedPod({ namespace: "b", body: builder("p2", { claim: "cache-1" }) });
    const [p1, p2] = [await running("p1"), await running("p2")];
    expect(p2.spec?.nodeName).toBe(p1.spec?.nodeName);
  });

  it("stops and finally deletes a gracefully deleted pod; pvc-protection holds the claim until no pod uses it", async () => {
    await core.deleteNamespacedPersistentVolumeClaim({ namespace: "b", name: "cache-1" });
    const held = await core.readNamespacedPersistentVolumeClaim({ namespace: "b", name: "cache-1" });
    expect(held.metadata?.deletionTimestamp).toBeDefined();
    expect(held.metadata?.finalizers).toContain("kubernetes.io/pvc-protection");
    const pvName = held.spec?.volumeName as string;

    await core.deleteNamespacedPod({ namespace: "b", name: "p2" });
    await gone("p2");
    expect(stopped).toContain("p2");
    // p1 still uses the claim.
    expect(
      (await core.readNamespacedPersistentVolumeClaim({ namespace: "b", name: "cache-1" })).metadata?.name,
    ).toBe("cache-1");

    await core.deleteNamespacedPod({ namespace: "b", name: "p1" });
    await gone("p1");
    await eventually("claim gone", async () =>
      core.readNamespacedPersistentVolumeClaim({ namespace: "b", name: "cache-1" }).then(
        () => false,
        () => true,
      ),
    );
    // Reclaim policy Delete: the provisioner deletes the volume.
    await eventually("volume gone", () =>
      core.readPersistentVolume({ name: pvName }).then(
        () => false,
        () => true,
      ),
    );
  });

  it("honours nodeSelector, taints and pod capacity", async () => {
    await core.createNamespacedPod({
      namespace: "b",
      body: builder("sel", { nodeSelector: { "kubernetes.io/hostname": "node-b" } }),
    });
    expect((await running("sel")).spec?.nodeName).toBe("node-b");
    await core.createNamespacedPod({
      namespace: "b",
      body: builder("nowhere", { nodeSelector: { pool: "none" } }),
    });
    const stuck = await eventually("unschedulable", async () => {
      const p = await read("nowhere");
      return p?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False") ? p : null;
    });
    const cond = stuck.status?.conditions?.find((c) => c.type === "PodScheduled");
    expect(cond?.reason).toBe("Unschedulable");
    expect(cond?.message).toContain("0/3 nodes are available");
    expect(cond?.message).toContain("untolerated taint {dedicated: gpu}");
    await core.deleteNamespacedPod({ namespace: "b", name: "nowhere" });
    await core.deleteNamespacedPod({ namespace: "b", name: "sel" });
    await gone("sel");
  });

  it("fails a pod whose start fails, and crashPod fails a running one", async () => {
    failNames.add("bad");
    await core.createNamespacedPod({ namespace: "b", body: builder("bad") });
    const bad = await eventually("Failed", async () =>
      (await read("bad"))?.status?.phase === "Failed" ? read("bad") : null,
    );
    expect(bad?.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe(
      "image pull failed: not found",
    );

    await core.createNamespacedPod({ namespace: "b", body: builder("crashy") });
    await running("crashy");
    await cluster.kubelet.crashPod("crashy", "b", { exitCode: 2 });
    const crashed = await eventually("crashed", async () =>
      (await read("crashy"))?.status?.phase === "Failed" ? read("crashy") : null,
    );
    expect(crashed?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(2);
    expect(stopped).toContain("crashy");
    // A finished pod is deleted at once, even though it is bound.
    await core.deleteNamespacedPod({ namespace: "b", name: "crashy" });
    expect(await read("crashy")).toBeNull();
  });

  it("restarts a crashed container of a restartPolicy Always pod after a back-off", async () => {
    const body = builder("always");
    body.spec!.restartPolicy = "Always";
    await core.createNamespacedPod({ namespace: "b", body });
    await running("always");
    await cluster.kubelet.crashPod("always", "b");
    const backoff = await read("always");
    expect(backoff?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CrashLoopBackOff");
    expect(backoff?.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    const again = await eventually("running again", async () => {
      const p = await read("always");
      return p?.status?.containerStatuses?.[0]?.state?.running ? p : null;
    });
    expect(again.status?.containerStatuses?.[0]?.restartCount).toBe(1);
    await core.deleteNamespacedPod({ namespace: "b", name: "always" });
    await gone("always");
  });

  it("leaves a pod pinned to a deleted node Pending and Unschedulable", async () => {
    await claim("cache-2");
    await core.createNamespacedPod({
      namespace: "b",
      body: builder("pin1", { claim: "cache-2", nodeSelector: { "kubernetes.io/hostname": "node-a" } }),
    });
    await running("pin1");
    await cluster.kubelet.removeNode("node-a", "delete");
    expect(stopped).toContain("pin1");
    // Pod GC removes the pods of the deleted node.
    await gone("pin1");
    await core.createNamespacedPod({ namespace: "b", body: builder("pin2", { claim: "cache-2" }) });
    const stuck = await eventually("unschedulable", async () => {
      const p = await read("pin2");
      return p?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False") ? p : null;
    });
    expect(stuck.status?.phase).toBe("Pending");
    expect(stuck.spec?.nodeName).toBeUndefined();
    expect(stuck.status?.conditions?.find((c) => c.type === "PodScheduled")?.message).toContain(
      "volume node affinity conflict",
    );
    await core.deleteNamespacedPod({ namespace: "b", name: "pin2" });
  });

  it("a NotReady node keeps its pods (not ready) and takes no new ones", async () => {
    await claim("cache-3");
    await core.createNamespacedPod({
      namespace: "b",
      body: builder("nr1", { claim: "cache-3", nodeSelector: { "kubernetes.io/hostname": "node-b" } }),
    });
    await running("nr1");
    await cluster.kubelet.removeNode("node-b", "notready");
    expect(stopped).toContain("nr1");
    const node = await core.readNode({ name: "node-b" });
    expect(node.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("Unknown");
    expect(node.spec?.taints?.map((t) => `${t.key}:${t.effect}`)).toEqual(
      expect.arrayContaining([
        "node.kubernetes.io/unreachable:NoSchedule",
        "node.kubernetes.io/unreachable:NoExecute",
      ]),
    );
    const nr1 = await read("nr1");
    expect(nr1?.status?.phase).toBe("Running");
    expect(nr1?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("False");
    // A graceful delete is never finished: no kubelet is there to do it.
    await core.deleteNamespacedPod({ namespace: "b", name: "nr1" });
    await new Promise((r) => setTimeout(r, 500));
    expect((await read("nr1"))?.metadata?.deletionTimestamp).toBeDefined();

    await core.createNamespacedPod({ namespace: "b", body: builder("nr2", { claim: "cache-3" }) });
    const stuck = await eventually("unschedulable", async () => {
      const p = await read("nr2");
      return p?.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False") ? p : null;
    });
    expect(stuck.status?.conditions?.find((c) => c.type === "PodScheduled")?.message).toContain(
      "untolerated taint {node.kubernetes.io/unreachable: }",
    );
    // Heartbeats stay stopped.
    const t0 = node.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime;
    await new Promise((r) => setTimeout(r, 600));
    const later = await core.readNode({ name: "node-b" });
    expect(later.status?.conditions?.find((c) => c.type === "Ready")?.lastHeartbeatTime).toEqual(t0);
  });
});
