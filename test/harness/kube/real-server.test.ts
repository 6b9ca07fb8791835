import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  NodeV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type V1Pod,
} from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer } from "./api-server.js";
import { microTimeError } from "./validation.js";
import { failure } from "./errors.js";
import { merge } from "./kubelet.js";

/**
 * What a real kube-apiserver (v1.26) refused and the fake once accepted: MicroTime decoding,
 * RuntimeClass admission, --allow-privileged, and TaintNodesByCondition's taint on new nodes.
 */
let api: FakeApiServer;
let strict: FakeApiServer;
let core: CoreV1Api;
let coord: CoordinationV1Api;
let nodeApi: NodeV1Api;

const client = (server: FakeApiServer) => {
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfigYaml());
  return kc;
};

const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

const pod = (name: string, spec: Partial<NonNullable<V1Pod["spec"]>> = {}): V1Pod => ({
  metadata: { name },
  spec: {
    automountServiceAccountToken: false,
    containers: [{ name: "main", image: "busybox:1.36" }],
    ...spec,
  },
});

beforeAll(async () => {
  api = await startFakeApiServer();
  strict = await startFakeApiServer({ allowPrivileged: false });
  const kc = client(api);
  core = kc.makeApiClient(CoreV1Api);
  coord = kc.makeApiClient(CoordinationV1Api);
  nodeApi = kc.makeApiClient(NodeV1Api);
  await core.createNamespace({ body: { metadata: { name: "t" } } });
});
afterAll(async () => {
  await api.close();
  await strict.close();
});

describe("MicroTime (Lease renewTime, acquireTime)", () => {
  it("parses like Go's time.Parse(RFC3339Micro)", () => {
    expect(microTimeError("2026-11-29T01:59:08.933000Z")).toBeUndefined();
    expect(microTimeError("2026-11-29T01:59:08.933000+02:00")).toBeUndefined();
    expect(microTimeError("2026-11-29T01:59:08.933Z")).toBe(
      'parsing time "2026-11-29T01:59:08.933Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".933Z" as ".000000"',
    );
    expect(microTimeError("2026-11-29T01:59:08Z")).toMatch(/cannot parse "Z" as ".000000"$/);
    expect(microTimeError("2026-11-29T01:59:08.933000000Z")).toMatch(/cannot parse "000Z" as "Z07:00"$/);
    expect(microTimeError("2026-13-29T01:59:08.933000Z")).toBe(
      'parsing time "2026-13-29T01:59:08.933000Z": month out of range',
    );
    expect(microTimeError("2026-02-30T01:59:08.933000Z")).toMatch(/: day out of range$/);
  });

  it("refuses a create or update with milliseconds (400), accepts six digits", async () => {
    const bad = await failure(
      coord.createNamespacedLease({
        namespace: "t",
        // A plain Date serializes with three digits; V1MicroTime with six.
        body: {
          metadata: { name: "ms" },
          spec: { holderIdentity: "me", renewTime: new Date(1_795_917_548_933) },
        },
      }),
    );
    expect(bad.code).toBe(400);
    expect(bad.body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "BadRequest",
      code: 400,
      message:
        'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-29T01:59:08.933Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".933Z" as ".000000"',
    });
    expect(api.objects("leases.coordination.k8s.io", "t").map((l) => l.metadata.name)).not.toContain("ms");

    const lease = await coord.createNamespacedLease({
      namespace: "t",
      body: {
        metadata: { name: "us" },
        spec: { holderIdentity: "me", acquireTime: new V1MicroTime(), renewTime: new V1MicroTime() },
      },
    });
    expect(String(lease.spec?.renewTime)).toMatch(/\.\d{6}Z$/);

    const stale = await failure(
      coord.replaceNamespacedLease({
        namespace: "t",
        name: "us",
        body: { ...lease, spec: { ...lease.spec, acquireTime: new Date() } },
      }),
    );
    expect(stale.code).toBe(400);
    expect(stale.body.message).toMatch(/^Lease in version "v1" cannot be handled as a Lease: parsing time /);
    const renewed = await coord.replaceNamespacedLease({
      namespace: "t",
      name: "us",
      body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime(Date.now() + 1000) } },
    });
    expect(renewed.metadata?.resourceVersion).not.toBe(lease.metadata?.resourceVersion);
  });

  it("refuses a patch whose result does not decode (422 on `patch`, as patch.go answers)", async () => {
    const ms = new Date().toISOString();
    const viaMerge = await failure(
      coord.patchNamespacedLease({ namespace: "t", name: "us", body: { spec: { renewTime: ms } } }, merge),
    );
    expect(viaMerge.code).toBe(422);
    expect(viaMerge.body).toMatchObject({ reason: "Invalid", details: { causes: [{ field: "patch" }] } });
    expect(viaMerge.body.message).toContain(`cannot parse ".${ms.slice(-4)}" as ".000000"`);
    const viaStrategic = await failure(
      coord.patchNamespacedLease(
        { namespace: "t", name: "us", body: { spec: { renewTime: ms } } },
        strategic,
      ),
    );
    expect(viaStrategic.code).toBe(422);
    expect(viaStrategic.body.message).toContain(`map[spec:map[renewTime:${ms}]]`);
    const viaJson = await failure(
      coord.patchNamespacedLease({
        namespace: "t",
        name: "us",
        body: [{ op: "replace", path: "/spec/renewTime", value: ms }],
      }),
    );
    expect(viaJson.code).toBe(422);

    const micro = new V1MicroTime().toISOString();
    const ok = await coord.patchNamespacedLease(
      { namespace: "t", name: "us", body: { spec: { renewTime: micro } } },
      merge,
    );
    expect(ok.spec?.renewTime).toBe(micro);
  });
});

