import type { PlacedVolume } from "../../../core/ports.js";
import { type FleetSnapshot, nodeOf, usersOf } from "./fleet-snapshot.js";
import type { MaintenanceContext } from "./maintenance-context.js";
import { forgottenAccountClaim } from "./orphans.js";

/** Where each account volume lives, how big it is and whether a build holds it: what eviction weighs. */
export function placedVolumes(
  c: MaintenanceContext,
  fleet: FleetSnapshot,
  gone: Set<string>,
): PlacedVolume[] {
  return fleet.claims
    .filter(
      (claim) =>
        claim.role === "account" &&
        !gone.has(claim.name) &&
        !claim.deleting &&
        !forgottenAccountClaim(c, fleet, claim),
    )
    .map((claim) => ({
      accountId: claim.accountId!,
      name: claim.volume!,
      node: nodeOf(fleet, claim) ?? null,
      sizeGiB: gibOf(claim.claim.spec?.resources?.requests?.storage),
      busy: usersOf(fleet, claim.name).some((b) => b.role === "serving"),
    }));
}

const UNITS: Record<string, number> = {
  Ki: 2 ** -20,
  Mi: 2 ** -10,
  Gi: 1,
  Ti: 1024,
  G: 1e9 / 2 ** 30,
  M: 1e6 / 2 ** 30,
};

/** A quantity such as "50Gi" in GiB. */
export function gibOf(quantity: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?)?$/.exec(quantity ?? "");
  if (!m) return 0;
  return Number(m[1]) * (m[2] ? (UNITS[m[2]] ?? 1) : 2 ** -30);
}
