import type { Pool } from "pg";
import type { Build, BuildPatch } from "../../core/build.js";
import type { LedgerEntry } from "../../core/ledger.js";
import type { BuildState, StateChange } from "../../core/lifecycle.js";
import type { BuildStore } from "../../core/ports.js";
import type { PastBuild } from "../../core/prewarm-policy.js";
import { LEDGER_COLUMNS, LEDGER_TYPES, ledgerRow } from "./ledger.js";

/** Build field → column. Timestamps are epoch milliseconds in the core, timestamptz here. */
const COLUMNS = {
  id: "id",
  accountId: "account_id",
  tokenId: "token_id",
  shape: "shape",
  profile: "profile",
  state: "state",
  cacheRequest: "cache_request",
  cacheVolume: "cache_volume",
  cacheMode: "cache_mode",
  cacheReason: "cache_reason",
  labels: "labels",
  builderId: "builder_id",
  tier: "tier",
  prewarmed: "prewarmed",
  endpoint: "endpoint",
  claimFence: "claim_fence",
  volumeFence: "volume_fence",
  createdAt: "created_at",
  startedAt: "started_at",
  readyAt: "ready_at",
  endedAt: "ended_at",
  lastActivityAt: "last_activity_at",
  lastSeenAt: "last_seen_at",
  deadlineAt: "deadline_at",
  waitDeadlineAt: "wait_deadline_at",
  endReason: "end_reason",
  result: "result",
  clientCertificate: "client_certificate",
  bytesIn: "bytes_in",
  bytesOut: "bytes_out",
  repository: "repository",
  ref: "ref",
  workflow: "workflow",
  run: "run",
  repositoryKey: "repository_key",
  runKey: "run_key",
  cacheWrite: "cache_write",
  insights: "insights",
} as const satisfies Record<keyof Build, string>;

