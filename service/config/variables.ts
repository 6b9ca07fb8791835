import { z } from "zod";
import { kubernetes, KUBERNETES } from "./kubernetes-variables.js";
import { derived, variable } from "./variable.js";
import {
  DEFAULT_ISSUERS,
  DEFAULT_PLANS,
  DEFAULT_SHAPES,
  driverName,
  issuer,
  json,
  orNull,
  plan,
  port,
  positiveInt,
  prices,
  seconds,
  shape,
  toMs,
} from "./values.js";

/**
 * Every variable the service reads, each once, where it lands in the nested configuration. The
 * order is the reference's (docs/configuration.md, `npm run docs:config`) and the order in which a
 * bad start lists its problems.
 */

/** What `dev` sets itself (its own PostgreSQL, Redis, admin token and `--port`). */
const SERVE_ONLY = { commands: ["serve"] } as const;

const broker = {
  host: variable("RB_BROKER_HOST", z.string().default("127.0.0.1"), "the address the TLS broker listens on"),
  port: variable("RB_BROKER_PORT", port.default(8443), "the TLS broker's TCP port"),
  endpoint: variable(
    "RB_BROKER_ENDPOINT",
    z
      .string()
      .regex(/^tcp:\/\/[^/]+:\d+$/, "must look like tcp://host:port")
      .optional(),
    "the broker's address as clients dial it (behind a load balancer: its public name); default tcp://<RB_BROKER_HOST>:<RB_BROKER_PORT>",
    { convert: orNull },
  ),
  names: variable(
    "RB_BROKER_NAMES",
    z
      .string()
      .default("localhost,127.0.0.1")
      .transform((s) =>
        s
          .split(",")
          .map((n) => n.trim())
          .filter(Boolean),
      ),
    "comma-separated DNS names and IPs in the broker's server certificate; the first is the server name clients check",
    { shownDefault: "`localhost,127.0.0.1`" },
  ),
  handshakeTimeoutMs: variable(
    "RB_BROKER_HANDSHAKE_TIMEOUT_MS",
    positiveInt(10_000),
    "how long a client may take to finish its TLS handshake with the broker",
  ),
  helloTimeoutMs: variable(
    "RB_BROKER_HELLO_TIMEOUT_MS",
    positiveInt(3_000),
    "how long a new connection may take to send its first byte before the broker drops it",
  ),
  maxHandshakes: variable(
    "RB_BROKER_MAX_HANDSHAKES",
    positiveInt(512),
    "how many TLS handshakes the broker runs at once; connections beyond it are refused",
  ),
  maxHandshakesPerSource: variable(
    "RB_BROKER_MAX_HANDSHAKES_PER_SOURCE",
    positiveInt(64),
    "how many of those one source (an IPv4 address, an IPv6 /64) may run at once",
  ),
  dialTimeoutMs: variable(
    "RB_BROKER_DIAL_TIMEOUT_MS",
    positiveInt(10_000),
    "how long the broker waits to reach a builder (TCP and TLS) before it gives up",
  ),
  certLifetimeMs: variable(
    "RB_BROKER_CERT_LIFETIME_SECONDS",
    z.coerce
      .number()
      .int()
      .min(60)
      .default(30 * 86_400),
    "the life of the broker's own certificates; they renew in place when two thirds of it has passed",
    { convert: toMs, shownDefault: "`2592000` (30 days)" },
  ),
};

const oidc = {
  audience: variable(
    "RB_OIDC_AUDIENCE",
    z.string().min(1).default("remote-builder"),
    "the aud CI identity tokens must carry, exactly, e.g. the service's URL",
  ),
  issuers: variable(
    "RB_OIDC_ISSUERS",
    json(z.array(issuer)).default(DEFAULT_ISSUERS),
    'the CI issuers trusted for the OIDC exchange, as JSON: [{"name":"github","issuer":"https://token.actions.githubusercontent.com","kind":"github"}]; kind is github, gitlab, circleci or buildkite; audience overrides RB_OIDC_AUDIENCE',
    { shownDefault: "GitHub Actions" },
  ),
  credentialTtlMs: variable(
    "RB_OIDC_CREDENTIAL_TTL_SECONDS",
    z.coerce.number().int().min(60).max(3600).default(3600),
    "how long an exchanged account credential lives, at most an hour",
    { convert: toMs },
  ),
  jwksCooldownMs: variable(
    "RB_OIDC_JWKS_COOLDOWN_SECONDS",
    z.coerce.number().nonnegative().default(30),
    "the least time between two fetches of an issuer's keys when an unknown kid arrives",
    { convert: toMs },
  ),
  jwksMaxAgeMs: variable(
    "RB_OIDC_JWKS_MAX_AGE_SECONDS",
    z.coerce.number().positive().default(600),
    "how old cached issuer keys get before they are refreshed in the background",
    { convert: toMs },
  ),
  githubApiUrl: variable(
    "RB_GITHUB_API_URL",
    z.string().url().default("https://api.github.com"),
    "the GitHub REST API that resolves owner/repo names to ids (GHES: https://<host>/api/v3)",
  ),
  githubToken: variable(
    "RB_GITHUB_TOKEN",
    z.string().optional(),
    "a GitHub token for those look-ups (optional: rate limits, private repositories)",
    { convert: orNull },
  ),
};

