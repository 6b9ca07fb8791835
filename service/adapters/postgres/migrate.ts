import { readdirSync, readFileSync } from "node:fs";
import type { Pool } from "pg";

const MIGRATIONS = new URL("./migrations/", import.meta.url);
// Any constant works; it only has to be the same for every replica.
const MIGRATION_LOCK = 727_115_001;

/**
 * Applies `migrations/NNNN_name.sql` in order, each in its own transaction, under an advisory lock
 * so that replicas starting together do not race. Returns the versions it applied.
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    for (const file of readdirSync(MIGRATIONS).sort()) {
      const match = /^(\d{4})_(.+)\.sql$/.exec(file);
      if (!match || done.has(Number(match[1]))) continue;
      await client.query("BEGIN");
      try {
        await client.query(readFileSync(new URL(file, MIGRATIONS), "utf8"));
        await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          Number(match[1]),
          match[2],
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(Number(match[1]));
    }
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
