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
import type { BackgroundWork } from "./core/background-work.js";
import type { BuildRequests } from "./core/build-requests.js";
import {
  type BuildPorts,
  type BuildServices,
  type BuildSettings,
  createBuildServices,
} from "./core/build-services.js";
import type { ReconcilePass } from "./core/reconcile-pass.js";
import type { StorageAccrual } from "./core/storage-accrual.js";
import { builderCredentials } from "./core/builder-credentials.js";
import type {
  BuildInsightsReader,
  BuilderCredentials,
  BuilderDriver,
  Clock,
  DriverEvents,
} from "./core/ports.js";
import { type AppDeps, createApp } from "./http/app.js";
import { Metrics } from "./http/metrics.js";
import { type Leadership, Reconciler } from "./reconciler.js";
import { kubernetesFleet } from "./adapters/drivers/kubernetes/fleet.js";
import { RedisRevocations } from "./adapters/redis/revocations.js";
import { Broker } from "./broker/broker.js";
import { BuildkitHistoryReader } from "./adapters/insights/buildkit-history.js";
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
import { PrewarmService } from "./core/prewarm-service.js";
import { DashboardAccess } from "./core/dashboard-access.js";
import { RedisDashboardSessions } from "./adapters/redis/dashboard-sessions.js";
import { PostgresHookInstallationStore } from "./adapters/postgres/hooks.js";
import { RedisHookDeliveries } from "./adapters/redis/hook-deliveries.js";
import { HookDeliveries } from "./core/hook-deliveries.js";
import { HookInstallations } from "./core/hook-installations.js";
import type { Prewarmer } from "./core/prewarm.js";

export const VERSION = "0.1.0";

/**
 * What a `concurrency-limit` refusal tells a client to wait before retrying: a slot frees within
 * seconds of a build ending.
 */
const CONCURRENCY_RETRY_AFTER_SECONDS = 5;
/**
 * How long one JWKS fetch may take: an issuer that hangs must not hold the OIDC exchange, which
 * falls back to the key set it knows (and its Redis backup).
 */
const JWKS_FETCH_TIMEOUT_MS = 5_000;
/** How long a GitHub API call may take, resolving a new trust relationship's owner and repository ids. */
const GITHUB_API_TIMEOUT_MS = 10_000;
/**
 * TCP keep-alive on the broker's connections, both sides: a build can stay silent for minutes
 * between steps, and NATs and load balancers forget flows idle for a few minutes.
 */
const BROKER_KEEPALIVE_MS = 30_000;
/**
 * How often the broker checks open connections against their builds, beside revocation messages:
 * it bounds how long a connection outlives its build when a message is lost.
 */
const BROKER_SWEEP_MS = 5_000;
/** The broker identity the insights reader presents to builders is made again this often. */
const INSIGHTS_IDENTITY_LIFETIME_MS = 3_600_000;
/** Long polls hold a request for up to 60 s; keep-alive sockets must outlive them. */
const HTTP_KEEPALIVE_TIMEOUT_MS = 65_000;
/** Node requires the headers timeout to exceed the keep-alive timeout. */
const HTTP_HEADERS_TIMEOUT_MS = HTTP_KEEPALIVE_TIMEOUT_MS + 1_000;

export interface RunningService {
  url: string;
  /** What clients and the broker ask of builds. */
  builds: BuildRequests;
  /** One pass over builds, claims and builders, as the reconcile loop runs it. */
  reconcilePass: ReconcilePass;
  storage: StorageAccrual;
  /** Boots and releases started by requests; `drain()` waits for them. */
  background: BackgroundWork;
  oidc: OidcExchange;
  trust: TrustService;
  accounts: AccountService;
  /** Starts accounts' builders on CI job-queued hooks. */
  prewarmer: Prewarmer;
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
  /**
   * Reads ended builds' BuildKit history instead of the gRPC reader, within `timeoutMs`; null for
   * none. By default the configured drivers get the gRPC reader, and a driver passed in none.
   */
  insights?: { reader: BuildInsightsReader; timeoutMs?: number } | null;
  /** What hook deliveries hand queued jobs to; without one, deliveries are refused (503). */
  prewarmer?: Prewarmer;
}

export interface DriverContext {
  credentials: BuilderCredentials;
  clock: Clock;
  /** A pre-warmed builder stopped unused: counted in /metrics, billed to no one. */
  onPrewarmExpired?: (accountId: string, seconds: number) => void;
}

