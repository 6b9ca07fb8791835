import type { V1Node, V1PersistentVolume } from "@kubernetes/client-node";
import { type BuilderPodView, viewBuilderPod } from "./builder-pod.js";
import { type CacheClaimView, viewCacheClaim } from "./cache-claim.js";
import type { MaintenanceContext } from "./maintenance-context.js";

const HOSTNAME = "kubernetes.io/hostname";

/** The fleet as one pass sees it: read once at its start, so every pass decides on the same view. */
export interface FleetSnapshot {
  now: number;
  builders: BuilderPodView[];
  claims: CacheClaimView[];
  /** Claim name → the builder pods that mount it. */
  users: Map<string, BuilderPodView[]>;
  nodes: V1Node[];
  /** namespace/claim → the node its local volume lives on (from the PV's node affinity). */
  claimNodes: Map<string, string>;
  /** account/volume of every volume the service knows. */
  known: Set<string>;
}

export async function readFleet(c: MaintenanceContext, now: number): Promise<FleetSnapshot> {
  const [nodes, volumes] = await Promise.all([c.writer.nodes(), c.writer.persistentVolumes()]);
  const builders = c.pods.map(viewBuilderPod);
  return {
    now,
    builders,
    claims: c.claims.map(viewCacheClaim),
    users: claimUsers(builders),
    nodes,
    claimNodes: claimNodes(volumes),
    known: new Set(c.live.map((v) => `${v.accountId}/${v.name}`)),
  };
}

export function usersOf(fleet: FleetSnapshot, claim: string): BuilderPodView[] {
  return fleet.users.get(claim) ?? [];
}

export function nodeOf(fleet: FleetSnapshot, claim: CacheClaimView): string | undefined {
  return fleet.claimNodes.get(`${claim.namespace}/${claim.name}`);
}

/** The service no longer knows the volume the claim holds (reset, evicted, account gone). */
export function forgotten(fleet: FleetSnapshot, claim: CacheClaimView): boolean {
  return !fleet.known.has(`${claim.accountId}/${claim.volume}`);
}

function claimUsers(builders: BuilderPodView[]): Map<string, BuilderPodView[]> {
  const users = new Map<string, BuilderPodView[]>();
  for (const b of builders) {
    if (b.cacheClaim) users.set(b.cacheClaim, [...(users.get(b.cacheClaim) ?? []), b]);
  }
  return users;
}

function claimNodes(volumes: V1PersistentVolume[]): Map<string, string> {
  const nodes = new Map<string, string>();
  for (const pv of volumes) {
    const ref = pv.spec?.claimRef;
    const node = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms
      ?.flatMap((t) => t.matchExpressions ?? [])
      .find((e) => e.key === HOSTNAME && e.operator === "In")?.values?.[0];
    if (ref?.name && node) nodes.set(`${ref.namespace}/${ref.name}`, node);
  }
  return nodes;
}
