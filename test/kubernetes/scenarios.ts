/**
 * The driver's scenarios, run against the fake API server (driver.test.ts) and against a real
 * kube-apiserver (apiserver.test.ts), as its admin and as the service's ServiceAccount: the same
 * code, the same assertions. Only what needs the fake's fault injection stays in driver.test.ts.
 */
import { afterEach, expect, it } from "@jest/globals";
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Secret,
} from "@kubernetes/client-node";
import { LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import { http } from "../harness/context.js";
import { completeBuild, echo, readyBuild, until } from "../drivers/support.js";
import type { KubeRig, KubeService } from "./support.js";

const role = (p: V1Pod) => p.metadata?.labels?.[LABELS.role];
const claimOfPod = (p: V1Pod) =>
  p.spec?.volumes?.find((v) => v.name === "cache")?.persistentVolumeClaim?.claimName;

function views(r: KubeRig) {
  const pods = async () => (await r.list<V1Pod>("pods")).filter((p) => !p.metadata?.deletionTimestamp);
  return {
    pods,
    warm: async () => (await pods()).filter((p) => role(p) === "warm" && p.status?.phase === "Running"),
    claims: async () =>
      (await r.list<V1PersistentVolumeClaim>("persistentvolumeclaims")).filter(
        (c) => !c.metadata?.deletionTimestamp,
      ),
    /** The node a claim's local volume lives on. */
    nodeOf: async (claim: string) => {
      const pv = (await r.list<V1PersistentVolume>("persistentvolumes", null)).find(
        (v) => v.spec?.claimRef?.name === claim && v.spec.claimRef.namespace === r.namespace,
      );
      return pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values?.[0];
    },
  };
}

export function driverScenarios(startRig: (o?: { nodes?: string[] }) => Promise<KubeRig>): void {
  let rig: KubeRig | null = null;
  afterEach(async () => {
    await rig?.close();
    rig = null;
  });

  it("refills the warm pool, serves warm, then idle, then cold on the volume's node; every tier carries traffic", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", {
      RB_WARM_POOL: '{"small":1}',
      RB_BUILDER_IDLE_TTL_SECONDS: "2",
    });
    const account = await service.account();
    await until("a warm builder", async () => (await v.warm()).length === 1);
    expect(await r.list("networkpolicies")).toHaveLength(1);
    const [warm] = await v.warm();
    const warmName = warm!.metadata!.name!;

    // Warm: the pool's builder takes the build; its fresh volume becomes the account's.
    const first = await readyBuild(service, account, { waitSeconds: 10 });
    expect(first.tier).toBe("warm");
    expect(first.endpoint).toBe(`tcp://${warm!.status!.podIP}:1234`);
    expect(await echo(service, first, "warm\n")).toBe("warm\n");
    const claim = (await v.claims()).find((c) => c.metadata!.name === claimOfPod(warm!))!;
    expect(claim.metadata!.labels).toMatchObject({
      [LABELS.role]: "account",
      [LABELS.account]: account.id,
      [LABELS.volume]: "buildkit",
    });
    await until("the pool to refill", async () => {
      const now = await v.warm();
      return now.length === 1 && now[0]!.metadata!.name !== warmName;
    });

    // Idle: the account's builder stays up after its build and serves the next one at once.
    await completeBuild(service, first);
    await until("the builder to go idle", async () =>
      (await v.pods()).some((p) => p.metadata!.name === warmName && role(p) === "idle"),
    );
    const second = await readyBuild(service, account, { waitSeconds: 10 });
    expect(second.tier).toBe("idle");
    expect(second.endpoint).toBe(first.endpoint);
    expect(await echo(service, second, "idle\n")).toBe("idle\n");
    await completeBuild(service, second);

    // Past the idle TTL it is reaped; the next build starts cold on the account's volume, on its node.
    await until("the idle builder to be reaped", async () =>
      (await v.pods()).every((p) => p.metadata!.name !== warmName),
    );
    const third = await readyBuild(service, account, { waitSeconds: 10 });
    expect(third.tier).toBe("cold");
    const cold = (await v.pods()).find((p) => p.metadata!.labels![LABELS.build] === third.id)!;
    expect(claimOfPod(cold)).toBe(claim.metadata!.name);
    expect(cold.spec!.nodeName).toBe(await v.nodeOf(claim.metadata!.name!));
    expect(await echo(service, third, "cold\n")).toBe("cold\n");
    await completeBuild(service, third);
  });

  it("a lost node's volume is given up; the account's next build gets a fresh one and is told why", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "0" });
    const account = await service.account();
    const first = await readyBuild(service, account, { waitSeconds: 10 });
    expect(first.tier).toBe("cold");
    await completeBuild(service, first);
    const [claim] = (await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === account.id);
    const node = (await v.nodeOf(claim!.metadata!.name!))!;
    expect(node).toBeDefined();

    await r.kubelet.removeNode(node, "delete");
    await until("the volume to be given up", async () => {
      const { body } = await http<{ volumes: unknown[] }>(
        service.url,
        "GET",
        `/api/v1/accounts/${account.handle}/cache-volumes`,
        { token: account.token },
      );
      return body.volumes.length === 0 && (await v.claims()).length === 0;
    });

    const next = await readyBuild(service, account, { waitSeconds: 10 });
    expect(next.cache.reason).toMatch(new RegExp(`^cache lost: node gone \\(${node}\\)`));
    const pod = (await v.pods()).find((p) => p.metadata!.labels![LABELS.build] === next.id)!;
    expect(pod.spec!.nodeName).not.toBe(node);
    expect(await echo(service, next, "fresh\n")).toBe("fresh\n");
    await completeBuild(service, next);
    // Told once.
    const after = await readyBuild(service, account, { waitSeconds: 10 });
    expect(after.cache.reason).toBeNull();
    await completeBuild(service, after);
  });

  it("a reset drops the account's volume and idle builder; the next build starts at once on a fresh volume", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "60" });
    const account = await service.account();
    const first = await readyBuild(service, account, { waitSeconds: 10 });
    await completeBuild(service, first);
    const [before] = (await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === account.id);
    await until("the builder to go idle", async () => (await v.pods()).some((p) => role(p) === "idle"));
    // Something (a slow controller, a backup tool) holds the old claim: it stays terminating.
    const hold = "test.remote-builder.tuist.dev/hold";
    const holdFinalizer = (finalizers: string[]) =>
      r.core.patchNamespacedPersistentVolumeClaim(
        { name: before!.metadata!.name!, namespace: r.namespace, body: { metadata: { finalizers } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    await holdFinalizer([...(before!.metadata!.finalizers ?? []), hold]);
    const reset = await http(
      service.url,
      "DELETE",
      `/api/v1/accounts/${account.handle}/cache-volumes/buildkit`,
      {
        token: account.token,
      },
    );
    expect(reset.status).toBe(200);
    // At once: the old claim may still be terminating; the new build must not wait on it.
    const next = await readyBuild(service, account, { waitSeconds: 10 });
    expect(next.tier).toBe("cold");
    const pod = (await v.pods()).find((p) => p.metadata!.labels![LABELS.build] === next.id)!;
    expect(claimOfPod(pod)).toBeDefined();
    const [after] = (await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === account.id);
    expect(after!.metadata!.uid).not.toBe(before!.metadata!.uid);
    expect(await echo(service, next, "fresh\n")).toBe("fresh\n");
    await completeBuild(service, next);
    await holdFinalizer([]);
  });

  it("a node over its cache budget evicts the least recently used volume; its account is told at its next build", async () => {
    rig = await startRig({ nodes: ["node-a"] });
    const r = rig;
    const v = views(r);
    // The free plan's volumes are 20 GiB: two of them do not fit a 30 GiB node.
    const service = await r.start("replica-1", {
      RB_BUILDER_IDLE_TTL_SECONDS: "0",
      RB_K8S_NODE_BUDGET_GIB: "30",
    });
    const older = await service.account();
    const newer = await service.account();
    await completeBuild(service, await readyBuild(service, older, { waitSeconds: 10 }));
    const held = await readyBuild(service, newer, { waitSeconds: 10 });
    // The newer account's volume is held by its build: only the older one can go.
    await until("the older volume to be evicted", async () => {
      const claims = await v.claims();
      return claims.every((c) => c.metadata!.labels![LABELS.account] !== older.id);
    });
    expect((await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === newer.id)).toHaveLength(
      1,
    );
    await completeBuild(service, held);
    const again = await readyBuild(service, older, { waitSeconds: 10 });
    expect(again.cache.reason).toMatch(/^cache lost: evicted: node .* ran out of cache space/);
    await completeBuild(service, again);
  });

  it("two replicas: exactly one leads and keeps the pool; when it dies the other takes over, with no double action", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const env = { RB_WARM_POOL: '{"small":2}' };
    const a = await r.start("replica-a", env);
    const b = await r.start("replica-b", env);
    await until("one leader", () => a.elector.isLeader() !== b.elector.isLeader());
    await until("the warm pool", async () => (await v.warm()).length === 2);
    const lease = async () => (await r.list<V1Lease>("leases", r.serviceNamespace))[0]!.spec!;
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    const name = (s: KubeService) => (s === a ? "replica-a" : "replica-b");
    expect((await lease()).holderIdentity).toBe(name(leader));
    const before = r.created.length;
    expect(before).toBe(2);

    // The leader dies without a word: it stops renewing, and its lease runs out.
    await leader.elector.stop(false);
    await until("the follower to lead", () => follower.elector.isLeader());
    expect((await lease()).holderIdentity).toBe(name(follower));
    expect((await lease()).leaseTransitions).toBe(1);
    expect(leader.elector.isLeader()).toBe(false);
    // The pool was full: the new leader creates nothing.
    expect(r.created.length).toBe(before);

    // And it keeps the pool: a warm builder that dies is replaced, once.
    const [victim] = await v.warm();
    await r.kubelet.crashPod(victim!.metadata!.name!, r.namespace);
    await until("the pool to refill", async () => {
      const now = await v.warm();
      return now.length === 2 && now.every((p) => p.metadata!.name !== victim!.metadata!.name);
    });
    expect(r.created.length).toBe(before + 1);
  });

  it("a warm pod whose buildkitd cannot start is said at warn in its words, and retried after 1, 2, 4 s…", async () => {
    rig = await startRig();
    const r = rig;
    r.failBuilders = "buildkitd: flag provided but not defined: -oci-max-parallelism";
    await r.start("replica-1", { RB_WARM_POOL: '{"small":1}' });
    const failures = () => r.events.filter((e) => e.message.startsWith("a warm builder failed to start"));
    await until("three failed warm pods", () => failures().length >= 3, 30_000);
    expect(
      failures()
        .slice(0, 3)
        .map((e) => [e.level, e.fields.failuresInARow, e.fields.retryInSeconds]),
    ).toEqual([
      ["warn", 1, 1],
      ["warn", 2, 2],
      ["warn", 3, 4],
    ]);
    expect(failures()[0]!.message).toContain("flag provided but not defined: -oci-max-parallelism");
    // One pod per try, not one per pass.
    expect(r.created.length).toBeLessThanOrEqual(failures().length + 1);

    r.failBuilders = null;
    await until(
      "a warm pod that runs",
      async () => (await r.list<V1Pod>("pods")).some((p) => p.status?.phase === "Running"),
      30_000,
    );
  });

  it("removes orphans: Secrets without a pod, warm volumes without a builder, account volumes the service forgot", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "0" });
    const managed = { [LABELS.managedBy]: "remote-builder" };
    await r.core.createNamespacedSecret({
      namespace: r.namespace,
      body: { metadata: { name: "rb-gone-tls", labels: { ...managed, [LABELS.builder]: "rb-gone" } } },
    });
    const claim = (name: string, labels: Record<string, string>) =>
      r.core.createNamespacedPersistentVolumeClaim({
        namespace: r.namespace,
        body: {
          metadata: { name, labels: { ...managed, ...labels } },
          spec: {
            accessModes: ["ReadWriteOncePod"],
            storageClassName: "rb-test-local",
            resources: { requests: { storage: "1Gi" } },
          },
        },
      });
    await claim("cache-warm-orphan", { [LABELS.role]: "warm" });
    await claim("cache-forgotten", {
      [LABELS.role]: "account",
      [LABELS.account]: "nobody",
      [LABELS.volume]: "x",
    });
    const account = await service.account();
    const build = await readyBuild(service, account, { waitSeconds: 10 });
    await until("the orphans to go", async () => {
      const secrets = await r.list<V1Secret>("secrets");
      const claims = await v.claims();
      return (
        !secrets.some((s) => s.metadata!.name === "rb-gone-tls") &&
        !claims.some((c) => ["cache-warm-orphan", "cache-forgotten"].includes(c.metadata!.name!))
      );
    });
    // What a live build uses stays.
    expect((await v.pods()).filter((p) => p.metadata!.labels![LABELS.build] === build.id)).toHaveLength(1);
    expect((await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === account.id)).toHaveLength(
      1,
    );
    await completeBuild(service, build);
  });
}
