import type { RedisClient } from "./client.js";
import type { DashboardGrant, DashboardSessionStore } from "../../core/ports.js";
import type { RedisKeys } from "./keys.js";

/**
 * Dashboard sign-in links and sessions under the hash of their secret, each with its TTL. A link
 * is taken with GETDEL: of two visits racing on any replicas, one gets the grant.
 */
export class RedisDashboardSessions implements DashboardSessionStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async putLink(hash: Buffer, grant: DashboardGrant, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.dashboardLink(hash.toString("hex")), JSON.stringify(grant), "PX", ttlMs);
  }

  async takeLink(hash: Buffer): Promise<DashboardGrant | null> {
    const json = await this.redis.getdel(this.keys.dashboardLink(hash.toString("hex")));
    return json === null ? null : (JSON.parse(json) as DashboardGrant);
  }

  async putSession(hash: Buffer, grant: DashboardGrant, ttlMs: number): Promise<void> {
    await this.redis.set(
      this.keys.dashboardSession(hash.toString("hex")),
      JSON.stringify(grant),
      "PX",
      ttlMs,
    );
  }

  async getSession(hash: Buffer): Promise<DashboardGrant | null> {
    const json = await this.redis.get(this.keys.dashboardSession(hash.toString("hex")));
    return json === null ? null : (JSON.parse(json) as DashboardGrant);
  }
}
