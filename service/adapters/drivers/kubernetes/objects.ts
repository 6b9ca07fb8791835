import type {
  V1NetworkPolicy,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Volume,
} from "@kubernetes/client-node";
import type { KubernetesConfig } from "../../../config.js";
import type { Shape } from "../../../core/catalog.js";
import { keepStorageBytes } from "../../../core/placement.js";
import type { BuilderTls } from "../../../core/ports.js";
import { BUILDKITD_CONFIG_FILE, buildkitdArgs, buildkitdToml } from "../buildkitd-config.js";
import { ANNOTATIONS, type BuilderRole, type ClaimRole, LABELS, MANAGER } from "./labels.js";

/**
 * The objects of the fleet, as pure functions of their inputs: what the driver creates is exactly
 * what these return, and tests validate them against Kubernetes' own OpenAPI schemas.
 */
export const BUILDKIT_PORT = 1234;
const CACHE_DEVICE = "/dev/rb-cache";
const CACHE_PATH = "/var/lib/buildkit";
/** Where the builder's Secret is mounted: its TLS files and its buildkitd.toml. */
const SECRET_PATH = "/etc/remote-builder";

/** What the fleet's objects take from the configuration. */
export type FleetSettings = Pick<
  KubernetesConfig,
  | "namespace"
  | "runtimeClassName"
  | "buildkitImage"
  | "formatImage"
  | "storageClassName"
  | "volumeMode"
  | "nodeSelector"
  | "tolerations"
>;

export interface BuilderPodInput {
  builderId: string;
  shapeName: string;
  shape: Shape;
  role: BuilderRole;
  accountId: string | null;
  buildId: string | null;
  /** The claim holding its cache (the account's volume or a warm one); null: a throw-away emptyDir. */
  claim: { name: string; volume: string | null } | null;
  /** The cache's size: GC keeps the cache within it. */
  volumeSizeGiB: number;
  now: number;
  /** A builder started ahead of a build: when it stops if no build takes it (ms since the epoch). */
  prewarmExpiresAt?: number;
}

export function builderPodName(builderId: string): string {
  return builderId;
}

export function builderSecretName(builderId: string): string {
  return `${builderId}-tls`;
}

export function builderLabels(i: {
  builderId: string;
  shapeName: string;
  role: BuilderRole;
  accountId: string | null;
  buildId: string | null;
  volume: string | null;
}): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGER,
    [LABELS.component]: "builder",
    [LABELS.builder]: i.builderId,
    [LABELS.shape]: i.shapeName,
    [LABELS.role]: i.role,
    ...(i.accountId ? { [LABELS.account]: i.accountId } : {}),
    ...(i.buildId ? { [LABELS.build]: i.buildId } : {}),
    ...(i.volume ? { [LABELS.volume]: i.volume } : {}),
  };
}

/**
 * A builder: buildkitd in a microVM, listening with mTLS on the pod network. It gets no
 * service-account token and no cluster DNS (it has no business with the cluster), and the exact
 * resources of its shape (Guaranteed QoS, so the VM is sized to them).
 */
export function builderPod(s: FleetSettings, i: BuilderPodInput): V1Pod {
  const block = i.claim !== null && s.volumeMode === "Block";
  const cpu = String(i.shape.cpu);
  const memory = `${i.shape.memoryGiB}Gi`;
  const args = buildkitdArgs(`${SECRET_PATH}/${BUILDKITD_CONFIG_FILE}`);
  const cacheVolume: V1Volume = i.claim
    ? { name: "cache", persistentVolumeClaim: { claimName: i.claim.name } }
    : { name: "cache", emptyDir: { sizeLimit: `${i.volumeSizeGiB}Gi` } };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: builderPodName(i.builderId),
      namespace: s.namespace,
      labels: builderLabels({ ...i, volume: i.claim?.volume ?? null }),
      annotations: {
        [ANNOTATIONS.volumeSizeGiB]: String(i.volumeSizeGiB),
        ...(i.role === "serving"
          ? { [ANNOTATIONS.assignedAt]: String(i.now), [ANNOTATIONS.placedAs]: "cold" }
          : {}),
        ...(i.prewarmExpiresAt !== undefined
          ? {
              ...(i.role === "idle" ? { [ANNOTATIONS.idleSince]: String(i.now) } : {}),
              [ANNOTATIONS.prewarmedAt]: String(i.now),
              [ANNOTATIONS.prewarmExpiresAt]: String(i.prewarmExpiresAt),
            }
          : {}),
      },
    },
    spec: {
      runtimeClassName: s.runtimeClassName,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // The node's resolver, not the cluster's: the NetworkPolicy keeps builders off cluster addresses.
      dnsPolicy: "Default",
      // A builder that dies is failed, never restarted under its build: the core fails the build.
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 10,
      nodeSelector: s.nodeSelector,
      tolerations: s.tolerations,
      ...(block
        ? {
            initContainers: [
              {
                name: "format",
                image: s.formatImage ?? s.buildkitImage,
                // ext4 on first use only: a formatted volume keeps its cache.
                command: [
                  "sh",
                  "-c",
                  `blkid ${CACHE_DEVICE} >/dev/null 2>&1 || mkfs.ext4 -q -L buildkit ${CACHE_DEVICE}`,
                ],
                securityContext: { privileged: true },
                terminationMessagePolicy: "FallbackToLogsOnError",
                volumeDevices: [{ name: "cache", devicePath: CACHE_DEVICE }],
                resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu, memory } },
              },
            ],
          }
        : {}),
      containers: [
        {
          name: "buildkitd",
          image: s.buildkitImage,
          ...(block
            ? {
                // Firecracker shares no host directory: the volume reaches the guest as a device.
                command: [
                  "sh",
                  "-c",
                  `mount -t ext4 ${CACHE_DEVICE} ${CACHE_PATH} && exec buildkitd "$@"`,
                  "--",
                ],
                args,
                volumeDevices: [{ name: "cache", devicePath: CACHE_DEVICE }],
              }
            : { command: ["buildkitd"], args }),
          ports: [{ name: "buildkitd", containerPort: BUILDKIT_PORT, protocol: "TCP" }],
          // buildkitd writes no termination message: its last log lines are why it failed.
          terminationMessagePolicy: "FallbackToLogsOnError",
          // Rootful buildkitd needs it; the microVM, not the container, is the tenant boundary.
          securityContext: { privileged: true },
          resources: { requests: { cpu, memory }, limits: { cpu, memory } },
          readinessProbe: {
            tcpSocket: { port: BUILDKIT_PORT },
            periodSeconds: 1,
            failureThreshold: 3,
          },
          volumeMounts: [
            { name: "builder", mountPath: SECRET_PATH, readOnly: true },
            ...(block ? [] : [{ name: "cache", mountPath: CACHE_PATH }]),
          ],
        },
      ],
      volumes: [
        { name: "builder", secret: { secretName: builderSecretName(i.builderId), defaultMode: 0o400 } },
        cacheVolume,
      ],
    },
  };
}

