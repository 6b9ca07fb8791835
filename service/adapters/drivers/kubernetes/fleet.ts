import type { KubernetesConfig } from "../../../config.js";
import type { ShapeCatalog } from "../../../core/catalog.js";
import type { BuilderCredentials, Clock, DriverEvents } from "../../../core/ports.js";
import { type Cluster, connectCluster } from "./cluster.js";
import { KubernetesDriver } from "./driver.js";
import { LeaseElector } from "./lease-elector.js";

/** The kubernetes driver and the leader election that decides which replica keeps the fleet. */
export function kubernetesFleet(o: {
  config: KubernetesConfig;
  credentials: BuilderCredentials;
  clock: Clock;
  shapes: ShapeCatalog;
  idleTtlMs: number;
  warmPool: Record<string, number>;
  warmVolumeGiB: number;
  cluster?: Cluster;
  leaseDurationMs?: number;
  creationGraceMs?: number;
  requestTimeoutMs?: number;
  onEvent?: DriverEvents;
  onPrewarmExpired?: (accountId: string, seconds: number) => void;
}): { driver: KubernetesDriver; elector: LeaseElector } {
  const k = o.config;
  const cluster = o.cluster ?? connectCluster();
  const driver = new KubernetesDriver({
    cluster,
    settings: k,
    credentials: o.credentials,
    shapes: o.shapes,
    clock: o.clock,
    idleTtlMs: o.idleTtlMs,
    warmPool: o.warmPool,
    warmVolumeGiB: o.warmVolumeGiB,
    serviceNamespace: k.serviceNamespace,
    brokerLabels: k.brokerLabels,
    blockedCidrs: k.blockedCidrs,
    nodeGraceMs: k.nodeGraceMs,
    creationGraceMs: o.creationGraceMs ?? 60_000,
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    ...(o.onPrewarmExpired ? { onPrewarmExpired: o.onPrewarmExpired } : {}),
  });
  const elector = new LeaseElector({
    cluster,
    namespace: k.serviceNamespace,
    name: k.leaseName,
    identity: k.identity,
    clock: o.clock,
    ...(o.leaseDurationMs ? { leaseDurationMs: o.leaseDurationMs } : {}),
  });
  return { driver, elector };
}
