import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { addTokenVolume, applyDefaults, initialStatus } from "./defaults.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  KubeError,
  notFound,
  STALE,
  type StatusObject,
} from "./errors.js";
import { applyPatch } from "./patch.js";
import {
  apiVersionOf,
  BindingModel,
  findResource,
  type KubeObject,
  type ResourceDef,
  resourceKey,
} from "./registry.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import type { Store } from "./store.js";
import {
  leaseMicroTimeError,
  parseQuantity,
  validateObject,
  validateSchema,
  validateUpdate,
} from "./validation.js";

/**
 * The verbs of the REST storage, independent of HTTP: what pkg/registry's generic store and the
 * handful of admission plugins every cluster runs (NamespaceLifecycle, ServiceAccount,
 * DefaultStorageClass, StorageObjectInUseProtection, DefaultTolerationSeconds, Priority) do.
 */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  dryRun?: string[];
}

export type Reply = { code: number; body: unknown };

const NAMESPACES = () => findResource("", "v1", "namespaces") as ResourceDef;
const SERVICEACCOUNTS = () => findResource("", "v1", "serviceaccounts") as ResourceDef;
const PODS = () => findResource("", "v1", "pods") as ResourceDef;
const STORAGECLASSES = () => findResource("storage.k8s.io", "v1", "storageclasses") as ResourceDef;
const RUNTIMECLASSES = () => findResource("node.k8s.io", "v1", "runtimeclasses") as ResourceDef;
const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});

export class ApiCore {
  constructor(
    readonly store: Store,
    private readonly validate: boolean,
    /** The apiserver's `--allow-privileged`. */
    private readonly allowPrivileged = true,
  ) {}

  /** The object as it goes over the wire: with kind and apiVersion. */
  typed(def: ResourceDef, o: KubeObject): KubeObject {
    return { apiVersion: apiVersionOf(def), kind: def.kind, ...o };
  }

