import { type Cluster, Redis } from "ioredis";

/**
 * What the Redis adapters run on: one server, or a Redis Cluster (every script's keys share one
 * slot; keys.ts says how). The service itself connects to one server (createRedis).
 */
export type RedisClient = Redis | Cluster;

/**
 * The one Redis client factory. Commands wait through a reconnect (Redis restarting with AOF on
 * loses nothing) rather than failing the request at once.
 */
export function createRedis(url: string, onError: (err: Error) => void): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 20,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  redis.on("error", onError);
  return redis;
}
