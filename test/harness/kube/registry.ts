import { Lease } from "kubernetes-models/coordination.k8s.io/v1/Lease";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1/RuntimeClass";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { Binding } from "kubernetes-models/v1/Binding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Event } from "kubernetes-models/v1/Event";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Node } from "kubernetes-models/v1/Node";
import { PersistentVolume } from "kubernetes-models/v1/PersistentVolume";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

/** A JSON Kubernetes object as it travels over the wire. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [field: string]: unknown;
}

/** Validates with the Kubernetes OpenAPI schema (kubernetes-models); throws an ajv ValidationError. */
type Model = new (data: never) => { validate(): void };

export interface ResourceDef {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  /** Has a /status subresource: the main resource then ignores status changes, as the real one does. */
  status: boolean;
  /** metadata.name must be a DNS-1123 label (namespaces) rather than a subdomain. */
  nameIsLabel?: boolean;
  /** DELETE answers with the object (pods, claims, volumes, namespaces) rather than a Success Status. */
  returnsDeleted?: boolean;
  shortNames?: string[];
  model: Model;
}

const core = (d: Omit<ResourceDef, "group" | "version">): ResourceDef => ({ group: "", version: "v1", ...d });

export const RESOURCES: ResourceDef[] = [
  core({
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    status: true,
    nameIsLabel: true,
    returnsDeleted: true,
    shortNames: ["ns"],
    model: Namespace,
  }),
  core({
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    status: true,
    returnsDeleted: true,
    shortNames: ["no"],
    model: Node,
  }),
  core({
    plural: "persistentvolumes",
    singular: "persistentvolume",
    kind: "PersistentVolume",
    namespaced: false,
    status: true,
    returnsDeleted: true,
    shortNames: ["pv"],
    model: PersistentVolume,
  }),
  core({
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    status: true,
    returnsDeleted: true,
    shortNames: ["po"],
    model: Pod,
  }),
  core({
    plural: "secrets",
    singular: "secret",
    kind: "Secret",
    namespaced: true,
    status: false,
    model: Secret,
  }),
  core({
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    status: false,
    shortNames: ["cm"],
    model: ConfigMap,
  }),
  core({
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    kind: "PersistentVolumeClaim",
    namespaced: true,
    status: true,
    returnsDeleted: true,
    shortNames: ["pvc"],
    model: PersistentVolumeClaim,
  }),
  core({
    plural: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    status: false,
    shortNames: ["sa"],
    model: ServiceAccount,
  }),
  core({
    plural: "events",
    singular: "event",
    kind: "Event",
    namespaced: true,
    status: false,
    shortNames: ["ev"],
    model: Event,
  }),
  {
    group: "networking.k8s.io",
    version: "v1",
    plural: "networkpolicies",
    singular: "networkpolicy",
    kind: "NetworkPolicy",
    namespaced: true,
    status: false,
    shortNames: ["netpol"],
    model: NetworkPolicy,
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    singular: "lease",
    kind: "Lease",
    namespaced: true,
    status: false,
    model: Lease,
  },
  {
    group: "storage.k8s.io",
    version: "v1",
    plural: "storageclasses",
    singular: "storageclass",
    kind: "StorageClass",
    namespaced: false,
    status: false,
    shortNames: ["sc"],
    model: StorageClass,
  },
  {
    group: "node.k8s.io",
    version: "v1",
    plural: "runtimeclasses",
    singular: "runtimeclass",
    kind: "RuntimeClass",
    namespaced: false,
    status: false,
    model: RuntimeClass,
  },
];

/** The Binding a scheduler POSTs to pods/{name}/binding: not stored, only validated. */
export const BindingModel: Model = Binding;

export const apiVersionOf = (r: ResourceDef) => (r.group ? `${r.group}/${r.version}` : r.version);

/** `pods`, `leases.coordination.k8s.io`: the key of a resource in the store and in request counts. */
export const resourceKey = (r: ResourceDef) => (r.group ? `${r.plural}.${r.group}` : r.plural);

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function groupVersions(): Array<{ group: string; version: string; resources: ResourceDef[] }> {
  const out = new Map<string, { group: string; version: string; resources: ResourceDef[] }>();
  for (const r of RESOURCES) {
    const key = `${r.group}/${r.version}`;
    const entry = out.get(key) ?? { group: r.group, version: r.version, resources: [] };
    entry.resources.push(r);
    out.set(key, entry);
  }
  return [...out.values()];
}
