import type { CacheClaimView } from "./cache-claim.js";
import { type FleetSnapshot, forgotten, usersOf } from "./fleet-snapshot.js";
import { LABELS } from "./labels.js";
import type { MaintenanceContext } from "./maintenance-context.js";
import { created } from "./pod-status.js";

/**
 * Claims nothing should keep: a warm builder's volume whose builder is gone, and an account's
 * volume the service forgot (reset, evicted, account gone), whose data nothing may keep. A claim
 * younger than the creation grace may belong to a builder being created now, and stays.
 */
export async function removeOrphanClaims(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  gone: Set<string>,
): Promise<void> {
  const inUse = new Set(fleet.builders.flatMap((b) => b.cacheClaim ?? []));
  for (const claim of fleet.claims) {
    if (gone.has(claim.name) || claim.deleting || young(c, fleet, claim)) continue;
    if (claim.role === "warm" && !inUse.has(claim.name)) {
      await c.writer.deleteClaim(claim.name);
    } else if (claim.role === "account" && forgotten(fleet, claim)) {
      // A serving builder keeps it until its build ends; the claim goes after it.
      const users = usersOf(fleet, claim.name);
      for (const b of users) if (b.role !== "serving") await c.writer.deleteBuilder(b.name, { seen: b.pod });
      if (!users.some((b) => b.role === "serving")) await c.writer.deleteClaim(claim.name);
    }
  }
}

/** Secrets of builders that are gone (a create cut short, a pod deleted by hand). */
export async function removeOrphanSecrets(c: MaintenanceContext, fleet: FleetSnapshot): Promise<void> {
  const builders = new Set(fleet.builders.map((b) => b.name));
  for (const secret of await c.writer.secrets()) {
    const builder = secret.metadata?.labels?.[LABELS.builder];
    if (builder && !builders.has(builder) && fleet.now - created(secret) >= c.options.creationGraceMs) {
      await c.writer.deleteSecret(secret.metadata!.name!);
    }
  }
}

/** An account's volume claim the service no longer knows, and old enough to be no new one's. */
export function forgottenAccountClaim(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  claim: CacheClaimView,
): boolean {
  return claim.role === "account" && !young(c, fleet, claim) && forgotten(fleet, claim);
}

function young(c: MaintenanceContext, fleet: FleetSnapshot, claim: CacheClaimView): boolean {
  return fleet.now - created(claim.claim) < c.options.creationGraceMs;
}
