import { isDeepStrictEqual } from "node:util";
import { badRequest, invalid, type StatusCause } from "./errors.js";
import type { KubeObject, ResourceDef } from "./registry.js";

/**
 * What the real apiserver refuses: the OpenAPI schema (from kubernetes-models, i.e. Kubernetes' own
 * swagger) plus the semantic rules of pkg/apis/core/validation that matter to the driver.
 */
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const required = (field: string): StatusCause => ({
  reason: "FieldValueRequired",
  message: "Required value",
  field,
});
const bad = (field: string, value: unknown, why: string): StatusCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${JSON.stringify(value)}: ${why}`,
  field,
});
const forbidden = (field: string, why: string): StatusCause => ({
  reason: "FieldValueForbidden",
  message: `Forbidden: ${why}`,
  field,
});

export function dns1123Subdomain(field: string, value: string): StatusCause[] {
  if (value.length > 253) return [bad(field, value, "must be no more than 253 characters")];
  if (!SUBDOMAIN.test(value))
    return [
      bad(
        field,
        value,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ),
    ];
  return [];
}

export function dns1123Label(field: string, value: string): StatusCause[] {
  if (value.length > 63) return [bad(field, value, "must be no more than 63 characters")];
  if (!LABEL.test(value))
    return [
      bad(
        field,
        value,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      ),
    ];
  return [];
}

function qualifiedName(field: string, key: string): StatusCause[] {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const causes = slash >= 0 ? dns1123Subdomain(field, prefix) : [];
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name))
    causes.push(
      bad(
        field,
        key,
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') and must be no more than 63 characters",
      ),
    );
  return causes;
}

/** The OpenAPI schema check. A wrong JSON type is a 400, as the real server fails to decode it. */
export function validateSchema(def: ResourceDef, o: KubeObject): void {
  try {
    new def.model(o as never).validate();
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!errors) throw err;
    const typeError = errors.find((e) => e.keyword === "type");
    if (typeError)
      throw badRequest(
        `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: cannot unmarshal into field ${fieldOf(typeError.instancePath)} of type ${String(typeError.params.type)}`,
      );
    throw invalid(
      def.kind,
      def.group,
      o.metadata.name ?? "",
      errors.map((e) =>
        e.keyword === "required"
          ? required(joinField(fieldOf(e.instancePath), String(e.params.missingProperty)))
          : bad(fieldOf(e.instancePath), undefined, e.message ?? e.keyword),
      ),
    );
  }
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/spec/containers/0/image` → `spec.containers[0].image` */
function fieldOf(pointer: string): string {
  return pointer
    .split("/")
    .filter(Boolean)
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : joinField(acc, part)), "");
}
const joinField = (a: string, b: string) => (a ? `${a}.${b}` : b);

/** Semantic checks on a create or an update; throws a 422 like the real one. */
export function validateObject(
  def: ResourceDef,
  o: KubeObject,
  opts: { allowPrivileged?: boolean } = {},
): void {
  const causes: StatusCause[] = [];
  const name = o.metadata.name ?? "";
  if (!name) causes.push(required("metadata.name"));
  else causes.push(...(def.nameIsLabel ? dns1123Label : dns1123Subdomain)("metadata.name", name));
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    causes.push(...qualifiedName("metadata.labels", k));
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v))
      causes.push(
        bad(
          "metadata.labels",
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') and must be no more than 63 characters",
        ),
      );
  }
  for (const k of Object.keys(o.metadata.annotations ?? {}))
    causes.push(...qualifiedName("metadata.annotations", k));
  for (const f of o.metadata.finalizers ?? [])
    if (!f.includes("/") && f !== "kubernetes" && f !== "orphan" && f !== "foregroundDeletion")
      causes.push(
        bad("metadata.finalizers", f, "name is neither a standard finalizer name nor is it fully qualified"),
      );
  if (def.kind === "Pod") causes.push(...validatePod(o, opts.allowPrivileged ?? true));
  if (def.kind === "RuntimeClass") causes.push(...dns1123Label("handler", String(o.handler ?? "")));
  if (def.kind === "PersistentVolumeClaim") causes.push(...validatePvc(o));
  if (def.kind === "PersistentVolume") causes.push(...validatePv(o));
  if (def.kind === "Secret") causes.push(...validateSecret(o));
  if (causes.length) throw invalid(def.kind, def.group, name, causes);
}

