import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import type { AcquireResult, ClaimScope } from "../../service/core/ports.js";
import { redisUrl, uniqueName } from "../harness/context.js";

/** Time is an argument of the store, so the tests move it by hand instead of sleeping. */
const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const LATER = T0 + 600_000;

const slots: ClaimScope = { kind: "concurrency", accountId: "acct-1" };
const volume: ClaimScope = { kind: "volume", accountId: "acct-1", volume: "buildkit" };

let redis: Redis;

beforeAll(() => {
  redis = new Redis(redisUrl());
});

afterAll(async () => {
  await redis.quit();
});

/** A store over keys of its own, so no test sees another's claims. */
function freshStore() {
  const keys = new RedisKeys(`${uniqueName("claims")}:`);
  return { store: new RedisClaimStore(redis, keys), keys };
}

/** Acquire with the test defaults: capacity 1, the standard lease, now = T0, no waiting. */
function acquire(
  store: RedisClaimStore,
  member: string,
  opts: Partial<{ capacity: number; leaseMs: number; now: number; waitDeadline: number | null }> = {},
  scope: ClaimScope = slots,
) {
  return store.acquire(scope, member, { capacity: 1, leaseMs: LEASE, now: T0, waitDeadline: null, ...opts });
}

function fenceOf(result: AcquireResult): number {
  if (result.outcome !== "granted") throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result.fence;
}

describe("acquiring a slot", () => {
  it("grants free slots with strictly increasing fences and records each holder's lease", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a", { capacity: 3 }));
    const b = fenceOf(await acquire(store, "b", { capacity: 3, now: T0 + 1 }));
    const c = fenceOf(await acquire(store, "c", { capacity: 3, now: T0 + 2 }));
    expect(a).toBeGreaterThanOrEqual(1);
    expect(b).toBeGreaterThan(a);
    expect(c).toBeGreaterThan(b);
    expect(await store.holders(slots, T0 + 2)).toEqual(
      new Map([
        ["a", T0 + LEASE],
        ["b", T0 + 1 + LEASE],
        ["c", T0 + 2 + LEASE],
      ]),
    );
  });

  it("gives a live holder that acquires again its own fence and a longer lease, without a new fence", async () => {
    const { store } = freshStore();
    const first = fenceOf(await acquire(store, "a", { capacity: 2 }));
    const again = await acquire(store, "a", { capacity: 2, now: T0 + 10_000 });
    expect(again).toEqual({ outcome: "granted", fence: first });
    expect(await store.holders(slots, T0 + 10_000)).toEqual(new Map([["a", T0 + 10_000 + LEASE]]));
    // Acquiring again held one slot, not two, and drew no fence: the next member gets the next fence.
    expect(await acquire(store, "b", { capacity: 2, now: T0 + 10_000 })).toEqual({
      outcome: "granted",
      fence: first + 1,
    });
  });

  it("refuses a member beyond capacity as busy, with the number of live holders, when it will not wait", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a", { capacity: 2 }));
    fenceOf(await acquire(store, "b", { capacity: 2 }));
    expect(await acquire(store, "c", { capacity: 2, now: T0 + 1 })).toEqual({ outcome: "busy", holders: 2 });
    expect(await store.position(slots, "c")).toBeNull();
    expect([...(await store.holders(slots, T0 + 1)).keys()].sort()).toEqual(["a", "b"]);
  });

  it("does not count a holder whose lease ran out against capacity", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a", { capacity: 1, leaseMs: 1_000 }));
    expect(await acquire(store, "b", { now: T0 + 999 })).toEqual({ outcome: "busy", holders: 1 });
    // A lease is live while its expiry is still ahead; at the expiry itself it is over.
    expect(await acquire(store, "b", { now: T0 + 1_000 })).toMatchObject({ outcome: "granted" });
    expect([...(await store.holders(slots, T0 + 1_000)).keys()]).toEqual(["b"]);
  });

  it("keeps the scopes apart: a volume lease has its own capacity and fences", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a", { capacity: 3 }));
    const lease = fenceOf(await acquire(store, "a", {}, volume));
    expect(await acquire(store, "b", { capacity: 3 })).toMatchObject({ outcome: "granted" });
    expect(await acquire(store, "b", {}, volume)).toEqual({ outcome: "busy", holders: 1 });
    expect(await store.holders(volume, T0)).toEqual(new Map([["a", T0 + LEASE]]));
    expect(lease).toBeGreaterThanOrEqual(1);
    expect((await store.scopes()).sort((x, y) => x.kind.localeCompare(y.kind))).toEqual([slots, volume]);
  });
});

