import type { Pool, PoolClient } from "pg";
import type { LedgerEntry } from "../../core/ledger.js";
import type { DailyUsage, LedgerPage, LedgerStore, Usage } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";

export const LEDGER_COLUMNS =
  "idempotency_key, kind, account_id, build_id, shape, volume_id, started_at, ended_at, quantity, unit, end_reason";
/** Each column's type, for statements that pass the values as casts rather than VALUES. */
export const LEDGER_TYPES = [
  "text",
  "text",
  "uuid",
  "uuid",
  "text",
  "uuid",
  "timestamptz",
  "timestamptz",
  "numeric",
  "text",
  "text",
] as const;

/** An entry's values, in LEDGER_COLUMNS order. */
export function ledgerRow(e: LedgerEntry): unknown[] {
  return [
    e.key,
    e.kind,
    e.accountId,
    e.kind === "build" ? e.buildId : null,
    e.kind === "build" ? e.shape : null,
    e.kind === "storage" ? e.volumeId : null,
    new Date(e.startedAt),
    new Date(e.endedAt),
    e.quantity.toFixed(3),
    e.unit,
    e.kind === "build" ? e.endReason : null,
  ];
}

/** Appends entries in one statement; keys already present are skipped. Returns how many were new. */
export async function insertLedgerEntries(db: Pool | PoolClient, entries: LedgerEntry[]): Promise<number> {
  if (entries.length === 0) return 0;
  const values: unknown[] = [];
  const rows = entries.map((e) => {
    const row = ledgerRow(e);
    const placeholders = row.map((_, i) => `$${values.length + i + 1}`);
    values.push(...row);
    return `(${placeholders.join(", ")})`;
  });
  const result = await db.query(
    `INSERT INTO ledger_entries (${LEDGER_COLUMNS}) VALUES ${rows.join(", ")} ON CONFLICT (idempotency_key) DO NOTHING`,
    values,
  );
  return result.rowCount ?? 0;
}

export class PostgresLedgerStore implements LedgerStore {
  constructor(private readonly pool: Pool) {}

  append(entries: LedgerEntry[]): Promise<number> {
    return insertLedgerEntries(this.pool, entries);
  }

  async lastStorageHour(volumeId: string): Promise<number | null> {
    const { rows } = await this.pool.query(
      "SELECT max(started_at) AS hour FROM ledger_entries WHERE kind = 'storage' AND volume_id = $1",
      [volumeId],
    );
    return rows[0]?.hour ? (rows[0].hour as Date).getTime() : null;
  }

  async usage(accountId: string, from: number, to: number): Promise<Usage> {
    // Build intervals are clipped to [from, to); storage hours count by the hour they started in.
    const { rows } = await this.pool.query(
      `SELECT kind, shape,
              sum(CASE WHEN kind = 'build'
                       THEN extract(epoch FROM least(ended_at, $3) - greatest(started_at, $2))
                       ELSE quantity END) AS amount
         FROM ledger_entries
        WHERE account_id = $1 AND kind IN ('build', 'storage') AND ended_at > $2 AND started_at < $3
          AND (kind = 'build' OR started_at >= $2)
        GROUP BY kind, shape`,
      [accountId, new Date(from), new Date(to)],
    );
    const usage: Usage = { buildSecondsByShape: {}, storageGiBHours: 0 };
    for (const row of rows) {
      if (row.kind === "build") usage.buildSecondsByShape[row.shape as string] = Number(row.amount);
      else usage.storageGiBHours += Number(row.amount);
    }
    return usage;
  }

  async usageByDay(accountId: string, from: number, to: number): Promise<DailyUsage[]> {
    // Each build interval is split at UTC midnights (clipped to [from, to)); storage hours count on
    // the day they started, as usage() counts them.
    const { rows } = await this.pool.query(
      `WITH entries AS (
         SELECT kind, quantity, greatest(started_at, $2) AS s, least(ended_at, $3) AS e
           FROM ledger_entries
          WHERE account_id = $1 AND kind IN ('build', 'storage') AND ended_at > $2 AND started_at < $3
            AND (kind = 'build' OR started_at >= $2)
       ), days AS (
         SELECT to_char(d AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                CASE WHEN kind = 'build'
                     THEN extract(epoch FROM least(e, d + interval '1 day') - greatest(s, d)) ELSE 0 END AS build_seconds,
                CASE WHEN kind = 'storage' THEN quantity ELSE 0 END AS gib_hours
           FROM entries,
                generate_series(date_trunc('day', s AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                                CASE WHEN kind = 'build' THEN e - interval '1 microsecond' ELSE s END,
                                interval '1 day') AS d
       )
       SELECT day, sum(build_seconds) AS build_seconds, sum(gib_hours) AS gib_hours
         FROM days GROUP BY day ORDER BY day`,
      [accountId, new Date(from), new Date(to)],
    );
    return rows.map((row) => ({
      day: row.day as string,
      buildSeconds: Number(row.build_seconds),
      storageGiBHours: Number(row.gib_hours),
    }));
  }

  async page(after: string | null, limit: number): Promise<LedgerPage> {
    const [xid, seq] = after === null ? ["0", "0"] : decodeCursor(after);
    // Only rows from transactions older than every running one: nothing can later commit behind
    // the cursor, so paging never skips a row. (The xid's text has a name of its own: an output
    // column named `xid` would make ORDER BY xid sort it as text, "1000" before "999".)
    const { rows } = await this.pool.query(
      `SELECT seq, xid::text AS cursor_xid, ${LEDGER_COLUMNS}, recorded_at
         FROM ledger_entries
        WHERE (xid, seq) > ($1::xid8, $2::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xid, seq
        LIMIT $3`,
      [xid, seq, limit],
    );
    const last = rows.at(-1);
    return {
      entries: rows.map(toEntry),
      cursor: last
        ? encodeCursor(last.cursor_xid as string, String(last.seq))
        : (after ?? encodeCursor("0", "0")),
    };
  }
}

function encodeCursor(xid: string, seq: string): string {
  return Buffer.from(`${xid}.${seq}`).toString("base64url");
}

function decodeCursor(cursor: string): [string, string] {
  const match = /^(\d{1,20})\.(\d{1,20})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match)
    throw new Problem(
      "invalid-request",
      "The cursor is not one this service handed out; start without `after`.",
    );
  return [match[1]!, match[2]!];
}

function toEntry(row: Record<string, unknown>): LedgerEntry & { recordedAt: number } {
  const common = {
    key: row.idempotency_key as string,
    accountId: row.account_id as string,
    startedAt: (row.started_at as Date).getTime(),
    endedAt: (row.ended_at as Date).getTime(),
    quantity: Number(row.quantity),
    recordedAt: (row.recorded_at as Date).getTime(),
  };
  return row.kind === "build"
    ? {
        ...common,
        kind: "build",
        buildId: row.build_id as string,
        shape: row.shape as string,
        unit: "seconds",
        endReason: row.end_reason as string,
      }
    : { ...common, kind: "storage", volumeId: row.volume_id as string, unit: "gib-hours" };
}
