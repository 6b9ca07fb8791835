import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedPostgres, startPostgres } from "../../service/embedded/postgres.js";
import { freePort } from "../../service/embedded/process.js";
import { type EmbeddedRedis, startRedis } from "../../service/embedded/redis.js";

/**
 * One real Redis and one real PostgreSQL for the whole run, on free ports, in a temp folder.
 * Each test file gets its own database and its own Redis key prefix (see context.ts).
 */
export async function startTestServers(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "remote-builder-test-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  const [redis, postgres] = await Promise.all([
    startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
    startPostgres({
      dataDir: join(root, "postgres"),
      port: await freePort(),
      // Durability is not under test against this shared server; speed is welcome.
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "300" },
    }),
  ]);
  process.env.RB_TEST_REDIS_URL = redis.url;
  process.env.RB_TEST_POSTGRES_URL = postgres.serverUrl;
  process.env.RB_TEST_ROOT = root;
  (globalThis as Record<string, unknown>).__remoteBuilderTest = { redis, postgres, root };
}

export async function stopTestServers(): Promise<void> {
  const started = (globalThis as Record<string, unknown>).__remoteBuilderTest as
    { redis: EmbeddedRedis; postgres: EmbeddedPostgres; root: string } | undefined;
  if (!started) return;
  await Promise.all([started.redis.stop(), started.postgres.stop()]);
  rmSync(started.root, { recursive: true, force: true });
}
