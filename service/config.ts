import { hostname } from "node:os";
import { z } from "zod";
import { CI_KINDS, type IssuerConfig } from "./core/ci-identity.js";

/**
 * The one place the service reads its environment. Parsed once at start; a bad start lists every
 * missing or invalid variable with what it expects.
 */
const shape = z.object({ cpu: z.number().positive(), memoryGiB: z.number().positive() });
const plan = z.object({
  concurrencyLimit: z.number().int().positive(),
  monthlyBuildMinutes: z.number().int().nonnegative(),
  cacheVolumeGiB: z.number().int().positive(),
  allowedShapes: z.array(z.string()).nonempty(),
});

const DEFAULT_SHAPES = {
  small: { cpu: 2, memoryGiB: 4 },
  medium: { cpu: 4, memoryGiB: 8 },
  large: { cpu: 8, memoryGiB: 16 },
  xlarge: { cpu: 16, memoryGiB: 32 },
};
const DEFAULT_PLANS = {
  free: { concurrencyLimit: 1, monthlyBuildMinutes: 300, cacheVolumeGiB: 20, allowedShapes: ["small"] },
  team: {
    concurrencyLimit: 3,
    monthlyBuildMinutes: 3000,
    cacheVolumeGiB: 50,
    allowedShapes: ["small", "medium", "large"],
  },
  enterprise: {
    concurrencyLimit: 10,
    monthlyBuildMinutes: 30000,
    cacheVolumeGiB: 200,
    allowedShapes: ["small", "medium", "large", "xlarge"],
  },
};

/** A JSON-valued variable, validated by `schema` once parsed. */
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "is not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

const issuer = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a short lowercase name"),
    issuer: z.string().url(),
    kind: z.enum(CI_KINDS),
    audience: z.string().min(1).optional(),
  })
  .strict();
