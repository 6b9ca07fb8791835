import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "../../../service/certs/authority.js";
import { badRequest, failureFor, KubeError } from "./errors.js";
import { Faults, type FaultSettings, type OneFault } from "./faults.js";
import { ApiCore, type DeleteOptions, type Reply } from "./handlers.js";
import { findResource, groupVersions, type KubeObject, type ResourceDef, RESOURCES } from "./registry.js";
import { Store } from "./store.js";
import { serveWatch } from "./watch.js";

/**
 * An in-process Kubernetes API server speaking the real JSON REST protocol, for the resources the
 * Kubernetes driver uses, over HTTPS with a throw-away CA made at start. See README.md beside this file. It
 * accepts any request (no authn/authz).
 */
export interface FakeApiServerOptions {
  /** Validate bodies with Kubernetes' OpenAPI schemas and the semantic rules; default true. */
  validate?: boolean;
  /** Events kept for watches to resume from; default 1000. */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that allow them; default 10 s. */
  bookmarkIntervalMs?: number;
  /** Longest a watch stays open (the server closes it, clients re-watch); default 1800 s. */
  maxWatchSeconds?: number;
  /**
   * The apiserver's `--allow-privileged`: when false, a pod with a `privileged: true` container
   * is a 422. Default true, as on the clusters that run builders (the real server's default is
   * false).
   */
  allowPrivileged?: boolean;
}

export interface RequestRecord {
  /** The bearer token; the harness's own clients use `harness:…` tokens. */
  user: string;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  code: number;
}

export interface FakeApiServer {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** The throw-away CA (PEM) that signed the server's certificate (for 127.0.0.1 and localhost). */
  caPem: string;
  /** A kubeconfig for the server. `token` names the client in request logs (`harness:` ones are exempt from faults and counts). */
  kubeconfigYaml(opts?: { token?: string }): string;
  /** The same, written to a file (in a temp folder removed by close()). */
  kubeconfigFile(opts?: { token?: string }): string;
  /**
   * A one-shot raw request (not a watch) to `path`, trusting the server's CA (the global `fetch`
   * does not): for tests that look at the HTTP exchange itself.
   */
  fetch(
    path: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<Response>;
  requests: {
    /**
     * Requests received for a verb and resource (`create`, `pods`; `patch`, `pods/status`), any
     * outcome unless `succeeded`; the harness's own (`harness:` tokens) only with `includeHarness`.
     */
    count(verb: string, resource: string, opts?: { succeeded?: boolean; includeHarness?: boolean }): number;
    log(): RequestRecord[];
    reset(): void;
  };
  faults: {
    set(settings: FaultSettings): void;
    once(fault: OneFault): void;
    clear(): void;
    readonly injected: { error: number; hang: number; afterEffect: number };
  };
  /** TLS handshakes the server completed: one per connection a client opened. */
  handshakes(): number;
  /** Connections open now. */
  connections(): Promise<number>;
  /** Snapshot of stored objects: of one resource (`pods`, `leases.coordination.k8s.io`) or all. */
  objects(resource?: string, namespace?: string): KubeObject[];
  /** Drops the watch history: any watch from an earlier resourceVersion gets 410 Expired. */
  compact(): void;
  /** Ends every open watch stream (as an apiserver restart does); clients re-watch from their RV. */
  closeWatches(): void;
  resourceVersion(): string;
  close(): Promise<void>;
}

type Route =
  | { kind: "resource"; def: ResourceDef; namespace?: string; name?: string; sub?: string }
  | { kind: "discovery"; body: unknown };

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new Store(opts.historySize ?? 1000);
  const core = new ApiCore(store, opts.validate ?? true, opts.allowPrivileged ?? true);
  const faults = new Faults();
  const log: RequestRecord[] = [];
  const watches = new Set<ServerResponse>();
  const hanging = new Set<ServerResponse>();
  const settings = {
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
    maxWatchSeconds: opts.maxWatchSeconds ?? 1800,
  };

  // What a fresh cluster has: the default and kube-system namespaces, with their service accounts.
  const namespaces = findResource("", "v1", "namespaces") as ResourceDef;
  for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"])
    core.create(namespaces, undefined, { metadata: { name } });

