import type { V1Node } from "@kubernetes/client-node";
import { nodeLost } from "../../../core/fleet-policy.js";
import type { FleetReport } from "../../../core/ports.js";
import { type FleetSnapshot, nodeOf, usersOf } from "./fleet-snapshot.js";
import type { MaintenanceContext } from "./maintenance-context.js";

/**
 * Volumes on a node that is gone, or NotReady past the grace period, are given up: their data
 * went with the node. Returns the accounts' volumes lost (the service tells each account at its
 * next build) and the claims removed (later passes leave them and their pods alone).
 */
export async function giveUpLostVolumes(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
): Promise<{ lost: FleetReport["lost"]; gone: Set<string> }> {
  const { writer } = c;
  const holding = [...fleet.claimNodes.values()];
  const lostNodes = findLostNodes(fleet.nodes, holding, c.missingSince, fleet.now, c.options.nodeGraceMs);
  const lost: FleetReport["lost"] = [];
  const gone = new Set<string>();
  for (const claim of fleet.claims) {
    const node = nodeOf(fleet, claim);
    if (!node || !lostNodes.has(node)) continue;
    // The pods on it cannot stop cleanly, so they are removed at once.
    for (const b of usersOf(fleet, claim.name)) await writer.deleteBuilder(b.name, { force: true });
    await writer.deleteClaim(claim.name);
    if (claim.boundTo) await writer.deleteVolume(claim.boundTo);
    gone.add(claim.name);
    if (claim.role === "account" && claim.accountId && claim.volume) {
      lost.push({ accountId: claim.accountId, name: claim.volume, reason: `node gone (${node})` });
    }
  }
  return { lost, gone };
}

/** The nodes, of those holding volumes, that are lost; `missingSince` remembers when each vanished. */
function findLostNodes(
  nodes: V1Node[],
  holding: string[],
  missingSince: Map<string, number>,
  now: number,
  graceMs: number,
): Set<string> {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  const lost = new Set<string>();
  for (const name of new Set(holding)) {
    const node = byName.get(name);
    if (node) missingSince.delete(name);
    else if (!missingSince.has(name)) missingSince.set(name, now);
    const ready = node?.status?.conditions?.find((c) => c.type === "Ready");
    const health = {
      exists: node !== undefined,
      ready: ready?.status === "True",
      downSince: node
        ? ready?.lastTransitionTime
          ? new Date(ready.lastTransitionTime).getTime()
          : null
        : (missingSince.get(name) ?? now),
    };
    if (nodeLost(health, now, graceMs)) lost.add(name);
  }
  return lost;
}