const DEFAULT_ISSUERS = [
  { name: "github", issuer: "https://token.actions.githubusercontent.com", kind: "github" },
];

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label");
const digestImage = z
  .string()
  .regex(/^[^@\s]+@sha256:[a-f0-9]{64}$/, "must be pinned by digest: <image>@sha256:<64 hex>");
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const toleration = z
  .object({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const FIELDS = z.object({
  RB_HOST: z.string().default("127.0.0.1").describe("the address the API listens on"),
  RB_PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe("the API's TCP port"),
  RB_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must start with postgres://")
    .describe("the PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/remote_builder"),
  RB_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
    .describe("the Redis URL (run Redis with appendonly yes), e.g. redis://127.0.0.1:6379"),
  RB_REDIS_PREFIX: z.string().default("rb:").describe("a prefix for every Redis key"),
  RB_ADMIN_TOKEN: z
    .string()
    .min(32, "must be at least 32 characters")
    .describe("the admin API's bearer token; generate one with `openssl rand -hex 32`"),
  RB_DRIVER: z
    .enum(["memory", "local", "kubernetes"])
    .default("memory")
    .describe(
      "where builders run: memory (tests; builds nothing), local (buildkitd processes on this machine) or kubernetes (kata-fc microVM pods)",
    ),
  RB_LOCAL_DIR: z
    .string()
    .min(1)
    .default(".data/local")
    .describe("the local driver's folder: cache volumes (kept across restarts) and per-builder files"),
  RB_BUILDKITD: z.string().min(1).default("buildkitd").describe("the buildkitd the local driver runs"),
  RB_BUILDER_IDLE_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(600)
    .describe("how long an account's builder stays up after its build, for the next one (0: never)"),
  RB_WARM_POOL: json(z.record(z.string(), z.number().int().min(0).max(100)))
    .default({})
    .describe('pre-booted builders to keep per shape (the warm tier), as JSON, e.g. {"small":2}'),
  RB_K8S_NAMESPACE: dnsLabel
    .default("remote-builder-builders")
    .describe("the namespace builder pods, their Secrets and cache-volume claims live in"),
  RB_K8S_SERVICE_NAMESPACE: dnsLabel
    .default("remote-builder")
    .describe("the service's own namespace: its leader Lease, and where the builders admit the broker from"),
  RB_K8S_LEASE_NAME: dnsLabel
    .default("remote-builder-reconciler")
    .describe("the coordination.k8s.io Lease that elects the one replica that reconciles"),
  RB_K8S_IDENTITY: z
    .string()
    .min(1)
    .optional()
    .describe("this replica's name in the Lease; default the pod's name (POD_NAME) or the host name"),
  RB_K8S_RUNTIME_CLASS: z.string().min(1).default("kata-fc").describe("the builder pods' RuntimeClass"),
  RB_K8S_BUILDKIT_IMAGE: digestImage
    .optional()
    .describe("the buildkitd image, pinned by digest, e.g. moby/buildkit:v0.11.6@sha256:<64 hex>"),
  RB_K8S_FORMAT_IMAGE: digestImage
    .optional()
    .describe(
      "an image with blkid and mkfs.ext4, pinned by digest: formats a Block cache volume on first use",
    ),
  RB_K8S_STORAGE_CLASS: z
    .string()
    .min(1)
    .default("scw-local-nvme")
    .describe("the StorageClass of cache volumes (local, block-capable, WaitForFirstConsumer)"),
  RB_K8S_VOLUME_MODE: z
    .enum(["Block", "Filesystem"])
    .default("Block")
    .describe(
      "how a cache volume reaches the builder: Block (kata-fc: formatted ext4 in the guest) or Filesystem",
    ),
  RB_K8S_NODE_SELECTOR: json(z.record(z.string(), z.string()))
    .default({ "kubernetes.io/os": "linux" })
    .describe('the builder pool\'s node labels as JSON, e.g. {"kubernetes.io/os":"linux"}'),
  RB_K8S_TOLERATIONS: json(z.array(toleration))
    .default([])
    .describe(
      'tolerations of the builder pool\'s taints as JSON, e.g. [{"key":"builders","operator":"Exists"}]',
    ),
  RB_K8S_BROKER_LABELS: json(
    z
      .record(z.string(), z.string())
      // No labels would select every pod of the service's namespace as the broker.
      .refine((labels) => Object.keys(labels).length > 0, "at least one label: {} would let in every pod"),
  )
    .default({ "app.kubernetes.io/name": "remote-builder" })
    .describe("the labels of the service's pods: the only ones the builders' NetworkPolicy lets in"),
  RB_K8S_BLOCKED_CIDRS: json(z.array(z.string().regex(CIDR, "a CIDR such as 10.0.0.0/8")))
    .default(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"])
    .describe("address ranges builders may not reach (cluster networks, the cloud metadata address)"),
  RB_K8S_NODE_GRACE_SECONDS: seconds(300).describe(
    "how long a node may be gone or NotReady before the cache volumes on it are given up",
  ),
  RB_K8S_NODE_BUDGET_GIB: z.coerce
    .number()
    .int()
    .positive()
    .default(1500)
    .describe("the cache-volume space per node; past it, the least recently used volumes are evicted"),
  RB_VOLUME_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .positive()
    .default(30)
    .describe("a cache volume unused this long is deleted"),
  RB_MEMORY_BOOT_MS: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(0)
    .describe("the memory driver's boot time"),
  RB_SHAPES: json(z.record(z.string(), shape))
    .default(DEFAULT_SHAPES)
    .describe('the shape catalog as JSON, e.g. {"small":{"cpu":2,"memoryGiB":4}}'),
  RB_DEFAULT_SHAPE: z.string().default("small").describe("the shape of a build that names none"),
  RB_PLANS: json(z.record(z.string(), plan))
    .default(DEFAULT_PLANS)
    .describe("plan defaults as JSON: concurrencyLimit, monthlyBuildMinutes, cacheVolumeGiB, allowedShapes"),
  RB_PRICES: json(
    z.object({
      currency: z.string().length(3),
      buildMinute: z.record(z.string(), z.number().nonnegative()),
      storageGiBHour: z.number().nonnegative(),
    }),
  )
    .optional()
    .describe(
      'prices for usage reports as JSON, e.g. {"currency":"USD","buildMinute":{"small":0.004},"storageGiBHour":0.0002}',
    ),
  RB_DEFAULT_PLAN: z.string().default("free").describe("the plan of an account created without one"),
  RB_CACHE_VOLUME: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a DNS label")
    .default("buildkit")
    .describe("the name of each account's build-cache volume"),
  RB_CLAIM_LEASE_SECONDS: seconds(60).describe("how long a claim lives without a heartbeat"),
  RB_BUILD_DEADLINE_SECONDS: seconds(7200).describe("the longest a build may run"),
  RB_IDLE_TIMEOUT_SECONDS: seconds(600).describe("how long a ready build may sit with no activity"),
  RB_BOOT_TIMEOUT_SECONDS: seconds(300).describe("how long a builder may take to boot"),
  RB_MAX_WAIT_SECONDS: seconds(1800).describe("the most a build may ask to wait in a queue"),
  RB_RECONCILE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(50)
    .default(1000)
    .describe("the reconcile loop's period"),
  RB_BROKER_HOST: z.string().default("127.0.0.1").describe("the address the TLS broker listens on"),
  RB_BROKER_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8443)
    .describe("the TLS broker's TCP port"),
  RB_BROKER_ENDPOINT: z
    .string()
    .regex(/^tcp:\/\/[^/]+:\d+$/, "must look like tcp://host:port")
    .optional()
    .describe("the broker's address as clients dial it; default tcp://<RB_BROKER_HOST>:<RB_BROKER_PORT>"),
  RB_BROKER_NAMES: z
    .string()
    .default("localhost,127.0.0.1")
    .transform((s) =>
      s
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean),
    )
    .describe(
      "comma-separated DNS names and IPs in the broker's server certificate; the first is the server name",
    ),
  RB_BROKER_HANDSHAKE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("how long a client may take to finish its TLS handshake with the broker"),
  RB_BROKER_MAX_HANDSHAKES: z.coerce
    .number()
    .int()
    .positive()
    .default(512)
    .describe("how many TLS handshakes the broker runs at once; connections beyond it are refused"),
  RB_BROKER_MAX_HANDSHAKES_PER_SOURCE: z.coerce
    .number()
    .int()
    .positive()
    .default(64)
    .describe("how many of those one source (an IPv4 address, an IPv6 /64) may run at once"),
  RB_BROKER_HELLO_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(3_000)
    .describe("how long a new connection may take to send its first byte before the broker drops it"),
  RB_BROKER_CERT_LIFETIME_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 86_400)
    .describe("the life of the broker's own certificates; they renew when two thirds of it has passed"),
  RB_BROKER_DIAL_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe("how long the broker waits to reach a builder (TCP and TLS) before it gives up"),
  RB_CA_CERT_FILE: z.string().optional().describe("the CA certificate (PEM), e.g. from a Kubernetes Secret"),
  RB_CA_KEY_FILE: z.string().optional().describe("the CA's private key (PKCS#8 PEM), beside RB_CA_CERT_FILE"),
  RB_CA_DIR: z
    .string()
    .optional()
    .describe("a folder holding ca.crt and ca.key, made on first use (development)"),
  RB_OIDC_AUDIENCE: z
    .string()
    .min(1)
    .default("remote-builder")
    .describe("the aud CI identity tokens must carry, exactly, e.g. the service's URL"),
  RB_OIDC_ISSUERS: json(z.array(issuer))
    .default(DEFAULT_ISSUERS as z.input<typeof issuer>[])
    .describe(
      'the CI issuers trusted for the OIDC exchange, as JSON: [{"name":"github","issuer":"https://token.actions.githubusercontent.com","kind":"github"}]; kind is github, gitlab, circleci or buildkite; audience overrides RB_OIDC_AUDIENCE',
    ),
  RB_OIDC_CREDENTIAL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(3600)
    .default(3600)
    .describe("how long an exchanged account credential lives, at most an hour"),
  RB_OIDC_JWKS_COOLDOWN_SECONDS: z.coerce
    .number()
    .nonnegative()
    .default(30)
    .describe("the least time between two fetches of an issuer's keys when an unknown kid arrives"),
  RB_OIDC_JWKS_MAX_AGE_SECONDS: z.coerce
    .number()
    .positive()
    .default(600)
    .describe("how old cached issuer keys get before they are refreshed in the background"),
  RB_GITHUB_API_URL: z
    .string()
    .url()
    .default("https://api.github.com")
    .describe("the GitHub REST API that resolves owner/repo names to ids (GHES: https://<host>/api/v3)"),
  RB_GITHUB_TOKEN: z
    .string()
    .optional()
    .describe("a GitHub token for those look-ups (optional: rate limits, private repositories)"),
  RB_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("the log level"),
});

