import type { ClaimScope } from "../../core/ports.js";

/**
 * Every Redis key the service uses, in one place. On Redis Cluster a script may only touch keys of
 * one slot, so all keys of a claim scope carry the scope in a hash tag (`{…}`), and each script
 * touches the keys of one scope and nothing else. Each scope then lands in a slot of its own, so
 * the claims of many accounts spread over the masters.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /**
   * The set of scopes that have holders or waiters, walked by the reconciler. It names scopes in
   * every slot, so no one slot can hold it beside them: no script touches it, and the claim store
   * keeps it from the client (claims.ts says how it stays complete).
   */
  get claimScopes(): string {
    return `${this.prefix}claims:scopes`;
  }

  /** The pub/sub channel on which a build's end is announced to every broker. */
  get buildsEnded(): string {
    return `${this.prefix}builds:ended`;
  }

  /** An exchanged account credential, by the SHA-256 (hex) of its secret; expires with it. */
  credential(hashHex: string): string {
    return `${this.prefix}oidc:credential:${hashHex}`;
  }

  /** A used OIDC token id (`jti`), by the SHA-256 (hex) of issuer and jti; kept until the token expires. */
  usedTokenId(hashHex: string): string {
    return `${this.prefix}oidc:jti:${hashHex}`;
  }

  /** A dashboard sign-in link, by the SHA-256 (hex) of its secret; taken once, or it expires. */
  dashboardLink(hashHex: string): string {
    return `${this.prefix}dashboard:link:${hashHex}`;
  }

  /** A dashboard session, by the SHA-256 (hex) of its cookie; expires with it. */
  dashboardSession(hashHex: string): string {
    return `${this.prefix}dashboard:session:${hashHex}`;
  }

  /**
   * A hook delivery an installation received, by installation and delivery id (both of a fixed,
   * checked form); kept past the CI's redelivery window to refuse replays.
   */
  hookDelivery(installationId: string, deliveryId: string): string {
    return `${this.prefix}hooks:delivery:${installationId}:${deliveryId}`;
  }

  /** The last good key set (JWKS) of an issuer, for a replica that starts while the issuer is down. */
  jwks(issuer: string): string {
    return `${this.prefix}oidc:jwks:${issuer}`;
  }

  claim(scope: ClaimScope) {
    const base = `${this.prefix}claims:{${scopeName(scope)}}`;
    return {
      holders: `${base}:holders`,
      queue: `${base}:queue`,
      waits: `${base}:waits`,
      fences: `${base}:fences`,
      counter: `${base}:fence`,
    };
  }
}

export function scopeName(scope: ClaimScope): string {
  return scope.kind === "concurrency"
    ? `concurrency:${scope.accountId}`
    : `volume:${scope.accountId}:${scope.volume}`;
}

export function parseScopeName(name: string): ClaimScope | null {
  const [kind, accountId, volume] = name.split(":");
  if (kind === "concurrency" && accountId) return { kind, accountId };
  if (kind === "volume" && accountId && volume) return { kind, accountId, volume };
  return null;
}
