import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import { memoryDriver } from "../doubles/memory-driver.js";
import { http, type HttpResult, redisUrl, startTestService, type TestService } from "../harness/context.js";

/**
 * 200 concurrent admissions for one account whose limit is 3, against the real service, Redis and
 * PostgreSQL. An independent sampler watches both stores while the storm runs.
 */
const LIMIT = 3;
const REQUESTS = 200;
const QUEUE_WAIT_SECONDS = 50;

interface BuildJson {
  id: string;
  state: string;
  cache: { requested: string; mode: string | null };
  queue: { waitingFor: string; position: number } | null;
  readyAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  result: string | null;
}

interface Ask {
  waitSeconds: number;
  cache: "wait" | "cold";
}

/** Two in five refuse at once; the rest queue for a slot, cold, but for a few that want the cache volume. */
function ask(i: number): Ask {
  if (i % 5 < 2) return { waitSeconds: 0, cache: "cold" };
  if (i % 25 === 2) return { waitSeconds: QUEUE_WAIT_SECONDS, cache: "wait" };
  return { waitSeconds: QUEUE_WAIT_SECONDS, cache: "cold" };
}

/**
 * Polls Redis (live holders of the account's concurrency semaphore) and PostgreSQL (builds in an
 * active state) every few milliseconds, each over its own connection, and keeps the maxima.
 */
