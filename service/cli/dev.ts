import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "../config.js";
import { startPostgres } from "../embedded/postgres.js";
import { freePort } from "../embedded/process.js";
import { startRedis } from "../embedded/redis.js";
import { startService } from "../server.js";
import { untilSignal } from "./serve.js";

/**
 * The newcomer's first run: Redis (AOF on) and PostgreSQL of its own in `dataDir`, the service on
 * top, until Ctrl-C. Running it again reuses the data.
 */
export async function devCommand(options: { dataDir: string; port: number }): Promise<number> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const adminToken = readOrCreateSecret(join(dataDir, "admin-token"));
  const redis = await startRedis({ dataDir: join(dataDir, "redis"), port: await freePort() });
  const postgres = await startPostgres({ dataDir: join(dataDir, "postgres"), port: await freePort() }).catch(
    async (err) => {
      await redis.stop();
      throw err;
    },
  );
  const stopAll = async () => {
    await postgres.stop();
    await redis.stop();
  };
  try {
    const config = loadConfig({
      ...process.env,
      RB_PORT: String(options.port),
      RB_DATABASE_URL: await postgres.createDatabase("remote_builder"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: adminToken,
      RB_CA_DIR: process.env.RB_CA_DIR ?? join(dataDir, "ca"),
      RB_LOG_LEVEL: process.env.RB_LOG_LEVEL ?? "warn",
    });
    const service = await startService(config);
    process.stdout.write(banner(service.url, service.brokerInfo.endpoint, dataDir));
    await untilSignal();
    process.stdout.write("\nstopping the service, PostgreSQL and Redis…\n");
    await service.stop();
  } finally {
    await stopAll();
  }
  return 0;
}

function readOrCreateSecret(path: string): string {
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const secret = randomBytes(32).toString("hex");
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function banner(url: string, broker: string, dataDir: string): string {
  return `
remote-builder is running at ${url}
  TLS broker (builds connect here with their client certificate): ${broker}
  data (PostgreSQL, Redis with AOF, the CA, the admin token): ${dataDir}
  builders: the in-memory test driver. It admits, queues and tracks builds for real, but its
  builders run nothing; the local buildkitd driver is the next step on the roadmap.

Create an account and an agent token (in another terminal, from this folder):
  npx remote-builder admin accounts create acme --plan team
  npx remote-builder admin accounts feature acme remote_builder on
  npx remote-builder admin tokens create acme --name ci

Then ask for a builder with that token:
  curl -sX POST ${url}/api/v1/builds -H "Authorization: Bearer <token>" -H 'Content-Type: application/json' -d '{"shape":"small"}'

Ctrl-C stops everything this started.
`;
}
