import type { AcquireResult, ClaimScope, ClaimStore, ReleaseResult } from "../../core/ports.js";
import type { RedisClient } from "./client.js";
import { parseScopeName, type RedisKeys, scopeName } from "./keys.js";
import { defineScripts } from "./scripts.js";

/** The commands `defineScripts` adds, one per Lua file. */
interface ClaimCommands {
  acquire(...args: Array<string | number>): Promise<number[]>;
  heartbeat(...args: Array<string | number>): Promise<number>;
  release(...args: Array<string | number>): Promise<[number, string[]]>;
  reclaim(...args: Array<string | number>): Promise<[string[], string[], 0 | 1]>;
}

const HEARTBEAT_OUTCOMES = { 1: "ok", [-1]: "not-held", [-2]: "stale-fence" } as const;
const RELEASE_OUTCOMES = { 1: "released", [-1]: "not-held", [-2]: "stale-fence" } as const;

/**
 * Concurrency slots and cache-volume leases as Redis semaphores (scripts/ holds the atomic parts).
 *
 * The scope index (`claimScopes`) is kept here, beside the scripts rather than in them: it names
 * scopes of every Cluster slot, and a script may touch one slot only. Sharding the index into the
 * scopes' slots would move every claim key (a rolling upgrade would see two sets of claims) or pile
 * the scopes into a few slots. The index only tells the reconciler where to collect expired holders
 * and lapsed waiters (which no grant counts) and where to look for waiters without a build, so a
 * scope missing from it for a while costs memory, or such a waiter stands in line until its own
 * deadline; it never grants a slot twice. It stays complete by order: `acquire` adds the scope
 * after its script has written, and `reclaim` checks again after removing it (see there). A
 * process that dies between a script and its index write leaves the scope out until the scope's
 * next acquire adds it again.
 */
export class RedisClaimStore implements ClaimStore {
  private readonly redis: RedisClient & ClaimCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {
    defineScripts(redis);
    this.redis = redis as RedisClient & ClaimCommands;
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
      member,
      opts.capacity,
      opts.now,
      opts.leaseMs,
      opts.waitDeadline ?? 0,
    );
    // Added after the script, never beside it: see reclaim for why the order matters.
    if (code === 1 || code === 2) await this.redis.sadd(this.keys.claimScopes, scopeName(scope));
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
    const [holders, waiters, emptied] = await this.redis.reclaim(k.holders, k.queue, k.waits, k.fences, now);
    if (emptied === 1) {
      await this.redis.srem(this.keys.claimScopes, scopeName(scope));
      // An acquire may have written between the script and the removal; its own index write may
      // have come before the removal too. Looking again after the removal catches it: an acquire
      // that writes later adds the scope itself. (Empty sorted sets do not exist in Redis.)
      if ((await this.redis.exists(k.holders, k.queue)) > 0) {
        await this.redis.sadd(this.keys.claimScopes, scopeName(scope));
      }
    }
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