/** The connections every part shares. */
interface Infrastructure {
  logger: Logger;
  clock: Clock;
  redis: Redis;
  pool: pg.Pool;
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
  infra: Infrastructure,
): Promise<RunningService> {
  const { logger, clock, redis, pool } = infra;
  const applied = await migrate(pool);
  if (applied.length > 0) logger.info({ applied }, "database migrated");
  const metrics = new Metrics();
  const authority = await loadAuthority(config, logger);
  const onPrewarmExpired = (accountId: string, seconds: number) => {
    metrics.prewarmWasted(seconds);
    logger.info({ accountId, seconds: Math.round(seconds) }, "a pre-warmed builder stopped: no build came");
  };
  const fleet = await chooseDriver(
    config,
    overrides,
    { credentials: builderCredentials(authority, clock), clock, onPrewarmExpired },
    logger,
  );
  const stores = createStores(config, infra);
  const volumes = createVolumeService(config, stores, fleet.driver, clock);
  const builds = createBuildServices(
    {
      ...stores,
      builds: stores.buildStore,
      accounts: stores.accountStore,
      volumes,
      certificates: authority,
      driver: fleet.driver,
      clock,
      telemetry: metrics,
      insights: insightsReading(config, overrides, authority, logger),
      onBackgroundError: (message, err) => logger.error({ err }, message),
    },
    buildSettings(config),
  );
  const accounts = new AccountService(stores.accountStore, config.plans, config.defaultPlan, config.shapes);
  const oidc = createOidcExchange(config, stores, infra);
  const trust = createTrustService(config, stores, () => oidc.invalidate());
  const prewarmer = overrides.prewarmer ?? createPrewarmer(config, stores, fleet.driver, infra, metrics);
  const hooks = createHooks(config, stores, infra, prewarmer);
  const parts = {
    ...{ config, infra, metrics, authority, fleet, stores, volumes, builds, accounts, oidc, trust },
    ...{ prewarmer, hooks },
  };
  const running = await startListening(parts);
  logger.info(
    { url: running.url, broker: running.broker.info.endpoint, driver: fleet.driver.name },
    "remote-builder is listening",
  );
  return {
    url: running.url,
    builds: builds.requests,
    reconcilePass: builds.reconcilePass,
    storage: builds.storage,
    background: builds.background,
    oidc,
    trust,
    accounts,
    prewarmer,
    driver: fleet.driver,
    redis,
    pool,
    logger,
    broker: running.broker.broker,
    brokerInfo: running.broker.info,
    stop: () => stopService(parts, running),
  };
}

/** The adapters over PostgreSQL and Redis. */
function createStores(config: Config, { logger, redis, pool }: Infrastructure) {
  const keys = new RedisKeys(config.redisPrefix);
  // Authenticated tokens are kept in memory while this listens: revocations and account changes,
  // made on any replica, reach it at commit.
  const authChanges = new AuthChanges(config.databaseUrl, (err) =>
    logger.warn({ err: err.message }, "postgres auth-change listener"),
  );
  return {
    authChanges,
    accountStore: new PostgresAccountStore(pool, authChanges),
    buildStore: new PostgresBuildStore(pool),
    ledger: new PostgresLedgerStore(pool),
    volumeStore: new PostgresVolumeStore(pool),
    trustStore: new PostgresTrustStore(pool),
    claims: new RedisClaimStore(redis, keys),
    revocations: new RedisRevocations(redis, keys),
    credentials: new RedisCredentialStore(redis, keys),
    keySetBackup: new RedisKeySetBackup(redis, keys),
    dashboardSessions: new RedisDashboardSessions(redis, keys),
    hookInstallations: new PostgresHookInstallationStore(pool),
    hookDeliveries: new RedisHookDeliveries(redis, keys),
  };
}

type Stores = ReturnType<typeof createStores>;

/** The build services' tuning, from the configuration. */
function buildSettings(config: Config): BuildSettings {
  return {
    catalog: config.shapes,
    defaultShape: config.defaultShape,
    cacheVolume: config.cacheVolume,
    claimLeaseMs: config.claimLeaseMs,
    buildDeadlineMs: config.buildDeadlineMs,
    timeouts: { bootMs: config.bootTimeoutMs, idleMs: config.idleTimeoutMs },
    // A builder younger than a boot may belong to a build whose create has not recorded it yet.
    orphanGraceMs: config.bootTimeoutMs,
    concurrencyRetryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS,
  };
}

function createVolumeService(
  config: Config,
  stores: Stores,
  driver: BuilderDriver,
  clock: Clock,
): VolumeService {
  return new VolumeService({
    volumes: stores.volumeStore,
    claims: stores.claims,
    driver,
    clock,
    retentionMs: config.volumeRetentionMs,
    nodeBudgetGiB: config.kubernetes.nodeBudgetGiB,
  });
}

