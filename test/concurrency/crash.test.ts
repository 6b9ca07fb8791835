import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import type { ClaimScope } from "../../service/core/ports.js";
import { freePort, type ManagedProcess, startProcess, waitUntil } from "../../service/embedded/process.js";
import { type RunningService, startService } from "../../service/server.js";
import { memoryDriver } from "../doubles/memory-driver.js";
import { ADMIN_TOKEN, http, loadTestConfig, redisUrl, testEnv, uniqueName } from "../harness/context.js";

/**
 * The real service, spawned as `remote-builder serve`, is SIGKILLed while admissions are in flight.
 * A fresh service on the same PostgreSQL database and Redis prefix must clean up after it.
 */
const LIMIT = 3;
const LEASE_SECONDS = 2;
const QUEUE_WAIT_SECONDS = 3;
const WORKERS = 12;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface BuildJson {
  id: string;
  state: string;
  endReason: string | null;
}

/** Creates an account with the feature on and an agent token, over the admin API. */
async function createAccount(base: string): Promise<{ id: string; token: string }> {
  const admin = { token: ADMIN_TOKEN };
  const handle = uniqueName("crash").replace(/_/g, "-");
  const account = await http<{ id: string }>(base, "POST", "/api/v1/admin/accounts", {
    ...admin,
    body: { handle, plan: "team", concurrencyLimit: LIMIT },
  });
  expect(account.status).toBe(201);
  const feature = await http(base, "PUT", `/api/v1/admin/accounts/${handle}/features/remote_builder`, {
    ...admin,
    body: { enabled: true },
  });
  expect(feature.status).toBe(200);
  const minted = await http<{ token: string }>(base, "POST", `/api/v1/admin/accounts/${handle}/tokens`, {
    ...admin,
    body: { name: "crash" },
  });
  expect(minted.status).toBe(201);
  return { id: account.body.id, token: minted.body.token };
}