class InvariantSampler {
  maxHolders = 0;
  maxActiveRows = 0;
  samples = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly claims: RedisClaimStore,
    private readonly db: pg.Client,
    private readonly accountId: string,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const [holders, rows] = await Promise.all([
          this.claims.holders({ kind: "concurrency", accountId: this.accountId }, Date.now()),
          this.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM builds
             WHERE account_id = $1 AND state IN ('pending', 'ready', 'building')`,
            [this.accountId],
          ),
        ]);
        this.maxHolders = Math.max(this.maxHolders, holders.size);
        this.maxActiveRows = Math.max(this.maxActiveRows, rows.rows[0]!.n);
        this.samples++;
        await sleep(2);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** The most intervals open at one instant; an interval that ends where another begins does not overlap it. */
function maxOverlap(intervals: Array<[number, number]>): number {
  const events = intervals.flatMap(([from, to]) => [
    [from, 1],
    [to, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let max = 0;
  for (const [, delta] of events) {
    open += delta!;
    max = Math.max(max, open);
  }
  return max;
}

describe("an admission storm against one account", () => {
  let service: TestService;
  let redis: Redis;
  let db: pg.Client;

  beforeAll(async () => {
    // Builders take a little while to boot, so builds spend time in `pending` as well as `ready`.
    service = await startTestService({}, { driver: memoryDriver({ bootMs: 15 }) });
    redis = new Redis(redisUrl());
    db = new pg.Client({ connectionString: service.config.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    redis?.disconnect();
    await service?.stop();
  });

  it("never runs more than 3 builds at once among 200 concurrent requests, queues or refuses the rest as asked, and gives every slot back", async () => {
    const started = Date.now();
    const account = await service.account({ plan: "team", concurrencyLimit: LIMIT });
    const { token } = account;
    const keys = new RedisKeys(service.config.redisPrefix);
    const claims = new RedisClaimStore(redis, keys);
    const sampler = new InvariantSampler(claims, db, account.id);
    sampler.start();

    // A client that completes each build as soon as it is ready, until told to stop.
    const completed = new Set<string>();
    let stormOver = false;
    const completer = (async () => {
      for (;;) {
        const active = await http<{ builds: BuildJson[] }>(
          service.url,
          "GET",
          "/api/v1/builds?state=ready,building&limit=500",
          { token },
        );
        expect(active.status).toBe(200);
        await Promise.all(
          active.body.builds.map(async (b) => {
            const done = await http<BuildJson>(service.url, "POST", `/api/v1/builds/${b.id}/complete`, {
              token,
              body: { result: "success" },
            });
            expect(done.status).toBe(200);
            completed.add(b.id);
          }),
        );
        if (stormOver) {
          const unfinished = await http<{ builds: BuildJson[] }>(
            service.url,
            "GET",
            "/api/v1/builds?state=queued,pending,ready,building&limit=500",
            { token },
          );
          if (unfinished.body.builds.length === 0) return;
        }
        if (Date.now() - started > 40_000) throw new Error("the queue did not drain within 40 s");
        await sleep(5);
      }
    })();

    const asks = Array.from({ length: REQUESTS }, (_, i) => ask(i));
    let responses: Array<HttpResult<BuildJson & { type?: string; limit?: number }>>;
    try {
      responses = await Promise.all(
        asks.map((body) =>
          http<BuildJson & { type?: string; limit?: number }>(service.url, "POST", "/api/v1/builds", {
            token,
            body,
          }),
        ),
      );
    } finally {
      stormOver = true;
    }
    const stormMs = Date.now() - started;
    await completer;
    await sampler.stop();

    // Queued or refused as asked: a request that may wait is never refused, one that may not is never queued.
    const refused = responses.filter((r) => r.status === 429);
    const accepted = responses.filter((r) => r.status === 201);
    expect(refused.length + accepted.length).toBe(REQUESTS);
    responses.forEach((r, i) => {
      if (asks[i]!.waitSeconds > 0) {
        expect(r.status).toBe(201);
        expect(["pending", "queued"]).toContain(r.body.state);
      } else if (r.status === 201) {
        expect(r.body.state).toBe("pending");
      }
    });
    for (const r of refused) {
      expect(r.body.type).toMatch(/\/concurrency-limit$/);
      expect(r.body.limit).toBe(LIMIT);
      expect(r.headers.get("retry-after")).not.toBeNull();
    }
    const queued = accepted.filter((r) => r.body.state === "queued");
    expect(refused.length).toBeGreaterThan(0);
    expect(queued.length).toBeGreaterThan(80);
    for (const r of queued) {
      expect(r.body.queue?.position).toBeGreaterThanOrEqual(1);
    }

    // At no sampled instant did either store show more than 3 active builds, and the limit was reached.
    expect(sampler.samples).toBeGreaterThan(50);
    expect(sampler.maxHolders).toBe(LIMIT);
    expect(sampler.maxActiveRows).toBeLessThanOrEqual(LIMIT);
    expect(sampler.maxActiveRows).toBeGreaterThan(0);

    // Every accepted build ran (it became ready) and completed; none was failed, reaped or lost.
    const all = await http<{ builds: BuildJson[] }>(service.url, "GET", "/api/v1/builds?limit=500", {
      token,
    });
    const finals = new Map(all.body.builds.map((b) => [b.id, b]));
    expect(finals.size).toBe(accepted.length);
    for (const r of accepted) {
      const final = finals.get(r.body.id)!;
      expect({ id: final.id, state: final.state, endReason: final.endReason }).toEqual({
        id: r.body.id,
        state: "completed",
        endReason: "completed",
      });
      expect(final.readyAt).not.toBeNull();
      expect(completed.has(final.id)).toBe(true);
    }

    // Proven again from the record: the builds' ready-to-end intervals never overlap more than 3 deep.
    const intervals = [...finals.values()].map((b): [number, number] => [
      Date.parse(b.readyAt!),
      Date.parse(b.endedAt!),
    ]);
    expect(maxOverlap(intervals)).toBeLessThanOrEqual(LIMIT);

    // Every slot was granted under its own fence.
    const fences = await db.query<{ claim_fence: string }>(
      "SELECT claim_fence FROM builds WHERE account_id = $1",
      [account.id],
    );
    const fenceValues = fences.rows.map((row) => row.claim_fence);
    expect(fenceValues).not.toContain(null);
    expect(new Set(fenceValues).size).toBe(accepted.length);

    // Every slot came back: no holder, live or expired, and nobody waiting.
    const scope = keys.claim({ kind: "concurrency", accountId: account.id });
    expect((await claims.holders({ kind: "concurrency", accountId: account.id }, Date.now())).size).toBe(0);
    expect(await redis.zcard(scope.holders)).toBe(0);
    expect(await redis.zcard(scope.queue)).toBe(0);
    const volume = keys.claim({ kind: "volume", accountId: account.id, volume: service.config.cacheVolume });
    expect(await redis.zcard(volume.holders)).toBe(0);
    expect(await redis.zcard(volume.queue)).toBe(0);
    const unfinished = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM builds WHERE account_id = $1 AND state IN ('queued', 'pending', 'ready', 'building')`,
      [account.id],
    );
    expect(unfinished.rows[0]!.n).toBe(0);

    // And the freed slots admit a build at once.
    const after = await http<BuildJson>(service.url, "POST", "/api/v1/builds", {
      token,
      body: { cache: "cold", waitSeconds: 0 },
    });
    expect(after.status).toBe(201);
    expect(after.body.state).toBe("pending");

    const totalMs = Date.now() - started;
    process.stdout.write(
      `admission storm: ${accepted.length} accepted (${queued.length} queued), ${refused.length} refused; ` +
        `storm ${stormMs} ms, drained in ${totalMs} ms; ${sampler.samples} samples, ` +
        `max holders ${sampler.maxHolders}, max active rows ${sampler.maxActiveRows}\n`,
    );
  }, 60_000);
});