  list(def: ResourceDef, namespace: string | undefined, q: URLSearchParams): Reply {
    const labels = parseLabelSelector(q.get("labelSelector"));
    const fields = parseFieldSelector(q.get("fieldSelector"), def.kind);
    let items = this.store
      .list(resourceKey(def), def.namespaced ? namespace : undefined)
      .filter((o) => labels(o.metadata.labels) && fields(o));
    const rv = this.store.currentRV();
    const metadata: Obj = { resourceVersion: String(rv) };
    const token = q.get("continue");
    if (token) {
      const { rv: from, after } = decodeContinue(token);
      if (this.store.isExpired(from))
        throw new KubeError(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
      items = items.filter((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}` > after);
    }
    const limit = Number(q.get("limit") ?? 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1] as KubeObject;
      metadata.continue = encodeContinue(rv, `${last.metadata.namespace ?? ""}/${last.metadata.name}`);
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    // As on the real server, the items of a typed list carry no kind/apiVersion.
    const bare = items.map(({ kind: _k, apiVersion: _v, ...rest }) => rest);
    return {
      code: 200,
      body: { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items: bare },
    };
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): KubeObject {
    const o = this.store.get(resourceKey(def), namespace, name);
    if (!o) throw notFound(def, name);
    return this.typed(def, o);
  }

  create(def: ResourceDef, namespace: string | undefined, body: unknown, dryRun = false): Reply {
    const o = this.decode(def, body);
    this.decodeMicroTimes(def, o);
    if (def.namespaced) {
      if (o.metadata.namespace && o.metadata.namespace !== namespace)
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      o.metadata.namespace = namespace;
      this.admitNamespace(def, namespace as string, o);
    } else {
      delete o.metadata.namespace;
    }
    if (o.metadata.resourceVersion)
      throw new KubeError(500, "InternalError", "resourceVersion should not be set on objects to be created");
    if (!o.metadata.name && o.metadata.generateName) {
      const suffix = Array.from({ length: 5 }, () => GENERATE_ALPHABET[Math.floor(Math.random() * 27)]).join(
        "",
      );
      o.metadata.name = `${o.metadata.generateName}${suffix}`;
    }
    if (!o.metadata.name)
      throw invalid(def.kind, def.group, "", [
        {
          reason: "FieldValueRequired",
          message: "Required value: name or generateName is required",
          field: "metadata.name",
        },
      ]);
    applyDefaults(def.kind, o);
    this.admitCreate(def, o);
    o.status = initialStatus(def.kind, o);
    if (o.status === undefined) delete o.status;
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = now();
    delete o.metadata.deletionTimestamp;
    delete o.metadata.deletionGracePeriodSeconds;
    this.check(def, o);
    if (this.store.get(resourceKey(def), o.metadata.namespace, o.metadata.name))
      throw alreadyExists(def, o.metadata.name);
    if (dryRun) return { code: 201, body: this.typed(def, o) };
    const stored = this.store.put(resourceKey(def), this.typed(def, o), "ADDED");
    if (def.kind === "Namespace") this.serviceAccountController(stored.metadata.name as string);
    return { code: 201, body: stored };
  }

  update(
    def: ResourceDef,
    namespace: string | undefined,
    name: string,
    body: unknown,
    sub?: string,
    dryRun = false,
  ): Reply {
    const next = this.decode(def, body);
    this.decodeMicroTimes(def, next);
    if (next.metadata.name && next.metadata.name !== name)
      throw badRequest(
        `the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`,
      );
    if (def.namespaced && next.metadata.namespace && next.metadata.namespace !== namespace)
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    const old = this.store.get(resourceKey(def), namespace, name);
    if (!old) throw notFound(def, name);
    return this.commit(def, old, next, sub, dryRun);
  }

  patch(
    def: ResourceDef,
    namespace: string | undefined,
    name: string,
    contentType: string,
    body: unknown,
    sub?: string,
    dryRun = false,
  ): Reply {
    const old = this.store.get(resourceKey(def), namespace, name);
    if (!old) throw notFound(def, name);
    const next = applyPatch(this.typed(def, old) as never, contentType, body) as unknown as KubeObject;
    if (!next.metadata || typeof next.metadata !== "object") next.metadata = {};
    const timeError = this.validate && def.kind === "Lease" ? leaseMicroTimeError(next) : undefined;
    if (timeError) {
      // The patched object fails to decode: a 422 on `patch` (the patched object for JSON and
      // merge patches, Go's %+v of the patch for strategic ones), as patch.go words it.
      const value = contentType.includes("strategic") ? goFormat(body) : JSON.stringify(next);
      const message = `Invalid value: ${JSON.stringify(value)}: ${timeError}`;
      throw new KubeError(422, "Invalid", ` "" is invalid: patch: ${message}`, {
        causes: [{ reason: "FieldValueInvalid", message, field: "patch" }],
      });
    }
    if (next.metadata.name !== undefined && next.metadata.name !== name)
      throw badRequest(
        `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
      );
    next.metadata.name = name;
    return this.commit(def, old, next, sub, dryRun);
  }

  /** The shared tail of update and patch: preconditions, status rules, defaulting, validation, write. */
  private commit(
    def: ResourceDef,
    old: KubeObject,
    next: KubeObject,
    sub: string | undefined,
    dryRun: boolean,
  ): Reply {
    const name = old.metadata.name as string;
    if (next.metadata.resourceVersion && next.metadata.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(def, name, STALE);
    let candidate: KubeObject;
    if (sub === "status") {
      // The status subresource changes status only (metav1.ResetObjectMetaForStatus and friends).
      candidate = { ...structuredClone(old), status: next.status };
    } else {
      candidate = next;
      const m = candidate.metadata;
      for (const k of [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "namespace",
        "generateName",
      ] as const) {
        if (old.metadata[k] === undefined) delete m[k];
        else m[k] = old.metadata[k] as never;
      }
      m.name = name;
      if (def.status) candidate.status = old.status;
      if (candidate.status === undefined) delete candidate.status;
      applyDefaults(def.kind, candidate);
      if (old.metadata.deletionTimestamp) {
        const added = (m.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
        if (added.length)
          throw invalid(def.kind, def.group, name, [
            {
              reason: "FieldValueForbidden",
              message: "Forbidden: no new finalizers can be added if the object is being deleted",
              field: "metadata.finalizers",
            },
          ]);
      }
    }
    delete candidate.metadata.resourceVersion;
    candidate = this.typed(def, candidate);
    this.check(def, candidate);
    if (this.validate) validateUpdate(def, old, candidate);
    const before = { ...this.typed(def, old), metadata: { ...old.metadata, resourceVersion: undefined } };
    // A no-op write is not written: same resourceVersion, no watch event (as GuaranteedUpdate does).
    if (isDeepStrictEqual(JSON.parse(JSON.stringify(before)), JSON.parse(JSON.stringify(candidate))))
      return { code: 200, body: this.typed(def, old) };
    candidate.metadata.resourceVersion = old.metadata.resourceVersion;
    if (dryRun) return { code: 200, body: candidate };
    if (this.finalizable(candidate)) return { code: 200, body: this.removeNow(def, candidate) };
    return { code: 200, body: this.store.put(resourceKey(def), candidate, "MODIFIED") };
  }

  delete(def: ResourceDef, namespace: string | undefined, name: string, options: DeleteOptions): Reply {
    const key = resourceKey(def);
    const old = this.store.get(key, namespace, name);
    if (!old) throw notFound(def, name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid)
      throw conflict(
        def,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion)
      throw conflict(
        def,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    const dryRun = (options.dryRun ?? []).includes("All");
    const grace = this.gracePeriod(def, old, options);
    const o = this.typed(def, old);
    const m = o.metadata;
    if (def.kind === "Namespace") {
      if (!m.deletionTimestamp) {
        m.deletionTimestamp = now();
        m.deletionGracePeriodSeconds = 0;
        o.status = { ...obj(o.status), phase: "Terminating" };
        if (dryRun) return { code: 200, body: o };
        const stored = this.store.put(key, o, "MODIFIED");
        this.namespaceController(name);
        return { code: 200, body: this.store.get(key, undefined, name) ?? stored };
      }
      return { code: 200, body: o };
    }
    const hasFinalizers = (m.finalizers ?? []).length > 0;
    // Already being deleted: a later DELETE can only shorten the grace period.
    if (m.deletionTimestamp && grace >= (m.deletionGracePeriodSeconds ?? 0)) return { code: 200, body: o };
    if (grace > 0 || hasFinalizers) {
      m.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, "Z");
      m.deletionGracePeriodSeconds = grace;
      if (dryRun) return { code: 200, body: o };
      return { code: 200, body: this.store.put(key, o, "MODIFIED") };
    }
    if (dryRun) return { code: 200, body: o };
    const gone = this.removeNow(def, o);
    return { code: 200, body: def.returnsDeleted ? gone : success(def, gone) };
  }

  bind(namespace: string, name: string, body: unknown): Reply {
    const pods = PODS();
    const binding = obj(body) as unknown as KubeObject;
    const target = obj(binding.target);
    if (this.validate)
      validateSchema(
        { ...pods, kind: "Binding", model: BindingModel },
        { ...binding, metadata: obj(binding.metadata) },
      );
    const pod = this.store.get(resourceKey(pods), namespace, name);
    if (!pod) throw notFound(pods, name);
    const resource = { plural: "pods/binding", group: "" };
    if (pod.metadata.deletionTimestamp)
      throw conflict(resource, name, `pod ${name} is being deleted, cannot be assigned to a host`);
    const spec = obj(pod.spec);
    if (spec.nodeName)
      throw conflict(resource, name, `pod ${name} is already assigned to node "${String(spec.nodeName)}"`);
    if (target.kind && target.kind !== "Node") throw badRequest("must be a Node");
    spec.nodeName = target.name;
    pod.spec = spec;
    // The binding storage also records the PodScheduled condition, as the real one does.
    const status = obj(pod.status);
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as Obj[];
    status.conditions = [
      ...conditions.filter((c) => c.type !== "PodScheduled"),
      { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: now() },
    ];
    pod.status = status;
    this.store.put(resourceKey(pods), this.typed(pods, pod), "MODIFIED");
    return {
      code: 201,
      body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 },
    };
  }

  private gracePeriod(def: ResourceDef, o: KubeObject, options: DeleteOptions): number {
    if (def.kind !== "Pod") return 0;
    const spec = obj(o.spec);
    const phase = obj(o.status).phase;
    // An unscheduled or finished pod has no kubelet to wait for: it goes at once.
    if (!spec.nodeName || phase === "Failed" || phase === "Succeeded") return 0;
    const g = options.gracePeriodSeconds ?? (spec.terminationGracePeriodSeconds as number | undefined) ?? 30;
    return Math.max(0, g);
  }

  private finalizable(o: KubeObject): boolean {
    const m = o.metadata;
    return (
      !!m.deletionTimestamp && (m.finalizers ?? []).length === 0 && (m.deletionGracePeriodSeconds ?? 0) === 0
    );
  }

  private removeNow(def: ResourceDef, o: KubeObject): KubeObject {
    const gone = this.store.remove(resourceKey(def), o);
    if (def.namespaced && o.metadata.namespace) this.finishNamespace(o.metadata.namespace);
    return gone;
  }

  private decode(def: ResourceDef, body: unknown): KubeObject {
    if (!body || typeof body !== "object" || Array.isArray(body))
      throw badRequest("the body must be a JSON object");
    const o = structuredClone(body) as KubeObject;
    if (o.kind !== undefined && o.kind !== def.kind)
      throw badRequest(
        `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: kind ${String(o.kind)} does not match`,
      );
    if (o.apiVersion !== undefined && o.apiVersion !== apiVersionOf(def))
      throw badRequest(
        `the API version in the data (${String(o.apiVersion)}) does not match the expected API version (${apiVersionOf(def)})`,
      );
    if (!o.metadata || typeof o.metadata !== "object") o.metadata = {};
    // Wire nulls mean "unset" to the Go decoder.
    for (const [k, v] of Object.entries(o.metadata)) if (v === null) delete o.metadata[k];
    return o;
  }

  private check(def: ResourceDef, o: KubeObject): void {
    if (!this.validate) return;
    validateSchema(def, o);
    validateObject(def, o, { allowPrivileged: this.allowPrivileged });
  }

  /** metav1.MicroTime decoding (Lease renewTime/acquireTime): a body that fails it is a 400. */
  private decodeMicroTimes(def: ResourceDef, o: KubeObject): void {
    if (!this.validate || def.kind !== "Lease") return;
    const err = leaseMicroTimeError(o);
    if (err) throw badRequest(`Lease in version "v1" cannot be handled as a Lease: ${err}`);
  }

  /** NamespaceLifecycle admission: the namespace must exist and not be terminating. */
  private admitNamespace(def: ResourceDef, namespace: string, o: KubeObject): void {
    const ns = this.store.get(resourceKey(NAMESPACES()), undefined, namespace);
    if (!ns) throw notFound(NAMESPACES(), namespace);
    if (ns.metadata.deletionTimestamp)
      throw new KubeError(
        403,
        "Forbidden",
        `${def.plural} "${o.metadata.name ?? o.metadata.generateName ?? ""}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        { name: o.metadata.name ?? "", kind: def.plural },
      );
  }

  private admitCreate(def: ResourceDef, o: KubeObject): void {
    if (def.kind === "Pod") {
      const spec = obj(o.spec);
      const saName = String(spec.serviceAccountName);
      const sa = this.store.get(resourceKey(SERVICEACCOUNTS()), o.metadata.namespace, saName);
      if (!sa)
        throw new KubeError(
          403,
          "Forbidden",
          `pods "${o.metadata.name}" is forbidden: error looking up service account ${o.metadata.namespace}/${saName}: serviceaccount "${saName}" not found`,
          { name: o.metadata.name ?? "", kind: "pods" },
        );
      addTokenVolume(o, sa);
      this.admitRuntimeClass(o);
    }
    // TaintNodesByCondition: every new Node starts not-ready for scheduling (whatever its
    // conditions say); the node lifecycle controller, or here the fake kubelet, lifts it.
    if (def.kind === "Node") {
      const spec = (o.spec = obj(o.spec));
      const taints = Array.isArray(spec.taints) ? (spec.taints as Obj[]) : [];
      if (!taints.some((t) => t.key === "node.kubernetes.io/not-ready" && t.effect === "NoSchedule"))
        spec.taints = [...taints, { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }];
    }
    if (def.kind === "PersistentVolumeClaim") {
      addFinalizer(o, "kubernetes.io/pvc-protection");
      const spec = obj(o.spec);
      // DefaultStorageClass admission: only a claim that does not mention a class at all gets one.
      if (spec.storageClassName === undefined) {
        const dflt = this.store
          .list(resourceKey(STORAGECLASSES()))
          .find((sc) => sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true");
        if (dflt) spec.storageClassName = dflt.metadata.name;
      }
    }
    if (def.kind === "PersistentVolume") addFinalizer(o, "kubernetes.io/pv-protection");
  }

  /**
   * RuntimeClass admission: the pod's class must exist (403); its `overhead.podFixed` becomes the
   * pod's `spec.overhead` (a different one already set is a 403), its `scheduling.nodeSelector` is
   * merged into the pod's (a conflicting value is a 403), its tolerations added.
   */
  private admitRuntimeClass(o: KubeObject): void {
    const spec = obj(o.spec);
    const forbid = (why: string) =>
      new KubeError(403, "Forbidden", `pods "${o.metadata.name ?? ""}" is forbidden: ${why}`, {
        name: o.metadata.name ?? "",
        kind: "pods",
      });
    const rcName = spec.runtimeClassName;
    const rc =
      typeof rcName === "string" && rcName
        ? this.store.get(resourceKey(RUNTIMECLASSES()), undefined, rcName)
        : undefined;
    if (typeof rcName === "string" && rcName && !rc)
      throw forbid(`pod rejected: RuntimeClass "${rcName}" not found`);
    const overhead = spec.overhead === undefined || spec.overhead === null ? undefined : obj(spec.overhead);
    if (!rc?.overhead) {
      if (overhead)
        throw forbid("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead");
    } else {
      const podFixed = obj(obj(rc.overhead).podFixed);
      const same =
        Object.keys(overhead ?? {}).length === Object.keys(podFixed).length &&
        Object.entries(podFixed).every(([k, v]) => parseQuantity(overhead?.[k]) === parseQuantity(v));
      if (overhead && Object.keys(overhead).length > 0 && !same)
        throw forbid("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
      if (Object.keys(podFixed).length) spec.overhead = { ...podFixed };
    }
    const scheduling = obj(rc?.scheduling);
    const selector = obj(scheduling.nodeSelector);
    if (Object.keys(selector).length) {
      const podSelector = obj(spec.nodeSelector);
      for (const [k, v] of Object.entries(selector)) {
        if (podSelector[k] !== undefined && podSelector[k] !== v)
          throw forbid(
            `conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${String(v)}; pod.spec.nodeSelector[${k}] = ${String(podSelector[k])}`,
          );
        podSelector[k] = v;
      }
      spec.nodeSelector = podSelector;
    }
    const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as Obj[]) : [];
    for (const t of Array.isArray(scheduling.tolerations) ? (scheduling.tolerations as Obj[]) : [])
      if (!tolerations.some((u) => isDeepStrictEqual(u, t))) tolerations.push(t);
    if (tolerations.length) spec.tolerations = tolerations;
  }

  /** The serviceaccounts controller's `default` account, created with the namespace (no race). */
  private serviceAccountController(namespace: string): void {
    const sa = SERVICEACCOUNTS();
    if (this.store.get(resourceKey(sa), namespace, "default")) return;
    this.store.put(
      resourceKey(sa),
      this.typed(sa, {
        metadata: { name: "default", namespace, uid: randomUUID(), creationTimestamp: now() },
      }),
      "ADDED",
    );
  }

  /** The namespace controller: deletes the contents, then the namespace once they are gone. */
  private namespaceController(namespace: string): void {
    for (const key of this.store.resources()) {
      const [plural, ...group] = key.split(".");
      const def = findResourceByKey(plural as string, group.join("."));
      if (!def?.namespaced) continue;
      for (const o of this.store.list(key, namespace)) {
        try {
          this.delete(def, namespace, o.metadata.name as string, {});
        } catch {
          // Gone meanwhile.
        }
      }
    }
    this.finishNamespace(namespace);
  }

  private finishNamespace(namespace: string): void {
    const nsDef = NAMESPACES();
    const ns = this.store.get(resourceKey(nsDef), undefined, namespace);
    if (!ns?.metadata.deletionTimestamp) return;
    const left = this.store
      .resources()
      .some((key) => this.store.list(key, namespace).some((o) => o.metadata.namespace === namespace));
    if (!left) this.store.remove(resourceKey(nsDef), ns);
  }
}

function findResourceByKey(plural: string, group: string): ResourceDef | undefined {
  return findResource(group, "v1", plural);
}

function addFinalizer(o: KubeObject, f: string): void {
  const list = o.metadata.finalizers ?? [];
  if (!list.includes(f)) o.metadata.finalizers = [...list, f];
}

function success(def: ResourceDef, o: KubeObject): StatusObject {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: {
      name: o.metadata.name,
      ...(def.group ? { group: def.group } : {}),
      kind: def.plural,
      uid: o.metadata.uid,
    },
    code: 200,
  };
}

/** Go's `%+v` of a decoded JSON value: `map[spec:map[renewTime:2026-…]]`. */
function goFormat(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(goFormat).join(" ")}]`;
  if (typeof v === "object")
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat((v as Obj)[k])}`)
      .join(" ")}]`;
  return String(v);
}

export const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

const encodeContinue = (rv: number, after: string) =>
  Buffer.from(JSON.stringify({ rv, after })).toString("base64url");

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString()) as { rv: number; after: string };
    if (typeof v.rv === "number" && typeof v.after === "string") return v;
  } catch {
    // fall through
  }
  throw badRequest(`invalid continue token`);
}