async function unfinishedRows(db: pg.Client, accountId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ state: string; n: number }>(
    `SELECT state, count(*)::int AS n FROM builds
     WHERE account_id = $1 AND state IN ('queued', 'pending', 'ready', 'building') GROUP BY state`,
    [accountId],
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

describe("a service killed mid-admission", () => {
  let child: ManagedProcess | null = null;
  let restarted: RunningService | null = null;
  let redis: Redis;
  let db: pg.Client | null = null;

  beforeAll(() => {
    redis = new Redis(redisUrl());
  });
  afterEach(async () => {
    await child?.stop("SIGKILL");
    await restarted?.stop();
    await db?.end();
  });
  afterAll(() => {
    redis.disconnect();
  });

  it("frees the account's slots after the lease runs out, ends every stranded build, and admits new builds", async () => {
    const port = await freePort();
    const env = await testEnv({
      RB_CLAIM_LEASE_SECONDS: String(LEASE_SECONDS),
      RB_PORT: String(port),
      RB_LOG_LEVEL: "info",
    });
    const base = `http://127.0.0.1:${port}`;
    // `serve` on memory builders that never finish booting in this process: what it admits stays `pending`.
    const proc = startProcess(
      process.execPath,
      ["--import", "tsx", "test/harness/serve-memory.ts", "60000"],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
      },
    );
    child = proc;
    await waitUntil("remote-builder serve", proc, async () => (await fetch(`${base}/readyz`)).ok);

    db = new pg.Client({ connectionString: env.RB_DATABASE_URL });
    await db.connect();
    const account = await createAccount(base);
    const scope: ClaimScope = { kind: "concurrency", accountId: account.id };
    const keys = new RedisKeys(env.RB_REDIS_PREFIX!);
    const claims = new RedisClaimStore(redis, keys);

    // Workers keep POSTing builds (a third queue for a slot, a third for the cache volume, a third
    // refuse at once) until the process dies under them.
    let sent = 0;
    let cutOff = 0;
    const unexpected: string[] = [];
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = 0; ; i++) {
        const body =
          (w + i) % 3 === 0
            ? { cache: "wait", waitSeconds: QUEUE_WAIT_SECONDS }
            : { cache: "cold", waitSeconds: (w + i) % 3 === 1 ? QUEUE_WAIT_SECONDS : 0 };
        sent++;
        try {
          const r = await http(base, "POST", "/api/v1/builds", { token: account.token, body });
          if (r.status !== 201 && r.status !== 429) unexpected.push(`${r.status} ${JSON.stringify(r.body)}`);
        } catch (err) {
          // Refused: sent after the process died. Anything else (reset, closed): cut off in flight.
          const code = ((err as Error).cause as { code?: string } | undefined)?.code;
          if ((err as Error).message !== "fetch failed") unexpected.push(String(err));
          else if (code !== "ECONNREFUSED") cutOff++;
          return;
        }
      }
    });

    // Kill the process once every slot is held and builds are queued, with requests still in flight.
    const stormStart = Date.now();
    for (;;) {
      const held = await claims.holders(scope, Date.now());
      const rows = await unfinishedRows(db, account.id);
      if (held.size === LIMIT && (rows.queued ?? 0) >= LIMIT && sent > 40) break;
      if (Date.now() - stormStart > 10_000 || unexpected.length > 0) {
        throw new Error(`the storm never filled the account's slots: ${unexpected.join("; ")}`);
      }
      await sleep(5);
    }
    proc.child.kill("SIGKILL");
    const killedAt = Date.now();
    await new Promise((resolve) => proc.child.once("exit", resolve));
    await Promise.all(workers);
    expect(unexpected).toEqual([]);
    expect(cutOff).toBeGreaterThan(0);

    // What the crash left behind: slots still leased to the dead process, and unfinished builds.
    const stranded = await claims.holders(scope, Date.now());
    expect(stranded.size).toBe(LIMIT);
    const leftBehind = await unfinishedRows(db, account.id);
    expect(leftBehind.pending ?? 0).toBeGreaterThan(0);

    // A process killed between queueing a build in Redis and recording it in PostgreSQL leaves a
    // waiter that no build stands behind (the storm above leaves some by chance). Make sure of a
    // few, each with a wait that outlasts this test, as `create` queues them.
    const unrecorded = Array.from({ length: LIMIT }, () => randomUUID());
    for (const member of unrecorded) {
      const now = Date.now();
      const queued = await claims.acquire(scope, member, {
        capacity: LIMIT,
        leaseMs: LEASE_SECONDS * 1000,
        now,
        waitDeadline: now + 600_000,
      });
      expect(queued.outcome).toBe("queued");
    }

    // A fresh service on the same database and Redis prefix.
    const again = { ...env, RB_PORT: "0", RB_LOG_LEVEL: "silent" };
    restarted = await startService(loadTestConfig(again), {
      logger: pino({ level: "silent" }),
      driver: memoryDriver({ bootMs: 20 }),
    });

    // Until each stranded lease runs out its slot stays taken; after that the reconciler clears up.
    const holdersKey = keys.claim(scope).holders;
    const queueKey = keys.claim(scope).queue;
    let cleanAt = 0;
    while (cleanAt === 0) {
      const now = Date.now();
      const raw = await redis.zrange(holdersKey, 0, -1);
      for (const [member, expiry] of stranded) {
        if (expiry > now + 50) expect(raw).toContain(member);
      }
      const rows = await unfinishedRows(db, account.id);
      const waiting = await redis.zcard(queueKey);
      if (raw.length === 0 && waiting === 0 && Object.keys(rows).length === 0) cleanAt = Date.now();
      else if (now - killedAt > 20_000) {
        throw new Error(
          `not cleaned up 20 s after the crash: holders ${JSON.stringify(raw)}, waiting ${waiting}, ` +
            `unfinished ${JSON.stringify(rows)}`,
        );
      } else await sleep(20);
    }
    expect(cleanAt).toBeGreaterThanOrEqual(Math.max(...stranded.values()));

    // Every build the crash stranded ended as reaped (its lease ran out) or failed (its wait ran out).
    const { rows: ended } = await db.query<{ state: string; end_reason: string }>(
      "SELECT state, end_reason FROM builds WHERE account_id = $1",
      [account.id],
    );
    for (const { state, end_reason } of ended) {
      expect(`${state}: ${end_reason}`).toMatch(/^(reaped: lease-expired|failed: wait-timeout)/);
    }
    expect(await redis.sismember(keys.claimScopes, `concurrency:${account.id}`)).toBe(0);

    // And the account can build again, up to its limit.
    const next = await Promise.all(
      Array.from({ length: LIMIT }, () =>
        http<BuildJson>(restarted!.url, "POST", "/api/v1/builds", {
          token: account.token,
          body: { cache: "cold", waitSeconds: 0 },
        }),
      ),
    );
    expect(next.map((r) => r.status)).toEqual(Array(LIMIT).fill(201));
    const ready = await http<BuildJson>(restarted.url, "GET", `/api/v1/builds/${next[0]!.body.id}?wait=5`, {
      token: account.token,
    });
    expect(ready.body.state).toBe("ready");

    process.stdout.write(
      `crash: ${sent} requests sent, ${cutOff} cut off by SIGKILL, left behind ${JSON.stringify(leftBehind)}; ` +
        `clean ${cleanAt - killedAt} ms after the kill (lease ${LEASE_SECONDS} s)\n`,
    );
  }, 60_000);
});