const TIMESTAMPS = new Set<keyof Build>([
  "createdAt",
  "startedAt",
  "readyAt",
  "endedAt",
  "lastActivityAt",
  "lastSeenAt",
  "deadlineAt",
  "waitDeadlineAt",
]);
const FIELDS = Object.keys(COLUMNS) as Array<keyof Build>;
const SELECT = FIELDS.map((f) => COLUMNS[f]).join(", ");
const UNFINISHED = "('queued', 'pending', 'ready', 'building')";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PostgresBuildStore implements BuildStore {
  constructor(private readonly pool: Pool) {}

  async insert(build: Build): Promise<void> {
    const placeholders = FIELDS.map((_, i) => `$${i + 1}`).join(", ");
    await this.pool.query(
      `INSERT INTO builds (${SELECT}) VALUES (${placeholders})`,
      FIELDS.map((f) => toColumn(f, build[f])),
    );
  }

  async get(id: string): Promise<Build | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query(`SELECT ${SELECT} FROM builds WHERE id = $1`, [id]);
    return rows[0] ? toBuild(rows[0]) : null;
  }

  transition(id: string, change: StateChange, patch: BuildPatch): Promise<Build | null> {
    return this.update(id, change.from, { ...patch, state: change.to });
  }

  async finish(
    id: string,
    change: StateChange,
    patch: BuildPatch,
    entry: LedgerEntry | null,
  ): Promise<Build | null> {
    // One statement, so one round trip and one atomic commit: the ledger row is written exactly
    // when the state moves, and never without it.
    const { sql, values } = updateStatement(id, change.from, { ...patch, state: change.to });
    if (!entry) return this.run(sql, values);
    const row = ledgerRow(entry);
    const params = row.map((_, i) => `$${values.length + i + 1}::${LEDGER_TYPES[i]}`);
    return this.run(
      `WITH ended AS (${sql}),
       billed AS (
         INSERT INTO ledger_entries (${LEDGER_COLUMNS}) SELECT ${params.join(", ")} FROM ended
         ON CONFLICT (idempotency_key) DO NOTHING
       )
       SELECT * FROM ended`,
      [...values, ...row],
    );
  }

  patch(id: string, state: BuildState, patch: BuildPatch): Promise<Build | null> {
    return this.update(id, state, patch);
  }

  async list(
    accountId: string,
    states: BuildState[] | null,
    limit: number,
    runKey?: string,
  ): Promise<Build[]> {
    const { rows } = await this.pool.query(
      `SELECT ${SELECT} FROM builds WHERE account_id = $1 AND ($2::text[] IS NULL OR state = ANY($2))
         AND ($4::text IS NULL OR run_key = $4)
       ORDER BY created_at DESC LIMIT $3`,
      [accountId, states, limit, runKey ?? null],
    );
    return rows.map(toBuild);
  }

  async addBytes(id: string, bytesIn: number, bytesOut: number): Promise<void> {
    await this.pool.query(
      "UPDATE builds SET bytes_in = bytes_in + $2, bytes_out = bytes_out + $3 WHERE id = $1",
      [id, bytesIn, bytesOut],
    );
  }

  async listUnfinished(limit: number): Promise<Build[]> {
    const { rows } = await this.pool.query(
      `SELECT ${SELECT} FROM builds WHERE state IN ${UNFINISHED} ORDER BY created_at LIMIT $1`,
      [limit],
    );
    return rows.map(toBuild);
  }

  async usedSeconds(accountId: string, since: number, now: number): Promise<number> {
    // Ended builds from the ledger, plus the running ones so far; both clipped to [since, now).
    const { rows } = await this.pool.query(
      `SELECT
         (SELECT coalesce(sum(extract(epoch FROM least(ended_at, $3) - greatest(started_at, $2))), 0)
            FROM ledger_entries
           WHERE account_id = $1 AND kind = 'build' AND ended_at > $2 AND started_at < $3)
       + (SELECT coalesce(sum(extract(epoch FROM $3 - greatest(ready_at, $2))), 0)
            FROM builds
           WHERE account_id = $1 AND state IN ('ready', 'building') AND ready_at < $3) AS seconds`,
      [accountId, new Date(since), new Date(now)],
    );
    return Math.max(0, Number(rows[0]?.seconds ?? 0));
  }

  async history(
    accountId: string,
    repositoryKey: string,
    since: number,
    limit: number,
  ): Promise<PastBuild[]> {
    const { rows } = await this.pool.query<{
      created_at: Date;
      workflow: string | null;
      ref: string | null;
      shape: string;
      cache_volume: string;
      cache_mode: PastBuild["cacheMode"];
    }>(
      `SELECT created_at, workflow, ref, shape, cache_volume, cache_mode FROM builds
        WHERE account_id = $1 AND repository_key = $2 AND created_at >= $3
        ORDER BY created_at DESC LIMIT $4`,
      [accountId, repositoryKey, new Date(since), limit],
    );
    return rows.map((r) => ({
      createdAt: r.created_at.getTime(),
      workflow: r.workflow,
      ref: r.ref,
      shape: r.shape,
      cacheVolume: r.cache_volume,
      cacheMode: r.cache_mode,
    }));
  }

  private update(id: string, state: BuildState, patch: Partial<Build>): Promise<Build | null> {
    const { sql, values } = updateStatement(id, state, patch);
    return this.run(sql, values);
  }

  private async run(sql: string, values: unknown[]): Promise<Build | null> {
    const { rows } = await this.pool.query(sql, values);
    return rows[0] ? toBuild(rows[0]) : null;
  }
}

/** A compare-and-set on the build's state: it changes only while the build is still in `state`. */
function updateStatement(
  id: string,
  state: BuildState,
  patch: Partial<Build>,
): { sql: string; values: unknown[] } {
  const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as Array<[keyof Build, unknown]>;
  const sets = entries.map(([field], i) => `${COLUMNS[field]} = $${i + 3}`);
  if (sets.length === 0) sets.push("state = state");
  return {
    sql: `UPDATE builds SET ${sets.join(", ")} WHERE id = $1 AND state = $2 RETURNING ${SELECT}`,
    values: [id, state, ...entries.map(([field, value]) => toColumn(field, value))],
  };
}

function toColumn(field: keyof Build, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (TIMESTAMPS.has(field)) return new Date(value as number);
  if (field === "labels" || field === "insights") return JSON.stringify(value);
  return value;
}

function toBuild(row: Record<string, unknown>): Build {
  const build: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = row[COLUMNS[field]];
    build[field] = TIMESTAMPS.has(field) && value instanceof Date ? value.getTime() : (value ?? null);
  }
  return build as unknown as Build;
}
