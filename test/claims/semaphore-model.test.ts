import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { Redis } from "ioredis";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import type { AcquireResult, ClaimScope, ReleaseResult } from "../../service/core/ports.js";
import { redisUrl, uniqueName } from "../harness/context.js";

/**
 * Random sequences of acquire, heartbeat, release, time passing and reclaim, run against the real
 * store and against a plain in-memory model of a leased counting semaphore with a FIFO queue.
 * After every step the two must agree on the outcome and on who holds; live holders never exceed
 * the capacity, and every new grant carries a fence larger than any fence handed out before.
 */

const T0 = 1_700_000_000_000;
const MEMBERS = ["m0", "m1", "m2", "m3"] as const;
const scope: ClaimScope = { kind: "concurrency", accountId: "model" };

type Op =
  | { op: "acquire"; member: number; leaseMs: number; waitMs: number | null }
  | { op: "heartbeat"; member: number; fencePick: number; leaseMs: number }
  | { op: "release"; member: number; fencePick: number | null }
  | { op: "advance"; ms: number }
  | { op: "reclaim" };

const member = fc.integer({ min: 0, max: MEMBERS.length - 1 });
/** Times on a coarse grid, so that a lease or a wait often ends exactly at "now": the boundary counts. */
const ms = (max: number) => fc.integer({ min: 0, max: max / 250 }).map((n) => n * 250);
const leaseMs = ms(5_000).map((n) => n + 250);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("acquire" as const),
      member,
      leaseMs,
      waitMs: fc.option(ms(8_000), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("heartbeat" as const),
      member,
      fencePick: fc.nat(),
      leaseMs,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("release" as const),
      member,
      fencePick: fc.option(fc.nat(), { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("advance" as const), ms: ms(4_000) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reclaim" as const) }) },
);

/** What the store should do, written as plainly as possible. */
class Model {
  /** Every holder until it releases or is reclaimed, including those whose lease ran out. */
  readonly holders = new Map<string, { expiry: number; fence: number }>();
  /** Waiters in arrival order, each with the deadline of its wait. */
  readonly queue: Array<{ member: string; deadline: number }> = [];
  /** Whether scopes() lists the scope: from a grant or a queueing until a reclaim finds it empty. */
  listed = false;

  constructor(readonly capacity: number) {}

  live(now: number): string[] {
    return [...this.holders].filter(([, h]) => h.expiry > now).map(([m]) => m);
  }

  /** A grant that needs a new fence says so; the store picks the number, the test checks it. */
  acquire(
    m: string,
    leaseMs: number,
    now: number,
    deadline: number | null,
  ): AcquireResult | { outcome: "new-grant" } {
    const held = this.holders.get(m);
    if (held && held.expiry > now) {
      held.expiry = now + leaseMs;
      return { outcome: "granted", fence: held.fence };
    }
    const holders = this.live(now).length;
    const at = this.queue.findIndex((w) => w.member === m);
    const before = at === -1 ? this.queue : this.queue.slice(0, at);
    const ahead = before.filter((w) => w.deadline > now).length;
    if (holders + ahead < this.capacity) return { outcome: "new-grant" };
    if (deadline !== null && deadline > now) {
      this.listed = true;
      if (at === -1) this.queue.push({ member: m, deadline });
      else this.queue[at]!.deadline = deadline;
      return { outcome: "queued", position: ahead + 1, holders };
    }
    return { outcome: "busy", holders };
  }

  grant(m: string, fence: number, leaseMs: number, now: number): void {
    this.holders.set(m, { expiry: now + leaseMs, fence });
    this.leaveQueue(m);
    this.listed = true;
  }

  heartbeat(m: string, fence: number, leaseMs: number, now: number): "ok" | "not-held" | "stale-fence" {
    const held = this.holders.get(m);
    if (!held || held.expiry <= now) return "not-held";
    if (held.fence !== fence) return "stale-fence";
    held.expiry = now + leaseMs;
    return "ok";
  }

  release(m: string, fence: number | null, now: number): ReleaseResult {
    const leftQueue = this.leaveQueue(m);
    let outcome: ReleaseResult["outcome"] = leftQueue ? "released" : "not-held";
    const held = this.holders.get(m);
    if (held) {
      if (held.fence === fence) {
        this.holders.delete(m);
        outcome = "released";
      } else {
        outcome = "stale-fence";
      }
    }
    const free = this.capacity - this.live(now).length;
    const waiting = this.queue
      .filter((w) => w.deadline > now)
      .slice(0, Math.max(free, 0))
      .map((w) => w.member);
    return { outcome, waiting };
  }

  reclaim(now: number): { holders: string[]; waiters: string[] } {
    const holders = [...this.holders]
      .filter(([, h]) => h.expiry <= now)
      .sort(([, x], [, y]) => x.expiry - y.expiry)
      .map(([m]) => m);
    for (const m of holders) this.holders.delete(m);
    const waiters = this.queue.filter((w) => w.deadline <= now).map((w) => w.member);
    for (const m of waiters) this.leaveQueue(m);
    if (this.holders.size === 0 && this.queue.length === 0) this.listed = false;
    return { holders, waiters };
  }

  /**
   * position() is the rank among everyone still in the queue, waiters whose wait is over but who
   * were not reclaimed yet included (acquire's position counts only live waiters ahead).
   */
  position(m: string): number | null {
    const at = this.queue.findIndex((w) => w.member === m);
    return at === -1 ? null : at + 1;
  }

  private leaveQueue(m: string): boolean {
    const at = this.queue.findIndex((w) => w.member === m);
    if (at === -1) return false;
    this.queue.splice(at, 1);
    return true;
  }
}

let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl());
});

