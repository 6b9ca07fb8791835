import { randomBytes } from "node:crypto";
import type { Account } from "./accounts.js";
import type { AccountCredential, Clock, CredentialStore, TrustStore } from "./ports.js";
import { hashToken } from "./tokens.js";

/** Exchanged credentials look like `rbc_<43 base64url chars>`: the prefix tells them from agent tokens. */
export const CREDENTIAL_PREFIX = "rbc_";
const CREDENTIAL_SHAPE = /^rbc_[A-Za-z0-9_-]{43}$/;
/** No credential outlives an hour, whatever the configuration says. */
export const MAX_CREDENTIAL_TTL_MS = 3_600_000;

export function looksLikeCredential(token: string): boolean {
  return CREDENTIAL_SHAPE.test(token);
}

/** A credential as the exchange and the refresh hand it out: what the API answers with. */
export interface IssuedCredential {
  credential: string;
  expiresAt: number;
  expiresInSeconds: number;
  /** After this, the credential cannot be renewed (its run's first exchange plus the build deadline). */
  renewableUntil: number;
  account: { id: string; handle: string };
  relationshipId: string;
  scope: {
    issuer: string;
    ownerId: string;
    repositoryId: string | null;
    repository: string | null;
    ref: string | null;
    workflow: string | null;
    run: string | null;
  };
  cache: { write: boolean; reason: string };
}

/** Stores `record` under a new random secret's hash until `record.expiresAt`; the secret is returned once. */
export async function issueCredential(
  credentials: CredentialStore,
  record: AccountCredential,
  now: number,
  renewableUntil: number,
  account: { id: string; handle: string },
): Promise<IssuedCredential> {
  const credential = CREDENTIAL_PREFIX + randomBytes(32).toString("base64url");
  const ttl = record.expiresAt - now;
  await credentials.put(hashToken(credential), record, ttl);
  return {
    credential,
    expiresAt: record.expiresAt,
    expiresInSeconds: ttl / 1000,
    renewableUntil,
    account: { id: account.id, handle: account.handle },
    relationshipId: record.relationshipId,
    scope: {
      issuer: record.issuer,
      ownerId: record.ownerId,
      repositoryId: record.repositoryId,
      repository: record.repository,
      ref: record.ref,
      workflow: record.workflow,
      run: record.run,
    },
    cache: { write: record.cacheWrite, reason: record.cacheReason },
  };
}

/**
 * A credential's record and account while it is good: known, unexpired, and its trust relationship
 * still there. Removing the relationship ends its credentials at once: the account is read through it.
 */
export async function liveCredential(
  deps: { credentials: CredentialStore; trust: TrustStore; clock: Clock },
  hash: Buffer,
): Promise<{ record: AccountCredential; account: Account } | null> {
  const record = await deps.credentials.get(hash);
  if (!record || record.expiresAt <= deps.clock.now()) return null;
  const account = await deps.trust.accountOf(record.relationshipId);
  if (!account || account.id !== record.accountId) return null;
  // One exchanged before credentials were confined to their run has no key: it gets no rights at
  // all (never the account's), and the client exchanges a fresh token on the 401.
  if (typeof record.runKey !== "string") return null;
  return { record, account };
}
