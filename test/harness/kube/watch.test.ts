import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  Watch,
} from "@kubernetes/client-node";
import { eventually } from "../wait.js";
import { startFakeApiServer, type FakeApiServer } from "./api-server.js";

let api: FakeApiServer;
let core: CoreV1Api;
let kc: KubeConfig;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

beforeAll(async () => {
  // Watches end after 2 s, so clients re-watch often (as they do against a real server, less often).
  api = await startFakeApiServer({ maxWatchSeconds: 2, bookmarkIntervalMs: 200 });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml());
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "w" } } });
});
afterAll(() => api.close());

type Seen = { type: string; name: string; rv: string; object: Record<string, unknown> };

/** Collects the events of one raw watch until `done`. */
async function watchRaw(path: string, query: Record<string, string>) {
  const seen: Seen[] = [];
  let ended: unknown = "open";
  const ctl = await new Watch(kc).watch(
    path,
    query,
    (type, object: { metadata?: { name?: string; resourceVersion?: string } }) =>
      seen.push({
        type,
        name: object.metadata?.name ?? "",
        rv: object.metadata?.resourceVersion ?? "",
        object,
      }),
    (err) => (ended = err ?? null),
  );
  return { seen, ended: () => ended, stop: () => ctl.abort() };
}

const cm = (name: string, labels: Record<string, string> = {}): V1ConfigMap => ({
  metadata: { name, labels },
  data: { v: "0" },
});

describe("watch", () => {
  it("resumes from a resourceVersion with ADDED, MODIFIED and DELETED", async () => {
    const list = await core.listNamespacedConfigMap({ namespace: "w" });
    const w = await watchRaw("/api/v1/namespaces/w/configmaps", {
      resourceVersion: list.metadata?.resourceVersion ?? "",
    });
    await core.createNamespacedConfigMap({ namespace: "w", body: cm("one") });
    await core.patchNamespacedConfigMap({ namespace: "w", name: "one", body: { data: { v: "1" } } }, merge);
    await core.deleteNamespacedConfigMap({ namespace: "w", name: "one" });
    await eventually("three events", () => w.seen.length >= 3);
    expect(w.seen.map((e) => `${e.type} ${e.name}`)).toEqual(["ADDED one", "MODIFIED one", "DELETED one"]);
    const rvs = w.seen.map((e) => Number(e.rv));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(w.seen[0]?.object).toMatchObject({ kind: "ConfigMap", apiVersion: "v1" });
    w.stop();

    // Replaying from the first event's RV gives the two after it.
    const replay = await watchRaw("/api/v1/namespaces/w/configmaps", { resourceVersion: String(rvs[0]) });
    await eventually("replay", () => replay.seen.length >= 2);
    expect(replay.seen.map((e) => e.type)).toEqual(["MODIFIED", "DELETED"]);
    replay.stop();
  });

  it("starts with synthetic ADDED events without a resourceVersion", async () => {
    await core.createNamespacedConfigMap({ namespace: "w", body: cm("existing") });
    const w = await watchRaw("/api/v1/namespaces/w/configmaps", {});
    await eventually("initial ADDED", () => w.seen.some((e) => e.type === "ADDED" && e.name === "existing"));
    w.stop();
  });

  it("answers a watch from a compacted resourceVersion with ERROR 410 Expired", async () => {
    const before = api.resourceVersion();
    await core.createNamespacedConfigMap({ namespace: "w", body: cm("after-compact") });
    api.compact();
    const w = await watchRaw("/api/v1/namespaces/w/configmaps", { resourceVersion: before });
    await eventually("ERROR", () => w.seen.length >= 1);
    expect(w.seen[0]).toMatchObject({
      type: "ERROR",
      object: { kind: "Status", code: 410, reason: "Expired" },
    });
    await eventually("stream closed", () => w.ended() !== "open");
  });

  it("filters by label selector, and an object leaving the selection is DELETED to the watcher", async () => {
    const w = await watchRaw("/api/v1/namespaces/w/configmaps", {
      resourceVersion: api.resourceVersion(),
      labelSelector: "pick=yes",
    });
    await core.createNamespacedConfigMap({ namespace: "w", body: cm("ignored", { pick: "no" }) });
    await core.createNamespacedConfigMap({ namespace: "w", body: cm("picked", { pick: "yes" }) });
    await core.patchNamespacedConfigMap(
      { namespace: "w", name: "ignored", body: { metadata: { labels: { pick: "yes" } } } },
      merge,
    );
    await core.patchNamespacedConfigMap(
      { namespace: "w", name: "picked", body: { metadata: { labels: { pick: "no" } } } },
      merge,
    );
    await eventually("three events", () => w.seen.length >= 3);
    expect(w.seen.map((e) => `${e.type} ${e.name}`)).toEqual([
      "ADDED picked",
      "ADDED ignored",
      "DELETED picked",
    ]);
    w.stop();
  });

  it("sends bookmarks when allowed and ends the stream after timeoutSeconds", async () => {
    const w = await watchRaw("/api/v1/namespaces/w/configmaps", {
      resourceVersion: api.resourceVersion(),
      allowWatchBookmarks: "true",
      timeoutSeconds: "1",
    });
    await eventually("bookmark", () => w.seen.some((e) => e.type === "BOOKMARK"));
    await eventually("server closed the watch", () => w.ended() === null, 5_000);
  });
});

