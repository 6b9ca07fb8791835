import type { Pool } from "pg";
import type { Volume } from "../../core/ledger.js";
import type { VolumeStore } from "../../core/ports.js";

const COLUMNS = "id, account_id, name, size_gib, created_at, last_used_at, deleted_at, lost_note";

export class PostgresVolumeStore implements VolumeStore {
  constructor(private readonly pool: Pool) {}

  async ensure(accountId: string, name: string, sizeGiB: number, now: number): Promise<Volume> {
    // Last use only needs minute precision (for eviction): most attaches write nothing.
    const { rows } = await this.pool.query(
      `WITH upserted AS (
         INSERT INTO cache_volumes (account_id, name, size_gib, created_at, last_used_at, lost_note)
         VALUES ($1, $2, $3, $4, $4,
           -- A volume that replaces a lost one says why the cache is empty, once.
           (SELECT retired_reason FROM cache_volumes WHERE account_id = $1 AND name = $2 AND deleted_at IS NOT NULL
             ORDER BY deleted_at DESC LIMIT 1))
         ON CONFLICT (account_id, name) WHERE deleted_at IS NULL DO UPDATE SET last_used_at = EXCLUDED.last_used_at
           WHERE cache_volumes.last_used_at < EXCLUDED.last_used_at - interval '1 minute'
         RETURNING ${COLUMNS})
       SELECT ${COLUMNS} FROM upserted
       UNION ALL
       SELECT ${COLUMNS} FROM cache_volumes
        WHERE account_id = $1 AND name = $2 AND deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM upserted)`,
      [accountId, name, sizeGiB, new Date(now)],
    );
    if (rows[0]) return toVolume(rows[0]);
    // Another transaction inserted the row after this statement's snapshot: read it now.
    const again = await this.pool.query(
      `SELECT ${COLUMNS} FROM cache_volumes WHERE account_id = $1 AND name = $2 AND deleted_at IS NULL`,
      [accountId, name],
    );
    return toVolume(again.rows[0]);
  }

  async list(accountId: string): Promise<Volume[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM cache_volumes WHERE account_id = $1 AND deleted_at IS NULL ORDER BY name`,
      [accountId],
    );
    return rows.map(toVolume);
  }

  async retire(accountId: string, name: string, now: number, lostReason?: string): Promise<Volume | null> {
    const { rows } = await this.pool.query(
      `UPDATE cache_volumes SET deleted_at = $3, retired_reason = $4
        WHERE account_id = $1 AND name = $2 AND deleted_at IS NULL
       RETURNING ${COLUMNS}`,
      [accountId, name, new Date(now), lostReason ?? null],
    );
    return rows[0] ? toVolume(rows[0]) : null;
  }

  async clearLostNote(volumeId: string): Promise<void> {
    await this.pool.query(
      `UPDATE cache_volumes SET lost_note = NULL WHERE id = $1 AND lost_note IS NOT NULL`,
      [volumeId],
    );
  }

  async listLive(): Promise<Volume[]> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM cache_volumes WHERE deleted_at IS NULL`);
    return rows.map(toVolume);
  }
}

function toVolume(row: Record<string, unknown>): Volume {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    name: row.name as string,
    sizeGiB: row.size_gib as number,
    createdAt: (row.created_at as Date).getTime(),
    lastUsedAt: (row.last_used_at as Date).getTime(),
    deletedAt: row.deleted_at ? (row.deleted_at as Date).getTime() : null,
    lostNote: (row.lost_note as string | null) ?? null,
  };
}
