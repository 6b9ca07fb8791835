import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { WarmRetries } from "../../../core/fleet-policy.js";
import type { Volume } from "../../../core/ledger.js";
import type { KubernetesDriverOptions } from "./options.js";
import type { ClusterWriter } from "./writer.js";

/** What one leader pass over the fleet is given: the driver's caches, its writer, its memory. */
export interface MaintenanceContext {
  options: KubernetesDriverOptions;
  writer: ClusterWriter;
  pods: readonly V1Pod[];
  claims: readonly V1PersistentVolumeClaim[];
  /** The volumes the service knows: a claim of any other is forgotten. */
  live: Volume[];
  /** When each node was first seen missing, kept across passes by the leader. */
  missingSince: Map<string, number>;
  startWarm(shapeName: string): Promise<string>;
  /** Per shape, kept across passes: warm pods that failed to start hold off the next. */
  warmRetries: WarmRetries;
  /** A warm pod failed to start; `why` in Kubernetes' and buildkitd's words. */
  warmFailed(shapeName: string, why: string, retry: { count: number; delayMs: number }): void;
}
