import type { FleetReport } from "../../../core/ports.js";
import { readFleet } from "./fleet-snapshot.js";
import type { MaintenanceContext } from "./maintenance-context.js";
import { giveUpLostVolumes } from "./node-loss.js";
import { builderNetworkPolicy } from "./objects.js";
import { removeOrphanClaims, removeOrphanSecrets } from "./orphans.js";
import { placedVolumes } from "./placed-volumes.js";
import { finishAdoptions, reapPoolBuilders, refillWarmPool } from "./pool-upkeep.js";

/**
 * One leader pass over the fleet. Level-triggered: it compares what is in the cluster with what
 * should be and closes the gap, so a pass that fails half-way is finished by the next one. The
 * passes run in this order because each leaves alone what an earlier one removed.
 */
export async function maintainFleet(c: MaintenanceContext): Promise<FleetReport> {
  // Read first: what the caches hold is as of the call, and "old enough" counts from then.
  const now = c.options.clock.now();
  await keepNetworkPolicy(c);
  const fleet = await readFleet(c, now);
  const { lost, gone } = await giveUpLostVolumes(c, fleet);
  const alive = await reapPoolBuilders(c, fleet, gone);
  await finishAdoptions(c, fleet, alive);
  await refillWarmPool(c, fleet, alive);
  await removeOrphanClaims(c, fleet, gone);
  const placed = placedVolumes(c, fleet, gone);
  await removeOrphanSecrets(c, fleet);
  return { lost, placed };
}

/** The builders' NetworkPolicy, put back as configured if it is missing or was edited. */
function keepNetworkPolicy(c: MaintenanceContext): Promise<void> {
  const o = c.options;
  return c.writer.ensureNetworkPolicy(
    builderNetworkPolicy(o.settings, {
      serviceNamespace: o.serviceNamespace,
      brokerLabels: o.brokerLabels,
      blockedCidrs: o.blockedCidrs,
    }),
  );
}