const ENV = FIELDS.superRefine((env, ctx) => {
  if (!(env.RB_DEFAULT_SHAPE in env.RB_SHAPES)) {
    ctx.addIssue({
      code: "custom",
      path: ["RB_DEFAULT_SHAPE"],
      message: `"${env.RB_DEFAULT_SHAPE}" is not in RB_SHAPES (${Object.keys(env.RB_SHAPES).join(", ")})`,
    });
  }
  if (!(env.RB_DEFAULT_PLAN in env.RB_PLANS)) {
    ctx.addIssue({
      code: "custom",
      path: ["RB_DEFAULT_PLAN"],
      message: `"${env.RB_DEFAULT_PLAN}" is not in RB_PLANS`,
    });
  }
  if ((env.RB_CA_CERT_FILE === undefined) !== (env.RB_CA_KEY_FILE === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["RB_CA_KEY_FILE"],
      message: "RB_CA_CERT_FILE and RB_CA_KEY_FILE go together",
    });
  }
  const names = env.RB_OIDC_ISSUERS.map((i) => i.name);
  const urls = env.RB_OIDC_ISSUERS.map((i) => i.issuer);
  if (new Set(names).size !== names.length || new Set(urls).size !== urls.length) {
    ctx.addIssue({
      code: "custom",
      path: ["RB_OIDC_ISSUERS"],
      message: "each issuer needs its own name and its own issuer URL",
    });
  }
  if (env.RB_DRIVER === "kubernetes") {
    for (const name of ["RB_K8S_BUILDKIT_IMAGE", "RB_K8S_FORMAT_IMAGE"] as const) {
      if (
        env[name] === undefined &&
        (name === "RB_K8S_BUILDKIT_IMAGE" || env.RB_K8S_VOLUME_MODE === "Block")
      ) {
        ctx.addIssue({ code: "custom", path: [name], message: "is required by the kubernetes driver" });
      }
    }
  }
  const unknownPools = Object.keys(env.RB_WARM_POOL).filter((s) => !(s in env.RB_SHAPES));
  if (unknownPools.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["RB_WARM_POOL"],
      message: `shapes missing from RB_SHAPES: ${unknownPools.join(", ")}`,
    });
  }
  for (const [name, p] of Object.entries(env.RB_PLANS)) {
    const unknown = p.allowedShapes.filter((s) => !(s in env.RB_SHAPES));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["RB_PLANS"],
        message: `plan "${name}" allows shapes missing from RB_SHAPES: ${unknown.join(", ")}`,
      });
    }
  }
});

