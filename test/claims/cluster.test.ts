import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Cluster } from "ioredis";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisCredentialStore } from "../../service/adapters/redis/credentials.js";
import { RedisKeySetBackup } from "../../service/adapters/redis/jwks-backup.js";
import { RedisKeys, scopeName } from "../../service/adapters/redis/keys.js";
import { RedisRevocations } from "../../service/adapters/redis/revocations.js";
import type { AccountCredential, AcquireResult, ClaimScope } from "../../service/core/ports.js";
import { uniqueName } from "../harness/context.js";
import { type RedisCluster, startRedisCluster } from "../harness/redis-cluster.js";
import { eventually } from "../harness/wait.js";

/**
 * The Redis adapters on a Redis Cluster of three masters, through ioredis's Cluster client. A
 * script whose keys lie in two slots fails there with CROSSSLOT, while one server runs it happily:
 * these tests are what holds keys.ts to its promise.
 */

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const LATER = T0 + 600_000;

/**
 * Twelve accounts, each with a concurrency scope and a volume scope: 24 slots, which (the names
 * being fixed) always fall on all three masters; the test checks that they do.
 */
const ACCOUNTS = Array.from({ length: 12 }, (_, i) => `acct-${i}`);
const slotsOf = (accountId: string): ClaimScope => ({ kind: "concurrency", accountId });
const volumeOf = (accountId: string): ClaimScope => ({ kind: "volume", accountId, volume: "buildkit" });
const ALL_SCOPES = ACCOUNTS.flatMap((a) => [slotsOf(a), volumeOf(a)]);

let cluster: RedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = cluster.connect();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** A store over keys of its own, so no test sees another's claims. */
function freshStore(redis: Cluster = client) {
  const keys = new RedisKeys(`${uniqueName("cluster")}:`);
  return { store: new RedisClaimStore(redis, keys), keys };
}

function acquire(
  store: RedisClaimStore,
  scope: ClaimScope,
  member: string,
  opts: Partial<{ capacity: number; leaseMs: number; now: number; waitDeadline: number | null }> = {},
) {
  return store.acquire(scope, member, { capacity: 1, leaseMs: LEASE, now: T0, waitDeadline: null, ...opts });
}

function fenceOf(result: AcquireResult): number {
  if (result.outcome !== "granted") throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result.fence;
}

const byName = (scopes: ClaimScope[]) => scopes.map(scopeName).sort();

/** How many of each master's keys start with `prefix`. */
async function keysPerMaster(prefix: string): Promise<number[]> {
  return Promise.all(client.nodes("master").map(async (node) => (await node.keys(`${prefix}*`)).length));
}

