import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { insertLedgerEntries } from "../../service/adapters/postgres/ledger.js";
import type { LedgerEntry } from "../../service/core/ledger.js";
import { startTestService, type TestService } from "../harness/context.js";

/**
 * The ledger is append-only at the database: whoever connects — here the service's own role, which
 * owns the table and is a superuser — cannot change or remove a row, only add new ones.
 */

const APPEND_ONLY = /ledger_entries is append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/;

describe("ledger_entries is append-only at the database", () => {
  let service: TestService;
  let db: pg.Client;
  let entry: LedgerEntry;
  let snapshot: unknown[];

  const rows = async () =>
    (await db.query("SELECT *, xid::text AS xid FROM ledger_entries ORDER BY seq")).rows as unknown[];

  /** Runs `sql` and returns the error PostgreSQL answered with (the test fails if there was none). */
  async function refusal(sql: string, params: unknown[] = []): Promise<{ message: string; code: string }> {
    const err = await db.query(sql, params).then(
      () => null,
      (e: Error & { code: string }) => e,
    );
    if (err === null) throw new Error(`PostgreSQL accepted: ${sql}`);
    return { message: err.message, code: err.code };
  }

  beforeAll(async () => {
    service = await startTestService();
    const account = await service.account();
    const t = Date.UTC(2026, 0, 5, 10);
    entry = {
      key: "build:2f1d9f4e-0d1c-4b6a-9f57-8a2f1c3b4d5e",
      kind: "build",
      accountId: account.id,
      buildId: "2f1d9f4e-0d1c-4b6a-9f57-8a2f1c3b4d5e",
      shape: "small",
      startedAt: t,
      endedAt: t + 90_000,
      quantity: 90,
      unit: "seconds",
      endReason: "completed",
    };
    expect(await insertLedgerEntries(service.pool, [entry])).toBe(1);
    db = new pg.Client({ connectionString: service.config.databaseUrl });
    await db.connect();
    snapshot = await rows();
    expect(snapshot).toHaveLength(1);
  });

  afterAll(async () => {
    await db?.end();
    await service?.stop();
  });

  it("refuses an UPDATE with the trigger's message, and the row is unchanged", async () => {
    const err = await refusal("UPDATE ledger_entries SET quantity = 0 WHERE idempotency_key = $1", [
      entry.key,
    ]);
    expect(err.message).toMatch(APPEND_ONLY);
    expect(err.message).toContain("UPDATE");
    expect(err.code).toBe("42501"); // insufficient_privilege
    expect(await rows()).toEqual(snapshot);
  });

  it("refuses a DELETE, of one row or of all of them", async () => {
    for (const sql of [
      `DELETE FROM ledger_entries WHERE idempotency_key = '${entry.key}'`,
      "DELETE FROM ledger_entries",
    ]) {
      const err = await refusal(sql);
      expect(err.message).toMatch(APPEND_ONLY);
      expect(err.message).toContain("DELETE");
      expect(err.code).toBe("42501");
    }
    expect(await rows()).toEqual(snapshot);
  });

  it("refuses a TRUNCATE", async () => {
    const err = await refusal("TRUNCATE ledger_entries");
    expect(err.message).toMatch(APPEND_ONLY);
    expect(err.message).toContain("TRUNCATE");
    expect(await rows()).toEqual(snapshot);
  });

  it("refuses an upsert that would overwrite an entry, and a second insert under the same key", async () => {
    const upsert = await refusal(
      `INSERT INTO ledger_entries (idempotency_key, kind, account_id, build_id, shape, started_at, ended_at, quantity, unit)
       SELECT idempotency_key, kind, account_id, build_id, shape, started_at, ended_at, 1, unit
         FROM ledger_entries WHERE idempotency_key = $1
       ON CONFLICT (idempotency_key) DO UPDATE SET quantity = EXCLUDED.quantity`,
      [entry.key],
    );
    expect(upsert.message).toMatch(APPEND_ONLY);
    const duplicate = await refusal(
      `INSERT INTO ledger_entries (idempotency_key, kind, account_id, build_id, shape, started_at, ended_at, quantity, unit)
       SELECT idempotency_key, kind, account_id, build_id, shape, started_at, ended_at, 1, unit
         FROM ledger_entries WHERE idempotency_key = $1`,
      [entry.key],
    );
    expect(duplicate.code).toBe("23505"); // unique_violation on the idempotency key
    // The service's own append of an entry it already wrote is a no-op, not an error.
    expect(await insertLedgerEntries(service.pool, [{ ...entry, quantity: 1 }])).toBe(0);
    expect(await rows()).toEqual(snapshot);
  });

  it("still takes new entries", async () => {
    const next = {
      ...entry,
      key: "build:00000000-0000-4000-8000-000000000001",
      buildId: "00000000-0000-4000-8000-000000000001",
    };
    expect(await insertLedgerEntries(service.pool, [next])).toBe(1);
    const after = await rows();
    expect(after).toHaveLength(2);
    expect(after[0]).toEqual(snapshot[0]);
  });
});