export type Env = z.output<typeof ENV>;

export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  adminToken: string;
  driver: Env["RB_DRIVER"];
  memoryBootMs: number;
  local: { dir: string; buildkitd: string };
  kubernetes: KubernetesConfig;
  volumeRetentionMs: number;
  builderIdleTtlMs: number;
  warmPool: Record<string, number>;
  shapes: Env["RB_SHAPES"];
  defaultShape: string;
  plans: Env["RB_PLANS"];
  defaultPlan: string;
  prices: NonNullable<Env["RB_PRICES"]> | null;
  cacheVolume: string;
  claimLeaseMs: number;
  buildDeadlineMs: number;
  idleTimeoutMs: number;
  bootTimeoutMs: number;
  maxWaitSeconds: number;
  reconcileIntervalMs: number;
  broker: {
    host: string;
    port: number;
    endpoint: string | null;
    names: string[];
    handshakeTimeoutMs: number;
    helloTimeoutMs: number;
    maxHandshakes: number;
    maxHandshakesPerSource: number;
    dialTimeoutMs: number;
    certLifetimeMs: number;
  };
  /** Where the CA comes from: files (production), a folder made on first use, or memory (tests). */
  ca: { certFile: string; keyFile: string } | { dir: string } | null;
  logLevel: Env["RB_LOG_LEVEL"];
  oidc: {
    audience: string;
    issuers: IssuerConfig[];
    credentialTtlMs: number;
    jwksCooldownMs: number;
    jwksMaxAgeMs: number;
    githubApiUrl: string;
    githubToken: string | null;
  };
}

