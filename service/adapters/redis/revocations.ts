import type { RedisClient } from "./client.js";
import type { RevocationBus } from "../../core/ports.js";
import type { RedisKeys } from "./keys.js";

/** Build ends over Redis pub/sub: each replica's broker closes that build's connections. */
export class RedisRevocations implements RevocationBus {
  private subscriber: RedisClient | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async publish(buildId: string): Promise<void> {
    await this.redis.publish(this.keys.buildsEnded, buildId);
  }

  /** Calls `onEnded` for every build that ends, on any replica; needs a connection of its own. */
  async subscribe(onEnded: (buildId: string) => void): Promise<void> {
    this.subscriber = this.redis.duplicate();
    this.subscriber.on("error", () => {});
    this.subscriber.on("message", (_channel: string, buildId: string) => onEnded(buildId));
    await this.subscriber.subscribe(this.keys.buildsEnded);
  }

  close(): void {
    this.subscriber?.disconnect();
  }
}
