import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { pino } from "pino";
import { insertLedgerEntries } from "../../service/adapters/postgres/ledger.js";
import { memoryDriver } from "../doubles/memory-driver.js";
import type { LedgerEntry } from "../../service/core/ledger.js";
import type { Clock } from "../../service/core/ports.js";
import { type RunningService, startService } from "../../service/server.js";
import { ADMIN_TOKEN, http, loadTestConfig, testEnv, uniqueName } from "../harness/context.js";

/**
 * The usage report and the ledger export, over HTTP and through the CLI, against figures written
 * into the ledger by real builds on an injected clock.
 */

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const H0 = Date.UTC(2030, 4, 10, 8); // builds and volumes start here, mid-month
const PRICES = { currency: "EUR", buildMinute: { small: 0.01, medium: 0.025 }, storageGiBHour: 0.002 };

class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
}

interface UsageBody {
  account: string;
  from: string;
  to: string;
  buildMinutesByShape: Record<string, number>;
  buildMinutes: number;
  storageGiBHours: number;
  costs: {
    currency: string;
    lines: Array<{ item: string; quantity: number; unit: string; unitPrice: number; amount: number }>;
    total: number;
  } | null;
}

interface ExportEntry {
  key: string;
  kind: string;
  accountId: string;
  quantity: number;
}