function validatePod(o: KubeObject, allowPrivileged: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = obj(o.spec);
  const volumes = new Set<string>();
  list(spec.volumes).forEach((v, i) => {
    const f = `spec.volumes[${i}].name`;
    const n = String(v.name ?? "");
    causes.push(...dns1123Label(f, n));
    if (volumes.has(n))
      causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: "${n}"`, field: f });
    volumes.add(n);
    if (v.persistentVolumeClaim && !obj(v.persistentVolumeClaim).claimName)
      causes.push(required(`spec.volumes[${i}].persistentVolumeClaim.claimName`));
  });
  const containers = list(spec.containers);
  if (containers.length === 0) causes.push(required("spec.containers"));
  const names = new Set<string>();
  for (const key of ["initContainers", "containers"]) {
    list(spec[key]).forEach((c, i) => {
      const f = `spec.${key}[${i}]`;
      const n = String(c.name ?? "");
      causes.push(...dns1123Label(`${f}.name`, n));
      if (names.has(n))
        causes.push({
          reason: "FieldValueDuplicate",
          message: `Duplicate value: "${n}"`,
          field: `${f}.name`,
        });
      names.add(n);
      if (!c.image) causes.push(required(`${f}.image`));
      // The apiserver's --allow-privileged (default false; true on clusters that run builders).
      if (!allowPrivileged && obj(c.securityContext).privileged === true)
        causes.push(forbidden(`${f}.securityContext.privileged`, "disallowed by cluster policy"));
      list(c.volumeMounts).forEach((m, j) => {
        if (!volumes.has(String(m.name)))
          causes.push({
            reason: "FieldValueNotFound",
            message: `Not found: "${String(m.name)}"`,
            field: `${f}.volumeMounts[${j}].name`,
          });
      });
      list(c.volumeDevices).forEach((m, j) => {
        if (!volumes.has(String(m.name)))
          causes.push({
            reason: "FieldValueNotFound",
            message: `Not found: "${String(m.name)}"`,
            field: `${f}.volumeDevices[${j}].name`,
          });
      });
    });
  }
  if (!["Always", "OnFailure", "Never"].includes(String(spec.restartPolicy)))
    causes.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${JSON.stringify(spec.restartPolicy)}: supported values: "Always", "OnFailure", "Never"`,
      field: "spec.restartPolicy",
    });
  return causes;
}

function validatePvc(o: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = obj(o.spec);
  if (list(spec.accessModes).length === 0) causes.push(required("spec.accessModes"));
  if (!obj(obj(spec.resources).requests).storage) causes.push(required("spec.resources[storage]"));
  return causes;
}

const PV_SOURCES = [
  "local",
  "hostPath",
  "csi",
  "nfs",
  "iscsi",
  "fc",
  "rbd",
  "cephfs",
  "awsElasticBlockStore",
  "gcePersistentDisk",
  "azureDisk",
  "azureFile",
  "cinder",
  "flexVolume",
  "glusterfs",
  "portworxVolume",
  "vsphereVolume",
  "scaleIO",
  "storageos",
  "photonPersistentDisk",
  "quobyte",
  "flocker",
];

function validatePv(o: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = obj(o.spec);
  if (list(spec.accessModes).length === 0) causes.push(required("spec.accessModes"));
  if (!obj(spec.capacity).storage) causes.push(required("spec.capacity"));
  const sources = PV_SOURCES.filter((s) => spec[s] !== undefined);
  if (sources.length !== 1)
    causes.push(
      sources.length ? forbidden("spec", "may not specify more than 1 volume type") : required("spec"),
    );
  if (spec.local && !obj(spec.nodeAffinity).required) causes.push(required("spec.nodeAffinity"));
  return causes;
}