const hooks = {
  secretKey: variable(
    "RB_HOOK_SECRET_KEY",
    z
      .string()
      .regex(/^([0-9a-fA-F]{2}){32,}$/, "must be at least 32 bytes in hex, e.g. from `openssl rand -hex 32`")
      .optional(),
    "the key each hook installation's secret is derived from (HMAC-SHA256 of its id), at least 32 random bytes in hex, the same on every replica (`openssl rand -hex 32`); changing it changes every installation's secret",
    {
      ...SERVE_ONLY,
      convert: (hex: string | undefined) => (hex === undefined ? null : Buffer.from(hex, "hex")),
      shownDefault: "unset: hooks are off",
    },
  ),
  staleAfterMs: variable(
    "RB_HOOK_STALE_SECONDS",
    seconds(600),
    "a job-queued delivery older than this is acknowledged and ignored: a builder started now would come too late",
    { convert: toMs },
  ),
};

export const DECLARATIONS = {
  host: variable("RB_HOST", z.string().default("127.0.0.1"), "the address the API listens on"),
  port: variable("RB_PORT", port.default(8080), "the API's TCP port", SERVE_ONLY),
  databaseUrl: variable(
    "RB_DATABASE_URL",
    z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres://"),
    "the PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/remote_builder; migrations run at start",
    SERVE_ONLY,
  ),
  redisUrl: variable(
    "RB_REDIS_URL",
    z.string().regex(/^rediss?:\/\//, "must start with redis:// or rediss://"),
    "the Redis URL (run Redis with appendonly yes: claims, fences and leases must survive a restart), e.g. redis://127.0.0.1:6379",
    SERVE_ONLY,
  ),
  redisPrefix: variable("RB_REDIS_PREFIX", z.string().default("rb:"), "a prefix for every Redis key"),
  adminToken: variable(
    "RB_ADMIN_TOKEN",
    z.string().min(32, "must be at least 32 characters"),
    "the admin API's bearer token; generate one with `openssl rand -hex 32`",
    SERVE_ONLY,
  ),
  driver: variable(
    "RB_DRIVER",
    // Required by `serve` (the check in config.ts): only callers that bring a driver may leave it unset.
    driverName.optional(),
    "where builders run: local (buildkitd processes on this machine) or kubernetes (kata-fc microVM pods, docs/kubernetes.md)",
    { convert: orNull, shownDefault: "required by serve" },
  ),
  logLevel: variable(
    "RB_LOG_LEVEL",
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    "the log level",
  ),
  local: {
    dir: variable(
      "RB_LOCAL_DIR",
      z.string().min(1).default(".data/local"),
      "the local driver's folder: cache volumes (kept across restarts) and per-builder files",
      { drivers: ["local"] },
    ),
    buildkitd: variable(
      "RB_BUILDKITD",
      z.string().min(1).default("buildkitd"),
      "the buildkitd the local driver runs",
      { drivers: ["local"] },
    ),
  },
  builderIdleTtlMs: variable(
    "RB_BUILDER_IDLE_TTL_SECONDS",
    z.coerce.number().int().min(0).default(600),
    "how long an account's builder stays up after its build, for the next one (the idle tier; 0: never)",
    { convert: toMs, drivers: ["local", "kubernetes"] },
  ),
  warmPool: variable(
    "RB_WARM_POOL",
    json(z.record(z.string(), z.number().int().min(0).max(100))).default({}),
    'pre-booted builders to keep per shape (the warm tier), as JSON, e.g. {"small":2}',
    { drivers: ["local", "kubernetes"] },
  ),
  kubernetes,
  volumeRetentionMs: variable(
    "RB_VOLUME_RETENTION_DAYS",
    positiveInt(30),
    "a cache volume unused this long is deleted",
    { ...KUBERNETES, convert: (days) => days * 86_400_000 },
  ),
  shapes: variable(
    "RB_SHAPES",
    json(z.record(z.string(), shape)).default(DEFAULT_SHAPES),
    'the shape catalog as JSON, e.g. {"small":{"cpu":2,"memoryGiB":4}}',
    {
      shownDefault: Object.entries(DEFAULT_SHAPES)
        .map(([name, s]) => `${name} (${s.cpu} CPUs, ${s.memoryGiB} GiB)`)
        .join(", "),
    },
  ),
  defaultShape: variable(
    "RB_DEFAULT_SHAPE",
    z.string().default("small"),
    "the shape of a build that names none",
  ),
  plans: variable(
    "RB_PLANS",
    json(z.record(z.string(), plan)).default(DEFAULT_PLANS),
    "plan defaults for new accounts as JSON: concurrencyLimit, monthlyBuildMinutes, cacheVolumeGiB, allowedShapes",
    { shownDefault: Object.keys(DEFAULT_PLANS).join(", ") },
  ),
  defaultPlan: variable(
    "RB_DEFAULT_PLAN",
    z.string().default("free"),
    "the plan of an account created without one",
  ),
  prices: variable(
    "RB_PRICES",
    json(prices).optional(),
    'prices for usage reports as JSON, e.g. {"currency":"USD","buildMinute":{"small":0.004},"storageGiBHour":0.0002}',
    { convert: orNull },
  ),
  cacheVolume: variable(
    "RB_CACHE_VOLUME",
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a DNS label")
      .default("buildkit"),
    "the name of each account's build-cache volume",
  ),
  claimLeaseMs: variable(
    "RB_CLAIM_LEASE_SECONDS",
    seconds(60),
    "how long a claim lives without a heartbeat",
    {
      convert: toMs,
    },
  ),
  buildDeadlineMs: variable("RB_BUILD_DEADLINE_SECONDS", seconds(7200), "the longest a build may run", {
    convert: toMs,
  }),
  idleTimeoutMs: variable(
    "RB_IDLE_TIMEOUT_SECONDS",
    seconds(600),
    "how long a ready build may sit with no activity",
    { convert: toMs },
  ),
  bootTimeoutMs: variable("RB_BOOT_TIMEOUT_SECONDS", seconds(300), "how long a builder may take to boot", {
    convert: toMs,
  }),
  insightsTimeoutMs: variable(
    "RB_INSIGHTS_TIMEOUT_SECONDS",
    seconds(8),
    "how long the service may take to read an ended build's BuildKit history (its insights) before the builder goes back; BuildKit v0.11 writes a solve's trace 3 s after it ends",
    { convert: toMs },
  ),
  maxWaitSeconds: variable(
    "RB_MAX_WAIT_SECONDS",
    seconds(1800),
    "the most a build may ask to wait in a queue",
  ),
  reconcileIntervalMs: variable(
    "RB_RECONCILE_INTERVAL_MS",
    z.coerce.number().int().min(50).default(1000),
    "the reconcile loop's period",
  ),
  dashboard: {
    linkTtlMs: variable(
      "RB_DASHBOARD_LINK_TTL_SECONDS",
      z.coerce.number().int().min(1).max(3600).default(300),
      "how long a dashboard sign-in link (`remote-builder dashboard`) works; it works once",
      { convert: toMs },
    ),
    sessionTtlMs: variable(
      "RB_DASHBOARD_SESSION_TTL_SECONDS",
      z.coerce.number().int().min(60).max(86_400).default(3600),
      "how long the dashboard's session cookie lives once a link is used",
      { convert: toMs },
    ),
  },
  prewarm: {
    ttlMs: variable(
      "RB_PREWARM_TTL_SECONDS",
      z.coerce.number().int().min(10).max(3600).default(300),
      "how long a builder started on a CI's job-queued hook waits for its build before it stops (unused, it is billed to no one)",
      { convert: toMs, drivers: ["local", "kubernetes"] },
    ),
    historyDays: variable(
      "RB_PREWARM_HISTORY_DAYS",
      z.coerce.number().int().min(1).max(90).default(14),
      "how many days of an account's builds decide whether a queued job will ask for a builder",
      { drivers: ["local", "kubernetes"] },
    ),
    minBuilds: variable(
      "RB_PREWARM_MIN_BUILDS",
      z.coerce.number().int().min(1).max(1000).default(2),
      "how many builds of the job's workflow in that history it takes to start a builder for it",
      { drivers: ["local", "kubernetes"] },
    ),
    maxPerAccount: variable(
      "RB_PREWARM_MAX_PER_ACCOUNT",
      z.coerce.number().int().min(0).max(100).default(2),
      "pre-warmed builders an account may have waiting at once (0: never pre-warm)",
      { drivers: ["local", "kubernetes"] },
    ),
  },
  broker,
  /** Where the CA comes from: files (production), a folder made on first use, or memory (tests). */
  ca: derived(
    {
      certFile: variable(
        "RB_CA_CERT_FILE",
        z.string().optional(),
        "the CA certificate (ECDSA P-256, PEM) every replica signs with, e.g. mounted from a Kubernetes Secret",
      ),
      keyFile: variable(
        "RB_CA_KEY_FILE",
        z.string().optional(),
        "the CA's private key (PKCS#8 PEM), beside RB_CA_CERT_FILE",
      ),
      dir: variable(
        "RB_CA_DIR",
        z.string().optional(),
        "or a folder holding ca.crt and ca.key, made on first use (`dev` uses .data/ca); with neither, a throw-away CA (a warning says so)",
      ),
    },
    ({ certFile, keyFile, dir }): { certFile: string; keyFile: string } | { dir: string } | null =>
      certFile && keyFile ? { certFile, keyFile } : dir ? { dir } : null,
  ),
  oidc,
  hooks,
};