function createOidcExchange(config: Config, stores: Stores, { clock }: Infrastructure): OidcExchange {
  const verifier = new JoseIdentityVerifier(
    {
      audience: config.oidc.audience,
      issuers: config.oidc.issuers,
      cooldownMs: config.oidc.jwksCooldownMs,
      maxAgeMs: config.oidc.jwksMaxAgeMs,
      fetchTimeoutMs: JWKS_FETCH_TIMEOUT_MS,
    },
    clock,
    stores.keySetBackup,
  );
  return new OidcExchange({
    verifier,
    trust: stores.trustStore,
    credentials: stores.credentials,
    clock,
    credentialTtlMs: config.oidc.credentialTtlMs,
    buildDeadlineMs: config.buildDeadlineMs,
  });
}

/** Trust relationships; a change drops the exchange's cached relationships (`onChange`). */
function createTrustService(config: Config, stores: Stores, onChange: () => void): TrustService {
  return new TrustService({
    accounts: stores.accountStore,
    trust: stores.trustStore,
    directory: new GitHubOwnerDirectory({
      baseUrl: config.oidc.githubApiUrl,
      token: config.oidc.githubToken,
      timeoutMs: GITHUB_API_TIMEOUT_MS,
    }),
    issuers: config.oidc.issuers,
    onChange,
  });
}

/** CI hooks: installations for the admin, deliveries for the CIs. Off without RB_HOOK_SECRET_KEY. */
function createHooks(config: Config, stores: Stores, { clock }: Infrastructure, prewarmer: Prewarmer) {
  return {
    installations: new HookInstallations({
      store: stores.hookInstallations,
      issuers: config.oidc.issuers,
      key: config.hooks.secretKey,
    }),
    deliveries: new HookDeliveries({
      installations: stores.hookInstallations,
      deliveries: stores.hookDeliveries,
      prewarmer,
      key: config.hooks.secretKey,
      clock,
      staleAfterMs: config.hooks.staleAfterMs,
    }),
  };
}

/** Everything compose() built, for starting and stopping. */
interface Parts {
  config: Config;
  infra: Infrastructure;
  metrics: Metrics;
  authority: CertificateAuthority;
  fleet: ChosenDriver;
  stores: Stores;
  volumes: VolumeService;
  builds: BuildServices;
  accounts: AccountService;
  oidc: OidcExchange;
  trust: TrustService;
  prewarmer: Prewarmer;
  hooks: AppDeps["hooks"];
}

interface Listening {
  url: string;
  broker: { broker: Broker; info: BrokerInfo };
  server: Server;
  reconciler: Reconciler;
}

/**
 * Opens the broker and API ports, starts the driver and the listeners, then the reconcile loop.
 * What has started is undone in reverse when a later step fails: a port in use must not leave a
 * half-started process (a listening broker, warm builders) behind its error.
 */
async function startListening(parts: Parts): Promise<Listening> {
  const { config, infra, metrics, authority, fleet, stores, builds } = parts;
  const undo: Array<() => Promise<unknown>> = [];
  const broker = await startBroker(
    config,
    authority,
    stores.buildStore,
    builds.requests,
    metrics,
    infra.logger,
  );
  undo.push(() => broker.broker.close());
  const reconciler = new Reconciler(builds.reconcilePass, metrics, infra.logger, config.reconcileIntervalMs, {
    volumes: parts.volumes,
    leadership: fleet.leadership,
  });
  fleet.driver.onChange?.(() => reconciler.poke());
  let server: Server;
  try {
    server = await listen(createApp(appDeps(parts, broker.info)), config.port, config.host);
    undo.push(() => closeServer(server));
    await fleet.start();
    await stores.revocations.subscribe((buildId) => broker.broker.revoke(buildId));
    await stores.authChanges.start();
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => {});
    if (fleet.owned) await fleet.driver.close?.().catch(() => {});
    stores.revocations.close();
    await stores.authChanges.close();
    throw err;
  }
  fleet.leadership?.start();
  reconciler.start();
  const { port } = server.address() as AddressInfo;
  return { url: `http://${config.host}:${port}`, broker, server, reconciler };
}

function appDeps(parts: Parts, broker: BrokerInfo): AppDeps {
  const { config, infra, stores } = parts;
  return {
    broker,
    accountStore: stores.accountStore,
    accounts: parts.accounts,
    builds: parts.builds.requests,
    volumes: parts.volumes,
    oidc: parts.oidc,
    trust: parts.trust,
    ledger: stores.ledger,
    prices: config.prices,
    clock: infra.clock,
    metrics: parts.metrics,
    logger: infra.logger,
    adminToken: config.adminToken,
    maxWaitSeconds: config.maxWaitSeconds,
    claimLeaseMs: config.claimLeaseMs,
    readiness: { redis: () => infra.redis.ping(), postgres: () => infra.pool.query("SELECT 1") },
    version: VERSION,
    dashboard: {
      access: new DashboardAccess({
        sessions: stores.dashboardSessions,
        clock: infra.clock,
        linkTtlMs: config.dashboard.linkTtlMs,
        sessionTtlMs: config.dashboard.sessionTtlMs,
        stillValid: async ({ kind, hash }) => {
          const key = Buffer.from(hash, "hex");
          const found =
            kind === "agent"
              ? await stores.accountStore.authenticate(key)
              : await parts.oidc.authenticateHash(key);
          return found !== null;
        },
      }),
      builds: stores.buildStore,
      events: parts.builds.events,
    },
    hooks: parts.hooks,
  };
}