interface Account {
  id: string;
  handle: string;
  token: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const range = (from: number, to: number) => `from=${iso(from)}&to=${iso(to)}`;

describe("usage and the ledger export", () => {
  const clock = new ManualClock(H0);
  let service: RunningService;
  let env: Record<string, string>;
  let db: pg.Client;
  /** Connections for transactions the test holds open itself. */
  let sessions: pg.Pool;
  const connection = () => sessions.connect();
  let a: Account;
  let b: Account;
  let c: Account;

  async function account(cacheVolumeGiB: number): Promise<Account> {
    const handle = uniqueName("use").replace(/_/g, "-");
    const created = await service.accounts.create({ handle, plan: "team", cacheVolumeGiB });
    await service.accounts.setFeature(created.id, "remote_builder", true);
    const { token } = await service.accounts.mintToken(created.id, "ci");
    return { id: created.id, handle, token };
  }

  /** A build from `start` to `end` (clock times), on `shape`, using the account's volume or not. */
  async function build(who: Account, shape: string, cache: "wait" | "cold", start: number, end: number) {
    clock.set(start);
    const created = await http<{ id: string }>(service.url, "POST", "/api/v1/builds", {
      token: who.token,
      body: { shape, cache },
    });
    expect(created.status).toBe(201);
    await service.background.drain();
    return async () => {
      clock.set(end);
      const done = await http(service.url, "POST", `/api/v1/builds/${created.body.id}/complete`, {
        token: who.token,
        body: { result: "success" },
      });
      expect(done.status).toBe(200);
      await service.background.drain();
    };
  }

  const usage = (who: string, query: string, token: string) =>
    http<UsageBody>(service.url, "GET", `/api/v1/accounts/${who}/usage${query ? `?${query}` : ""}`, {
      token,
    });

  beforeAll(async () => {
    env = await testEnv({ RB_PRICES: JSON.stringify(PRICES), RB_RECONCILE_INTERVAL_MS: "3600000" });
    service = await startService(loadTestConfig(env), {
      logger: pino({ level: "silent" }),
      clock,
      driver: memoryDriver(),
    });
    db = new pg.Client({ connectionString: env.RB_DATABASE_URL });
    await db.connect();
    sessions = new pg.Pool({ connectionString: env.RB_DATABASE_URL, max: 2 });
    a = await account(10);
    b = await account(20);
    c = await account(5);

    // A: small 90 s on its volume, medium 240 s cold (both from H0), small 30 s later on.
    // B: small 600 s on its volume. Both volumes exist from H0; two whole hours pass.
    const endA1 = await build(a, "small", "wait", H0, H0 + 90 * SECOND);
    const endA2 = await build(a, "medium", "cold", H0, H0 + 240 * SECOND);
    const endB1 = await build(b, "small", "wait", H0, H0 + 600 * SECOND);
    await endA1();
    await endA2();
    const endA3 = await build(a, "small", "cold", H0 + 300 * SECOND, H0 + 330 * SECOND);
    await endA3();
    await endB1();
    clock.set(H0 + 2 * HOUR + 10 * MINUTE);
    await service.reconcilePass.run();
  });

  afterAll(async () => {
    await sessions?.end();
    await db?.end();
    await service?.stop();
  });

  /** The account's figures straight from ledger_entries, over [from, to) as the report defines it. */
  async function ledgerFigures(accountId: string, from: number, to: number) {
    const { rows } = await db.query<{ shape: string | null; kind: string; amount: string }>(
      `SELECT kind, shape,
              sum(CASE WHEN kind = 'build'
                       THEN extract(epoch FROM least(ended_at, $3) - greatest(started_at, $2))
                       ELSE quantity END)::text AS amount
         FROM ledger_entries
        WHERE account_id = $1 AND ended_at > $2 AND started_at < $3 AND (kind = 'build' OR started_at >= $2)
        GROUP BY kind, shape`,
      [accountId, new Date(from), new Date(to)],
    );
    const byShape: Record<string, number> = {};
    let storage = 0;
    for (const row of rows) {
      if (row.kind === "build") byShape[row.shape!] = Number(row.amount) / 60;
      else storage += Number(row.amount);
    }
    return { byShape, storage };
  }

  describe("GET /api/v1/accounts/:account/usage", () => {
    const whole = range(H0, H0 + 3 * HOUR);

    it("shows an account its own build minutes by shape and storage GiB-hours, equal to the ledger's", async () => {
      const got = await usage(a.handle, whole, a.token);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        account: a.handle,
        from: iso(H0),
        to: iso(H0 + 3 * HOUR),
        buildMinutesByShape: { small: 2, medium: 4 },
        buildMinutes: 6,
        storageGiBHours: 20,
      });
      const ledger = await ledgerFigures(a.id, H0, H0 + 3 * HOUR);
      expect(ledger).toEqual({ byShape: { small: 2, medium: 4 }, storage: 20 });
      expect(got.body.buildMinutesByShape).toEqual(ledger.byShape);
      expect(got.body.storageGiBHours).toBe(ledger.storage);
    });

    it("prices the usage with RB_PRICES: one line per shape and one for storage", async () => {
      const got = await usage(a.handle, whole, a.token);
      expect(got.body.costs).toMatchObject({ currency: "EUR", total: 0.16 });
      expect(got.body.costs!.lines).toHaveLength(3);
      expect(got.body.costs!.lines).toEqual(
        expect.arrayContaining([
          { item: "build minutes (small)", quantity: 2, unit: "minutes", unitPrice: 0.01, amount: 0.02 },
          { item: "build minutes (medium)", quantity: 4, unit: "minutes", unitPrice: 0.025, amount: 0.1 },
          { item: "cache storage", quantity: 20, unit: "gib-hours", unitPrice: 0.002, amount: 0.04 },
        ]),
      );
    });

    it("gives the admin token the same figures as the account's own token, by handle or by id", async () => {
      const own = await usage(a.handle, whole, a.token);
      const admin = await usage(a.handle, whole, ADMIN_TOKEN);
      const byId = await usage(a.id, whole, ADMIN_TOKEN);
      expect(admin.status).toBe(200);
      expect(admin.body).toEqual(own.body);
      expect(byId.body).toEqual(own.body);
    });

    it("clips builds to the range and counts storage hours that start inside it", async () => {
      // From H0+30s: the first small build loses 30 s, the medium one 30 s; the hour from H0 is out.
      const from = H0 + 30 * SECOND;
      const got = await usage(a.handle, range(from, H0 + 3 * HOUR), a.token);
      expect(got.body).toMatchObject({
        buildMinutesByShape: { small: 1.5, medium: 3.5 },
        buildMinutes: 5,
        storageGiBHours: 10,
      });
      expect(await ledgerFigures(a.id, from, H0 + 3 * HOUR)).toEqual({
        byShape: { small: 1.5, medium: 3.5 },
        storage: 10,
      });
      // And by default: from the start of this month (the injected clock's) until now.
      const month = await usage(a.handle, "", a.token);
      expect(month.body).toMatchObject({
        from: iso(Date.UTC(2030, 4, 1)),
        to: iso(clock.now()),
        buildMinutes: 6,
        storageGiBHours: 20,
      });
    });

    it("keeps other accounts apart: B sees only its own, and A's figures do not include B's", async () => {
      const got = await usage(b.handle, whole, b.token);
      expect(got.body).toMatchObject({
        buildMinutesByShape: { small: 10 },
        buildMinutes: 10,
        storageGiBHours: 40,
      });
      expect(await ledgerFigures(b.id, H0, H0 + 3 * HOUR)).toEqual({ byShape: { small: 10 }, storage: 40 });
    });

    it("answers another account's token with 404, as if the account did not exist", async () => {
      for (const ref of [a.handle, a.id]) {
        const got = await usage(ref, whole, b.token);
        expect(got.status).toBe(404);
        expect(got.body as unknown as { type: string }).toMatchObject({
          type: expect.stringMatching(/\/not-found$/),
        });
      }
      const missing = await usage("no-such-account", whole, ADMIN_TOKEN);
      expect(missing.status).toBe(404);
      const unauthenticated = await http(service.url, "GET", `/api/v1/accounts/${a.handle}/usage?${whole}`);
      expect(unauthenticated.status).toBe(401);
    });

    it("refuses from ≥ to with 400 invalid-request", async () => {
      for (const query of [range(H0, H0), range(H0 + HOUR, H0)]) {
        const got = await usage(a.handle, query, a.token);
        expect(got.status).toBe(400);
        expect(got.body as unknown as { type: string; errors: unknown[] }).toMatchObject({
          type: expect.stringMatching(/\/invalid-request$/),
          errors: [{ path: "query.from", message: "must be before to" }],
        });
      }
      const notADate = await usage(a.handle, "from=yesterday", a.token);
      expect(notADate.status).toBe(400);
    });

    it("reports no costs when no prices are configured", async () => {
      const unpriced = { ...env };
      delete unpriced.RB_PRICES;
      const other = await startService(loadTestConfig(unpriced), {
        logger: pino({ level: "silent" }),
        clock,
        driver: memoryDriver(),
      });
      try {
        const got = await http<UsageBody>(other.url, "GET", `/api/v1/accounts/${a.handle}/usage?${whole}`, {
          token: a.token,
        });
        expect(got.status).toBe(200);
        expect(got.body).toMatchObject({ buildMinutes: 6, storageGiBHours: 20, costs: null });
      } finally {
        await other.stop();
      }
    });

    it("prints the same figures from the CLI's usage command, with the account's token or the admin token", async () => {
      const query = whole;
      const api = await usage(a.handle, query, a.token);
      const cli = (args: string[], extraEnv: Record<string, string>) =>
        run(process.execPath, ["bin/remote-builder.js", "usage", a.handle, ...args], {
          cwd: ROOT,
          env: { ...process.env, RB_SERVER_URL: service.url, ...extraEnv },
        });
      const fromTo = ["--json", "--from", iso(H0), "--to", iso(H0 + 3 * HOUR)];
      const withToken = await cli(fromTo, { RB_TOKEN: a.token });
      expect(JSON.parse(withToken.stdout)).toEqual(api.body);
      const withAdmin = await cli([...fromTo, "--admin-token", ADMIN_TOKEN], {});
      expect(JSON.parse(withAdmin.stdout)).toEqual(api.body);
      // Another account's token: the CLI fails with the service's 404.
      const refused = await cli(fromTo, { RB_TOKEN: b.token }).then(
        () => null,
        (err: { code: number; stderr: string }) => err,
      );
      expect(refused?.code).toBe(1);
      expect(refused?.stderr).toMatch(/^remote-builder: 404 Not found: /);
    }, 30_000);
  });

