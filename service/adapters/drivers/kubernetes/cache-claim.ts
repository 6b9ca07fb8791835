import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { type ClaimRole, LABELS } from "./labels.js";

/** What the driver reads off a cache-volume claim, read in one place (its labels say whose it is). */
export interface CacheClaimView {
  readonly claim: V1PersistentVolumeClaim;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly role: ClaimRole | undefined;
  readonly accountId: string | undefined;
  readonly volume: string | undefined;
  /** The PersistentVolume it is bound to, once bound. */
  readonly boundTo: string | undefined;
  readonly deleting: boolean;
}

export function viewCacheClaim(claim: V1PersistentVolumeClaim): CacheClaimView {
  const labels = claim.metadata?.labels ?? {};
  return {
    claim,
    name: claim.metadata!.name!,
    namespace: claim.metadata?.namespace,
    role: labels[LABELS.role] as ClaimRole | undefined,
    accountId: labels[LABELS.account],
    volume: labels[LABELS.volume],
    boundTo: claim.spec?.volumeName || undefined,
    deleting: Boolean(claim.metadata?.deletionTimestamp),
  };
}

/** The claim that holds an account's named volume (not one being deleted). */
export function isAccountClaimOf(c: CacheClaimView, accountId: string, volume: string): boolean {
  return c.role === "account" && c.accountId === accountId && c.volume === volume && !c.deleting;
}
