import { badRequest, KubeError } from "./errors.js";

/**
 * The three patch types client-node sends (chosen with a Content-Type header). Server-side apply
 * is answered 415, like a server that does not support it: the driver must not depend on it.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export const PATCH_TYPES = [
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
  "application/json-patch+json",
] as const;

export function applyPatch(target: JsonObject, contentType: string, body: unknown): JsonObject {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  switch (type) {
    case "application/merge-patch+json":
      if (!isObject(body)) throw badRequest("merge patch must be a JSON object");
      return mergePatch(target, body) as JsonObject;
    case "application/strategic-merge-patch+json":
      if (!isObject(body)) throw badRequest("strategic merge patch must be a JSON object");
      return strategicMerge(target, body, "") as JsonObject;
    case "application/json-patch+json":
      if (!Array.isArray(body)) throw badRequest("json patch must be a JSON array of operations");
      return jsonPatch(target, body);
    default:
      throw new KubeError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`,
      );
  }
}

/** RFC 7386: objects merge recursively, null deletes, anything else (lists too) replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/**
 * Strategic merge, for the fields the driver and kubelet touch: lists of named things merge by their
 * key (`patchMergeKey` in the Go types), finalizers merge as a set, `$patch: delete|replace` and
 * `$deleteFromPrimitiveList/…` directives work; every other list is replaced, as in a merge patch.
 */
const MERGE_KEYS: Record<string, string> = {
  "spec.containers": "name",
  "spec.initContainers": "name",
  "spec.ephemeralContainers": "name",
  "spec.volumes": "name",
  "spec.imagePullSecrets": "name",
  "spec.containers.env": "name",
  "spec.initContainers.env": "name",
  "spec.containers.volumeMounts": "mountPath",
  "spec.initContainers.volumeMounts": "mountPath",
  "spec.containers.volumeDevices": "devicePath",
  "spec.containers.ports": "containerPort",
  "status.conditions": "type",
  "status.podIPs": "ip",
  "status.addresses": "type",
  "metadata.ownerReferences": "uid",
};
const PRIMITIVE_SETS = new Set(["metadata.finalizers"]);

function strategicMerge(target: Json, patch: Json, path: string): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  if (patch.$patch === "delete") return null;
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k === "$retainKeys" || k === "$patch") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter((x) => !v.includes(x));
      continue;
    }
    const childPath = path ? `${path}.${k}` : k;
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && MERGE_KEYS[childPath] && Array.isArray(out[k])) {
      out[k] = mergeList(out[k] as Json[], v, MERGE_KEYS[childPath], childPath);
    } else if (Array.isArray(v) && PRIMITIVE_SETS.has(childPath) && Array.isArray(out[k])) {
      const cur = out[k] as Json[];
      out[k] = [...cur, ...v.filter((x) => !cur.includes(x))];
    } else {
      out[k] = strategicMerge(out[k] ?? null, v, childPath);
    }
  }
  return out;
}

function mergeList(current: Json[], patch: Json[], key: string, path: string): Json[] {
  const out = current.map(clone);
  for (const item of patch) {
    if (!isObject(item)) continue;
    const idx = out.findIndex((x) => isObject(x) && x[key] === item[key]);
    if (item.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) {
      out[idx] = strategicMerge(out[idx] ?? null, item, path);
    } else {
      out.push(strategicMerge(null, item, path));
    }
  }
  return out;
}

/** RFC 6902. A failed `test` or a missing path is a 422, as on the real server. */
export function jsonPatch(target: JsonObject, ops: unknown[]): JsonObject {
  let doc: Json = clone(target);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string")
      throw badRequest("json patch operations need an op and a path");
    const op = raw;
    const path = parsePointer(op.path as string);
    switch (op.op) {
      case "add":
        doc = put(doc, path, clone(op.value ?? null), "add");
        break;
      case "replace":
        get(doc, path);
        doc = put(doc, path, clone(op.value ?? null), "replace");
        break;
      case "remove":
        doc = remove(doc, path);
        break;
      case "test":
        if (JSON.stringify(canonical(get(doc, path))) !== JSON.stringify(canonical(op.value ?? null)))
          throw unprocessable(`testing value ${op.path as string} failed`);
        break;
      case "move": {
        const from = parsePointer(String(op.from));
        const value = get(doc, from);
        doc = put(remove(doc, from), path, value, "add");
        break;
      }
      case "copy":
        doc = put(doc, path, clone(get(doc, parsePointer(String(op.from)))), "add");
        break;
      default:
        throw badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  if (!isObject(doc)) throw unprocessable("the patch replaced the whole object with a non-object");
  return doc;
}

const unprocessable = (why: string) =>
  new KubeError(422, "Invalid", `the server rejected our request due to an error in our request: ${why}`);

function canonical(v: Json): Json {
  if (Array.isArray(v)) return v.map(canonical);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, canonical(v[k] ?? null)]),
  );
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw badRequest(`invalid JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function get(doc: Json, path: string[]): Json {
  let cur: Json = doc;
  for (const part of path) {
    if (Array.isArray(cur)) {
      const i = Number(part);
      if (!/^\d+$/.test(part) || i >= cur.length) throw unprocessable(`path not found: /${path.join("/")}`);
      cur = cur[i] as Json;
    } else if (isObject(cur) && part in cur) {
      cur = cur[part] as Json;
    } else {
      throw unprocessable(`path not found: /${path.join("/")}`);
    }
  }
  return cur;
}

function put(doc: Json, path: string[], value: Json, mode: "add" | "replace"): Json {
  if (path.length === 0) return value;
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last);
    if (!(last === "-" || /^\d+$/.test(last)) || i > parent.length)
      throw unprocessable(`index out of range: /${path.join("/")}`);
    if (mode === "add") parent.splice(i, 0, value);
    else parent[i] = value;
  } else if (isObject(parent)) {
    parent[last] = value;
  } else {
    throw unprocessable(`path not found: /${path.join("/")}`);
  }
  return doc;
}

function remove(doc: Json, path: string[]): Json {
  get(doc, path);
  const parent = get(doc, path.slice(0, -1));
  const last = path[path.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isObject(parent)) delete parent[last];
  return doc;
}