/**
 * buildkitd's configuration in a builder pod: the same file the local driver writes, with the
 * paths of the pod (the Secret's files, the cache volume) and GC sized to the volume.
 */
export function builderConfig(i: { shape: Shape; volumeSizeGiB: number }): string {
  return buildkitdToml({
    root: CACHE_PATH,
    address: `tcp://0.0.0.0:${BUILDKIT_PORT}`,
    tls: { ca: `${SECRET_PATH}/ca.crt`, cert: `${SECRET_PATH}/tls.crt`, key: `${SECRET_PATH}/tls.key` },
    maxParallelism: i.shape.cpu,
    keepBytes: keepStorageBytes(i.volumeSizeGiB),
  });
}

/**
 * The builder's server certificate and key, the CA that signs the broker's client certificate, and
 * its buildkitd.toml (builderConfig).
 */
export function builderSecret(
  s: FleetSettings,
  builderId: string,
  shapeName: string,
  tls: BuilderTls,
  config: string,
): V1Secret {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: builderSecretName(builderId),
      namespace: s.namespace,
      labels: {
        [LABELS.managedBy]: MANAGER,
        [LABELS.component]: "builder",
        [LABELS.builder]: builderId,
        [LABELS.shape]: shapeName,
      },
    },
    type: "kubernetes.io/tls",
    data: {
      "tls.crt": b64(tls.certPem),
      "tls.key": b64(tls.keyPem),
      "ca.crt": b64(tls.caPem),
      [BUILDKITD_CONFIG_FILE]: b64(config),
    },
  };
}

/**
 * A cache volume: a local NVMe volume on one node, single-writer (`ReadWriteOncePod`), bound when
 * its first pod is scheduled (the StorageClass's WaitForFirstConsumer).
 */
export function cacheVolumeClaim(
  s: FleetSettings,
  i: {
    name: string;
    role: ClaimRole;
    accountId: string | null;
    volume: string | null;
    shapeName: string | null;
    sizeGiB: number;
  },
): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: i.name,
      namespace: s.namespace,
      labels: {
        [LABELS.managedBy]: MANAGER,
        [LABELS.component]: "cache-volume",
        [LABELS.role]: i.role,
        ...(i.accountId ? { [LABELS.account]: i.accountId } : {}),
        ...(i.volume ? { [LABELS.volume]: i.volume } : {}),
        ...(i.shapeName ? { [LABELS.shape]: i.shapeName } : {}),
      },
    },
    spec: {
      accessModes: ["ReadWriteOncePod"],
      storageClassName: s.storageClassName,
      volumeMode: s.volumeMode,
      resources: { requests: { storage: `${i.sizeGiB}Gi` } },
    },
  };
}

/**
 * Builders take connections only from the service's pods (the broker), and reach the internet
 * (registries, package mirrors) but nothing inside the cluster, nor the cloud metadata address.
 */
export function builderNetworkPolicy(
  s: FleetSettings,
  i: { serviceNamespace: string; brokerLabels: Record<string, string>; blockedCidrs: string[] },
): V1NetworkPolicy {
  const ipv6 = i.blockedCidrs.filter((c) => c.includes(":"));
  const ipv4 = i.blockedCidrs.filter((c) => !c.includes(":"));
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: "builders",
      namespace: s.namespace,
      labels: { [LABELS.managedBy]: MANAGER },
    },
    spec: {
      podSelector: { matchLabels: { [LABELS.component]: "builder" } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          _from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": i.serviceNamespace } },
              podSelector: { matchLabels: i.brokerLabels },
            },
          ],
          ports: [{ protocol: "TCP", port: BUILDKIT_PORT }],
        },
      ],
      egress: [
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ipv4 } }] },
        ...(ipv6.length > 0 ? [{ to: [{ ipBlock: { cidr: "::/0", except: ipv6 } }] }] : []),
      ],
    },
  };
}
