import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer } from "./api-server.js";
import { failure } from "./errors.js";
import { merge } from "./kubelet.js";

let api: FakeApiServer;
let core: CoreV1Api;
let kc: KubeConfig;

const pod = (name: string, extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: { name, labels: { app: "rb", tier: name } },
  spec: { automountServiceAccountToken: false, containers: [{ name: "main", image: "busybox:1.36" }] },
  ...extra,
});

const strategic = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

beforeAll(async () => {
  api = await startFakeApiServer();
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "t" } } });
});
afterAll(() => api.close());

describe("fake apiserver CRUD through client-node", () => {
  it("creates, gets and lists with server-set fields", async () => {
    const created = await core.createNamespacedPod({ namespace: "t", body: pod("a") });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.status?.phase).toBe("Pending");
    expect(created.spec?.restartPolicy).toBe("Always");
    const got = await core.readNamespacedPod({ namespace: "t", name: "a" });
    expect(got.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const list = await core.listNamespacedPod({ namespace: "t" });
    expect(list.kind).toBe("PodList");
    expect(list.items.map((p) => p.metadata?.name)).toEqual(["a"]);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThanOrEqual(
      Number(created.metadata?.resourceVersion),
    );
  });

  it("generates names from generateName", async () => {
    const p = await core.createNamespacedPod({
      namespace: "t",
      body: { ...pod(""), metadata: { generateName: "gen-" } },
    });
    expect(p.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it("answers 409 AlreadyExists, 404 NotFound and 404 for a missing namespace with real Status bodies", async () => {
    const dup = await failure(core.createNamespacedPod({ namespace: "t", body: pod("a") }));
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "AlreadyExists",
      details: { name: "a", kind: "pods" },
    });
    const missing = await failure(core.readNamespacedPod({ namespace: "t", name: "zz" }));
    expect(missing.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods "zz" not found',
      reason: "NotFound",
      details: { name: "zz", kind: "pods" },
      code: 404,
    });
    const noNs = await failure(core.createNamespacedPod({ namespace: "nope", body: pod("a") }));
    expect(noNs.code).toBe(404);
    expect(noNs.body).toMatchObject({ reason: "NotFound", message: 'namespaces "nope" not found' });
  });

  it("answers 422 Invalid with causes for schema and semantic errors", async () => {
    const badName = await failure(core.createNamespacedPod({ namespace: "t", body: pod("Not_OK") }));
    expect(badName.code).toBe(422);
    expect(badName.body).toMatchObject({
      reason: "Invalid",
      details: { kind: "Pod", causes: [{ field: "metadata.name" }] },
    });
    const badLabel = await failure(
      core.createNamespacedSecret({
        namespace: "t",
        body: { metadata: { name: "s", labels: { x: "v".repeat(64) } } },
      }),
    );
    expect(badLabel.code).toBe(422);
    const noModes = await failure(
      core.createNamespacedPersistentVolumeClaim({
        namespace: "t",
        body: { metadata: { name: "c" }, spec: { resources: { requests: { storage: "1Gi" } } } },
      }),
    );
    expect(noModes.body).toMatchObject({
      reason: "Invalid",
      details: { causes: [{ field: "spec.accessModes", reason: "FieldValueRequired" }] },
    });
    const noContainers = await failure(
      core.createNamespacedPod({
        namespace: "t",
        body: { metadata: { name: "x" }, spec: { containers: [] } },
      }),
    );
    expect(noContainers.code).toBe(422);
  });

  it("refuses a stale update with 409 Conflict and accepts a fresh one", async () => {
    const s = await core.createNamespacedSecret({
      namespace: "t",
      body: { metadata: { name: "sec" }, stringData: { k: "v" } },
    });
    expect(s.data?.k).toBe(Buffer.from("v").toString("base64"));
    const fresh = await core.replaceNamespacedSecret({
      namespace: "t",
      name: "sec",
      body: { ...s, data: { k: "dzI=" } },
    });
    expect(fresh.metadata?.resourceVersion).not.toBe(s.metadata?.resourceVersion);
    const stale = await failure(
      core.replaceNamespacedSecret({ namespace: "t", name: "sec", body: { ...s, data: { k: "dzM=" } } }),
    );
    expect(stale.code).toBe(409);
    expect(stale.body).toMatchObject({ reason: "Conflict", details: { name: "sec", kind: "secrets" } });
    expect(String(stale.body.message)).toContain("the object has been modified");
  });

  it("applies merge, strategic and JSON patches; a failed test op is 422", async () => {
    const merged = await core.patchNamespacedPod(
      { namespace: "t", name: "a", body: { metadata: { labels: { extra: "1", tier: null } } } },
      merge,
    );
    expect(merged.metadata?.labels).toEqual({ app: "rb", extra: "1" });
    const json = await core.patchNamespacedPod({
      namespace: "t",
      name: "a",
      body: [
        { op: "test", path: "/metadata/labels/extra", value: "1" },
        { op: "replace", path: "/metadata/labels/extra", value: "2" },
      ],
    });
    expect(json.metadata?.labels?.extra).toBe("2");
    const failed = await failure(
      core.patchNamespacedPod({
        namespace: "t",
        name: "a",
        body: [{ op: "test", path: "/metadata/labels/extra", value: "1" }],
      }),
    );
    expect(failed.code).toBe(422);
    const smp = await core.patchNamespacedPod(
      {
        namespace: "t",
        name: "a",
        body: { spec: { containers: [{ name: "main", image: "busybox:1.37" }] } },
      },
      strategic,
    );
    expect(smp.spec?.containers).toHaveLength(1);
    expect(smp.spec?.containers[0]?.image).toBe("busybox:1.37");
    expect(smp.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
  });

  it("keeps pod spec immutable except the allowed fields, and status out of the main resource", async () => {
    const bad = await failure(
      core.patchNamespacedPod(
        { namespace: "t", name: "a", body: { spec: { nodeName: "somewhere" } } },
        merge,
      ),
    );
    expect(bad.code).toBe(422);
    expect(String(bad.body.message)).toContain("pod updates may not change fields");
    const ignored = await core.patchNamespacedPod(
      { namespace: "t", name: "a", body: { status: { phase: "Running" } } },
      merge,
    );
    expect(ignored.status?.phase).toBe("Pending");
    const status = await core.patchNamespacedPodStatus(
      { namespace: "t", name: "a", body: { status: { phase: "Running" } } },
      merge,
    );
    expect(status.status?.phase).toBe("Running");
  });

  it("a merge patch carrying a stale resourceVersion is a conflict", async () => {
    const stale = await failure(
      core.patchNamespacedPod(
        { namespace: "t", name: "a", body: { metadata: { resourceVersion: "1", labels: { z: "1" } } } },
        merge,
      ),
    );
    expect(stale.code).toBe(409);
  });

  it("filters lists by label and field selectors", async () => {
    await core.createNamespacedPod({ namespace: "t", body: pod("b") });
    await core.createNamespacedPod({
      namespace: "t",
      body: { ...pod("c"), metadata: { name: "c", labels: { app: "other" } } },
    });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: "t", labelSelector, fieldSelector })).items
        .map((p) => p.metadata?.name)
        .sort();
    expect(await names("app=rb")).toEqual(expect.arrayContaining(["a", "b"]));
    expect(await names("app=rb")).not.toContain("c");
    expect(await names("app!=rb")).toContain("c");
    expect(await names("app in (other,nothing)")).toEqual(["c"]);
    expect(await names("app notin (rb)")).toContain("c");
    expect(await names("tier")).toEqual(["b"]);
    expect(await names("!tier,app=other")).toEqual(["c"]);
    expect(await names(undefined, "metadata.name=b")).toEqual(["b"]);
    const all = await core.listPodForAllNamespaces({ fieldSelector: "metadata.namespace=t,spec.nodeName=" });
    expect(all.items.length).toBeGreaterThanOrEqual(3);
    const badSel = await failure(core.listNamespacedPod({ namespace: "t", fieldSelector: "spec.image=x" }));
    expect(badSel.code).toBe(400);
  });

  it("paginates with limit and continue", async () => {
    const first = await core.listNamespacedPod({ namespace: "t", limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.metadata?._continue).toBeTruthy();
    const rest = await core.listNamespacedPod({
      namespace: "t",
      limit: 100,
      _continue: first.metadata?._continue,
    });
    const all = await core.listNamespacedPod({ namespace: "t" });
    expect([...first.items, ...rest.items].map((p) => p.metadata?.name)).toEqual(
      all.items.map((p) => p.metadata?.name),
    );
  });

  it("holds objects with finalizers until they are removed", async () => {
    await core.createNamespacedConfigMap({
      namespace: "t",
      body: { metadata: { name: "cm", finalizers: ["example.com/hold"] } },
    });
    await core.deleteNamespacedConfigMap({ namespace: "t", name: "cm" });
    const held = await core.readNamespacedConfigMap({ namespace: "t", name: "cm" });
    expect(held.metadata?.deletionTimestamp).toBeDefined();
    const addMore = await failure(
      core.patchNamespacedConfigMap(
        {
          namespace: "t",
          name: "cm",
          body: { metadata: { finalizers: ["example.com/hold", "example.com/x"] } },
        },
        merge,
      ),
    );
    expect(addMore.code).toBe(422);
    await core.patchNamespacedConfigMap(
      { namespace: "t", name: "cm", body: { metadata: { finalizers: null } } },
      merge,
    );
    expect((await failure(core.readNamespacedConfigMap({ namespace: "t", name: "cm" }))).code).toBe(404);
  });

  it("checks delete preconditions", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: "t", body: { metadata: { name: "pre" } } });
    const wrong = await failure(
      core.deleteNamespacedConfigMap({
        namespace: "t",
        name: "pre",
        body: { preconditions: { uid: "not-it" } },
      }),
    );
    expect(wrong.code).toBe(409);
    await core.deleteNamespacedConfigMap({
      namespace: "t",
      name: "pre",
      body: { preconditions: { uid: cm.metadata?.uid } },
    });
  });

  it("deletes a bound pod gracefully and an unbound one at once", async () => {
    const unbound = await core.deleteNamespacedPod({ namespace: "t", name: "c" });
    expect(unbound.metadata?.name).toBe("c");
    expect((await failure(core.readNamespacedPod({ namespace: "t", name: "c" }))).code).toBe(404);

    await core.createNamespacedPod({ namespace: "t", body: pod("bound") });
    await core.createNamespacedPodBinding({
      namespace: "t",
      name: "bound",
      body: { metadata: { name: "bound" }, target: { kind: "Node", name: "n1" } },
    });
    const bound = await core.readNamespacedPod({ namespace: "t", name: "bound" });
    expect(bound.spec?.nodeName).toBe("n1");
    expect(bound.status?.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
    const again = await failure(
      core.createNamespacedPodBinding({
        namespace: "t",
        name: "bound",
        body: { metadata: { name: "bound" }, target: { kind: "Node", name: "n2" } },
      }),
    );
    expect(again.code).toBe(409);

    const marked = await core.deleteNamespacedPod({ namespace: "t", name: "bound" });
    expect(marked.metadata?.deletionTimestamp).toBeDefined();
    expect(marked.metadata?.deletionGracePeriodSeconds).toBe(30);
    expect(
      (await core.readNamespacedPod({ namespace: "t", name: "bound" })).metadata?.deletionTimestamp,
    ).toBeDefined();
    await core.deleteNamespacedPod({ namespace: "t", name: "bound", gracePeriodSeconds: 0 });
    expect((await failure(core.readNamespacedPod({ namespace: "t", name: "bound" }))).code).toBe(404);
  });

  it("adds the pvc-protection finalizer and keeps claim specs immutable", async () => {
    const pvc = await core.createNamespacedPersistentVolumeClaim({
      namespace: "t",
      body: {
        metadata: { name: "data" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      },
    });
    expect(pvc.metadata?.finalizers).toEqual(["kubernetes.io/pvc-protection"]);
    expect(pvc.status?.phase).toBe("Pending");
    const grow = await core.patchNamespacedPersistentVolumeClaim(
      { namespace: "t", name: "data", body: { spec: { resources: { requests: { storage: "2Gi" } } } } },
      merge,
    );
    expect(grow.spec?.resources?.requests?.storage).toBe("2Gi");
    const shrink = await failure(
      core.patchNamespacedPersistentVolumeClaim(
        { namespace: "t", name: "data", body: { spec: { resources: { requests: { storage: "1Gi" } } } } },
        merge,
      ),
    );
    expect(shrink.code).toBe(422);
    const mode = await failure(
      core.patchNamespacedPersistentVolumeClaim(
        { namespace: "t", name: "data", body: { spec: { accessModes: ["ReadWriteMany"] } } },
        merge,
      ),
    );
    expect(mode.code).toBe(422);
  });

  it("serves other groups: leases", async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: "t",
      body: { metadata: { name: "l" }, spec: { holderIdentity: "me" } },
    });
    expect(lease.apiVersion).toBe("coordination.k8s.io/v1");
    const stale = await failure(
      coord.replaceNamespacedLease({
        namespace: "t",
        name: "l",
        body: { ...lease, metadata: { ...lease.metadata, resourceVersion: "5" } },
      }),
    );
    expect(stale.body).toMatchObject({
      reason: "Conflict",
      details: { group: "coordination.k8s.io", kind: "leases" },
    });
  });

  it("counts requests per verb and resource", async () => {
    api.requests.reset();
    await core.readNamespacedPod({ namespace: "t", name: "a" });
    await failure(core.readNamespacedPod({ namespace: "t", name: "zz" }));
    expect(api.requests.count("get", "pods")).toBe(2);
    expect(api.requests.count("get", "pods", { succeeded: true })).toBe(1);
  });

  it("serves discovery", async () => {
    const res = await api.fetch("/api/v1");
    const body = (await res.json()) as { resources: Array<{ name: string }> };
    expect(body.resources.map((r) => r.name)).toEqual(
      expect.arrayContaining(["pods", "pods/status", "pods/binding", "namespaces"]),
    );
    const groups = (await (await api.fetch("/apis")).json()) as { groups: Array<{ name: string }> };
    expect(groups.groups.map((g) => g.name)).toEqual(
      expect.arrayContaining(["networking.k8s.io", "coordination.k8s.io", "storage.k8s.io"]),
    );
  });

  it("speaks TLS with its own CA, which the kubeconfig carries", async () => {
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const yaml = api.kubeconfigYaml();
    expect(yaml).not.toMatch(/insecure-skip-tls-verify/);
    const caData = /certificate-authority-data: (\S+)/.exec(yaml)?.[1] ?? "";
    expect(Buffer.from(caData, "base64").toString()).toBe(api.caPem);
    expect(kc.getCurrentCluster()).toMatchObject({ server: api.url, skipTLSVerify: false });
    // A client that does not trust the throw-away CA is refused.
    await expect(fetch(`${api.url}/version`)).rejects.toThrow();
    const version = (await (await api.fetch("/version")).json()) as { gitVersion: string };
    expect(version.gitVersion).toMatch(/^v1\./);
    const v1 = (await (await api.fetch("/api")).json()) as {
      serverAddressByClientCIDRs: Array<{ serverAddress: string }>;
    };
    expect(v1.serverAddressByClientCIDRs[0]?.serverAddress).toBe(new URL(api.url).host);
  });

  it("runs ServiceAccount admission: default account, token volume unless automount is off", async () => {
    const withToken = await core.createNamespacedPod({
      namespace: "t",
      body: { metadata: { name: "tok" }, spec: { containers: [{ name: "main", image: "busybox:1.36" }] } },
    });
    expect(withToken.spec?.serviceAccountName).toBe("default");
    expect(withToken.spec?.volumes?.[0]?.name).toMatch(/^kube-api-access-/);
    expect(withToken.spec?.containers[0]?.volumeMounts?.[0]?.mountPath).toBe(
      "/var/run/secrets/kubernetes.io/serviceaccount",
    );
    const noSa = await failure(
      core.createNamespacedPod({
        namespace: "t",
        body: { ...pod("nosa"), spec: { ...pod("nosa").spec!, serviceAccountName: "missing" } },
      }),
    );
    expect(noSa.code).toBe(403);
    expect(noSa.body).toMatchObject({ reason: "Forbidden" });
  });

  it("supports dryRun and deletecollection", async () => {
    await core.createNamespacedConfigMap({
      namespace: "t",
      body: { metadata: { name: "dry" } },
      dryRun: "All",
    });
    expect((await failure(core.readNamespacedConfigMap({ namespace: "t", name: "dry" }))).code).toBe(404);
    for (const n of ["dc1", "dc2"])
      await core.createNamespacedConfigMap({
        namespace: "t",
        body: { metadata: { name: n, labels: { dc: "yes" } } },
      });
    await core.deleteCollectionNamespacedConfigMap({ namespace: "t", labelSelector: "dc=yes" });
    const left = await core.listNamespacedConfigMap({ namespace: "t", labelSelector: "dc=yes" });
    expect(left.items).toEqual([]);
  });

  it("deletes a namespace's contents with it, and refuses new content meanwhile", async () => {
    await core.createNamespace({ body: { metadata: { name: "doomed" } } });
    await core.createNamespacedSecret({ namespace: "doomed", body: { metadata: { name: "s" } } });
    await core.createNamespacedPod({ namespace: "doomed", body: pod("bound") });
    await core.createNamespacedPodBinding({
      namespace: "doomed",
      name: "bound",
      body: { metadata: { name: "bound" }, target: { kind: "Node", name: "n1" } },
    });
    await core.deleteNamespace({ name: "doomed" });
    // The bound pod waits for its kubelet: the namespace stays Terminating.
    const ns = await core.readNamespace({ name: "doomed" });
    expect(ns.status?.phase).toBe("Terminating");
    expect((await failure(core.readNamespacedSecret({ namespace: "doomed", name: "s" }))).code).toBe(404);
    const late = await failure(
      core.createNamespacedSecret({ namespace: "doomed", body: { metadata: { name: "late" } } }),
    );
    expect(late.code).toBe(403);
    await core.deleteNamespacedPod({ namespace: "doomed", name: "bound", gracePeriodSeconds: 0 });
    expect((await failure(core.readNamespace({ name: "doomed" }))).code).toBe(404);
  });
});