describe("waiting in the queue", () => {
  it("queues members in arrival order and reports each one's place", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a"));
    expect(await acquire(store, "b", { now: T0 + 1, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 1,
      holders: 1,
    });
    expect(await acquire(store, "c", { now: T0 + 2, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 2,
      holders: 1,
    });
    expect(await store.position(slots, "b")).toBe(1);
    expect(await store.position(slots, "c")).toBe(2);
    expect(await store.position(slots, "a")).toBeNull();
    expect(await store.position(slots, "stranger")).toBeNull();
    // Asking again while queued keeps the place rather than going to the back.
    expect(await acquire(store, "b", { now: T0 + 3, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 1,
      holders: 1,
    });
    expect(await store.position(slots, "c")).toBe(2);
  });

  it("does not let a newcomer jump ahead of live waiters when a slot frees, and serves the head first", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    await acquire(store, "b", { now: T0 + 1, waitDeadline: LATER });
    await acquire(store, "c", { now: T0 + 2, waitDeadline: LATER });
    expect(await store.release(slots, "a", { fence: a, capacity: 1, now: T0 + 10 })).toEqual({
      outcome: "released",
      waiting: ["b"],
    });

    // The slot is free, but b and c were first.
    expect(await acquire(store, "d", { now: T0 + 11 })).toEqual({ outcome: "busy", holders: 0 });
    expect(await acquire(store, "d", { now: T0 + 11, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 3,
      holders: 0,
    });
    // c is second in line: it keeps waiting while b has not taken the slot.
    expect(await acquire(store, "c", { now: T0 + 12, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 2,
      holders: 0,
    });

    const b = fenceOf(await acquire(store, "b", { now: T0 + 13, waitDeadline: LATER }));
    expect(b).toBeGreaterThan(a);
    expect(await store.position(slots, "b")).toBeNull();
    expect(await store.position(slots, "c")).toBe(1);
    expect(await store.position(slots, "d")).toBe(2);
    expect([...(await store.holders(slots, T0 + 13)).keys()]).toEqual(["b"]);
  });

  it("lets the next waiter in once the waiter ahead of it has given up waiting", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    await acquire(store, "b", { now: T0 + 1, waitDeadline: T0 + 1_000 });
    await acquire(store, "c", { now: T0 + 2, waitDeadline: LATER });
    // b's wait is over by the time the slot frees: the slot goes to c.
    expect(await store.release(slots, "a", { fence: a, capacity: 1, now: T0 + 2_000 })).toEqual({
      outcome: "released",
      waiting: ["c"],
    });
    expect(await acquire(store, "c", { now: T0 + 2_000, waitDeadline: LATER })).toMatchObject({
      outcome: "granted",
    });
  });

  it("lets a waiter leave the queue by releasing without a fence", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a"));
    await acquire(store, "b", { now: T0 + 1, waitDeadline: LATER });
    await acquire(store, "c", { now: T0 + 2, waitDeadline: LATER });
    expect(await store.release(slots, "b", { fence: null, capacity: 1, now: T0 + 3 })).toEqual({
      outcome: "released",
      waiting: [],
    });
    expect(await store.position(slots, "b")).toBeNull();
    expect(await store.position(slots, "c")).toBe(1);
    expect([...(await store.holders(slots, T0 + 3)).keys()]).toEqual(["a"]);
  });
});

describe("heartbeats", () => {
  it("extend a live holder's lease under the fence it was granted", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + 20_000 })).toBe("ok");
    expect(await store.holders(slots, T0 + 20_000)).toEqual(new Map([["a", T0 + 20_000 + LEASE]]));
    // Still alive past the original expiry, thanks to the heartbeat.
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + 40_000 })).toBe("ok");
  });

  it("say not-held for a member that never held the slot, or only waits for it", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a"));
    await acquire(store, "b", { waitDeadline: LATER });
    expect(await store.heartbeat(slots, "stranger", 1, { leaseMs: LEASE, now: T0 })).toBe("not-held");
    expect(await store.heartbeat(slots, "b", 1, { leaseMs: LEASE, now: T0 })).toBe("not-held");
  });

  it("say not-held after the holder released the slot", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    await store.release(slots, "a", { fence: a, capacity: 1, now: T0 + 1 });
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + 2 })).toBe("not-held");
    expect(await store.holders(slots, T0 + 2)).toEqual(new Map());
  });

  it("say not-held once the lease ran out, and do not bring the lease back", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + LEASE })).toBe("not-held");
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + LEASE + 1 })).toBe("not-held");
    expect(await store.holders(slots, T0 + LEASE)).toEqual(new Map());
    // The slot is free for someone else.
    expect(await acquire(store, "b", { now: T0 + LEASE + 2 })).toMatchObject({ outcome: "granted" });
  });

  it("say stale-fence when the lease was lost and the same member was granted the slot again under a newer fence", async () => {
    const { store } = freshStore();
    const old = fenceOf(await acquire(store, "a"));
    const renewed = fenceOf(await acquire(store, "a", { now: T0 + LEASE + 1 }));
    expect(renewed).toBeGreaterThan(old);
    expect(await store.heartbeat(slots, "a", old, { leaseMs: LEASE, now: T0 + LEASE + 2 })).toBe(
      "stale-fence",
    );
    // The refused heartbeat did not extend anything; the current fence still works.
    expect(await store.holders(slots, T0 + LEASE + 2)).toEqual(new Map([["a", T0 + LEASE + 1 + LEASE]]));
    expect(await store.heartbeat(slots, "a", renewed, { leaseMs: LEASE, now: T0 + LEASE + 3 })).toBe("ok");
  });
});

