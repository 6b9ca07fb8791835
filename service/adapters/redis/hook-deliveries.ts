import type { HookDeliveryLog } from "../../core/ports.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";

/**
 * The delivery ids hook installations received, one key each with SET NX PX: of two copies of a
 * delivery racing on any replicas, one is recorded and the other refused.
 */
export class RedisHookDeliveries implements HookDeliveryLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async record(installationId: string, deliveryId: string, ttlMs: number): Promise<boolean> {
    const set = await this.redis.set(
      this.keys.hookDelivery(installationId, deliveryId),
      "1",
      "PX",
      ttlMs,
      "NX",
    );
    return set === "OK";
  }

  async forget(installationId: string, deliveryId: string): Promise<void> {
    await this.redis.del(this.keys.hookDelivery(installationId, deliveryId));
  }
}
