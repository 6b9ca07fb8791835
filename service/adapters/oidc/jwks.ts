import { importJWK, type JWK } from "jose";
import type { IssuerConfig } from "../../core/ci-identity.js";
import type { Clock } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";

export type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

export interface JwksOptions {
  /** The least time between two fetches of an issuer's keys (an unknown `kid` triggers one). */
  cooldownMs: number;
  /** Keys older than this are refreshed in the background; they keep verifying meanwhile. */
  maxAgeMs: number;
  fetchTimeoutMs: number;
}

/** Where the last good key set of each issuer is kept, for a replica that starts while the issuer is down. */
export interface KeySetBackup {
  save(issuer: string, jwks: string): Promise<void>;
  load(issuer: string): Promise<string | null>;
}

const MAX_DOCUMENT_BYTES = 256 * 1024;

/**
 * One issuer's signing keys, from its discovery document and JWKS. Keys are cached by `kid`; an
 * unknown `kid` fetches the set again (at most once per cooldown, one fetch at a time); an empty
 * or unusable set never replaces the cached one; a failed fetch leaves the cached keys verifying.
 */
export class IssuerKeys {
  private keys = new Map<string, VerificationKey>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private lastError: string | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    readonly issuer: IssuerConfig,
    private readonly clock: Clock,
    private readonly options: JwksOptions,
    private readonly backup: KeySetBackup | null,
  ) {}

  async key(kid: string): Promise<VerificationKey> {
    const now = this.clock.now();
    const cached = this.keys.get(kid);
    if (cached) {
      if (
        now - this.fetchedAt >= this.options.maxAgeMs &&
        now - this.attemptedAt >= this.options.cooldownMs
      ) {
        void this.refresh().catch(() => {});
      }
      return cached;
    }
    if (now - this.attemptedAt >= this.options.cooldownMs || this.inFlight) {
      await this.refresh().catch(() => {});
    }
    if (this.keys.size === 0) await this.restore();
    const key = this.keys.get(kid);
    if (key) return key;
    if (this.keys.size === 0 || (this.lastError !== null && this.attemptedAt > this.fetchedAt)) {
      throw new Problem(
        "unavailable",
        `The signing keys of ${this.issuer.issuer} cannot be fetched (${this.lastError ?? "not fetched yet"})` +
          (this.keys.size > 0 ? `, and none of the cached keys is "${kid}"` : "") +
          "; retry in a few seconds.",
        { issuer: this.issuer.issuer },
        Math.max(1, Math.ceil(this.options.cooldownMs / 1000)),
      );
    }
    throw new Problem(
      "invalid-token",
      `The token is signed with a key "${kid}" that ${this.issuer.issuer} does not publish (its key set was fetched ${Math.round((now - this.fetchedAt) / 1000)} s ago).`,
      { reason: "unknown-kid", kid },
    );
  }

  /** Fetches the key set now, or joins the fetch already under way. */
  refresh(): Promise<void> {
    if (!this.inFlight) {
      this.attemptedAt = this.clock.now();
      this.inFlight = this.load().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  private async load(): Promise<void> {
    try {
      const text = await this.fetchKeys();
      this.keys = await usableKeys(text);
      this.fetchedAt = this.clock.now();
      this.lastError = null;
      await this.backup?.save(this.issuer.issuer, text).catch(() => {});
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /** The last good set another replica (or an earlier run) saw, when this one has none. */
  private async restore(): Promise<void> {
    const text = await this.backup?.load(this.issuer.issuer).catch(() => null);
    if (!text) return;
    try {
      this.keys = await usableKeys(text);
    } catch {
      // a bad backup is no backup
    }
  }

  private async fetchKeys(): Promise<string> {
    const base = this.issuer.issuer.replace(/\/$/, "");
    const discovery = JSON.parse(await this.get(`${base}/.well-known/openid-configuration`)) as {
      issuer?: unknown;
      jwks_uri?: unknown;
    };
    if (discovery.issuer !== this.issuer.issuer) {
      throw new Error(`its discovery document names the issuer ${String(discovery.issuer)}`);
    }
    if (typeof discovery.jwks_uri !== "string") throw new Error("its discovery document has no jwks_uri");
    const jwksUri = new URL(discovery.jwks_uri);
    if (jwksUri.protocol !== "https:" && jwksUri.origin !== new URL(base).origin) {
      throw new Error(`its jwks_uri ${jwksUri.href} is neither https nor on the issuer's own origin`);
    }
    return this.get(jwksUri.href);
  }

  private async get(url: string): Promise<string> {
    let response: Response;
    try {
      response = await fetch(url, {
        signal: AbortSignal.timeout(this.options.fetchTimeoutMs),
        headers: { accept: "application/json" },
        redirect: "error",
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const text = await response.text();
    if (text.length > MAX_DOCUMENT_BYTES)
      throw new Error(`${url} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    return text;
  }
}

/** The RS256 signing keys of a JWKS, by kid; throws when there are none, so an empty set is never cached. */
async function usableKeys(text: string): Promise<Map<string, VerificationKey>> {
  let jwks: { keys?: unknown };
  try {
    jwks = JSON.parse(text) as { keys?: unknown };
  } catch {
    throw new Error("its JWKS is not JSON");
  }
  const keys = new Map<string, VerificationKey>();
  for (const jwk of Array.isArray(jwks.keys) ? (jwks.keys as JWK[]) : []) {
    if (jwk.kty !== "RSA" || typeof jwk.kid !== "string" || jwk.kid === "") continue;
    if ((jwk.use !== undefined && jwk.use !== "sig") || (jwk.alg !== undefined && jwk.alg !== "RS256"))
      continue;
    try {
      const { kid, kty, n, e } = jwk;
      keys.set(kid, await importJWK({ kty, n, e }, "RS256"));
    } catch {
      // a key that does not import is skipped, not fatal
    }
  }
  if (keys.size === 0) throw new Error("its JWKS has no RS256 signing keys");
  return keys;
}