describe("claims on a Redis Cluster", () => {
  it("refuses a script whose keys lie in two slots, as the scope index in the scripts once made acquire do", async () => {
    const { keys } = freshStore();
    // Without auto-pipelining the command goes out as it is and the server judges it (with it,
    // ioredis refuses it first, saying the keys "should belong to the same slot").
    const plain = cluster.connect({ enableAutoPipelining: false });
    // The shape of the old acquire: a scope's keys and the index, which sits in another slot.
    await expect(
      plain.eval(
        "redis.call('ZADD', KEYS[1], 1, 'a'); return redis.call('SADD', KEYS[2], 'x')",
        2,
        keys.claim(slotsOf("acct-0")).holders,
        keys.claimScopes,
      ),
    ).rejects.toThrow(/CROSSSLOT/);
  });

  it("grants slots, queues in arrival order and hands a released slot to the first waiter, in scopes on every master", async () => {
    const { store, keys } = freshStore();
    await Promise.all(
      ACCOUNTS.map(async (account) => {
        const slots = slotsOf(account);
        const a = fenceOf(await acquire(store, slots, "a", { capacity: 2 }));
        const b = fenceOf(await acquire(store, slots, "b", { capacity: 2, now: T0 + 1 }));
        expect(b).toBeGreaterThan(a);
        expect(await acquire(store, slots, "c", { capacity: 2, now: T0 + 2, waitDeadline: LATER })).toEqual({
          outcome: "queued",
          position: 1,
          holders: 2,
        });
        expect(await acquire(store, slots, "d", { capacity: 2, now: T0 + 3, waitDeadline: LATER })).toEqual({
          outcome: "queued",
          position: 2,
          holders: 2,
        });
        expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now: T0 + 4 })).toBe("ok");
        expect(await store.heartbeat(slots, "b", a, { leaseMs: LEASE, now: T0 + 4 })).toBe("stale-fence");

        expect(await store.release(slots, "a", { fence: a, capacity: 2, now: T0 + 5 })).toEqual({
          outcome: "released",
          waiting: ["c"],
        });
        expect(fenceOf(await acquire(store, slots, "c", { capacity: 2, now: T0 + 6 }))).toBeGreaterThan(b);
        expect(await store.position(slots, "d")).toBe(1);
        expect(await store.waiters(slots)).toEqual(["d"]);
        expect([...(await store.holders(slots, T0 + 6)).keys()].sort()).toEqual(["b", "c"]);

        const volume = volumeOf(account);
        fenceOf(await acquire(store, volume, "b"));
        expect(await acquire(store, volume, "c")).toEqual({ outcome: "busy", holders: 1 });
      }),
    );

    expect(byName(await store.scopes())).toEqual(byName(ALL_SCOPES));
    // Every master holds claim keys: the scopes are spread, not piled into one slot.
    const perMaster = await keysPerMaster(`${keys.prefix}claims:{`);
    expect(perMaster).toHaveLength(3);
    for (const count of perMaster) expect(count).toBeGreaterThan(0);
  });

  it("lets the reconciler's walk collect expired holders and lapsed waiters everywhere and forget emptied scopes", async () => {
    const { store } = freshStore();
    const firstFences = new Map<string, number>();
    for (const account of ACCOUNTS) {
      const slots = slotsOf(account);
      firstFences.set(account, fenceOf(await acquire(store, slots, "a", { capacity: 2, leaseMs: 1_000 })));
      fenceOf(await acquire(store, slots, "b", { capacity: 2, leaseMs: 60_000 }));
      await acquire(store, slots, "c", { capacity: 2, now: T0 + 1, waitDeadline: T0 + 500 });
      fenceOf(await acquire(store, volumeOf(account), "a", { leaseMs: 1_000 }));
    }

    /** What the reconcile pass (service/core/reconcile-pass.ts) does with the claims: every indexed scope, reclaimed. */
    const walk = async (now: number) => {
      const collected = new Map<string, { holders: string[]; waiters: string[] }>();
      for (const scope of await store.scopes())
        collected.set(scopeName(scope), await store.reclaim(scope, now));
      return collected;
    };

    const first = await walk(T0 + 1_000);
    expect([...first.keys()].sort()).toEqual(byName(ALL_SCOPES));
    for (const account of ACCOUNTS) {
      expect(first.get(scopeName(slotsOf(account)))).toEqual({ holders: ["a"], waiters: ["c"] });
      expect(first.get(scopeName(volumeOf(account)))).toEqual({ holders: ["a"], waiters: [] });
    }
    expect(byName(await store.scopes())).toEqual(byName(ACCOUNTS.map(slotsOf)));

    const second = await walk(T0 + 60_000);
    for (const account of ACCOUNTS) {
      expect(second.get(scopeName(slotsOf(account)))).toEqual({ holders: ["b"], waiters: [] });
    }
    expect(await store.scopes()).toEqual([]);

    // A forgotten scope is indexed again by its next acquire, and its fences keep rising.
    const again = fenceOf(await acquire(store, slotsOf("acct-7"), "a", { now: T0 + 60_001 }));
    expect(again).toBeGreaterThan(firstFences.get("acct-7")!);
    expect(await store.scopes()).toEqual([slotsOf("acct-7")]);
  });

  it("keeps a scope in the index that an acquire filled while the walk was forgetting it", async () => {
    const { store, keys } = freshStore();
    const scope = slotsOf("acct-3");
    fenceOf(await acquire(store, scope, "a", { leaseMs: 1_000 }));

    // One replica walks the scopes; another replica's acquire (its script and its index write)
    // lands after the walker's reclaim script found the scope empty, before the walker's removal
    // of the scope from the index. The walker's client runs that acquire just before its SREM.
    const walkerClient = new Proxy(client, {
      get(target, property) {
        if (property === "srem") {
          return async (...args: Parameters<Cluster["srem"]>) => {
            fenceOf(await acquire(store, scope, "late", { now: T0 + 1_000 }));
            return target.srem(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const walker = new RedisClaimStore(walkerClient, keys);

    expect(await walker.reclaim(scope, T0 + 1_000)).toEqual({ holders: ["a"], waiters: [] });
    expect([...(await store.holders(scope, T0 + 1_000)).keys()]).toEqual(["late"]);
    expect(await store.scopes()).toEqual([scope]);
  });
});

describe("the other Redis adapters on a Redis Cluster", () => {
  it("keep credentials, used token ids and key sets, and announce build ends to every subscriber", async () => {
    const keys = new RedisKeys(`${uniqueName("cluster")}:`);
    const credentials = new RedisCredentialStore(client, keys);
    const hash = Buffer.alloc(32, 7);
    const credential: AccountCredential = {
      accountId: "acct-1",
      relationshipId: "rel-1",
      issuer: "https://issuer",
      ownerId: "9",
      subject: "repo:o/r:ref:refs/heads/main",
      repositoryId: "1",
      cacheWrite: true,
      cacheReason: "refs/heads/main may write the warm cache",
      firstExchangeAt: T0 - 60_000,
      expiresAt: T0,
      repository: "o/r",
      ref: "refs/heads/main",
      workflow: "ci",
      run: "1",
      runKey: "run-key",
    };
    await credentials.put(hash, credential, 60_000);
    expect(await credentials.get(hash)).toEqual(credential);
    expect(await credentials.markUsed("https://issuer", "jti-1", 60_000)).toBe(true);
    expect(await credentials.markUsed("https://issuer", "jti-1", 60_000)).toBe(false);

    const backup = new RedisKeySetBackup(client, keys);
    await backup.save("https://issuer", '{"keys":[]}');
    expect(await backup.load("https://issuer")).toBe('{"keys":[]}');

    const listener = new RedisRevocations(client, keys);
    const ended: string[] = [];
    await listener.subscribe((buildId) => ended.push(buildId));
    try {
      await new RedisRevocations(client, keys).publish("build-1");
      await eventually("the build end to arrive", () => ended.includes("build-1"));
    } finally {
      listener.close();
    }
  });
});
