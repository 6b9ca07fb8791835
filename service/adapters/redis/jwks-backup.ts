import type { RedisClient } from "./client.js";
import type { KeySetBackup } from "../oidc/jwks.js";
import type { RedisKeys } from "./keys.js";

/** A day is long past any issuer's key rotation overlap; older copies are not worth trusting. */
const KEEP_MS = 24 * 3_600_000;

/** The last good JWKS of each issuer, shared by the replicas. */
export class RedisKeySetBackup implements KeySetBackup {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async save(issuer: string, jwks: string): Promise<void> {
    await this.redis.set(this.keys.jwks(issuer), jwks, "PX", KEEP_MS);
  }

  load(issuer: string): Promise<string | null> {
    return this.redis.get(this.keys.jwks(issuer));
  }
}
