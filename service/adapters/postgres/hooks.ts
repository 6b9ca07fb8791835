import type { Pool } from "pg";
import type { HookInstallation, HookProvider, NewHookInstallation } from "../../core/hooks.js";
import type { HookInstallationStore } from "../../core/ports.js";

const COLUMNS = "id, provider, issuer, owner_id, owner_name, created_at";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PostgresHookInstallationStore implements HookInstallationStore {
  constructor(private readonly pool: Pool) {}

  async create(i: NewHookInstallation): Promise<HookInstallation> {
    const { rows } = await this.pool.query(
      `INSERT INTO hook_installations (provider, issuer, owner_id, owner_name) VALUES ($1, $2, $3, $4)
       RETURNING ${COLUMNS}`,
      [i.provider, i.issuer, i.ownerId, i.ownerName],
    );
    return toInstallation(rows[0]);
  }

  async list(): Promise<HookInstallation[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM hook_installations ORDER BY provider, owner_id, created_at`,
    );
    return rows.map(toInstallation);
  }

  async get(id: string): Promise<HookInstallation | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query({
      name: "hook-installation",
      text: `SELECT ${COLUMNS} FROM hook_installations WHERE id = $1`,
      values: [id],
    });
    return rows[0] ? toInstallation(rows[0]) : null;
  }

  async forOwner(provider: HookProvider, ownerId: string): Promise<HookInstallation[]> {
    const { rows } = await this.pool.query({
      name: "hook-installations-for-owner",
      text: `SELECT ${COLUMNS} FROM hook_installations WHERE provider = $1 AND owner_id = $2 ORDER BY created_at`,
      values: [provider, ownerId],
    });
    return rows.map(toInstallation);
  }

  async remove(id: string): Promise<HookInstallation | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query(
      `DELETE FROM hook_installations WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return rows[0] ? toInstallation(rows[0]) : null;
  }
}

function toInstallation(row: Record<string, unknown>): HookInstallation {
  return {
    id: row.id as string,
    provider: row.provider as HookProvider,
    issuer: row.issuer as string,
    ownerId: row.owner_id as string,
    ownerName: (row.owner_name as string | null) ?? null,
    createdAt: (row.created_at as Date).getTime(),
  };
}
