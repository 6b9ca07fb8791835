import { createHash } from "node:crypto";
import type { RedisClient } from "./client.js";
import type { AccountCredential, CredentialStore } from "../../core/ports.js";
import type { RedisKeys } from "./keys.js";

/** Exchanged credentials under their hash, and the replay set of used token ids; both expire on their own. */
export class RedisCredentialStore implements CredentialStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async put(hash: Buffer, credential: AccountCredential, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.credential(hash.toString("hex")), JSON.stringify(credential), "PX", ttlMs);
  }

  async get(hash: Buffer): Promise<AccountCredential | null> {
    const json = await this.redis.get(this.keys.credential(hash.toString("hex")));
    return json === null ? null : (JSON.parse(json) as AccountCredential);
  }

  async markUsed(issuer: string, jti: string, ttlMs: number): Promise<boolean> {
    const id = createHash("sha256").update(issuer).update("\0").update(jti).digest("hex");
    return (await this.redis.set(this.keys.usedTokenId(id), "1", "PX", Math.ceil(ttlMs), "NX")) === "OK";
  }
}