describe("releasing a slot", () => {
  it("hands the free slots to the live waiters in arrival order", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a", { capacity: 2 }));
    const b = fenceOf(await acquire(store, "b", { capacity: 2 }));
    for (const [i, member] of ["c", "d", "e"].entries()) {
      await acquire(store, member, { capacity: 2, now: T0 + 1 + i, waitDeadline: LATER });
    }
    expect(await store.release(slots, "a", { fence: a, capacity: 2, now: T0 + 10 })).toEqual({
      outcome: "released",
      waiting: ["c"],
    });
    // c has not taken its slot yet, so with two slots free the first two waiters may go.
    expect(await store.release(slots, "b", { fence: b, capacity: 2, now: T0 + 11 })).toEqual({
      outcome: "released",
      waiting: ["c", "d"],
    });
    expect(await acquire(store, "d", { capacity: 2, now: T0 + 12, waitDeadline: LATER })).toMatchObject({
      outcome: "granted",
    });
    expect(await acquire(store, "e", { capacity: 2, now: T0 + 12, waitDeadline: LATER })).toEqual({
      outcome: "queued",
      position: 2,
      holders: 1,
    });
  });

  it("says not-held, and changes nothing, for a member that neither holds nor waits", async () => {
    const { store } = freshStore();
    const a = fenceOf(await acquire(store, "a"));
    await acquire(store, "b", { waitDeadline: LATER });
    expect(await store.release(slots, "stranger", { fence: a, capacity: 1, now: T0 + 1 })).toEqual({
      outcome: "not-held",
      waiting: [],
    });
    expect(await store.holders(slots, T0 + 1)).toEqual(new Map([["a", T0 + LEASE]]));
    expect(await store.position(slots, "b")).toBe(1);
  });

  it("leaves the holder alone when the release carries a stale fence", async () => {
    const { store } = freshStore();
    const old = fenceOf(await acquire(store, "a"));
    const renewed = fenceOf(await acquire(store, "a", { now: T0 + LEASE + 1 }));
    await acquire(store, "b", { now: T0 + LEASE + 2, waitDeadline: LATER });
    expect(await store.release(slots, "a", { fence: old, capacity: 1, now: T0 + LEASE + 3 })).toEqual({
      outcome: "stale-fence",
      waiting: [],
    });
    expect(await store.holders(slots, T0 + LEASE + 3)).toEqual(new Map([["a", T0 + LEASE + 1 + LEASE]]));
    expect(await store.heartbeat(slots, "a", renewed, { leaseMs: LEASE, now: T0 + LEASE + 4 })).toBe("ok");
    expect(await store.release(slots, "a", { fence: renewed, capacity: 1, now: T0 + LEASE + 5 })).toEqual({
      outcome: "released",
      waiting: ["b"],
    });
  });
});

