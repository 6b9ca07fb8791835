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
import { prewarmBuilderId } from "../../service/adapters/drivers/kubernetes/driver.js";
import { ANNOTATIONS, LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import type { PrewarmSpec, PrewarmStart } from "../../service/core/ports.js";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { builderOf, http } from "../harness/context.js";
import { completeBuild, createBuild, echo, readyBuild, settle, until } from "../drivers/support.js";
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

/** What the prewarmer asks of the driver for an account: its volume, a TTL, the per-account cap. */
function prewarmSpec(
  service: KubeService,
  accountId: string,
  o: { volume?: string | null; ttlMs?: number; maxPerAccount?: number } = {},
): PrewarmSpec {
  return {
    accountId,
    shapeName: "small",
    shape: service.config.shapes.small!,
    // null: a fresh warm builder of the shape, for a job whose builds run cold.
    volume: o.volume === null ? null : { name: o.volume ?? "buildkit", sizeGiB: 20 },
    ttlMs: o.ttlMs ?? 60_000,
    maxPerAccount: o.maxPerAccount ?? 2,
  };
}

/** The account's volume gets its claim from a first build; its builder is gone after (idle TTL 0). */
async function withVolume(
  service: KubeService,
  r: KubeRig,
  account: { id: string; token: string },
  drivers: KubeService[] = [service],
) {
  await completeBuild(service, await readyBuild(service, account, { waitSeconds: 10 }));
  await builderGone(r, account.id, drivers);
}

/**
 * No builder of the account left: in the cluster, and in the caches of the drivers that will act
 * next (a pre-warm decided on a cache that still shows the build's pod would be refused).
 */
async function builderGone(r: KubeRig, accountId: string, drivers: KubeService[]) {
  await until("the build's builder to go", async () => {
    const pods = await r.list<V1Pod>("pods");
    const lists = await Promise.all(drivers.map((d) => d.kube.list()));
    return (
      pods.every((p) => p.metadata!.labels![LABELS.account] !== accountId) &&
      lists.flat().every((b) => b.accountId !== accountId)
    );
  });
}

const nameOf = (p: V1Pod) => p.metadata!.name!;

/** The builder a pre-warm started; throws with its answer otherwise. */
function startedId(start: PrewarmStart): string {
  if (start.outcome !== "started") throw new Error(`not started: ${start.outcome}: ${start.reason}`);
  return start.builderId;
}

async function metric(service: KubeService, line: string): Promise<number> {
  const { body } = await http<string>(service.url, "GET", "/metrics");
  const found = String(body)
    .split("\n")
    .find((l) => l.startsWith(`${line} `));
  return found ? Number(found.split(" ")[1]) : 0;
}

/**
 * A pre-warmed builder no build took is deleted with its Secret at its expiry, and reported once,
 * for the account that asked: from its start to the pass that stopped it, at least its TTL and
 * not much more.
 */
async function expectExpired(
  r: KubeRig,
  service: KubeService,
  o: { builderId: string; accountId: string; ttlMs: number },
): Promise<{ accountId: string; seconds: number }> {
  await until(
    "the pre-warmed pod to be deleted",
    async () => (await views(r).pods()).every((p) => nameOf(p) !== o.builderId),
    20_000,
  );
  await until("its Secret to go", async () =>
    (await r.list<V1Secret>("secrets")).every((s) => s.metadata!.name !== `${o.builderId}-tls`),
  );
  expect(r.prewarmExpired).toHaveLength(1);
  const [expired] = r.prewarmExpired;
  expect(expired!.accountId).toBe(o.accountId);
  expect(expired!.seconds).toBeGreaterThanOrEqual(o.ttlMs / 1000);
  expect(expired!.seconds).toBeLessThan(o.ttlMs / 1000 + 10);
  expect(await metric(service, 'remote_builder_prewarm_total{outcome="expired"}')).toBe(1);
  return expired!;
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

  it("a second pass placing the same build gets the builder the first took or started, and deletes nothing", async () => {
    // The volume's release and the reconciler both advance a queued build; the later pass, its
    // cache showing the builder as taken already, once cold-started beside it or deleted it.
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "60" });
    const account = await service.account();
    await completeBuild(service, await readyBuild(service, account, { waitSeconds: 10 }));
    await until("the builder to go idle", async () => (await v.pods()).some((p) => role(p) === "idle"));
    const placeTwice = async (volume: string) => {
      const spec = {
        buildId: randomUUID(),
        accountId: account.id,
        shapeName: "small",
        shape: service.config.shapes.small!,
        volume: { name: volume, sizeGiB: 20 },
      };
      const first = await service.kube.create(spec);
      await until("the driver's cache to show it serving", async () =>
        (await service.kube.list()).some((b) => b.buildId === spec.buildId),
      );
      const again = await service.kube.create(spec);
      const onVolume = (await v.pods()).filter((p) => p.metadata!.labels![LABELS.volume] === volume);
      return { first, again, onVolume: onVolume.map(nameOf) };
    };
    const idle = await placeTwice("buildkit");
    expect(idle.first.tier).toBe("idle");
    expect(idle.again).toEqual(idle.first);
    expect(idle.onVolume).toEqual([idle.first.builderId]);
    const cold = await placeTwice("other");
    expect(cold.first.tier).toBe("cold");
    expect(cold.again).toEqual(cold.first);
    expect(cold.onVolume).toEqual([cold.first.builderId]);
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

  it("a pre-warmed pod still booting is the account's next build's idle builder: no second pod, the build waits out the boot", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "0" });
    const account = await service.account();
    await withVolume(service, r, account);

    const boot = r.holdBoots();
    const started = await service.kube.prewarm(prewarmSpec(service, account.id, { ttlMs: 60_000 }));
    expect(started).toEqual({ outcome: "started", builderId: prewarmBuilderId(account.id, "buildkit") });
    const builderId = prewarmBuilderId(account.id, "buildkit");
    const pod = (await v.pods()).find((p) => p.metadata!.name === builderId)!;
    expect(role(pod)).toBe("idle");
    expect(pod.metadata!.labels).toMatchObject({ [LABELS.account]: account.id, [LABELS.volume]: "buildkit" });
    const annotations = pod.metadata!.annotations!;
    const prewarmedAt = Number(annotations[ANNOTATIONS.prewarmedAt]);
    expect(Number(annotations[ANNOTATIONS.prewarmExpiresAt])).toBe(prewarmedAt + 60_000);
    const claim = (await v.claims()).find((c) => c.metadata!.labels![LABELS.account] === account.id)!;
    expect(claimOfPod(pod)).toBe(claim.metadata!.name);
    const pods = r.created.length;

    // The build comes while the pod boots: it takes the pod, and waits for it.
    const build = await createBuild(service, account, { waitSeconds: 10 });
    await until("the build to take the pre-warmed pod", async () => {
      return (await builderOf(service, build.id)).builderId === builderId;
    });
    const taken = (await v.pods()).find((p) => p.metadata!.name === builderId)!;
    expect(taken.status?.phase).not.toBe("Running");
    expect(role(taken)).toBe("serving");
    expect(taken.metadata!.labels![LABELS.build]).toBe(build.id);
    // Its pre-warm is over: after this build it idles under the ordinary TTL.
    expect(taken.metadata!.annotations![ANNOTATIONS.prewarmedAt]).toBeUndefined();
    expect(taken.metadata!.annotations![ANNOTATIONS.prewarmExpiresAt]).toBeUndefined();
    boot();

    const ready = await settle(service, build);
    expect(ready.state).toBe("ready");
    expect(ready.tier).toBe("idle");
    expect(ready.prewarmed).toBe(true);
    expect(await echo(service, ready, "prewarmed\n")).toBe("prewarmed\n");
    expect(r.created.length).toBe(pods);
    expect(await metric(service, 'remote_builder_prewarm_total{outcome="used"}')).toBe(1);
    await completeBuild(service, ready);
  });

  it("a pre-warmed pod no build takes is deleted with its Secret at its own expiry (not the idle TTL), and reported", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    // An idle TTL of 0 would reap an ordinary idle builder at once: a pre-warmed one waits out its own.
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "0" });
    const account = await service.account();
    await withVolume(service, r, account);
    const ttlMs = 2_000;
    const started = await service.kube.prewarm(prewarmSpec(service, account.id, { ttlMs }));
    expect(started.outcome).toBe("started");
    const builderId = prewarmBuilderId(account.id, "buildkit");
    await until("the pre-warmed pod to run", async () =>
      (await v.pods()).some((p) => p.metadata!.name === builderId && p.status?.phase === "Running"),
    );
    const expired = await expectExpired(r, service, { builderId, accountId: account.id, ttlMs });
    expect(await metric(service, "remote_builder_prewarm_wasted_seconds_total")).toBeCloseTo(expired.seconds);
  });

  it("pre-warms nothing on a volume a build's builder serves on, nor a second pod for a volume already warm", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: "0" });
    const account = await service.account();
    const none = await service.kube.prewarm(prewarmSpec(service, account.id));
    expect(none).toEqual({ outcome: "skipped", reason: "no cache volume yet" });

    const serving = await readyBuild(service, account, { waitSeconds: 10 });
    const pods = r.created.length;
    const busy = await service.kube.prewarm(prewarmSpec(service, account.id));
    expect(busy).toEqual({ outcome: "skipped", reason: "a build's builder holds the cache volume" });
    await completeBuild(service, serving);
    await builderGone(r, account.id, [service]);
    expect(r.created.length).toBe(pods);

    // Two at once (two replicas' hooks, say): one pod; the other meets it.
    const both = await Promise.all([
      service.kube.prewarm(prewarmSpec(service, account.id)),
      service.kube.prewarm(prewarmSpec(service, account.id)),
    ]);
    expect(
      both.map((s) => (s.outcome === "started" ? s.outcome : `${s.outcome}: ${s.reason}`)).sort(),
    ).toEqual(["already-warm: the account's builder on this volume is up or starting", "started"]);
    // And later, from the cache.
    await until(
      "the pre-warmed pod in the driver's cache",
      async () => (await service.kube.prewarm(prewarmSpec(service, account.id))).outcome === "already-warm",
    );
    const mine = (await v.pods()).filter((p) => p.metadata!.labels![LABELS.account] === account.id);
    expect(mine.map((p) => p.metadata!.name)).toEqual([prewarmBuilderId(account.id, "buildkit")]);
    expect(r.created.length).toBe(pods + 1);
  });

  it("pre-warms at most the per-account cap of builders at once, over the account's volumes", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const env = { RB_BUILDER_IDLE_TTL_SECONDS: "0" };
    const service = await r.start("replica-1", env);
    // The account's second volume, from a time its builds used another name: a replica on the
    // same database with that name makes it, so the service knows both (and keeps their claims).
    const other = await r.start("replica-2", {
      ...env,
      RB_CACHE_VOLUME: "other",
      RB_DATABASE_URL: service.config.databaseUrl,
      RB_REDIS_PREFIX: service.config.redisPrefix,
    });
    const account = await service.account();
    await withVolume(service, r, account);
    await withVolume(other, r, account, [other, service]);
    expect((await v.claims()).filter((c) => c.metadata!.labels![LABELS.account] === account.id)).toHaveLength(
      2,
    );

    const first = await service.kube.prewarm(prewarmSpec(service, account.id, { maxPerAccount: 1 }));
    expect(first.outcome).toBe("started");
    await until(
      "the pre-warmed pod in the driver's cache",
      async () => (await service.kube.prewarm(prewarmSpec(service, account.id))).outcome === "already-warm",
    );
    const pods = r.created.length;
    const capped = await service.kube.prewarm(
      prewarmSpec(service, account.id, { volume: "other", maxPerAccount: 1 }),
    );
    expect(capped).toEqual({
      outcome: "skipped",
      reason: "1 pre-warmed builder(s) already wait for this account",
    });
    expect(r.created.length).toBe(pods);
    // Another account is not this one's cap.
    const stranger = await service.account();
    await withVolume(service, r, stranger);
    expect(
      (await service.kube.prewarm(prewarmSpec(service, stranger.id, { maxPerAccount: 1 }))).outcome,
    ).toBe("started");
    const second = await service.kube.prewarm(
      prewarmSpec(service, account.id, { volume: "other", maxPerAccount: 2 }),
    );
    expect(second).toEqual({ outcome: "started", builderId: prewarmBuilderId(account.id, "other") });
  });

  it("a pre-warm without a volume is a warm pod outside the pool's target; a cold build takes it as warm, pre-warmed", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1", { RB_WARM_POOL: '{"small":1}' });
    const account = await service.account();
    await until("the pool's warm builder", async () => (await v.warm()).length === 1);
    const pool = nameOf((await v.warm())[0]!);

    // Booting: a build now takes the pool's ready pod, not this one.
    const boot = r.holdBoots();
    const builderId = startedId(
      await service.kube.prewarm(prewarmSpec(service, account.id, { volume: null })),
    );
    const pod = (await v.pods()).find((p) => nameOf(p) === builderId)!;
    expect(pod.metadata!.labels).toMatchObject({ [LABELS.role]: "warm", [LABELS.account]: account.id });
    expect(pod.metadata!.labels![LABELS.volume]).toBeUndefined();
    const annotations = pod.metadata!.annotations!;
    const prewarmedAt = Number(annotations[ANNOTATIONS.prewarmedAt]);
    expect(Number(annotations[ANNOTATIONS.prewarmExpiresAt])).toBe(prewarmedAt + 60_000);
    expect(annotations[ANNOTATIONS.idleSince]).toBeUndefined();
    // A fresh volume of its own, as the pool's warm pods get.
    const claim = (await v.claims()).find((c) => c.metadata!.name === claimOfPod(pod))!;
    expect(claim.metadata!.labels![LABELS.role]).toBe("warm");
    // Two warm pods for a target of one: the pool deletes neither.
    await sleep(1_000);
    expect((await v.pods()).map(nameOf).sort()).toEqual([pool, builderId].sort());

    // The pool's pod is taken: the pool refills, since the pre-warmed one is not its own.
    const first = await readyBuild(service, account, { cache: "cold", waitSeconds: 10 });
    expect(first).toMatchObject({ tier: "warm", prewarmed: false });
    expect((await builderOf(service, first.id)).builderId).toBe(pool);
    await until("the pool to refill", async () =>
      (await v.pods()).some((p) => role(p) === "warm" && ![pool, builderId].includes(nameOf(p))),
    );
    await completeBuild(service, first);
    boot();

    // A cold build takes the pre-warmed pod (before the pool's): warm, and reported pre-warmed.
    await until("both warm pods to run", async () => (await v.warm()).length === 2);
    const pods = r.created.length;
    const second = await readyBuild(service, account, { cache: "cold", waitSeconds: 10 });
    expect(second).toMatchObject({ tier: "warm", prewarmed: true });
    expect((await builderOf(service, second.id)).builderId).toBe(builderId);
    const taken = (await v.pods()).find((p) => nameOf(p) === builderId)!;
    expect(role(taken)).toBe("serving");
    expect(taken.metadata!.annotations![ANNOTATIONS.prewarmedAt]).toBeUndefined();
    expect(taken.metadata!.annotations![ANNOTATIONS.prewarmExpiresAt]).toBeUndefined();
    expect(await echo(service, second, "prewarmed warm\n")).toBe("prewarmed warm\n");
    expect(await metric(service, 'remote_builder_prewarm_total{outcome="used"}')).toBe(1);
    // The pool was never short of its own: it starts nothing.
    await sleep(1_000);
    expect(r.created.length).toBe(pods);
    expect((await v.warm()).length).toBe(1);
    await completeBuild(service, second);
  });

  it("a warm pre-warm no build takes is deleted with its Secret at its expiry and reported for the account that asked; it counts toward that account's cap", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const service = await r.start("replica-1");
    const account = await service.account();
    const ttlMs = 2_000;
    const one = { volume: null, ttlMs, maxPerAccount: 1 };
    const builderId = startedId(await service.kube.prewarm(prewarmSpec(service, account.id, one)));
    await until("the pre-warmed pod to run", async () =>
      (await v.pods()).some((p) => nameOf(p) === builderId && p.status?.phase === "Running"),
    );
    const pods = r.created.length;
    expect(await service.kube.prewarm(prewarmSpec(service, account.id, one))).toEqual({
      outcome: "skipped",
      reason: "1 pre-warmed builder(s) already wait for this account",
    });
    expect(r.created.length).toBe(pods);
    await expectExpired(r, service, { builderId, accountId: account.id, ttlMs });
  });

  it("a pre-warm finding the account's idle builder keeps it up past its idle TTL until the pre-warm's expiry", async () => {
    rig = await startRig();
    const r = rig;
    const v = views(r);
    const idleTtlMs = 3_000;
    const service = await r.start("replica-1", { RB_BUILDER_IDLE_TTL_SECONDS: String(idleTtlMs / 1000) });
    const account = await service.account();
    const build = await readyBuild(service, account, { waitSeconds: 10 });
    const builderId = (await builderOf(service, build.id)).builderId;
    await completeBuild(service, build);
    const ttlMs = 10_000;
    const before = Date.now();
    // Until the driver's cache shows the builder idle (it answers "busy" while it shows it serving).
    const kept = await until("the pre-warm to find the idle builder", async () => {
      const start = await service.kube.prewarm(prewarmSpec(service, account.id, { ttlMs }));
      return start.outcome === "skipped" && start.reason === "a build's builder holds the cache volume"
        ? null
        : start;
    });
    expect(kept).toEqual({
      outcome: "already-warm",
      reason: "the account's idle builder on this volume is kept up for the job",
    });
    const idle = (await v.pods()).find((p) => nameOf(p) === builderId)!;
    expect(role(idle)).toBe("idle");
    const annotations = idle.metadata!.annotations!;
    const idleSince = Number(annotations[ANNOTATIONS.idleSince]);
    const expiresAt = Number(annotations[ANNOTATIONS.prewarmExpiresAt]);
    expect(expiresAt).toBeGreaterThanOrEqual(before + ttlMs);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + ttlMs);
    // Not a pre-warmed builder: a build that takes it is not counted as pre-warmed.
    expect(annotations[ANNOTATIONS.prewarmedAt]).toBeUndefined();
    expect(r.created).toEqual([builderId]);

    // Past its idle TTL (and a few passes more) it is still up.
    await sleep(Math.max(0, idleSince + idleTtlMs + 1_500 - Date.now()));
    expect((await v.pods()).map(nameOf)).toContain(builderId);
    await until(
      "the kept-up builder to be deleted",
      async () => (await v.pods()).every((p) => nameOf(p) !== builderId),
      20_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(r.prewarmExpired).toEqual([]);
  });
}
