import type { ShapeCatalog } from "../../../core/catalog.js";
import type { BuilderCredentials, Clock, DriverEvents } from "../../../core/ports.js";
import type { Cluster } from "./cluster.js";
import type { FleetSettings } from "./objects.js";

/** What the kubernetes driver is built with; its fleet maintenance reads the same. */
export interface KubernetesDriverOptions {
  cluster: Cluster;
  settings: FleetSettings;
  credentials: BuilderCredentials;
  shapes: ShapeCatalog;
  clock: Clock;
  idleTtlMs: number;
  warmPool: Record<string, number>;
  /** A warm builder's volume size: the smallest any plan gives, since any account may adopt it. */
  warmVolumeGiB: number;
  serviceNamespace: string;
  brokerLabels: Record<string, string>;
  blockedCidrs: string[];
  nodeGraceMs: number;
  /** A Secret or claim younger than this with no pod may belong to a builder being created now. */
  creationGraceMs: number;
  /** How long one API call may take before it is given up on and retried. */
  requestTimeoutMs?: number;
  onEvent?: DriverEvents;
  /** A pre-warmed builder stopped with no build (its TTL, or it failed): the seconds it ran for nothing. */
  onPrewarmExpired?: (accountId: string, seconds: number) => void;
}