describe("RuntimeClass", () => {
  it("serves node.k8s.io/v1 runtimeclasses, with discovery", async () => {
    const groups = (await (await api.fetch("/apis")).json()) as { groups: Array<{ name: string }> };
    expect(groups.groups.map((g) => g.name)).toContain("node.k8s.io");
    const list = (await (await api.fetch("/apis/node.k8s.io/v1")).json()) as {
      resources: Array<{ name: string; namespaced: boolean; kind: string }>;
    };
    expect(list.resources).toEqual([
      expect.objectContaining({ name: "runtimeclasses", namespaced: false, kind: "RuntimeClass" }),
    ]);
    const rc = await nodeApi.createRuntimeClass({ body: { metadata: { name: "tmp" }, handler: "tmp" } });
    expect(rc.apiVersion).toBe("node.k8s.io/v1");
    expect((await nodeApi.listRuntimeClass()).items.map((r) => r.metadata?.name)).toContain("tmp");
    const immutable = await failure(
      nodeApi.replaceRuntimeClass({ name: "tmp", body: { ...rc, handler: "other" } }),
    );
    expect(immutable.code).toBe(422);
    const badHandler = await failure(
      nodeApi.createRuntimeClass({ body: { metadata: { name: "x" }, handler: "Not_A_Label" } }),
    );
    expect(badHandler.code).toBe(422);
    await nodeApi.deleteRuntimeClass({ name: "tmp" });
    expect((await nodeApi.listRuntimeClass()).items.map((r) => r.metadata?.name)).not.toContain("tmp");
  });

  it("refuses a pod naming a RuntimeClass that does not exist (403)", async () => {
    const refused = await failure(
      core.createNamespacedPod({ namespace: "t", body: pod("no-rc", { runtimeClassName: "kata-fc" }) }),
    );
    expect(refused.code).toBe(403);
    expect(refused.body).toMatchObject({
      kind: "Status",
      reason: "Forbidden",
      code: 403,
      message: 'pods "no-rc" is forbidden: pod rejected: RuntimeClass "kata-fc" not found',
      details: { name: "no-rc", kind: "pods" },
    });
  });

  it("admits a pod naming an existing class, with its overhead and scheduling", async () => {
    await nodeApi.createRuntimeClass({
      body: {
        metadata: { name: "kata-fc" },
        handler: "kata-fc",
        overhead: { podFixed: { memory: "160Mi", cpu: "250m" } },
        scheduling: { nodeSelector: { "katacontainers.io/kata-runtime": "true" } },
      },
    });
    const created = await core.createNamespacedPod({
      namespace: "t",
      body: pod("with-rc", { runtimeClassName: "kata-fc", nodeSelector: { pool: "builders" } }),
    });
    expect(created.spec?.overhead).toEqual({ memory: "160Mi", cpu: "250m" });
    expect(created.spec?.nodeSelector).toEqual({
      pool: "builders",
      "katacontainers.io/kata-runtime": "true",
    });

    const conflicting = await failure(
      core.createNamespacedPod({
        namespace: "t",
        body: pod("other-overhead", { runtimeClassName: "kata-fc", overhead: { memory: "1Gi" } }),
      }),
    );
    expect(conflicting.code).toBe(403);
    expect(conflicting.body.message).toBe(
      `pods "other-overhead" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`,
    );
    const noClass = await failure(
      core.createNamespacedPod({
        namespace: "t",
        body: pod("bare-overhead", { overhead: { memory: "1Gi" } }),
      }),
    );
    expect(noClass.code).toBe(403);
  });
});

