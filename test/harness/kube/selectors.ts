import { badRequest } from "./errors.js";
import type { KubeObject } from "./registry.js";

/**
 * Label and field selectors with the real grammar (apimachinery/pkg/labels, pkg/fields), so that
 * a selector the driver builds is accepted — or refused with 400 — as the real server would.
 */
type Requirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "=" | "!=" | "in" | "notin"; values: string[] }
  | { key: string; op: ">" | "<"; values: [string] };

export type Selector = (labels: Record<string, string> | undefined) => boolean;

export function parseLabelSelector(text: string | null | undefined): Selector {
  const src = (text ?? "").trim();
  if (!src) return () => true;
  const reqs = splitTopLevel(src).map(parseRequirement);
  return (labels) => reqs.every((r) => matches(r, labels ?? {}));
}

/** Splits at commas that are not inside `( … )`. */
function splitTopLevel(src: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(src.slice(start));
  return parts.map((p) => p.trim());
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_./]*[a-z0-9A-Z])?)$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseRequirement(part: string): Requirement {
  const fail = (why: string) => badRequest(`unable to parse requirement: ${why}: "${part}"`);
  if (!part) throw fail("found '', expected: identifier");
  const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
  if (setMatch) {
    const [, key = "", op, list = ""] = setMatch;
    const values = list
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    checkKey(key, fail);
    values.forEach((v) => checkValue(v, fail));
    return { key, op: op as "in" | "notin", values };
  }
  const opMatch = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/.exec(part);
  if (opMatch) {
    const [, key = "", rawOp, value = ""] = opMatch;
    checkKey(key, fail);
    checkValue(value, fail);
    if (rawOp === "<" || rawOp === ">") {
      if (!/^-?\d+$/.test(value)) throw fail("for 'Gt', 'Lt' operators, the value must be an integer");
      return { key, op: rawOp, values: [value] };
    }
    return { key, op: rawOp === "!=" ? "!=" : "=", values: [value] };
  }
  if (part.startsWith("!")) {
    const key = part.slice(1).trim();
    checkKey(key, fail);
    return { key, op: "!exists" };
  }
  checkKey(part, fail);
  return { key: part, op: "exists" };
}

function checkKey(key: string, fail: (why: string) => Error): void {
  if (!KEY.test(key) || key.length > 317) throw fail(`invalid label key "${key}"`);
}

function checkValue(value: string, fail: (why: string) => Error): void {
  if (value.length > 63 || !VALUE.test(value)) throw fail(`invalid label value: "${value}"`);
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case "exists":
      return has;
    case "!exists":
      return !has;
    case "=":
    case "in":
      return has && r.values.includes(value as string);
    case "!=":
    case "notin":
      // As in apimachinery: a missing key satisfies `!=` and `notin`.
      return !has || !r.values.includes(value as string);
    case ">":
    case "<": {
      if (!has || !/^-?\d+$/.test(value as string)) return false;
      const n = Number(value);
      const bound = Number(r.values[0]);
      return r.op === ">" ? n > bound : n < bound;
    }
  }
}

/** The fields each kind supports in fieldSelector (beyond metadata.name and metadata.namespace). */
const FIELDS: Record<string, string[]> = {
  Pod: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  Secret: ["type"],
  Node: ["spec.unschedulable"],
  Namespace: ["status.phase"],
  PersistentVolumeClaim: [],
  Event: [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ],
};

export type FieldSelector = (obj: KubeObject) => boolean;

export function parseFieldSelector(text: string | null | undefined, kind: string): FieldSelector {
  const src = (text ?? "").trim();
  if (!src) return () => true;
  const allowed = new Set(["metadata.name", "metadata.namespace", ...(FIELDS[kind] ?? [])]);
  const reqs = src.split(",").map((part) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part.trim());
    if (!m) throw badRequest(`invalid selector: '${src}'; can't understand '${part}'`);
    const [, field = "", op, value = ""] = m;
    if (!allowed.has(field.trim())) throw badRequest(`field label not supported: ${field.trim()}`);
    return { field: field.trim(), negate: op === "!=", value };
  });
  return (obj) => reqs.every(({ field, negate, value }) => (fieldValue(obj, field) === value) !== negate);
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  // Unset booleans read as "false", as the real field-label conversion functions render them.
  if (cur === undefined || cur === null)
    return path === "spec.unschedulable" || path === "spec.hostNetwork" ? "false" : "";
  return String(cur);
}
