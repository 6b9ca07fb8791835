import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type pg from "pg";
import { pino, type Logger } from "pino";
import { LocalDriver, SINGLE_TENANT_WARNING } from "./adapters/drivers/local.js";
import { PostgresAccountStore } from "./adapters/postgres/accounts.js";
import { AuthChanges } from "./adapters/postgres/auth-changes.js";
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
import { builderCredentials } from "./core/builder-credentials.js";
import type { BuilderCredentials, BuilderDriver, Clock, DriverEvents } from "./core/ports.js";
import { createApp } from "./http/app.js";
import { Metrics } from "./http/metrics.js";
import { type Leadership, Reconciler } from "./reconciler.js";
import { kubernetesFleet } from "./adapters/drivers/kubernetes/fleet.js";
import { RedisRevocations } from "./adapters/redis/revocations.js";
import { Broker } from "./broker/broker.js";
import { CertificateAuthority } from "./certs/authority.js";
import type { BrokerInfo } from "./http/schemas.js";
import { readFileSync } from "node:fs";
import { GitHubOwnerDirectory } from "./adapters/oidc/github.js";
import { JoseIdentityVerifier } from "./adapters/oidc/verifier.js";
import { PostgresTrustStore } from "./adapters/postgres/trust.js";
import { RedisCredentialStore } from "./adapters/redis/credentials.js";
import { RedisKeySetBackup } from "./adapters/redis/jwks-backup.js";
import { OidcExchange } from "./core/oidc-exchange.js";
import { VolumeService } from "./core/volume-service.js";
import { TrustService } from "./core/trust-service.js";

export const VERSION = "0.1.0";

export interface RunningService {
  url: string;
  builds: BuildService;
  oidc: OidcExchange;
  trust: TrustService;
  accounts: AccountService;
  driver: BuilderDriver;
  redis: Redis;
  pool: pg.Pool;
  logger: Logger;
  broker: Broker;
  brokerInfo: BrokerInfo;
  stop(): Promise<void>;
}

export interface ServiceOverrides {
  logger?: Logger;
  clock?: Clock;
  /** A driver, or a function that makes one with the service's builder credentials. */
  driver?: BuilderDriver | ((context: DriverContext) => BuilderDriver);
  /** Who reconciles, beside a driver passed in (tests run replicas on one fake cluster). */
  leadership?: Leadership & { start(): void; stop(): Promise<void> };
}

export interface DriverContext {
  credentials: BuilderCredentials;
  clock: Clock;
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
  try {
    return await compose(config, overrides, { logger, clock, redis, pool });
  } catch (err) {
    // A start that fails (a missing buildkitd, a port in use) leaves no connection open.
    redis.disconnect();
    await pool.end().catch(() => {});
    throw err;
  }
}

