import type { IncomingMessage, ServerResponse } from "node:http";
import { KubeError } from "./errors.js";
import type { ApiCore } from "./handlers.js";
import { apiVersionOf, type KubeObject, type ResourceDef, resourceKey } from "./registry.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { StoreEvent } from "./store.js";

/**
 * `?watch=true` on a collection: a chunked stream of `{"type":…,"object":…}\n` lines, as the real
 * apiserver's JSON watch encoding. Resumes from `resourceVersion` out of the store's bounded
 * history; from an RV older than the history it sends one ERROR event (410 Expired), which is what
 * makes client-node's ListWatch relist.
 */
export interface WatchSettings {
  bookmarkIntervalMs: number;
  maxWatchSeconds: number;
}

export function serveWatch(
  core: ApiCore,
  def: ResourceDef,
  namespace: string | undefined,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  settings: WatchSettings,
  active: Set<ServerResponse>,
): void {
  const labels = parseLabelSelector(q.get("labelSelector"));
  const fields = parseFieldSelector(q.get("fieldSelector"), def.kind);
  const inScope = (o: KubeObject) =>
    !def.namespaced || namespace === undefined || o.metadata.namespace === namespace;
  const matches = (o: KubeObject | undefined) => !!o && inScope(o) && labels(o.metadata.labels) && fields(o);
  const rvParam = q.get("resourceVersion") ?? "";
  if (rvParam !== "" && !/^\d+$/.test(rvParam))
    throw new KubeError(400, "BadRequest", `invalid resource version: ${rvParam}`);
  const bookmarks = q.get("allowWatchBookmarks") === "true";
  const initialEvents = q.get("sendInitialEvents") === "true";
  const timeout = Math.min(
    Number(q.get("timeoutSeconds") ?? settings.maxWatchSeconds) || settings.maxWatchSeconds,
    settings.maxWatchSeconds,
  );

  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  res.flushHeaders();
  active.add(res);
  const send = (type: string, object: unknown) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const bookmark = (annotations?: Record<string, string>) =>
    send("BOOKMARK", {
      kind: def.kind,
      apiVersion: apiVersionOf(def),
      metadata: { resourceVersion: String(core.store.currentRV()), ...(annotations ? { annotations } : {}) },
    });

  const key = resourceKey(def);
  const relay = (e: StoreEvent) => {
    if (e.resource !== key) return;
    const now = matches(e.object);
    const before = e.type !== "ADDED" && matches(e.prev);
    if (e.type === "DELETED") {
      if (now) send("DELETED", e.object);
    } else if (now) {
      send(e.type === "MODIFIED" && !before ? "ADDED" : e.type, e.object);
    } else if (before) {
      // Left the selection: to this watcher it is gone.
      send("DELETED", e.object);
    }
  };

  let backlog: StoreEvent[] = [];
  if (rvParam === "" || rvParam === "0" || initialEvents) {
    // "Start at most recent" (or "any"): synthetic ADDED for what exists now, then live.
    for (const o of core.store.list(key, def.namespaced ? namespace : undefined))
      if (matches(o)) send("ADDED", core.typed(def, o));
    if (initialEvents && bookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
  } else {
    const since = core.store.since(Number(rvParam));
    if (since === "expired") {
      send("ERROR", {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `too old resource version: ${rvParam} (${core.store.currentRV()})`,
        reason: "Expired",
        code: 410,
      });
      active.delete(res);
      res.end();
      return;
    }
    backlog = since;
  }
  backlog.forEach(relay);
  const unsubscribe = core.store.subscribe(relay);
  const timers = [
    setTimeout(() => res.end(), timeout * 1000),
    ...(bookmarks ? [setInterval(() => bookmark(), settings.bookmarkIntervalMs)] : []),
  ];
  const cleanup = () => {
    unsubscribe();
    timers.forEach((t) => clearTimeout(t));
    active.delete(res);
  };
  res.on("close", cleanup);
  req.on("close", cleanup);
}
