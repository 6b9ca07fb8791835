import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type pg from "pg";
import { pino, type Logger } from "pino";
import { MemoryDriver } from "./adapters/drivers/memory.js";
import { PostgresAccountStore } from "./adapters/postgres/accounts.js";
import { PostgresBuildStore } from "./adapters/postgres/builds.js";
import { migrate } from "./adapters/postgres/migrate.js";
import { PostgresLedgerStore } from "./adapters/postgres/ledger.js";
import { createPool } from "./adapters/postgres/pool.js";
import { PostgresVolumeStore } from "./adapters/postgres/volumes.js";
import { RedisClaimStore } from "./adapters/redis/claims.js";
import { createRedis } from "./adapters/redis/client.js";
import { RedisKeys } from "./adapters/redis/keys.js";
import type { Config } from "./config.js";
import { AccountService } from "./core/account-service.js";
import { BuildService } from "./core/build-service.js";
import type { BuilderDriver, Clock } from "./core/ports.js";
import { createApp } from "./http/app.js";
import { Metrics } from "./http/metrics.js";
import { Reconciler } from "./reconciler.js";

export const VERSION = "0.1.0";

export interface RunningService {
  url: string;
  builds: BuildService;
  accounts: AccountService;
  driver: BuilderDriver;
  redis: Redis;
  pool: pg.Pool;
  logger: Logger;
  stop(): Promise<void>;
}

export interface ServiceOverrides {
  logger?: Logger;
  clock?: Clock;
  driver?: BuilderDriver;
}

/** The composition root: wires adapters to the core, migrates, listens, starts the reconcile loop. */
export async function startService(
  config: Config,
  overrides: ServiceOverrides = {},
): Promise<RunningService> {
  const logger = overrides.logger ?? pino({ level: config.logLevel, base: { service: "remote-builder" } });
  const clock = overrides.clock ?? { now: () => Date.now() };
  const redis = createRedis(config.redisUrl, (err) => logger.warn({ err: err.message }, "redis connection"));
  const pool = createPool(config.databaseUrl, (err) =>
    logger.warn({ err: err.message }, "postgres connection"),
  );
  const applied = await migrate(pool);
  if (applied.length > 0) logger.info({ applied }, "database migrated");

  const driver = overrides.driver ?? new MemoryDriver({ clock, bootMs: config.memoryBootMs });
  const metrics = new Metrics();
  const accountStore = new PostgresAccountStore(pool);
  const ledger = new PostgresLedgerStore(pool);
  const accounts = new AccountService(accountStore, config.plans, config.defaultPlan, config.shapes);
  const builds = new BuildService({
    accounts: accountStore,
    builds: new PostgresBuildStore(pool),
    ledger,
    volumes: new PostgresVolumeStore(pool),
    claims: new RedisClaimStore(redis, new RedisKeys(config.redisPrefix)),
    driver,
    clock,
    telemetry: metrics,
    config: {
      catalog: config.shapes,
      defaultShape: config.defaultShape,
      cacheVolume: config.cacheVolume,
      claimLeaseMs: config.claimLeaseMs,
      buildDeadlineMs: config.buildDeadlineMs,
      timeouts: { bootMs: config.bootTimeoutMs, idleMs: config.idleTimeoutMs },
      orphanGraceMs: config.bootTimeoutMs,
      concurrencyRetryAfterSeconds: 5,
    },
    onBackgroundError: (message, err) => logger.error({ err }, message),
  });
  const app = createApp({
    accountStore,
    accounts,
    builds,
    ledger,
    prices: config.prices,
    clock,
    metrics,
    logger,
    adminToken: config.adminToken,
    maxWaitSeconds: config.maxWaitSeconds,
    claimLeaseMs: config.claimLeaseMs,
    readiness: { redis: () => redis.ping(), postgres: () => pool.query("SELECT 1") },
    version: VERSION,
  });
  const reconciler = new Reconciler(builds, metrics, logger, config.reconcileIntervalMs);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once("error", reject);
  });
  // Long polls hold a request for up to 60 s; keep-alive sockets must outlive them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  reconciler.start();
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  logger.info({ url, driver: driver.name }, "remote-builder is listening");

  return {
    url,
    builds,
    accounts,
    driver,
    redis,
    pool,
    logger,
    async stop() {
      await reconciler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await builds.drain();
      redis.disconnect();
      await pool.end();
    },
  };
}