async function compose(
  config: Config,
  overrides: ServiceOverrides,
  { logger, clock, redis, pool }: { logger: Logger; clock: Clock; redis: Redis; pool: pg.Pool },
): Promise<RunningService> {
  const applied = await migrate(pool);
  if (applied.length > 0) logger.info({ applied }, "database migrated");

  const metrics = new Metrics();
  const keys = new RedisKeys(config.redisPrefix);
  const authority = await loadAuthority(config, logger);
  const context: DriverContext = { credentials: builderCredentials(authority, clock), clock };
  // A driver passed in belongs to the caller (tests share one between replicas).
  const ownsDriver = typeof overrides.driver !== "object";
  const configured = overrides.driver ? null : await configuredDriver(config, context, logger);
  const driver =
    typeof overrides.driver === "function"
      ? overrides.driver(context)
      : (overrides.driver ?? configured!.driver);
  const leadership = overrides.leadership ?? configured?.leadership ?? null;
  const revocations = new RedisRevocations(redis, keys);
  const buildStore = new PostgresBuildStore(pool);
  // Authenticated tokens are kept in memory while this listens: revocations and account changes,
  // made on any replica, reach it at commit.
  const authChanges = new AuthChanges(config.databaseUrl, (err) =>
    logger.warn({ err: err.message }, "postgres auth-change listener"),
  );
  const accountStore = new PostgresAccountStore(pool, authChanges);
  const ledger = new PostgresLedgerStore(pool);
  const accounts = new AccountService(accountStore, config.plans, config.defaultPlan, config.shapes);
  const volumeStore = new PostgresVolumeStore(pool);
  const claims = new RedisClaimStore(redis, keys);
  const builds = new BuildService({
    accounts: accountStore,
    builds: buildStore,
    ledger,
    certificates: authority,
    revocations,
    volumes: volumeStore,
    claims,
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
  const volumes = new VolumeService({
    volumes: volumeStore,
    claims,
    driver,
    clock,
    retentionMs: config.volumeRetentionMs,
    nodeBudgetGiB: config.kubernetes.nodeBudgetGiB,
  });
  const trustStore = new PostgresTrustStore(pool);
  const oidc = new OidcExchange({
    verifier: new JoseIdentityVerifier(
      {
        audience: config.oidc.audience,
        issuers: config.oidc.issuers,
        cooldownMs: config.oidc.jwksCooldownMs,
        maxAgeMs: config.oidc.jwksMaxAgeMs,
        fetchTimeoutMs: 5_000,
      },
      clock,
      new RedisKeySetBackup(redis, keys),
    ),
    trust: trustStore,
    credentials: new RedisCredentialStore(redis, keys),
    clock,
    credentialTtlMs: config.oidc.credentialTtlMs,
  });
  const trust = new TrustService({
    accounts: accountStore,
    trust: trustStore,
    directory: new GitHubOwnerDirectory({
      baseUrl: config.oidc.githubApiUrl,
      token: config.oidc.githubToken,
      timeoutMs: 10_000,
    }),
    issuers: config.oidc.issuers,
    onChange: () => oidc.invalidate(),
  });
  // What has started, undone in reverse when a later step fails: a port in use must not leave a
  // half-started process (a listening broker, warm builders) behind its error.
  const undo: Array<() => Promise<unknown>> = [];
  const broker = await startBroker(config, authority, buildStore, builds, metrics, logger);
  undo.push(() => broker.broker.close());
  const app = createApp({
    broker: broker.info,
    accountStore,
    accounts,
    builds,
    volumes,
    oidc,
    trust,
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
  const reconciler = new Reconciler(builds, metrics, logger, config.reconcileIntervalMs, {
    volumes,
    leadership,
  });
  driver.onChange?.(() => reconciler.poke());
  let server: Server;
  try {
    server = await listen(app, config.port, config.host);
    undo.push(() => closeServer(server));
    await configured?.start();
    await revocations.subscribe((buildId) => broker.broker.revoke(buildId));
    await authChanges.start();
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => {});
    if (ownsDriver) await driver.close?.().catch(() => {});
    revocations.close();
    await authChanges.close();
    throw err;
  }
  leadership?.start();
  reconciler.start();
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host}:${port}`;
  logger.info({ url, broker: broker.info.endpoint, driver: driver.name }, "remote-builder is listening");

  return {
    url,
    builds,
    oidc,
    trust,
    accounts,
    driver,
    redis,
    pool,
    logger,
    broker: broker.broker,
    brokerInfo: broker.info,
    async stop() {
      await reconciler.stop();
      await leadership?.stop();
      revocations.close();
      await authChanges.close();
      await broker.broker.close();
      await closeServer(server);
      await builds.drain();
      if (ownsDriver) await driver.close?.();
      redis.disconnect();
      await pool.end();
    },
  };
}

/**
 * The API on its port. Not Express's `app.listen`: in Express 5 its callback is also the error
 * listener, so a port in use looked like a start.
 */
function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    // Long polls hold a request for up to 60 s; keep-alive sockets must outlive them.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The driver RB_DRIVER names, and how to start it (once the service's ports are its own). */
async function configuredDriver(
  config: Config,
  context: DriverContext,
  logger: Logger,
): Promise<{
  driver: BuilderDriver;
  leadership: ServiceOverrides["leadership"] | null;
  start: () => Promise<void>;
}> {
  const warmVolumeGiB = Math.min(...Object.values(config.plans).map((p) => p.cacheVolumeGiB));
  if (config.driver === null) {
    // loadConfig refuses this for `serve`; only a caller that passes its own driver leaves it unset.
    throw new Error("no driver: set RB_DRIVER (local or kubernetes), or pass one to startService");
  }
  // What every driver with pools takes: the idle and warm tiers, and where builders' events go.
  const pools = {
    credentials: context.credentials,
    clock: context.clock,
    shapes: config.shapes,
    idleTtlMs: config.builderIdleTtlMs,
    warmPool: config.warmPool,
    warmVolumeGiB,
    onEvent: ((level, message, fields) => logger[level](fields, message)) satisfies DriverEvents,
  };
  if (config.driver === "kubernetes") {
    const { driver, elector } = kubernetesFleet({ config: config.kubernetes, ...pools });
    return { driver, leadership: elector, start: () => driver.start() };
  }
  logger.warn(SINGLE_TENANT_WARNING);
  const driver = new LocalDriver({ dataDir: config.local.dir, buildkitd: config.local.buildkitd, ...pools });
  return { driver, leadership: null, start: () => driver.start() };
}

/** The CA from files (production), from a folder made on first use, or a throw-away one in memory. */
async function loadAuthority(config: Config, logger: Logger): Promise<CertificateAuthority> {
  if (config.ca === null) {
    logger.warn(
      "no RB_CA_CERT_FILE/RB_CA_KEY_FILE or RB_CA_DIR: using a throw-away CA; certificates die with this process",
    );
    return (await CertificateAuthority.create()).authority;
  }
  if ("dir" in config.ca) return CertificateAuthority.inFolder(config.ca.dir);
  return CertificateAuthority.fromPem(
    readFileSync(config.ca.certFile, "utf8"),
    readFileSync(config.ca.keyFile, "utf8"),
  );
}

async function startBroker(
  config: Config,
  authority: CertificateAuthority,
  builds: PostgresBuildStore,
  service: BuildService,
  metrics: Metrics,
  logger: Logger,
): Promise<{ broker: Broker; info: BrokerInfo }> {
  const broker = new Broker({
    caPem: authority.caPem,
    certificates: {
      async issue() {
        const notAfter = Math.min(Date.now() + config.broker.certLifetimeMs, authority.notAfter);
        const [server, upstream] = await Promise.all([
          authority.issueServer(config.broker.names, notAfter),
          authority.issueBrokerClient(notAfter),
        ]);
        return { server, upstream, notAfter };
      },
    },
    builds,
    activity: (buildId, event) => service.recordActivity(buildId, event),
    metrics,
    logger,
    options: {
      handshakeTimeoutMs: config.broker.handshakeTimeoutMs,
      helloTimeoutMs: config.broker.helloTimeoutMs,
      maxHandshakes: config.broker.maxHandshakes,
      maxHandshakesPerSource: config.broker.maxHandshakesPerSource,
      dialTimeoutMs: config.broker.dialTimeoutMs,
      keepAliveMs: 30_000,
      sweepMs: 5_000,
    },
  });
  const { port } = await broker.listen(config.broker.port, config.broker.host);
  return {
    broker,
    info: {
      endpoint: config.broker.endpoint ?? `tcp://${config.broker.host}:${port}`,
      serverName: config.broker.names[0] ?? "localhost",
      caCertificate: authority.caPem,
    },
  };
}