  describe("GET /api/v1/ledger", () => {
    const page = (after: string | null, limit: number, token = ADMIN_TOKEN) =>
      http<{ entries: ExportEntry[]; cursor: string }>(
        service.url,
        "GET",
        `/api/v1/ledger?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`,
        { token },
      );

    const allKeys = async () =>
      (await db.query<{ key: string }>("SELECT idempotency_key AS key FROM ledger_entries")).rows
        .map((r) => r.key)
        .sort();

    /** Pages from `after` until a page comes back empty; returns the keys in order and the last cursor. */
    async function drain(
      after: string | null,
      limit: number,
    ): Promise<{ keys: string[]; cursor: string | null }> {
      const keys: string[] = [];
      let cursor = after;
      for (;;) {
        const got = await page(cursor, limit);
        expect(got.status).toBe(200);
        expect(got.body.entries.length).toBeLessThanOrEqual(limit);
        keys.push(...got.body.entries.map((e) => e.key));
        if (got.body.entries.length === 0) {
          if (cursor !== null) expect(got.body.cursor).toBe(cursor);
          return { keys, cursor: got.body.cursor };
        }
        cursor = got.body.cursor;
      }
    }

    it("pages with `after` cursors through every entry exactly once, with the ledger's figures", async () => {
      const { keys } = await drain(null, 2);
      expect(keys.length).toBeGreaterThan(5);
      expect(new Set(keys).size).toBe(keys.length);
      expect([...keys].sort()).toEqual(await allKeys());
      const first = await page(null, 1000);
      const build = first.body.entries.find((e) => e.kind === "build" && e.accountId === b.id);
      expect(build).toMatchObject({ quantity: 600, unit: "seconds", endReason: "completed", shape: "small" });
    });

    it("is for the admin token only", async () => {
      const got = await page(null, 10, a.token);
      expect(got.status).toBe(403);
      expect(got.body as unknown as { type: string }).toMatchObject({
        type: expect.stringMatching(/\/admin-required$/),
      });
    });

    it("refuses a made-up cursor with 400", async () => {
      for (const cursor of ["not-a-cursor", Buffer.from("12.x").toString("base64url"), "x".repeat(201)]) {
        const got = await page(cursor, 10);
        expect([cursor.slice(0, 20), got.status]).toEqual([cursor.slice(0, 20), 400]);
        expect(got.body as unknown as { type: string }).toMatchObject({
          type: expect.stringMatching(/\/invalid-request$/),
        });
      }
    });

    it("never skips an entry whose transaction commits after a later one's", async () => {
      const { cursor } = await drain(null, 100);
      const early = storageEntry(c.id);
      const late = storageEntry(c.id);
      const slow = await connection();
      try {
        // The early entry's transaction starts first and commits last.
        await slow.query("BEGIN");
        await insertLedgerEntries(slow, [early]);
        await insertLedgerEntries(service.pool, [late]);
        const meanwhile = await drain(cursor, 100);
        expect(meanwhile.keys).not.toContain(late.key);
        await slow.query("COMMIT");
      } finally {
        slow.release();
      }
      const seen: string[] = [];
      let at = cursor;
      const deadline = Date.now() + 5_000;
      while (seen.length < 2 && Date.now() < deadline) {
        const next = await drain(at, 100);
        seen.push(...next.keys);
        at = next.cursor;
      }
      expect(seen).toEqual([early.key, late.key]);
    });

    it("orders entries by transaction id as a number: ids 8, 9, 10, 99 and 100 page out in that order, once each", async () => {
      // Rows as transactions with those ids wrote them: long since committed (a fresh cluster is
      // past id 700 once initdb is done), so all exportable. As text, "10" and "100" sort first.
      const ids = ["8", "9", "10", "99", "100"];
      const entries = ids.map(() => storageEntry(c.id));
      for (const [i, e] of entries.entries()) {
        if (e.kind !== "storage") throw new Error("a storage entry");
        await db.query(
          `INSERT INTO ledger_entries (xid, idempotency_key, kind, account_id, volume_id, started_at, ended_at, quantity, unit)
           VALUES ($1::xid8, $2, 'storage', $3, $4, $5, $6, 1, 'gib-hours')`,
          [ids[i], e.key, c.id, e.volumeId, new Date(e.startedAt), new Date(e.endedAt)],
        );
      }
      const { keys } = await drain(null, 2);
      const mine = new Set(entries.map((e) => e.key));
      expect(keys.filter((k) => mine.has(k))).toEqual(entries.map((e) => e.key));
      expect(new Set(keys).size).toBe(keys.length);
      expect([...keys].sort()).toEqual(await allKeys());
    });

    it("pages through every entry exactly once while new ones are written concurrently", async () => {
      const before = (await allKeys()).length;
      const written: string[] = [];
      let writing = true;
      // Writers: single appends, batches, transactions that stay open for a while, and builds
      // completed through the service, all at once.
      let slowDone = false;
      const writers = [
        (async () => {
          // Quick single appends for as long as the slow transactions go on.
          while (!slowDone) {
            const e = storageEntry(c.id);
            await insertLedgerEntries(service.pool, [e]);
            written.push(e.key);
            await sleep(2);
          }
        })(),
        (async () => {
          const slow = await connection();
          try {
            for (let i = 0; i < 10; i++) {
              const batch = [storageEntry(c.id), storageEntry(c.id), storageEntry(c.id)];
              await slow.query("BEGIN");
              await insertLedgerEntries(slow, batch);
              await sleep(10 + (i % 3) * 15);
              await slow.query("COMMIT");
              written.push(...batch.map((e) => e.key));
            }
          } finally {
            slowDone = true;
            slow.release();
          }
        })(),
        (async () => {
          for (let i = 0; i < 6; i++) {
            const t = H0 + 3 * HOUR + i * MINUTE;
            const end = await build(c, "small", "cold", t, t + 45 * SECOND);
            await end();
          }
        })(),
      ];
      const exported: string[] = [];
      let stoppedAt = Infinity;
      const pager = (async () => {
        let cursor: string | null = null;
        for (;;) {
          const got = await page(cursor, 3);
          expect(got.status).toBe(200);
          exported.push(...got.body.entries.map((e) => e.key));
          cursor = got.body.cursor;
          if (!writing && got.body.entries.length === 0) {
            // Caught up with everything committed once the writers stopped (or given up on the
            // entries the export skipped, which the assertions below then name)?
            const total = (await allKeys()).length;
            if (exported.length >= total || Date.now() > stoppedAt + 3_000) return;
            await sleep(10);
          }
        }
      })();
      await Promise.all(writers);
      stoppedAt = Date.now();
      writing = false;
      await pager;
      const all = await allKeys();
      expect(all.length).toBe(before + written.length + 6);
      expect(new Set(exported).size).toBe(exported.length);
      expect([...exported].sort()).toEqual(all);
    }, 30_000);
  });
});

function storageEntry(accountId: string): LedgerEntry {
  const volumeId = randomUUID();
  const hour = Date.UTC(2030, 4, 1);
  return {
    key: `storage:${volumeId}:${new Date(hour).toISOString()}`,
    kind: "storage",
    accountId,
    volumeId,
    startedAt: hour,
    endedAt: hour + HOUR,
    quantity: 1,
    unit: "gib-hours",
  };
}
