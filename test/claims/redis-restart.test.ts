import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { createRedis } from "../../service/adapters/redis/client.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import type { AcquireResult, ClaimScope } from "../../service/core/ports.js";
import { type EmbeddedRedis, startRedis } from "../../service/embedded/redis.js";
import { http, startTestService, type TestService, uniqueName } from "../harness/context.js";
import { restartablePort } from "../harness/ports.js";

/**
 * Redis restarted (AOF on) while builds are active: claims, fences and leases survive. These tests
 * run their own redis-server, stop it gracefully and start it again on the same folder and port.
 */

let dataDir: string;
let redis: EmbeddedRedis;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rb-redis-restart-"));
  redis = await startRedis({ dataDir, port: await restartablePort() });
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** SIGTERM (Redis flushes its AOF and exits), then a new redis-server on the same folder and port. */
async function restartRedis(): Promise<void> {
  const before = redis.process.child.pid;
  await redis.stop();
  expect(redis.process.child.exitCode).toBe(0);
  redis = await startRedis({ dataDir, port: redis.port });
  expect(redis.process.child.pid).not.toBe(before);
}

/** Polls `check` until it holds, for at most `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function fenceOf(result: AcquireResult): number {
  if (result.outcome !== "granted") throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result.fence;
}

describe("Redis restarted (AOF on) while builds are active: claims, fences and leases survive", () => {
  it("keeps the store's holders, fences, volume lease and wait queue, and a new grant gets a higher fence", async () => {
    const T0 = Date.now();
    const LEASE = 60_000;
    const WAIT = T0 + 600_000;
    const slots: ClaimScope = { kind: "concurrency", accountId: "acct-restart" };
    const volume: ClaimScope = { kind: "volume", accountId: "acct-restart", volume: "buildkit" };
    const client = createRedis(redis.url, () => {});
    try {
      const store = new RedisClaimStore(client, new RedisKeys(`${uniqueName("restart")}:`));
      const opts = { capacity: 2, leaseMs: LEASE, now: T0, waitDeadline: WAIT };
      const a = fenceOf(await store.acquire(slots, "a", opts));
      const b = fenceOf(await store.acquire(slots, "b", opts));
      expect(await store.acquire(slots, "c", { ...opts, now: T0 + 1 })).toEqual({
        outcome: "queued",
        position: 1,
        holders: 2,
      });
      const aVolume = fenceOf(await store.acquire(volume, "a", { ...opts, capacity: 1 }));
      expect(await store.acquire(volume, "b", { ...opts, capacity: 1, now: T0 + 2 })).toEqual({
        outcome: "queued",
        position: 1,
        holders: 1,
      });

      await restartRedis();

      const now = T0 + 1_000;
      expect(await store.holders(slots, now)).toEqual(
        new Map([
          ["a", T0 + LEASE],
          ["b", T0 + LEASE],
        ]),
      );
      expect(await store.holders(volume, now)).toEqual(new Map([["a", T0 + LEASE]]));
      expect(await store.position(slots, "c")).toBe(1);
      expect(await store.position(volume, "b")).toBe(1);
      expect((await store.scopes()).map((s) => s.kind).sort()).toEqual(["concurrency", "volume"]);

      // The fences handed out before the restart are still the ones that count.
      expect(await store.heartbeat(slots, "a", a, { leaseMs: LEASE, now })).toBe("ok");
      expect(await store.heartbeat(slots, "b", b, { leaseMs: LEASE, now })).toBe("ok");
      expect(await store.heartbeat(volume, "a", aVolume, { leaseMs: LEASE, now })).toBe("ok");
      expect(await store.heartbeat(slots, "a", a - 1, { leaseMs: LEASE, now })).toBe("stale-fence");
      // Idempotent acquire still recognises the holder.
      expect(await store.acquire(slots, "a", { ...opts, now })).toEqual({ outcome: "granted", fence: a });

      // The counter survived: the freed slot goes to the waiter under a fence above every earlier one.
      expect(await store.release(slots, "b", { fence: b, capacity: 2, now })).toEqual({
        outcome: "released",
        waiting: ["c"],
      });
      const c = fenceOf(await store.acquire(slots, "c", { ...opts, now }));
      expect(c).toBeGreaterThan(Math.max(a, b));
      expect(await store.release(volume, "a", { fence: aVolume, capacity: 1, now })).toEqual({
        outcome: "released",
        waiting: ["b"],
      });
      expect(fenceOf(await store.acquire(volume, "b", { ...opts, capacity: 1, now }))).toBeGreaterThan(
        aVolume,
      );
    } finally {
      client.disconnect();
    }
  });
});

describe("the HTTP service across a Redis restart", () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ RB_REDIS_URL: redis.url });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it("keeps running builds alive: their heartbeats succeed with the original fences and the queues hold", async () => {
    const { id: accountId, token } = await service.account({ plan: "team" }); // 3 concurrent builds
    const create = (body: Record<string, unknown>) =>
      http(service.url, "POST", "/api/v1/builds", { token, body: { shape: "small", ...body } });

    // A holds the cache volume; B runs cold; C holds a slot and waits for the volume; D waits for a slot.
    const A = await create({ waitSeconds: 0 });
    const B = await create({ waitSeconds: 0, cache: "cold" });
    const C = await create({ waitSeconds: 600 });
    const D = await create({ waitSeconds: 600 });
    expect([A.status, B.status, C.status, D.status]).toEqual([201, 201, 201, 201]);
    const [a, b, c, d] = [A, B, C, D].map((r) => r.body.id as string) as [string, string, string, string];
    expect(A.body.cache).toMatchObject({ mode: "persistent" });
    expect(B.body.cache).toMatchObject({ mode: "cold" });
    expect(C.body).toMatchObject({ state: "queued", queue: { waitingFor: "cache", position: 1 } });
    expect(D.body).toMatchObject({ state: "queued", queue: { waitingFor: "concurrency", position: 1 } });
    for (const id of [a, b]) {
      const ready = await http(service.url, "GET", `/api/v1/builds/${id}?wait=10`, { token });
      expect(ready.body.state).toBe("ready");
    }

    const keys = new RedisKeys(service.config.redisPrefix);
    const slots: ClaimScope = { kind: "concurrency", accountId };
    const volume: ClaimScope = { kind: "volume", accountId, volume: service.config.cacheVolume };
    const store = new RedisClaimStore(service.redis, keys);
    const snapshot = async () => ({
      slotFences: await service.redis.hgetall(keys.claim(slots).fences),
      volumeFences: await service.redis.hgetall(keys.claim(volume).fences),
      slotHolders: [...(await store.holders(slots, Date.now())).keys()].sort(),
      volumeHolders: [...(await store.holders(volume, Date.now())).keys()],
      slotQueue: await service.redis.zrange(keys.claim(slots).queue, 0, -1),
      volumeQueue: await service.redis.zrange(keys.claim(volume).queue, 0, -1),
    });
    const before = await snapshot();
    expect(before.slotHolders).toEqual([a, b, c].sort());
    expect(before.volumeHolders).toEqual([a]);
    expect(before.slotQueue).toEqual([d]);
    expect(before.volumeQueue).toEqual([c]);
    // The fences in Redis are the ones the builds were given (and PostgreSQL recorded).
    const recorded = await service.pool.query<{
      id: string;
      claim_fence: string | null;
      volume_fence: string | null;
    }>("SELECT id, claim_fence, volume_fence FROM builds WHERE account_id = $1", [accountId]);
    const byId = new Map(recorded.rows.map((r) => [r.id, r]));
    for (const id of [a, b, c]) expect(String(byId.get(id)!.claim_fence)).toBe(before.slotFences[id]);
    expect(String(byId.get(a)!.volume_fence)).toBe(before.volumeFences[a]);

    await restartRedis();

    expect(await snapshot()).toEqual(before);
    for (const id of [a, b]) {
      const beat = await http(service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token });
      expect(beat.status).toBe(200);
      expect(beat.body.state).toBe("ready");
    }
    // A reconcile pass after the restart finds every lease where it was and reaps nothing.
    await service.reconcilePass.run();
    const states = await Promise.all(
      [a, b, c, d].map(
        async (id) => (await http(service.url, "GET", `/api/v1/builds/${id}`, { token })).body,
      ),
    );
    expect(states.map((s) => s.state)).toEqual(["ready", "ready", "queued", "queued"]);
    expect(states[2]!.queue).toEqual({ waitingFor: "cache", position: 1 });
    expect(states[3]!.queue).toEqual({ waitingFor: "concurrency", position: 1 });

    // A ends: C takes the volume and D the slot, both under fences above any given before.
    const done = await http(service.url, "POST", `/api/v1/builds/${a}/complete`, {
      token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    const cReady = await http(service.url, "GET", `/api/v1/builds/${c}?wait=10`, { token });
    expect(cReady.body).toMatchObject({ state: "ready", cache: { mode: "persistent" } });
    // D is started right after C, in the background: it takes the slot and then waits for the volume.
    await until(async () => {
      const view = await http(service.url, "GET", `/api/v1/builds/${d}`, { token });
      return (view.body.queue as { waitingFor?: string } | null)?.waitingFor === "cache";
    });
    const after = await snapshot();
    expect(after.volumeHolders).toEqual([c]);
    expect(after.slotHolders).toEqual([b, c, d].sort());
    expect(after.slotFences[b]).toBe(before.slotFences[b]);
    expect(after.slotFences[c]).toBe(before.slotFences[c]);
    expect(Number(after.volumeFences[c])).toBeGreaterThan(
      Math.max(...Object.values(before.volumeFences).map(Number)),
    );
    expect(Number(after.slotFences[d])).toBeGreaterThan(
      Math.max(...Object.values(before.slotFences).map(Number)),
    );
  });
});