/** Stops taking work first (loop, leadership, broker, API), then waits for what is in flight. */
async function stopService(parts: Parts, running: Listening): Promise<void> {
  const { fleet, stores, builds, infra } = parts;
  await running.reconciler.stop();
  await fleet.leadership?.stop();
  stores.revocations.close();
  await stores.authChanges.close();
  await running.broker.broker.close();
  await closeServer(running.server);
  await builds.background.drain();
  if (fleet.owned) await fleet.driver.close?.();
  infra.redis.disconnect();
  await infra.pool.end();
}

/**
 * The API on its port. Not Express's `app.listen`: in Express 5 its callback is also the error
 * listener, so a port in use looked like a start.
 */
function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.keepAliveTimeout = HTTP_KEEPALIVE_TIMEOUT_MS;
    server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;
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

/** Who reconciles, with how to start and stop campaigning. */
type Campaign = NonNullable<ServiceOverrides["leadership"]>;

interface ChosenDriver {
  driver: BuilderDriver;
  leadership: Campaign | null;
  /** Starts the driver once the service's ports are its own. */
  start: () => Promise<void>;
  /** Whether the service made it, and so closes it; a driver passed in belongs to the caller. */
  owned: boolean;
}

/** The driver passed in (tests share one between replicas), or the one the configuration names. */
async function chooseDriver(
  config: Config,
  overrides: ServiceOverrides,
  context: DriverContext,
  logger: Logger,
): Promise<ChosenDriver> {
  const leadership = overrides.leadership ?? null;
  if (overrides.driver !== undefined) {
    const made = typeof overrides.driver === "function";
    const driver = typeof overrides.driver === "function" ? overrides.driver(context) : overrides.driver;
    return { driver, leadership, start: async () => {}, owned: made };
  }
  const configured = await configuredDriver(config, context, logger);
  return { ...configured, leadership: leadership ?? configured.leadership ?? null, owned: true };
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
    ...(context.onPrewarmExpired ? { onPrewarmExpired: context.onPrewarmExpired } : {}),
  };
  if (config.driver === "kubernetes") {
    const { driver, elector } = kubernetesFleet({ config: config.kubernetes, ...pools });
    return { driver, leadership: elector, start: () => driver.start() };
  }
  logger.warn(SINGLE_TENANT_WARNING);
  const driver = new LocalDriver({ dataDir: config.local.dir, buildkitd: config.local.buildkitd, ...pools });
  return { driver, leadership: null, start: () => driver.start() };
}

/** Builders started early on CI job-queued hooks, from each account's own history. */
function createPrewarmer(
  config: Config,
  stores: Stores,
  driver: BuilderDriver,
  infra: Infrastructure,
  metrics: Metrics,
): PrewarmService {
  return new PrewarmService({
    trust: stores.trustStore,
    accounts: stores.accountStore,
    builds: stores.buildStore,
    claims: stores.claims,
    driver,
    catalog: config.shapes,
    clock: infra.clock,
    telemetry: metrics,
    settings: config.prewarm,
  });
}

/**
 * Builds' insights, read from their builders' BuildKit history with the broker's identity: only for
 * the drivers that run buildkitd (one passed in by a test is a double and has none).
 */
function insightsReading(
  config: Config,
  overrides: ServiceOverrides,
  authority: CertificateAuthority,
  logger: Logger,
): BuildPorts["insights"] {
  if (overrides.insights === null || (overrides.insights === undefined && overrides.driver !== undefined))
    return undefined;
  const identity = {
    caPem: authority.caPem,
    client: () =>
      authority.issueBrokerClient(Math.min(Date.now() + INSIGHTS_IDENTITY_LIFETIME_MS, authority.notAfter)),
  };
  return {
    reader: overrides.insights?.reader ?? new BuildkitHistoryReader(identity, INSIGHTS_IDENTITY_LIFETIME_MS),
    timeoutMs: overrides.insights?.timeoutMs ?? config.insightsTimeoutMs,
    onUnavailable: (buildId, err) =>
      logger.warn(
        { build: buildId, err: err instanceof Error ? err.message : String(err) },
        "could not read the build's BuildKit history",
      ),
  };
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
  service: BuildRequests,
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
      keepAliveMs: BROKER_KEEPALIVE_MS,
      sweepMs: BROKER_SWEEP_MS,
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