describe("reclaiming", () => {
  it("drops holders whose lease ran out and waiters whose wait is over, reports them, and keeps the rest", async () => {
    const { store, keys } = freshStore();
    const a = fenceOf(await acquire(store, "a", { capacity: 2, leaseMs: 1_000 }));
    const b = fenceOf(await acquire(store, "b", { capacity: 2, leaseMs: 60_000 }));
    await acquire(store, "c", { capacity: 2, now: T0 + 1, waitDeadline: T0 + 500 });
    await acquire(store, "d", { capacity: 2, now: T0 + 2, waitDeadline: T0 + 60_000 });

    expect(await store.reclaim(slots, T0 + 1_000)).toEqual({ holders: ["a"], waiters: ["c"] });
    expect(await store.holders(slots, T0 + 1_000)).toEqual(new Map([["b", T0 + 60_000]]));
    expect(await store.position(slots, "c")).toBeNull();
    expect(await store.position(slots, "d")).toBe(1);
    expect(await redis.hgetall(keys.claim(slots).fences)).toEqual({ b: String(b) });
    expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + 1_001 })).toBe("not-held");
    expect(await store.scopes()).toEqual([slots]);

    // Nothing more to drop.
    expect(await store.reclaim(slots, T0 + 1_000)).toEqual({ holders: [], waiters: [] });
  });

  it("forgets the scope once nobody holds or waits", async () => {
    const { store } = freshStore();
    fenceOf(await acquire(store, "a", { capacity: 1 }));
    await acquire(store, "b", { capacity: 1, waitDeadline: T0 + 5_000 });
    fenceOf(await acquire(store, "a", {}, volume));
    expect(await store.scopes()).toHaveLength(2);

    expect(await store.reclaim(slots, T0 + LEASE)).toEqual({ holders: ["a"], waiters: ["b"] });
    expect(await store.scopes()).toEqual([volume]);
    expect(await store.reclaim(volume, T0 + LEASE)).toEqual({ holders: ["a"], waiters: [] });
    expect(await store.scopes()).toEqual([]);
  });

  it("never hands out a fence again, even after the scope was emptied and forgotten", async () => {
    const { store, keys } = freshStore();
    const first = fenceOf(await acquire(store, "a"));
    expect(await store.reclaim(slots, T0 + LEASE)).toEqual({ holders: ["a"], waiters: [] });
    expect(await store.scopes()).toEqual([]);
    expect(await redis.get(keys.claim(slots).counter)).toBe(String(first));

    const second = fenceOf(await acquire(store, "a", { now: T0 + LEASE + 1 }));
    expect(second).toBeGreaterThan(first);
    // The old fence stays refused for the member that now holds under the new one.
    expect(await store.heartbeat(slots, "a", first, { leaseMs: LEASE, now: T0 + LEASE + 2 })).toBe(
      "stale-fence",
    );
  });
});
