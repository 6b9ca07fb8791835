import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer } from "./api-server.js";

let api: FakeApiServer;
let core: CoreV1Api;

beforeAll(async () => {
  api = await startFakeApiServer();
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
});
afterEach(() => api.faults.clear());
afterAll(() => api.close());

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    // An HTTP status, or -1 for a transport error (the error's code is then e.g. "ECONNRESET").
    (e: { code?: unknown }) => (typeof e.code === "number" ? e.code : -1),
  );

describe("fault injection", () => {
  it("fails requests at the configured rate with the configured statuses, before they take effect", async () => {
    api.faults.set({ errorRate: 0.3, seed: 42, verbs: ["create"] });
    const codes: number[] = [];
    for (let i = 0; i < 200; i++)
      codes.push(
        await outcome(
          core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: `cm-${i}` } } }),
        ),
      );
    const failed = codes.filter((c) => c !== 200);
    expect(failed.length).toBeGreaterThan(35);
    expect(failed.length).toBeLessThan(85);
    expect(new Set(failed)).toEqual(new Set([500, 503, 429]));
    expect(api.faults.injected.error).toBe(failed.length);
    // A failed create changed nothing.
    const stored = (await core.listNamespacedConfigMap({ namespace: "default" })).items.filter((c) =>
      c.metadata?.name?.startsWith("cm-"),
    );
    expect(stored).toHaveLength(200 - failed.length);
    // Reads were not faulted (verbs filter).
    expect(await outcome(core.listNamespacedConfigMap({ namespace: "default" }))).toBe(200);
  });

  it("is reproducible with the same seed", async () => {
    const run = async () => {
      api.faults.set({ errorRate: 0.5, seed: 7, statuses: [503] });
      const codes: number[] = [];
      for (let i = 0; i < 20; i++) codes.push(await outcome(core.readNamespace({ name: "default" })));
      return codes;
    };
    expect(await run()).toEqual(await run());
  });

  it("answers 429 with Retry-After and a TooManyRequests Status", async () => {
    api.faults.once({ verb: "get", resource: "namespaces", fault: 429 });
    const res = await api.fetch("/api/v1/namespaces/default");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "TooManyRequests", code: 429 });
  });

  it("afterEffect: the write happens but the client sees a 504", async () => {
    api.faults.once({ verb: "create", resource: "secrets", fault: "afterEffect" });
    expect(
      await outcome(
        core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "half" } } }),
      ),
    ).toBe(504);
    expect((await core.readNamespacedSecret({ namespace: "default", name: "half" })).metadata?.name).toBe(
      "half",
    );
    // Retrying the create naively now meets AlreadyExists.
    expect(
      await outcome(
        core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "half" } } }),
      ),
    ).toBe(409);
    expect(api.requests.count("create", "secrets")).toBe(2);
    expect(api.requests.count("create", "secrets", { succeeded: true })).toBe(0);
  });

  it("reset: the write happens and the connection is dropped", async () => {
    api.faults.once({ verb: "delete", resource: "secrets", fault: "reset" });
    expect(await outcome(core.deleteNamespacedSecret({ namespace: "default", name: "half" }))).toBe(-1);
    expect(await outcome(core.readNamespacedSecret({ namespace: "default", name: "half" }))).toBe(404);
  });

  it("hangs a request until hangMs, then closes it", async () => {
    api.faults.set({ hangRate: 1, hangMs: 300, verbs: ["get"] });
    const t0 = Date.now();
    expect(await outcome(core.readNamespace({ name: "default" }))).toBe(-1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(api.faults.injected.hang).toBe(1);
  });

  it("spares the harness's own clients unless told", async () => {
    api.faults.set({ errorRate: 1 });
    const asHarness = await api.fetch("/api/v1/namespaces/default", {
      headers: { Authorization: "Bearer harness:kubelet" },
    });
    expect(asHarness.status).toBe(200);
    const asDriver = await api.fetch("/api/v1/namespaces/default");
    expect(asDriver.status).toBeGreaterThanOrEqual(429);
    api.faults.set({ errorRate: 1, includeHarness: true });
    const now = await api.fetch("/api/v1/namespaces/default", {
      headers: { Authorization: "Bearer harness:kubelet" },
    });
    expect(now.status).toBeGreaterThanOrEqual(429);
  });
});
