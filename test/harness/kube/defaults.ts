import { randomBytes } from "node:crypto";
import type { KubeObject } from "./registry.js";

/**
 * The defaulting and admission mutations a stock apiserver applies before storing, so that objects
 * read back look like production ones (a driver that compares "what I sent" with "what I read" sees
 * the same differences as against a real cluster). Idempotent: it also runs on every update.
 */
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const setDefault = (o: Obj, key: string, value: unknown) => {
  if (o[key] === undefined || o[key] === null) o[key] = value;
};

export function applyDefaults(kind: string, o: KubeObject): void {
  switch (kind) {
    case "Pod":
      return defaultPod(o);
    case "PersistentVolumeClaim":
      o.spec = obj(o.spec);
      setDefault(o.spec as Obj, "volumeMode", "Filesystem");
      return;
    case "PersistentVolume": {
      const spec = (o.spec = obj(o.spec));
      setDefault(spec, "persistentVolumeReclaimPolicy", "Retain");
      setDefault(spec, "volumeMode", "Filesystem");
      return;
    }
    case "Secret": {
      setDefault(o, "type", "Opaque");
      // The real server folds write-only stringData into data.
      const stringData = obj(o.stringData);
      if (Object.keys(stringData).length > 0) {
        const data = (o.data = obj(o.data));
        for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v)).toString("base64");
      }
      delete o.stringData;
      return;
    }
    case "Namespace": {
      const spec = (o.spec = obj(o.spec));
      setDefault(spec, "finalizers", ["kubernetes"]);
      o.metadata.labels = { ...o.metadata.labels, "kubernetes.io/metadata.name": o.metadata.name ?? "" };
      return;
    }
    case "StorageClass":
      setDefault(o, "reclaimPolicy", "Delete");
      setDefault(o, "volumeBindingMode", "Immediate");
      return;
  }
}

/** Status a create may not set: the server resets it (nodes are the exception and keep theirs). */
export function initialStatus(kind: string, o: KubeObject): unknown {
  switch (kind) {
    case "Pod":
      return { phase: "Pending", qosClass: qosClass(o) };
    case "PersistentVolumeClaim":
    case "PersistentVolume":
      return { phase: "Pending" };
    case "Namespace":
      return { phase: "Active" };
    default:
      return o.status;
  }
}

function defaultPod(o: KubeObject): void {
  const spec = (o.spec = obj(o.spec));
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "enableServiceLinks", true);
  // Priority admission (no priorityClassName) and ServiceAccount admission.
  setDefault(spec, "priority", 0);
  setDefault(spec, "preemptionPolicy", "PreemptLowerPriority");
  setDefault(spec, "serviceAccountName", "default");
  spec.serviceAccount = spec.serviceAccountName;
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list as Obj[]) {
      const image = String(c.image ?? "");
      const tag = image.includes("@") ? "digest" : (/:([^/:]+)$/.exec(image)?.[1] ?? "latest");
      setDefault(c, "imagePullPolicy", tag === "latest" ? "Always" : "IfNotPresent");
      setDefault(c, "terminationMessagePath", "/dev/termination-log");
      setDefault(c, "terminationMessagePolicy", "File");
      const resources = (c.resources = obj(c.resources));
      // Limits without requests: requests default to the limits.
      const limits = obj(resources.limits);
      if (Object.keys(limits).length > 0) resources.requests = { ...limits, ...obj(resources.requests) };
      if (Array.isArray(c.ports)) for (const p of c.ports as Obj[]) setDefault(p, "protocol", "TCP");
    }
  }
  // DefaultTolerationSeconds admission: evicted 300 s after its node goes NotReady/unreachable.
  const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as Obj[]) : [];
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    if (!tolerations.some((t) => t.key === key || (t.operator === "Exists" && !t.key)))
      tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
  }
  spec.tolerations = tolerations;
}

/**
 * ServiceAccount admission's token volume, added at create unless automount is off (by the pod, or
 * by its service account).
 */
export function addTokenVolume(o: KubeObject, serviceAccount: KubeObject | undefined): void {
  const spec = obj(o.spec);
  const automount = spec.automountServiceAccountToken ?? serviceAccount?.automountServiceAccountToken ?? true;
  if (automount === false) return;
  const name = `kube-api-access-${randomBytes(3).toString("hex").slice(0, 5)}`;
  const volumes = Array.isArray(spec.volumes) ? (spec.volumes as Obj[]) : [];
  volumes.push({
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        {
          downwardAPI: {
            items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }],
          },
        },
      ],
    },
  });
  spec.volumes = volumes;
  for (const key of ["containers", "initContainers"]) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    for (const c of list as Obj[]) {
      const mounts = Array.isArray(c.volumeMounts) ? (c.volumeMounts as Obj[]) : [];
      mounts.push({ name, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" });
      c.volumeMounts = mounts;
    }
  }
}

function qosClass(o: KubeObject): string {
  const containers = (obj(o.spec).containers as Obj[] | undefined) ?? [];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const r = obj(c.resources);
    const requests = obj(r.requests);
    const limits = obj(r.limits);
    if (Object.keys(requests).length || Object.keys(limits).length) any = true;
    for (const res of ["cpu", "memory"]) {
      if (limits[res] === undefined || String(limits[res]) !== String(requests[res] ?? limits[res]))
        guaranteed = false;
    }
  }
  return guaranteed ? "Guaranteed" : any ? "Burstable" : "BestEffort";
}