describe("--allow-privileged", () => {
  const privileged = (name: string): V1Pod =>
    pod(name, {
      initContainers: [{ name: "init", image: "busybox:1.36", securityContext: { privileged: true } }],
      containers: [
        { name: "plain", image: "busybox:1.36" },
        { name: "buildkitd", image: "moby/buildkit:v0.16.0", securityContext: { privileged: true } },
      ],
    });

  it("is allowed by default (as on clusters that run builders)", async () => {
    const created = await core.createNamespacedPod({ namespace: "t", body: privileged("priv") });
    expect(created.spec?.containers[1]?.securityContext?.privileged).toBe(true);
  });

  it("is refused with allowPrivileged: false (the real server's default), unprivileged pods pass", async () => {
    const strictCore = client(strict).makeApiClient(CoreV1Api);
    const refused = await failure(
      strictCore.createNamespacedPod({ namespace: "default", body: privileged("priv") }),
    );
    expect(refused.code).toBe(422);
    expect(refused.body).toMatchObject({
      reason: "Invalid",
      details: {
        kind: "Pod",
        causes: [
          {
            reason: "FieldValueForbidden",
            message: "Forbidden: disallowed by cluster policy",
            field: "spec.initContainers[0].securityContext.privileged",
          },
          {
            reason: "FieldValueForbidden",
            message: "Forbidden: disallowed by cluster policy",
            field: "spec.containers[1].securityContext.privileged",
          },
        ],
      },
    });
    const plain = await strictCore.createNamespacedPod({
      namespace: "default",
      body: pod("plain", {
        containers: [{ name: "main", image: "busybox:1.36", securityContext: { privileged: false } }],
      }),
    });
    expect(plain.metadata?.uid).toBeTruthy();
  });
});

describe("TaintNodesByCondition", () => {
  it("taints every new Node not-ready:NoSchedule, once, and leaves the taint to be lifted", async () => {
    const node = await core.createNode({
      body: {
        metadata: { name: "n1" },
        spec: { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] },
        status: { conditions: [{ type: "Ready", status: "True" }] as never },
      },
    });
    expect(node.spec?.taints).toEqual([
      { key: "dedicated", value: "gpu", effect: "NoSchedule" },
      { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" },
    ]);
    const already = await core.createNode({
      body: {
        metadata: { name: "n2" },
        spec: { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] },
      },
    });
    expect(already.spec?.taints).toHaveLength(1);
    // Only at creation: an update may drop it (the node lifecycle controller's job).
    const lifted = await core.patchNode({ name: "n1", body: { spec: { taints: null } } }, merge);
    expect(lifted.spec?.taints).toBeUndefined();
  });
});
