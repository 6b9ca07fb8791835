import { hostname } from "node:os";
import { z } from "zod";
import { derived, variable } from "./variable.js";
import {
  cidr,
  digestImage,
  dnsLabel,
  json,
  orNull,
  positiveInt,
  seconds,
  toleration,
  toMs,
} from "./values.js";

/** The kubernetes driver's variables (docs/kubernetes.md), in config.kubernetes. */

export const KUBERNETES = { drivers: ["kubernetes"] } as const;

export const kubernetes = {
  namespace: variable(
    "RB_K8S_NAMESPACE",
    dnsLabel.default("remote-builder-builders"),
    "the namespace builder pods, their Secrets and cache-volume claims live in",
    KUBERNETES,
  ),
  serviceNamespace: variable(
    "RB_K8S_SERVICE_NAMESPACE",
    dnsLabel.default("remote-builder"),
    "the service's own namespace: its leader Lease, and where the builders admit the broker from",
    KUBERNETES,
  ),
  leaseName: variable(
    "RB_K8S_LEASE_NAME",
    dnsLabel.default("remote-builder-reconciler"),
    "the coordination.k8s.io Lease that elects the one replica that reconciles",
    KUBERNETES,
  ),
  identity: derived(
    {
      name: variable(
        "RB_K8S_IDENTITY",
        z.string().min(1).optional(),
        "this replica's name in the Lease; default the pod's name (POD_NAME) or the host name",
        KUBERNETES,
      ),
      podName: variable(
        "POD_NAME",
        z.string().min(1).optional(),
        "the pod's name, which deploy/ sets from the Downward API",
        KUBERNETES,
      ),
    },
    ({ name, podName }) => name ?? podName ?? hostname(),
  ),
  runtimeClassName: variable(
    "RB_K8S_RUNTIME_CLASS",
    z.string().min(1).default("kata-fc"),
    "the builder pods' RuntimeClass",
    KUBERNETES,
  ),
  buildkitImage: variable(
    "RB_K8S_BUILDKIT_IMAGE",
    digestImage.optional(),
    "the buildkitd image, pinned by digest, e.g. moby/buildkit:v0.11.6@sha256:<64 hex>",
    // Required (by the checks in config.ts) only when the kubernetes driver is chosen.
    { ...KUBERNETES, convert: (image) => image ?? "", shownDefault: "required" },
  ),
  formatImage: variable(
    "RB_K8S_FORMAT_IMAGE",
    digestImage.optional(),
    "an image with blkid and mkfs.ext4, pinned by digest: formats a Block cache volume on first use",
    { ...KUBERNETES, convert: orNull, shownDefault: "required with Block volumes" },
  ),
  storageClassName: variable(
    "RB_K8S_STORAGE_CLASS",
    z.string().min(1).default("scw-local-nvme"),
    "the StorageClass of cache volumes (local, block-capable, WaitForFirstConsumer)",
    KUBERNETES,
  ),
  volumeMode: variable(
    "RB_K8S_VOLUME_MODE",
    z.enum(["Block", "Filesystem"]).default("Block"),
    "how a cache volume reaches the builder: Block (kata-fc: formatted ext4 in the guest) or Filesystem",
    KUBERNETES,
  ),
  nodeSelector: variable(
    "RB_K8S_NODE_SELECTOR",
    json(z.record(z.string(), z.string())).default({ "kubernetes.io/os": "linux" }),
    'the builder pool\'s node labels as JSON, e.g. {"kubernetes.io/os":"linux"}',
    KUBERNETES,
  ),
  tolerations: variable(
    "RB_K8S_TOLERATIONS",
    json(z.array(toleration)).default([]),
    'tolerations of the builder pool\'s taints as JSON, e.g. [{"key":"builders","operator":"Exists"}]',
    KUBERNETES,
  ),
  brokerLabels: variable(
    "RB_K8S_BROKER_LABELS",
    json(
      z
        .record(z.string(), z.string())
        // No labels would select every pod of the service's namespace as the broker.
        .refine((labels) => Object.keys(labels).length > 0, "at least one label: {} would let in every pod"),
    ).default({ "app.kubernetes.io/name": "remote-builder" }),
    "the labels of the service's pods: the only ones the builders' NetworkPolicy lets in",
    KUBERNETES,
  ),
  blockedCidrs: variable(
    "RB_K8S_BLOCKED_CIDRS",
    json(z.array(cidr)).default([
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "100.64.0.0/10",
      "169.254.0.0/16",
    ]),
    "address ranges builders may not reach (cluster networks, the cloud metadata address)",
    KUBERNETES,
  ),
  nodeGraceMs: variable(
    "RB_K8S_NODE_GRACE_SECONDS",
    seconds(300),
    "how long a node may be gone or NotReady before the cache volumes on it are given up",
    { ...KUBERNETES, convert: toMs },
  ),
  nodeBudgetGiB: variable(
    "RB_K8S_NODE_BUDGET_GIB",
    positiveInt(1500),
    "the cache-volume space per node; past it, the least recently used volumes are evicted",
    KUBERNETES,
  ),
};
