import {
  issueCredential,
  type IssuedCredential,
  liveCredential,
  MAX_CREDENTIAL_TTL_MS,
} from "./account-credentials.js";
import type { AccountCredential, Clock, CredentialStore, SignInProof, TrustStore } from "./ports.js";
import { Problem } from "./problems.js";

export interface CredentialRefreshDeps {
  credentials: CredentialStore;
  trust: TrustStore;
  clock: Clock;
  credentialTtlMs: number;
  buildDeadlineMs: number;
}

/** The last moment a line of credentials may be renewed: a build deadline after its first exchange. */
export function renewableUntil(record: Pick<AccountCredential, "firstExchangeAt">, buildDeadlineMs: number) {
  return record.firstExchangeAt + buildDeadlineMs;
}

/**
 * A new credential for a live one, with exactly its scope (account, relationship, run, cache
 * policy, first exchange): GitLab's and CircleCI's identity tokens are good for one exchange, so a
 * build longer than a credential's hour lives on renewals. The old credential is left alone: it
 * stays good until its own expiry (a job's heartbeat process and its finish step may hold it at
 * the same time). Renewal ends with the trust relationship (the credential no longer
 * authenticates) and a build deadline after the first exchange, and no renewal outlives that.
 */
export async function refreshCredential(
  deps: CredentialRefreshDeps,
  proof: SignInProof,
): Promise<IssuedCredential> {
  if (proof.kind === "agent") {
    throw new Problem(
      "refresh-not-allowed",
      "Agent tokens do not expire, so there is nothing to renew: keep sending the same agent token. Only account credentials (rbc_…) from the OIDC exchange are renewed.",
      { reason: "agent-token" },
    );
  }
  const live = await liveCredential(deps, Buffer.from(proof.hash, "hex"));
  if (!live) {
    throw new Problem(
      "unauthorized",
      "The account credential is expired, mistyped or no longer trusted, and only a live credential can be renewed. Exchange a fresh OIDC token at POST /api/v1/auth/oidc.",
    );
  }
  const { record, account } = live;
  const now = deps.clock.now();
  // Exchanged before renewal existed, it says not when its line began: it is not renewed.
  if (typeof record.firstExchangeAt !== "number") {
    throw new Problem(
      "refresh-not-allowed",
      "This credential was exchanged before the service could renew credentials. Exchange a fresh identity token from the CI at POST /api/v1/auth/oidc.",
      { reason: "not-renewable" },
    );
  }
  const until = renewableUntil(record, deps.buildDeadlineMs);
  if (now >= until) {
    throw new Problem(
      "refresh-not-allowed",
      `This credential's run began more than the build deadline (${deps.buildDeadlineMs / 1000} s) ago, so it can no longer be renewed: no build of the run may still be running. Exchange a fresh identity token from the CI at POST /api/v1/auth/oidc.`,
      { reason: "deadline-passed", renewableUntil: new Date(until).toISOString() },
    );
  }
  const ttl = Math.min(deps.credentialTtlMs, MAX_CREDENTIAL_TTL_MS);
  // Everything but the expiry is carried as it was: a renewal widens nothing.
  const renewed: AccountCredential = { ...record, expiresAt: Math.min(now + ttl, until) };
  return issueCredential(deps.credentials, renewed, now, until, account);
}