  // Real TLS, as with a real apiserver: a CA of this server's own, and a certificate for the
  // loopback address (and `localhost`) that the kubeconfig's clients verify against that CA.
  const { authority, certPem: caPem } = await CertificateAuthority.create();
  const tls = await authority.issueServer(["127.0.0.1", "localhost"], Date.now() + 86_400_000);

  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://localhost");
    const route = routeOf(url.pathname, req.headers.host ?? "");
    if (!route) throw new KubeError(404, "NotFound", "the server could not find the requested resource");
    if (route.kind === "discovery") return send(res, { code: 200, body: route.body });
    const { def, namespace, name, sub } = route;
    const q = url.searchParams;
    const watch = q.get("watch") === "true" || q.get("watch") === "1";
    const verb = verbOf(req.method ?? "GET", !!name, watch);
    const resource = sub ? `${def.plural}/${sub}` : def.plural;
    const user = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const record: RequestRecord = {
      user,
      verb,
      resource,
      code: 0,
      ...(namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
    };
    log.push(record);
    res.on("finish", () => (record.code = res.statusCode));
    const body = ["POST", "PUT", "PATCH", "DELETE"].includes(req.method ?? "")
      ? await readJson(req)
      : undefined;

    const fault = faults.decide(verb, resource, user.startsWith("harness:"));
    if (fault.kind === "error") {
      record.code = fault.status;
      return sendError(res, failureFor(fault.status));
    }
    if (fault.kind === "hang") {
      hanging.add(res);
      const timer = setTimeout(() => res.destroy(), fault.ms);
      res.on("close", () => {
        clearTimeout(timer);
        hanging.delete(res);
      });
      return;
    }

    if (watch) {
      if (name)
        throw new KubeError(
          405,
          "MethodNotAllowed",
          "watch is not supported on single objects: use fieldSelector=metadata.name=",
        );
      return serveWatch(core, def, namespace, q, req, res, settings, watches);
    }
    const reply = dispatch(route, verb, req, q, body);
    if (fault.kind === "afterEffect") {
      if (fault.how === "reset") return void res.destroy();
      return sendError(res, failureFor(504));
    }
    send(res, reply);
  }

  function dispatch(
    route: Extract<Route, { kind: "resource" }>,
    verb: string,
    req: IncomingMessage,
    q: URLSearchParams,
    body: unknown,
  ): Reply {
    const { def, namespace, name, sub } = route;
    const dryRun = q.getAll("dryRun").includes("All");
    if (def.namespaced && !namespace && verb !== "list")
      throw new KubeError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    if (sub && !(sub === "status" && def.status) && !(sub === "binding" && def.kind === "Pod"))
      throw new KubeError(404, "NotFound", "the server could not find the requested resource");
    if (sub === "binding") {
      if (verb !== "create")
        throw new KubeError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
      return core.bind(namespace as string, name as string, body);
    }
    if (sub && !["get", "update", "patch"].includes(verb))
      throw new KubeError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
    switch (verb) {
      case "list":
        return core.list(def, namespace, q);
      case "get":
        return { code: 200, body: core.get(def, namespace, name as string) };
      case "create":
        return core.create(def, namespace, body, dryRun);
      case "update":
        return core.update(def, namespace, name as string, body, sub, dryRun);
      case "patch":
        return core.patch(
          def,
          namespace,
          name as string,
          req.headers["content-type"] ?? "",
          body,
          sub,
          dryRun,
        );
      case "delete":
        return core.delete(def, namespace, name as string, deleteOptions(body, q));
      case "deletecollection": {
        const list = core.list(def, namespace, q).body as { items: KubeObject[] };
        for (const o of list.items)
          core.delete(def, namespace, o.metadata.name as string, deleteOptions(body, q));
        return { code: 200, body: { ...list, items: list.items } };
      }
      default:
        throw new KubeError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
    }
  }

  let handshakes = 0;
  server.on("secureConnection", () => handshakes++);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let tmp: string | null = null;

