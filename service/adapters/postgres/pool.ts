import { createHash } from "node:crypto";
import pg from "pg";

/**
 * The one PostgreSQL pool factory. bigint columns (fences, bytes) come back as numbers, and every
 * statement is prepared once per connection (named by a hash of its text), so PostgreSQL parses
 * and plans the hot path's few statements once instead of on every request.
 */
export function createPool(url: string, onError: (err: Error) => void): pg.Pool {
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  pool.on("error", onError);
  const query = pool.query.bind(pool) as (config: pg.QueryConfig) => Promise<pg.QueryResult>;
  pool.query = ((text: string | pg.QueryConfig, values?: unknown[]) =>
    query(
      typeof text === "string" ? { name: statementName(text), text, values: values ?? [] } : text,
    )) as typeof pool.query;
  return pool;
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `rb_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}
