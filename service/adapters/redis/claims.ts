import type { Redis } from "ioredis";
import type { AcquireResult, ClaimScope, ClaimStore, ReleaseResult } from "../../core/ports.js";
import { parseScopeName, type RedisKeys, scopeName } from "./keys.js";
import { defineScripts } from "./scripts.js";

/** The commands `defineScripts` adds, one per Lua file. */
interface ClaimCommands {
  acquire(...args: Array<string | number>): Promise<number[]>;
  heartbeat(...args: Array<string | number>): Promise<number>;
  release(...args: Array<string | number>): Promise<[number, string[]]>;
  reclaim(...args: Array<string | number>): Promise<[string[], string[]]>;
}

const HEARTBEAT_OUTCOMES = { 1: "ok", [-1]: "not-held", [-2]: "stale-fence" } as const;
const RELEASE_OUTCOMES = { 1: "released", [-1]: "not-held", [-2]: "stale-fence" } as const;

/** Concurrency slots and cache-volume leases as Redis semaphores (scripts/ holds the atomic parts). */
export class RedisClaimStore implements ClaimStore {
  private readonly redis: Redis & ClaimCommands;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    defineScripts(redis);
    this.redis = redis as Redis & ClaimCommands;
  }

  async acquire(
    scope: ClaimScope,
    member: string,
    opts: { capacity: number; leaseMs: number; now: number; waitDeadline: number | null },
  ): Promise<AcquireResult> {
    const k = this.keys.claim(scope);
    const [code, a, b] = await this.redis.acquire(
      k.holders,
      k.queue,
      k.waits,
      k.fences,
      k.counter,
      this.keys.claimScopes,
      member,
      opts.capacity,
      opts.now,
      opts.leaseMs,
      opts.waitDeadline ?? 0,
      scopeName(scope),
    );
    if (code === 1) return { outcome: "granted", fence: a! };
    if (code === 2) return { outcome: "queued", position: a!, holders: b! };
    return { outcome: "busy", holders: a! };
  }

  async heartbeat(scope: ClaimScope, member: string, fence: number, opts: { leaseMs: number; now: number }) {
    const k = this.keys.claim(scope);
    const code = await this.redis.heartbeat(k.holders, k.fences, member, fence, opts.now, opts.leaseMs);
    return HEARTBEAT_OUTCOMES[code as keyof typeof HEARTBEAT_OUTCOMES];
  }

  async release(
    scope: ClaimScope,
    member: string,
    opts: { fence: number | null; capacity: number; now: number },
  ): Promise<ReleaseResult> {
    const k = this.keys.claim(scope);
    const [code, waiting] = await this.redis.release(
      k.holders,
      k.queue,
      k.waits,
      k.fences,
      member,
      opts.fence ?? "",
      opts.capacity,
      opts.now,
    );
    return { outcome: RELEASE_OUTCOMES[code as keyof typeof RELEASE_OUTCOMES], waiting };
  }

  async reclaim(scope: ClaimScope, now: number) {
    const k = this.keys.claim(scope);
    const [holders, waiters] = await this.redis.reclaim(
      k.holders,
      k.queue,
      k.waits,
      k.fences,
      this.keys.claimScopes,
      now,
      scopeName(scope),
    );
    return { holders, waiters };
  }

  async holders(scope: ClaimScope, now: number): Promise<Map<string, number>> {
    const flat = await this.redis.zrangebyscore(
      this.keys.claim(scope).holders,
      `(${now}`,
      "+inf",
      "WITHSCORES",
    );
    const holders = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) holders.set(flat[i]!, Number(flat[i + 1]));
    return holders;
  }

  async position(scope: ClaimScope, member: string): Promise<number | null> {
    const rank = await this.redis.zrank(this.keys.claim(scope).queue, member);
    return rank === null ? null : rank + 1;
  }

  async waiters(scope: ClaimScope): Promise<string[]> {
    return this.redis.zrange(this.keys.claim(scope).queue, 0, -1);
  }

  async scopes(): Promise<ClaimScope[]> {
    const names = await this.redis.smembers(this.keys.claimScopes);
    return names.map(parseScopeName).filter((s): s is ClaimScope => s !== null);
  }
}