  const kubeconfigYaml = (o: { token?: string } = {}) =>
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: fake",
      "    cluster:",
      `      server: ${url}`,
      `      certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
      "contexts:",
      "  - name: fake",
      "    context:",
      "      cluster: fake",
      "      user: fake",
      "      namespace: default",
      "current-context: fake",
      "users:",
      "  - name: fake",
      o.token ? `    user:\n      token: ${JSON.stringify(o.token)}` : "    user: {}",
      "",
    ].join("\n");

  return {
    url,
    caPem,
    kubeconfigYaml,
    kubeconfigFile(o = {}) {
      tmp ??= mkdtempSync(join(tmpdir(), "fake-kube-"));
      const file = join(tmp, `kubeconfig-${o.token ? Buffer.from(o.token).toString("hex") : "default"}`);
      writeFileSync(file, kubeconfigYaml(o));
      return file;
    },
    fetch: (path, init = {}) => fetchOnce(new URL(path, url), caPem, init),
    requests: {
      count: (verb, resource, o) =>
        log.filter(
          (r) =>
            r.verb === verb &&
            r.resource === resource &&
            (!o?.succeeded || (r.code >= 200 && r.code < 300)) &&
            (o?.includeHarness || !r.user.startsWith("harness:")),
        ).length,
      log: () => log.map((r) => ({ ...r })),
      reset: () => void log.splice(0),
    },
    faults: {
      set: (s) => faults.set(s),
      once: (f) => faults.once(f),
      clear: () => faults.clear(),
      get injected() {
        return { ...faults.injected };
      },
    },
    handshakes: () => handshakes,
    connections: () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      ),
    objects(resource, namespace) {
      const keys = resource ? [resource] : store.resources();
      return keys.flatMap((k) => store.list(k, namespace));
    },
    compact: () => store.compact(),
    closeWatches: () => [...watches].forEach((res) => res.end()),
    resourceVersion: () => String(store.currentRV()),
    async close() {
      for (const res of [...watches]) res.end();
      for (const res of [...hanging]) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function fetchOnce(
  url: URL,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<Response> {
  return new Promise((ok, fail) => {
    const req = httpsRequest(
      url,
      { method: init.method ?? "GET", headers: init.headers ?? {}, ca },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", fail);
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
          const status = res.statusCode ?? 500;
          const body = [204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
          ok(new Response(body, { status, statusText: res.statusMessage ?? "", headers }));
        });
      },
    );
    req.on("error", fail);
    req.end(init.body);
  });
}

function verbOf(method: string, item: boolean, watch: boolean): string {
  switch (method) {
    case "GET":
      return watch ? "watch" : item ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return item ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}

function deleteOptions(body: unknown, q: URLSearchParams): DeleteOptions {
  const o = (body && typeof body === "object" ? body : {}) as DeleteOptions;
  const grace = q.get("gracePeriodSeconds");
  return {
    ...o,
    ...(grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
    ...(q.getAll("dryRun").length ? { dryRun: q.getAll("dryRun") } : {}),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    const type = req.headers["content-type"] ?? "";
    if (/yaml/.test(type))
      throw new KubeError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json`,
      );
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.code, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof KubeError
      ? err
      : new KubeError(500, "InternalError", `Internal error occurred: ${(err as Error).message}`);
  const headers: Record<string, string> = {};
  if (e.code === 429) headers["Retry-After"] = "1";
  const text = JSON.stringify(e.toStatus());
  res.writeHead(e.code, {
    ...headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** `/api/v1/…` and `/apis/<group>/<version>/…`, plus discovery. `serverAddress` is `host:port`. */
function routeOf(pathname: string, serverAddress: string): Route | null {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "version" && parts.length === 1)
    return {
      kind: "discovery",
      body: { major: "1", minor: "31", gitVersion: "v1.31.0-fake", platform: "linux/amd64" },
    };
  if (["healthz", "livez", "readyz"].includes(parts[0] ?? "") && parts.length === 1)
    return { kind: "discovery", body: "ok" };
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api") {
    if (parts.length === 1)
      return {
        kind: "discovery",
        body: {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
        },
      };
    [group, version, rest] = ["", parts[1] as string, parts.slice(2)];
  } else if (parts[0] === "apis") {
    if (parts.length === 1) return { kind: "discovery", body: groupList() };
    if (parts.length === 2) {
      const g = groupList().groups.find((x) => x.name === parts[1]);
      return g ? { kind: "discovery", body: { kind: "APIGroup", apiVersion: "v1", ...g } } : null;
    }
    [group, version, rest] = [parts[1] as string, parts[2] as string, parts.slice(3)];
  } else {
    return null;
  }
  if (rest.length === 0) {
    const gv = groupVersions().find((x) => x.group === group && x.version === version);
    return gv ? { kind: "discovery", body: resourceList(gv.group, gv.version, gv.resources) } : null;
  }
  const nsDef = findResource("", "v1", "namespaces") as ResourceDef;
  // namespaces/{name}[/status] is the Namespace itself; namespaces/{ns}/{plural}/… is namespaced content.
  if (
    group === "" &&
    rest[0] === "namespaces" &&
    (rest.length <= 2 || (rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize")))
  ) {
    return {
      kind: "resource",
      def: nsDef,
      ...(rest[1] ? { name: rest[1] } : {}),
      ...(rest[2] ? { sub: rest[2] } : {}),
    };
  }
  if (rest[0] === "namespaces") {
    const def = findResource(group, version, rest[2] ?? "");
    if (!def?.namespaced || rest.length > 5) return null;
    return {
      kind: "resource",
      def,
      namespace: rest[1] as string,
      ...(rest[3] ? { name: rest[3] } : {}),
      ...(rest[4] ? { sub: rest[4] } : {}),
    };
  }
  const def = findResource(group, version, rest[0] as string);
  if (!def || rest.length > 3) return null;
  if (def.namespaced && rest.length > 1) return null;
  return {
    kind: "resource",
    def,
    ...(rest[1] ? { name: rest[1] } : {}),
    ...(rest[2] ? { sub: rest[2] } : {}),
  };
}

function groupList() {
  const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groups.map((name) => {
      const version = (RESOURCES.find((r) => r.group === name) as ResourceDef).version;
      const gv = { groupVersion: `${name}/${version}`, version };
      return { name, versions: [gv], preferredVersion: gv };
    }),
  };
}

function resourceList(group: string, version: string, defs: ResourceDef[]) {
  const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
  const resources = defs.flatMap((d) => [
    {
      name: d.plural,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs,
      ...(d.shortNames ? { shortNames: d.shortNames } : {}),
    },
    ...(d.status
      ? [
          {
            name: `${d.plural}/status`,
            singularName: "",
            namespaced: d.namespaced,
            kind: d.kind,
            verbs: ["get", "patch", "update"],
          },
        ]
      : []),
    ...(d.kind === "Pod"
      ? [{ name: "pods/binding", singularName: "", namespaced: true, kind: "Binding", verbs: ["create"] }]
      : []),
  ]);
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}
