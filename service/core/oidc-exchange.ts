import type { Principal } from "./accounts.js";
import {
  CREDENTIAL_PREFIX,
  issueCredential,
  type IssuedCredential,
  liveCredential,
  looksLikeCredential,
  MAX_CREDENTIAL_TTL_MS,
} from "./account-credentials.js";
import { ciIdentity, type CiIdentity, runKey } from "./ci-identity.js";
import { refreshCredential, renewableUntil } from "./credential-refresh.js";
import type {
  AccountCredential,
  Clock,
  CredentialStore,
  IdentityVerifier,
  SignInProof,
  TrustStore,
} from "./ports.js";
import { Problem } from "./problems.js";
import { hashToken } from "./tokens.js";
import { matchTrust, mismatch, type TrustRelationship } from "./trust.js";

export { CREDENTIAL_PREFIX, looksLikeCredential, MAX_CREDENTIAL_TTL_MS };
/** How long this process trusts its copy of an owner's relationships (see invalidate()). */
const TRUST_CACHE_MS = 5_000;
/** A token id is remembered past the token's expiry by at least the clock leeway. */
const LEEWAY_MS = 30_000;

export interface Exchanged extends IssuedCredential {
  relationship: TrustRelationship;
  identity: CiIdentity;
}

export interface OidcExchangeDeps {
  verifier: IdentityVerifier;
  trust: TrustStore;
  credentials: CredentialStore;
  clock: Clock;
  credentialTtlMs: number;
  /** RB_BUILD_DEADLINE_SECONDS: credentials are renewed for at most this long after the first exchange. */
  buildDeadlineMs: number;
}

/** CI identity tokens in, short-lived account credentials out; and those credentials back to a principal. */
export class OidcExchange {
  private readonly owners = new Map<string, { at: number; relationships: Promise<TrustRelationship[]> }>();

  constructor(private readonly deps: OidcExchangeDeps) {}

  async exchange(token: string, accountRef?: string): Promise<Exchanged> {
    const { verifier, credentials, clock } = this.deps;
    const { issuer, claims, expiresAt } = await verifier.verify(token);
    const identity = ciIdentity(issuer, claims);
    let candidates = await this.relationshipsOf(identity.issuer, identity.ownerId);
    if (accountRef !== undefined) {
      candidates = candidates.filter((r) => r.accountId === accountRef || r.accountHandle === accountRef);
    }
    const verdict = matchTrust(identity, candidates);
    // The verdict's per-relationship reasons stay here: they describe other relationships.
    if (!verdict.ok) throw new Problem(verdict.kind, verdict.detail, { reason: verdict.kind });
    const accounts = new Set(
      candidates.filter((r) => mismatch(r, identity) === null).map((r) => r.accountId),
    );
    if (accounts.size > 1) {
      throw new Problem(
        "invalid-request",
        // Not how many, nor which: other accounts' trust is theirs to know.
        `More than one account trusts this job; name the one to act for with "account" (its handle or id).`,
        { errors: [{ path: "body.account", message: "required when several accounts trust the job" }] },
      );
    }
    const { relationship, cache } = verdict;
    const account = { id: relationship.accountId, handle: relationship.accountHandle };

    const jti = typeof claims.jti === "string" ? claims.jti : "";
    const now = clock.now();
    if (!(await credentials.markUsed(identity.issuer, jti, Math.max(1, expiresAt - now) + LEEWAY_MS))) {
      throw new Problem(
        "token-replayed",
        "This identity token was already exchanged once; request a fresh one from the CI (each token is good for one exchange).",
        { reason: "replayed" },
      );
    }
    const ttl = Math.min(this.deps.credentialTtlMs, MAX_CREDENTIAL_TTL_MS);
    const record: AccountCredential = {
      accountId: account.id,
      relationshipId: relationship.id,
      issuer: identity.issuer,
      ownerId: identity.ownerId,
      subject: identity.subject,
      repositoryId: identity.repositoryId,
      repository: identity.repository,
      ref: identity.ref,
      workflow: identity.workflow,
      run: identity.run,
      runKey: runKey(identity),
      cacheWrite: cache.write,
      cacheReason: cache.reason,
      firstExchangeAt: now,
      expiresAt: now + ttl,
    };
    const until = renewableUntil(record, this.deps.buildDeadlineMs);
    const issued = await issueCredential(credentials, record, now, until, account);
    return { ...issued, relationship, identity };
  }

  /** A new credential for the live one `proof` names, with the same scope (see refreshCredential). */
  refresh(proof: SignInProof): Promise<IssuedCredential> {
    return refreshCredential(this.deps, proof);
  }

  /** The principal an exchanged credential stands for; null when it is unknown, expired or its relationship removed. */
  async authenticate(credential: string): Promise<Principal | null> {
    if (!looksLikeCredential(credential)) return null;
    return this.authenticateHash(hashToken(credential));
  }

  /** The same, from the credential's hash (a dashboard session keeps only that). */
  async authenticateHash(hash: Buffer): Promise<Principal | null> {
    const live = await liveCredential(this.deps, hash);
    if (!live) return null;
    const { record, account } = live;
    const { repository, ref, workflow, run } = record;
    return {
      account,
      tokenId: null,
      cacheWrite: record.cacheWrite,
      ci: { repository, ref, workflow, run, runKey: record.runKey },
    };
  }

  /** Forgets cached relationships (after an admin adds or removes one on this replica). */
  invalidate(): void {
    this.owners.clear();
  }

  private relationshipsOf(issuer: string, ownerId: string): Promise<TrustRelationship[]> {
    const key = `${issuer}\0${ownerId}`;
    const now = this.deps.clock.now();
    const cached = this.owners.get(key);
    if (cached && now - cached.at < TRUST_CACHE_MS) return cached.relationships;
    const relationships = this.deps.trust.forOwner(issuer, ownerId);
    this.owners.set(key, { at: now, relationships });
    relationships.catch(() => this.owners.delete(key));
    if (this.owners.size > 10_000) this.owners.delete(this.owners.keys().next().value!);
    return relationships;
  }
}
