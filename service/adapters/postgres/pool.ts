import pg from "pg";

/** The one PostgreSQL pool factory. bigint columns (fences) come back as numbers. */
export function createPool(url: string, onError: (err: Error) => void): pg.Pool {
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  pool.on("error", onError);
  return pool;
}