export interface KubernetesConfig {
  namespace: string;
  serviceNamespace: string;
  leaseName: string;
  identity: string;
  runtimeClassName: string;
  buildkitImage: string;
  formatImage: string | null;
  storageClassName: string;
  volumeMode: "Block" | "Filesystem";
  nodeSelector: Record<string, string>;
  tolerations: Array<z.output<typeof toleration>>;
  brokerLabels: Record<string, string>;
  blockedCidrs: string[];
  nodeGraceMs: number;
  nodeBudgetGiB: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `The service cannot start; fix these environment variables:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ENV.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? "environment");
        const expected = FIELDS.shape[name as keyof Env]?.description;
        const missing = env[name] === undefined && issue.code === "invalid_type";
        return `${name}: ${missing ? "missing" : issue.message}${expected ? ` (${expected})` : ""}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    host: e.RB_HOST,
    port: e.RB_PORT,
    databaseUrl: e.RB_DATABASE_URL,
    redisUrl: e.RB_REDIS_URL,
    redisPrefix: e.RB_REDIS_PREFIX,
    adminToken: e.RB_ADMIN_TOKEN,
    driver: e.RB_DRIVER,
    memoryBootMs: e.RB_MEMORY_BOOT_MS,
    local: { dir: e.RB_LOCAL_DIR, buildkitd: e.RB_BUILDKITD },
    kubernetes: {
      namespace: e.RB_K8S_NAMESPACE,
      serviceNamespace: e.RB_K8S_SERVICE_NAMESPACE,
      leaseName: e.RB_K8S_LEASE_NAME,
      identity: e.RB_K8S_IDENTITY ?? env.POD_NAME ?? hostname(),
      runtimeClassName: e.RB_K8S_RUNTIME_CLASS,
      // Required (by the refinement above) only when the kubernetes driver is chosen.
      buildkitImage: e.RB_K8S_BUILDKIT_IMAGE ?? "",
      formatImage: e.RB_K8S_FORMAT_IMAGE ?? null,
      storageClassName: e.RB_K8S_STORAGE_CLASS,
      volumeMode: e.RB_K8S_VOLUME_MODE,
      nodeSelector: e.RB_K8S_NODE_SELECTOR,
      tolerations: e.RB_K8S_TOLERATIONS,
      brokerLabels: e.RB_K8S_BROKER_LABELS,
      blockedCidrs: e.RB_K8S_BLOCKED_CIDRS,
      nodeGraceMs: e.RB_K8S_NODE_GRACE_SECONDS * 1000,
      nodeBudgetGiB: e.RB_K8S_NODE_BUDGET_GIB,
    },
    volumeRetentionMs: e.RB_VOLUME_RETENTION_DAYS * 86_400_000,
    builderIdleTtlMs: e.RB_BUILDER_IDLE_TTL_SECONDS * 1000,
    warmPool: e.RB_WARM_POOL,
    shapes: e.RB_SHAPES,
    defaultShape: e.RB_DEFAULT_SHAPE,
    plans: e.RB_PLANS,
    defaultPlan: e.RB_DEFAULT_PLAN,
    prices: e.RB_PRICES ?? null,
    cacheVolume: e.RB_CACHE_VOLUME,
    claimLeaseMs: e.RB_CLAIM_LEASE_SECONDS * 1000,
    buildDeadlineMs: e.RB_BUILD_DEADLINE_SECONDS * 1000,
    idleTimeoutMs: e.RB_IDLE_TIMEOUT_SECONDS * 1000,
    bootTimeoutMs: e.RB_BOOT_TIMEOUT_SECONDS * 1000,
    maxWaitSeconds: e.RB_MAX_WAIT_SECONDS,
    reconcileIntervalMs: e.RB_RECONCILE_INTERVAL_MS,
    broker: {
      host: e.RB_BROKER_HOST,
      port: e.RB_BROKER_PORT,
      endpoint: e.RB_BROKER_ENDPOINT ?? null,
      names: e.RB_BROKER_NAMES,
      handshakeTimeoutMs: e.RB_BROKER_HANDSHAKE_TIMEOUT_MS,
      helloTimeoutMs: e.RB_BROKER_HELLO_TIMEOUT_MS,
      maxHandshakes: e.RB_BROKER_MAX_HANDSHAKES,
      maxHandshakesPerSource: e.RB_BROKER_MAX_HANDSHAKES_PER_SOURCE,
      dialTimeoutMs: e.RB_BROKER_DIAL_TIMEOUT_MS,
      certLifetimeMs: e.RB_BROKER_CERT_LIFETIME_SECONDS * 1000,
    },
    ca:
      e.RB_CA_CERT_FILE && e.RB_CA_KEY_FILE
        ? { certFile: e.RB_CA_CERT_FILE, keyFile: e.RB_CA_KEY_FILE }
        : e.RB_CA_DIR
          ? { dir: e.RB_CA_DIR }
          : null,
    logLevel: e.RB_LOG_LEVEL,
    oidc: {
      audience: e.RB_OIDC_AUDIENCE,
      issuers: e.RB_OIDC_ISSUERS,
      credentialTtlMs: e.RB_OIDC_CREDENTIAL_TTL_SECONDS * 1000,
      jwksCooldownMs: e.RB_OIDC_JWKS_COOLDOWN_SECONDS * 1000,
      jwksMaxAgeMs: e.RB_OIDC_JWKS_MAX_AGE_SECONDS * 1000,
      githubApiUrl: e.RB_GITHUB_API_URL,
      githubToken: e.RB_GITHUB_TOKEN ?? null,
    },
  };
}