function validateSecret(o: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(obj(o.data))) {
    if (!SECRET_KEY.test(k))
      causes.push(
        bad("data", k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
      );
    if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data.${k}`,
      );
    size += Buffer.from(v, "base64").length;
  }
  if (size > 1024 * 1024)
    causes.push({
      reason: "FieldValueTooLong",
      message: "Too long: must have at most 1048576 bytes",
      field: "data",
    });
  return causes;
}

/** Update rules: what may not change once created. `old` and `next` are both defaulted. */
export function validateUpdate(def: ResourceDef, old: KubeObject, next: KubeObject): void {
  const causes: StatusCause[] = [];
  if (def.kind === "Pod") causes.push(...podUpdate(obj(old.spec), obj(next.spec)));
  if (def.kind === "PersistentVolumeClaim") causes.push(...pvcUpdate(obj(old.spec), obj(next.spec)));
  if (def.kind === "PersistentVolume") {
    const a = obj(old.spec);
    const b = obj(next.spec);
    for (const s of PV_SOURCES)
      if (!isDeepStrictEqual(a[s], b[s]))
        causes.push(
          forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"),
        );
    if (a.nodeAffinity && !isDeepStrictEqual(a.nodeAffinity, b.nodeAffinity))
      causes.push(forbidden("spec.nodeAffinity", "field is immutable"));
  }
  if ((def.kind === "Secret" || def.kind === "ConfigMap") && old.immutable === true) {
    if (!isDeepStrictEqual(old.data, next.data))
      causes.push(forbidden("data", "field is immutable when `immutable` is set"));
    if (next.immutable !== true)
      causes.push(forbidden("immutable", "field is immutable when `immutable` is set"));
  }
  if (def.kind === "RuntimeClass" && old.handler !== next.handler)
    causes.push(bad("handler", next.handler, "field is immutable"));
  if (def.kind === "Secret" && old.type !== next.type)
    causes.push(bad("type", next.type, "field is immutable"));
  if (causes.length) throw invalid(def.kind, def.group, next.metadata.name ?? "", causes);
}

const POD_UPDATE_MESSAGE =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

function podUpdate(old: Obj, next: Obj): StatusCause[] {
  // Take over from `next` exactly what may change, then require everything else to be equal.
  const candidate = structuredClone(old);
  for (const key of ["containers", "initContainers"]) {
    const a = list(candidate[key]);
    const b = list(next[key]);
    if (a.length === b.length) a.forEach((c, i) => (c.image = b[i]?.image));
  }
  candidate.activeDeadlineSeconds = next.activeDeadlineSeconds;
  if (candidate.activeDeadlineSeconds === undefined) delete candidate.activeDeadlineSeconds;
  const oldTolerations = list(old.tolerations);
  const newTolerations = list(next.tolerations);
  if (oldTolerations.every((t) => newTolerations.some((u) => isDeepStrictEqual(t, u))))
    candidate.tolerations = newTolerations;
  if (
    next.schedulingGates === undefined ||
    list(next.schedulingGates).length < list(old.schedulingGates).length
  )
    candidate.schedulingGates = next.schedulingGates;
  if (candidate.schedulingGates === undefined) delete candidate.schedulingGates;
  return isDeepStrictEqual(stripUndefined(candidate), stripUndefined(next))
    ? []
    : [forbidden("spec", POD_UPDATE_MESSAGE)];
}

function pvcUpdate(old: Obj, next: Obj): StatusCause[] {
  const causes: StatusCause[] = [];
  const candidate = structuredClone(old);
  // The PV controller binds by setting volumeName once.
  if (!old.volumeName) candidate.volumeName = next.volumeName;
  if (candidate.volumeName === undefined) delete candidate.volumeName;
  const oldSize = parseQuantity(obj(obj(old.resources).requests).storage);
  const newSize = parseQuantity(obj(obj(next.resources).requests).storage);
  if (newSize < oldSize)
    causes.push(forbidden("spec.resources.requests.storage", "field can not be less than previous value"));
  candidate.resources = structuredClone(next.resources);
  if (!isDeepStrictEqual(stripUndefined(candidate), stripUndefined(next)))
    causes.push(
      forbidden(
        "spec",
        "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
      ),
    );
  return causes;
}

const stripUndefined = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;

const SUFFIX: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  m: 1e-3,
};

/** A resource.Quantity as a number of units (bytes for storage). */
export function parseQuantity(q: unknown): number {
  const m = /^([0-9.]+)(e[0-9]+|[a-zA-Z]*)$/.exec(String(q ?? "0"));
  if (!m) return NaN;
  const [, num = "0", suffix = ""] = m;
  if (suffix.startsWith("e")) return Number(num) * 10 ** Number(suffix.slice(1));
  return Number(num) * (SUFFIX[suffix] ?? NaN);
}

/** metav1.RFC3339Micro, the layout metav1.MicroTime's UnmarshalJSON parses with Go's time.Parse. */
const RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00";
const MICRO_CHUNKS: Array<[layout: string, re: RegExp, range?: [what: string, lo: number, hi: number]]> = [
  ["2006", /^\d{4}/],
  ["-", /^-/],
  ["01", /^\d{2}/, ["month", 1, 12]],
  ["-", /^-/],
  ["02", /^\d{2}/],
  ["T", /^T/],
  ["15", /^\d{1,2}/, ["hour", 0, 23]],
  [":", /^:/],
  ["04", /^\d{2}/, ["minute", 0, 59]],
  [":", /^:/],
  ["05", /^\d{2}/, ["second", 0, 59]],
  [".000000", /^[.,]\d{6}/],
  ["Z07:00", /^(Z|[+-]\d{2}:\d{2})/],
];

/**
 * Go's `time.Parse(RFC3339Micro, value)` error, or undefined when it parses: exactly six
 * fractional digits, `Z` or a `±hh:mm` offset (`…08.933Z` fails: `cannot parse ".933Z" as
 * ".000000"`).
 */
export function microTimeError(value: string): string | undefined {
  const head = `parsing time ${JSON.stringify(value)}`;
  let rest = value;
  const nums: string[] = [];
  for (const [layout, re, range] of MICRO_CHUNKS) {
    const m = re.exec(rest);
    if (!m)
      return `${head} as ${JSON.stringify(RFC3339_MICRO)}: cannot parse ${JSON.stringify(rest)} as ${JSON.stringify(layout)}`;
    nums.push(m[0]);
    if (range && (Number(m[0]) < range[1] || Number(m[0]) > range[2]))
      return `${head}: ${range[0]} out of range`;
    rest = rest.slice(m[0].length);
  }
  if (rest) return `${head}: extra text: ${JSON.stringify(rest)}`;
  const [year, , month, , day] = nums.map(Number) as number[];
  const daysIn = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
  if ((day ?? 0) < 1 || (day ?? 0) > daysIn) return `${head}: day out of range`;
  return undefined;
}

/** The first MicroTime of a Lease that the real server's decoder refuses, with Go's error. */
export function leaseMicroTimeError(o: KubeObject): string | undefined {
  for (const [field, value] of Object.entries(obj(o.spec))) {
    if ((field !== "renewTime" && field !== "acquireTime") || typeof value !== "string") continue;
    const err = microTimeError(value);
    if (err) return err;
  }
  return undefined;
}
