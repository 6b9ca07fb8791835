import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { pino } from "pino";
import { memoryDriver } from "../doubles/memory-driver.js";
import { type RunningService, startService } from "../../service/server.js";
import { ADMIN_TOKEN, http, loadTestConfig, testEnv, uniqueName } from "../harness/context.js";
import { ManualClock } from "../harness/clock.js";

/**
 * Storage accrual across an outage: the service is down for five simulated hours (an injected
 * clock); the process that comes back bills each cache volume's missed hours once, and accrual run
 * again — by the same process or by a second replica at the same moment — adds nothing.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface StorageRow {
  key: string;
  started_at: Date;
  ended_at: Date;
  quantity: string;
}

describe("storage hours missed while the service was down", () => {
  // Some whole hour H0 in the past, so that no real-time default lands inside the test's hours.
  const H0 = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
  const clock = new ManualClock(H0 + 20 * MINUTE);
  let env: Record<string, string>;
  let db: pg.Client;
  const running: RunningService[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const service = await startService(loadTestConfig({ ...env, ...extra }), {
      logger: pino({ level: "silent" }),
      clock,
      driver: memoryDriver(),
    });
    running.push(service);
    return service;
  };

  beforeAll(async () => {
    env = await testEnv({ RB_RECONCILE_INTERVAL_MS: "3600000" });
    db = new pg.Client({ connectionString: env.RB_DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop().catch(() => {})));
    await db?.end();
  });

  async function storageRows(volumeId: string): Promise<StorageRow[]> {
    const { rows } = await db.query<StorageRow>(
      `SELECT idempotency_key AS key, started_at, ended_at, quantity::text AS quantity
         FROM ledger_entries WHERE kind = 'storage' AND volume_id = $1 ORDER BY started_at`,
      [volumeId],
    );
    return rows;
  }

  it("backfills exactly five hours per volume after five hours down, and accrual run again adds none", async () => {
    // Three accounts: two whose builds used their cache volume (of different sizes), one that only
    // ever built cold and so has no volume to pay for.
    const first = await start();
    const accounts: Array<{ id: string; handle: string; token: string; sizeGiB: number }> = [];
    for (const [sizeGiB, cache] of [
      [7, "wait"],
      [120, "wait"],
      [30, "cold"],
    ] as const) {
      const handle = uniqueName("vol").replace(/_/g, "-");
      const account = await first.accounts.create({ handle, plan: "team", cacheVolumeGiB: sizeGiB });
      await first.accounts.setFeature(account.id, "remote_builder", true);
      const { token } = await first.accounts.mintToken(account.id, "ci");
      const created = await http<{ id: string; cache: { mode: string } }>(
        first.url,
        "POST",
        "/api/v1/builds",
        {
          token,
          body: { cache },
        },
      );
      expect(created.status).toBe(201);
      expect(created.body.cache.mode).toBe(cache === "wait" ? "persistent" : "cold");
      await first.background.drain();
      const done = await http(first.url, "POST", `/api/v1/builds/${created.body.id}/complete`, {
        token,
        body: { result: "success" },
      });
      expect(done.status).toBe(200);
      accounts.push({ id: account.id, handle, token, sizeGiB });
    }
    await first.background.drain();

    const { rows: volumes } = await db.query<{ id: string; account_id: string; size_gib: number }>(
      "SELECT id, account_id, size_gib FROM cache_volumes ORDER BY size_gib",
    );
    expect(volumes.map((v) => [v.account_id, v.size_gib])).toEqual([
      [accounts[0]!.id, 7],
      [accounts[1]!.id, 120],
    ]);

    // Within the volumes' first hour nothing is owed yet; once it is whole, one row each.
    await first.reconcilePass.run();
    for (const v of volumes) expect(await storageRows(v.id)).toEqual([]);
    clock.advance(HOUR - 15 * MINUTE); // H0 + 1h 5m
    await first.reconcilePass.run();
    for (const v of volumes) {
      expect((await storageRows(v.id)).map((r) => r.started_at.getTime())).toEqual([H0]);
    }

    // The service goes down for five hours.
    await first.stop();
    running.splice(running.indexOf(first), 1);
    clock.advance(5 * HOUR); // H0 + 6h 5m

    // Two replicas come back at once, each with its reconcile loop running on its own.
    const [a, b] = await Promise.all([
      start({ RB_RECONCILE_INTERVAL_MS: "50" }),
      start({ RB_RECONCILE_INTERVAL_MS: "50" }),
    ]);
    const deadline = Date.now() + 10_000;
    while ((await Promise.all(volumes.map((v) => storageRows(v.id)))).some((rows) => rows.length < 6)) {
      if (Date.now() > deadline) throw new Error("the restarted service did not backfill within 10 s");
      await sleep(20);
    }
    // Many more passes by both, and accrual called outright on both at the same moment: nothing new.
    await sleep(500);
    expect(await Promise.all([a.storage.accrue(clock.now()), b.storage.accrue(clock.now())])).toEqual([0, 0]);

    for (const v of volumes) {
      const rows = await storageRows(v.id);
      const backfilled = rows.slice(1);
      expect(backfilled).toHaveLength(5);
      expect(backfilled.map((r) => [r.started_at.getTime(), r.ended_at.getTime()])).toEqual(
        [1, 2, 3, 4, 5].map((h) => [H0 + h * HOUR, H0 + (h + 1) * HOUR]),
      );
      expect(backfilled.map((r) => r.key)).toEqual(
        [1, 2, 3, 4, 5].map((h) => `storage:${v.id}:${new Date(H0 + h * HOUR).toISOString()}`),
      );
      // GiB-hours: the provisioned size for each whole hour.
      expect(backfilled.map((r) => Number(r.quantity))).toEqual(Array(5).fill(v.size_gib));
    }

    // The hour in progress is billed once it is whole, once, however many replicas run.
    clock.advance(HOUR); // H0 + 7h 5m
    const next = Date.now() + 10_000;
    while ((await Promise.all(volumes.map((v) => storageRows(v.id)))).some((rows) => rows.length < 7)) {
      if (Date.now() > next) throw new Error("the hour H0+6h was not accrued within 10 s");
      await sleep(20);
    }
    await sleep(300);
    for (const v of volumes) {
      expect((await storageRows(v.id)).map((r) => r.started_at.getTime())).toEqual(
        [0, 1, 2, 3, 4, 5, 6].map((h) => H0 + h * HOUR),
      );
    }

    // What the account is shown agrees: 7 hours of its volume's size; none for the cold account.
    const range = `from=${new Date(H0).toISOString()}&to=${new Date(H0 + 8 * HOUR).toISOString()}`;
    for (const account of accounts) {
      const usage = await http<{ storageGiBHours: number }>(
        a.url,
        "GET",
        `/api/v1/accounts/${account.handle}/usage?${range}`,
        { token: ADMIN_TOKEN },
      );
      expect(usage.status).toBe(200);
      expect(usage.body.storageGiBHours).toBe(account.sizeGiB === 30 ? 0 : 7 * account.sizeGiB);
    }
  });
});