describe("client-node informer (ListWatch) against the fake", () => {
  it("sees adds, updates and deletes", async () => {
    await core.createNamespace({ body: { metadata: { name: "inf" } } });
    const informer = makeInformer(kc, "/api/v1/namespaces/inf/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "inf" }),
    );
    const events: string[] = [];
    informer.on("add", (o) => events.push(`add ${o.metadata?.name}`));
    informer.on("update", (o) => events.push(`update ${o.metadata?.name} ${o.data?.v}`));
    informer.on("delete", (o) => events.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on("error", (e) => errors.push(e));
    await core.createNamespacedConfigMap({ namespace: "inf", body: cm("pre") });
    await informer.start();
    try {
      await eventually("initial list", () => informer.get("pre", "inf"));
      await core.createNamespacedConfigMap({ namespace: "inf", body: cm("x") });
      await core.patchNamespacedConfigMap({ namespace: "inf", name: "x", body: { data: { v: "1" } } }, merge);
      await core.deleteNamespacedConfigMap({ namespace: "inf", name: "pre" });
      await eventually("events", () => events.includes("delete pre") && events.includes("update x 1"));
      expect(events).toEqual(["add pre", "add x", "update x 1", "delete pre"]);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it("relists when its watch resumes from an expired resourceVersion (410)", async () => {
    await core.createNamespace({ body: { metadata: { name: "inf410" } } });
    const selector = "keep=yes";
    const informer = makeInformer(
      kc,
      "/api/v1/namespaces/inf410/configmaps",
      () => core.listNamespacedConfigMap({ namespace: "inf410", labelSelector: selector }),
      selector,
    );
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: "inf410", body: cm("a", { keep: "yes" }) });
      await eventually("a", () => informer.get("a", "inf410"));
      // Writes the informer does not see (filtered out) move the revision past its RV; then the
      // history is compacted and its watch dropped: it re-watches from a too-old RV.
      for (let i = 0; i < 3; i++)
        await core.createNamespacedConfigMap({ namespace: "inf410", body: cm(`n${i}`) });
      api.compact();
      const lists = api.requests.count("list", "configmaps");
      api.closeWatches();
      await eventually("relisted", () => api.requests.count("list", "configmaps") > lists, 15_000);
      await core.createNamespacedConfigMap({ namespace: "inf410", body: cm("b", { keep: "yes" }) });
      await eventually("b", () => informer.get("b", "inf410"), 15_000);
      expect(
        informer
          .list("inf410")
          .map((o) => o.metadata?.name)
          .sort(),
      ).toEqual(["a", "b"]);
    } finally {
      await informer.stop();
    }
  });

  it("relists after a compaction between two watches", async () => {
    await core.createNamespace({ body: { metadata: { name: "inf2" } } });
    const informer = makeInformer(kc, "/api/v1/namespaces/inf2/configmaps", () =>
      core.listNamespacedConfigMap({ namespace: "inf2" }),
    );
    await informer.start();
    try {
      await core.createNamespacedConfigMap({ namespace: "inf2", body: cm("a") });
      await eventually("a", () => informer.get("a", "inf2"));
      for (let i = 0; i < 5; i++) api.compact();
      await core.deleteNamespacedConfigMap({ namespace: "inf2", name: "a" });
      await core.createNamespacedConfigMap({ namespace: "inf2", body: cm("b") });
      api.compact();
      await eventually("b and not a", () => informer.get("b", "inf2") && !informer.get("a", "inf2"), 15_000);
      expect(api.requests.count("list", "configmaps")).toBeGreaterThanOrEqual(1);
    } finally {
      await informer.stop();
    }
  });
});