afterAll(async () => {
  await redis.quit();
});

async function run(capacity: number, ops: Op[]): Promise<void> {
  const keys = new RedisKeys(`${uniqueName("model")}:`);
  const store = new RedisClaimStore(redis, keys);
  const model = new Model(capacity);
  /** Every fence each member was ever granted, to heartbeat and release with (stale ones included). */
  const issued = new Map<string, number[]>(MEMBERS.map((m) => [m, []]));
  let highest = 0;
  let now = T0;
  const pickFence = (m: string, pick: number) => {
    const fences = issued.get(m)!;
    // Now and then a fence this member was never given.
    return fences.length === 0 || pick % 5 === 4 ? highest + 1000 : fences[pick % fences.length]!;
  };

  try {
    for (const step of ops) {
      switch (step.op) {
        case "acquire": {
          const m = MEMBERS[step.member]!;
          const deadline = step.waitMs === null ? null : now + step.waitMs;
          const expected = model.acquire(m, step.leaseMs, now, deadline);
          const actual = await store.acquire(scope, m, {
            capacity,
            leaseMs: step.leaseMs,
            now,
            waitDeadline: deadline,
          });
          if (expected.outcome === "new-grant") {
            if (actual.outcome !== "granted")
              throw new Error(`expected a grant, got ${JSON.stringify(actual)}`);
            const fence = actual.fence;
            expect(fence).toBeGreaterThan(highest);
            highest = fence;
            issued.get(m)!.push(fence);
            model.grant(m, fence, step.leaseMs, now);
          } else {
            expect(actual).toEqual(expected);
          }
          break;
        }
        case "heartbeat": {
          const m = MEMBERS[step.member]!;
          const fence = pickFence(m, step.fencePick);
          const expected = model.heartbeat(m, fence, step.leaseMs, now);
          expect(await store.heartbeat(scope, m, fence, { leaseMs: step.leaseMs, now })).toBe(expected);
          break;
        }
        case "release": {
          const m = MEMBERS[step.member]!;
          const fence = step.fencePick === null ? null : pickFence(m, step.fencePick);
          const expected = model.release(m, fence, now);
          expect(await store.release(scope, m, { fence, capacity, now })).toEqual(expected);
          break;
        }
        case "advance":
          now += step.ms;
          break;
        case "reclaim": {
          const expected = model.reclaim(now);
          const actual = await store.reclaim(scope, now);
          expect({ holders: [...actual.holders].sort(), waiters: actual.waiters }).toEqual({
            holders: [...expected.holders].sort(),
            waiters: expected.waiters,
          });
          break;
        }
      }

      // After every step: the same live holders with the same leases, never more than capacity,
      // the same queue, and the scope listed for the reconciler exactly while it may have someone.
      const live = await store.holders(scope, now);
      expect(live.size).toBeLessThanOrEqual(capacity);
      expect(new Map([...live].sort())).toEqual(
        new Map(
          model
            .live(now)
            .map((m) => [m, model.holders.get(m)!.expiry] as const)
            .sort(),
        ),
      );
      const positions = await Promise.all(MEMBERS.map((m) => store.position(scope, m)));
      expect(positions).toEqual(MEMBERS.map((m) => model.position(m)));
      expect(await store.scopes()).toEqual(model.listed ? [scope] : []);
    }
  } finally {
    const k = keys.claim(scope);
    await redis.del(k.holders, k.queue, k.waits, k.fences, k.counter, keys.claimScopes);
  }
}

describe("the Redis claim store against a model of a leased FIFO semaphore", () => {
  it("agrees with the model on every outcome and holder, keeps within capacity, and only ever raises fences", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { minLength: 5, maxLength: 40, size: "max" }),
        run,
      ),
      { numRuns: 100 },
    );
  });
});
