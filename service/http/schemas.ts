import { z } from "zod";
import type { Account, AgentToken } from "../core/accounts.js";
import type { BuildView } from "../core/build-requests.js";
import { BUILDER_TIERS } from "../core/build.js";
import { BUILD_STATES } from "../core/lifecycle.js";

/** Request and response bodies: validation at the edge, and the source of the OpenAPI document. */
const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, '.', '_' or '-', at most 63");
const handle = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lowercase letters, digits and '-', at most 63");
// PostgreSQL text and jsonb cannot hold NUL or a lone UTF-16 surrogate.
const storableText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes("\0") && !/\p{Cs}/u.test(s), "no NUL characters or unpaired surrogates");
const labels = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9./_-]{0,62}$/, "a label key"), storableText(256))
  .refine((l) => Object.keys(l).length <= 32, "at most 32 labels");
const timestamp = z.iso.datetime().nullable();

export const CreateBuildBody = z
  .object({
    shape: name
      .optional()
      .describe("a shape from the catalog; the default shape when neither this nor profile is given"),
    profile: name.optional().describe("one of the account's profiles, which maps to a shape"),
    cache: z
      .enum(["wait", "cold"])
      .default("wait")
      .describe("when the cache volume is in use: wait for it, or take a cold builder at once"),
    waitSeconds: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "how long the build may wait, queued, for a concurrency slot or the cache volume; 0 refuses at once",
      ),
    labels: labels.default({}).describe("free-form labels kept with the build"),
    publicKey: z
      .string()
      .max(16_384)
      .optional()
      .describe(
        "the PEM public key of a key pair the client made (ECDSA P-256 or P-384, or RSA of 2048 bits or more); the build's client certificate signs it",
      ),
    csr: z
      .string()
      .max(16_384)
      .optional()
      .describe("or a PEM certificate request (PKCS#10) instead of publicKey"),
  })
  .strict()
  .refine((b) => !(b.shape !== undefined && b.profile !== undefined), "give shape or profile, not both")
  .refine((b) => !(b.publicKey !== undefined && b.csr !== undefined), "give publicKey or csr, not both");

export const CompleteBuildBody = z.object({ result: z.enum(["success", "failure", "cancelled"]) }).strict();

export const BuildParams = z.object({ id: z.string().uuid("must be a build id (a UUID)") });

export const GetBuildQuery = z.object({
  wait: z
    .string()
    .regex(/^\d+s?$/, "seconds, e.g. 30 or 30s")
    .transform((w) => Number.parseInt(w, 10))
    .pipe(z.number().max(60, "at most 60 seconds"))
    .optional()
    .describe("long poll: wait up to this many seconds (at most 60) for the build to be ready or end"),
});

export const ListBuildsQuery = z.object({
  state: z
    .string()
    .transform((s) => s.split(","))
    .pipe(z.array(z.enum(BUILD_STATES)))
    .optional()
    .describe("comma-separated states"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const StepTiming = z.object({
  name: z.string().describe('the step as BuildKit names it, e.g. "[2/3] RUN make -j8"'),
  seconds: z.number(),
  cached: z.boolean(),
});

export const BuildInsights = z.object({
  status: z
    .enum(["read", "unavailable"])
    .describe("`unavailable`: the builder's history could not be read in time (see `reason`); counts are 0"),
  reason: z.string().nullable(),
  solves: z
    .number()
    .int()
    .describe("BuildKit solves the build made (one per `docker buildx build`, and more for bake)"),
  steps: z
    .number()
    .int()
    .describe(
      "the build's own steps (a Dockerfile's): BuildKit's count without the steps that load the build's inputs (`[internal] load build context`, `[context …]`), which run every build",
    ),
  cachedSteps: z.number().int(),
  cacheHitRatio: z.number().nullable().describe("cachedSteps / steps; null without steps"),
  buildkitSteps: z
    .number()
    .int()
    .describe("BuildKit's own count of the solves' steps, input loading included"),
  slowest: z
    .array(StepTiming)
    .describe("the slowest steps that ran, slowest first (from the solves' traces)"),
  errors: z.array(z.string()).describe("the failed solves' errors"),
  readAt: z.iso.datetime(),
});

export const Build = z.object({
  id: z.string(),
  accountId: z.string(),
  state: z.enum(BUILD_STATES),
  shape: z.string(),
  profile: z.string().nullable(),
  cache: z.object({
    requested: z.enum(["wait", "cold"]),
    volume: z.string(),
    mode: z.enum(["persistent", "cold"]).nullable(),
    reason: z.string().nullable(),
  }),
  queue: z.object({ waitingFor: z.enum(["concurrency", "cache"]), position: z.number().int() }).nullable(),
  tier: z
    .enum(BUILDER_TIERS)
    .nullable()
    .describe(
      "which placement served the build: the account's idle builder, a warm pool builder, or a cold start",
    ),
  prewarmed: z
    .boolean()
    .describe(
      "the idle builder it took was started ahead of it, when its CI's job-queued hook arrived (docs/prewarm.md)",
    ),
  labels: z.record(z.string(), z.string()),
  heartbeatIntervalSeconds: z.number().int(),
  createdAt: z.iso.datetime(),
  admittedAt: timestamp.describe("when the build got its slot and a builder was asked for (after any queue)"),
  readyAt: timestamp,
  endedAt: timestamp,
  deadlineAt: z.iso.datetime(),
  endReason: z.string().nullable(),
  result: z.enum(["success", "failure", "cancelled"]).nullable(),
  certificate: z
    .string()
    .nullable()
    .describe("the build's client certificate (PEM), for the key the client sent; valid until deadlineAt"),
  broker: z
    .object({
      endpoint: z
        .string()
        .describe("what `docker buildx create --driver remote` dials, e.g. tcp://builds.example.com:443"),
      serverName: z.string().describe("the name in the broker's certificate (the servername driver option)"),
      caCertificate: z.string().describe("the CA (PEM) that signs the broker's and the build's certificates"),
    })
    .describe("how to reach the builder: through the broker, with the certificate above"),
  bytesIn: z.number().int(),
  bytesOut: z.number().int(),
  ci: z
    .object({
      repository: z.string().nullable(),
      ref: z.string().nullable(),
      workflow: z.string().nullable(),
      run: z.string().nullable(),
    })
    .nullable()
    .describe("the CI run whose OIDC credential admitted the build; null for an agent token"),
  insights: BuildInsights.nullable().describe(
    "what the builder's BuildKit history says of the build's solves, read when the build ended; null until then, and for a build that had no builder",
  ),
});

export type BrokerInfo = z.infer<typeof Build>["broker"];

export const BuildList = z.object({ builds: z.array(Build) });

export const CacheVolume = z.object({
  name: z.string(),
  sizeGiB: z.number().int().describe("the size the volume was made with (the account's plan at the time)"),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().describe("when a build last attached it (to the minute)"),
});
export const CacheVolumeList = z.object({ volumes: z.array(CacheVolume) });

export const AccountBody = z
  .object({
    plan: name.optional(),
    concurrencyLimit: z.number().int().min(1).max(1000).optional(),
    monthlyBuildMinutes: z.number().int().min(0).max(2_147_483_647).optional(), // a PostgreSQL integer
    cacheVolumeGiB: z.number().int().min(1).max(10_000).optional(),
    allowedShapes: z.array(name).min(1).optional(),
    profiles: z.record(name, name).optional().describe("label → shape"),
  })
  .strict();

export const CreateAccountBody = AccountBody.extend({ handle }).strict();

/** An account's id or handle, as a path segment. */
const accountRef = z.string().regex(/^[A-Za-z0-9-]{1,63}$/, "an account id or handle");
export const FeatureParams = z.object({ account: accountRef, feature: z.string().min(1) });
export const CacheVolumeParams = z.object({ account: accountRef, name });
export const FeatureBody = z.object({ enabled: z.boolean() }).strict();
export const AccountParams = z.object({ account: accountRef });
export const TokenParams = z.object({ account: accountRef, token: z.string().min(1) });
export const MintTokenBody = z.object({ name: name.default("default") }).strict();

export const AccountView = z.object({
  id: z.string(),
  handle: z.string(),
  plan: z.string(),
  features: z.array(z.string()),
  concurrencyLimit: z.number().int(),
  monthlyBuildMinutes: z.number().int(),
  cacheVolumeGiB: z.number().int(),
  allowedShapes: z.array(z.string()),
  profiles: z.record(z.string(), z.string()),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.iso.datetime(),
  lastUsedAt: timestamp,
  revokedAt: timestamp,
});
export const TokenList = z.object({ tokens: z.array(TokenView) });
export const MintedToken = TokenView.extend({
  token: z.string().describe("the agent token; shown this once and never again"),
});

export const Health = z.object({ status: z.literal("ok") });
export const Readiness = z.object({
  status: z.enum(["ok", "unavailable"]),
  checks: z.record(z.string(), z.enum(["ok", "unavailable"])),
});

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function buildJson(
  { build, queue }: BuildView,
  heartbeatIntervalSeconds: number,
  broker: BrokerInfo,
): z.infer<typeof Build> {
  return {
    id: build.id,
    accountId: build.accountId,
    state: build.state,
    shape: build.shape,
    profile: build.profile,
    cache: {
      requested: build.cacheRequest,
      volume: build.cacheVolume,
      mode: build.cacheMode,
      reason: build.cacheReason,
    },
    queue,
    tier: build.tier,
    prewarmed: build.prewarmed,
    labels: build.labels,
    heartbeatIntervalSeconds,
    createdAt: iso(build.createdAt)!,
    admittedAt: iso(build.startedAt),
    readyAt: iso(build.readyAt),
    endedAt: iso(build.endedAt),
    deadlineAt: iso(build.deadlineAt)!,
    endReason: build.endReason,
    result: build.result,
    certificate: build.clientCertificate,
    broker,
    bytesIn: build.bytesIn,
    bytesOut: build.bytesOut,
    ci:
      build.repository === null && build.ref === null && build.workflow === null && build.run === null
        ? null
        : { repository: build.repository, ref: build.ref, workflow: build.workflow, run: build.run },
    insights: build.insights && { ...build.insights, readAt: iso(build.insights.readAt)! },
  };
}

export function accountJson(a: Account): z.infer<typeof AccountView> {
  return {
    id: a.id,
    handle: a.handle,
    plan: a.plan,
    features: a.features,
    concurrencyLimit: a.concurrencyLimit,
    monthlyBuildMinutes: a.monthlyBuildMinutes,
    cacheVolumeGiB: a.cacheVolumeGiB,
    allowedShapes: a.allowedShapes,
    profiles: a.profiles,
    createdAt: iso(a.createdAt)!,
    updatedAt: iso(a.updatedAt)!,
  };
}

export function tokenJson(t: AgentToken): z.infer<typeof TokenView> {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    createdAt: iso(t.createdAt)!,
    lastUsedAt: iso(t.lastUsedAt),
    revokedAt: iso(t.revokedAt),
  };
}

const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .optional();

export const UsageQuery = z.object({
  from: instant.describe("start, inclusive (ISO 8601); default: the start of this month (UTC)"),
  to: instant.describe("end, exclusive (ISO 8601); default: now"),
});

export const UsageView = z.object({
  account: z.string(),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  buildMinutesByShape: z.record(z.string(), z.number()),
  buildMinutes: z.number(),
  storageGiBHours: z.number(),
  costs: z
    .object({
      currency: z.string(),
      lines: z.array(
        z.object({
          item: z.string(),
          quantity: z.number(),
          unit: z.enum(["minutes", "gib-hours"]),
          unitPrice: z.number(),
          amount: z.number(),
        }),
      ),
      total: z.number(),
    })
    .nullable(),
});

export const LedgerQuery = z.object({
  after: z.string().max(200).optional().describe("the cursor from the previous page"),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

export const LedgerPage = z.object({
  entries: z.array(
    z.object({
      key: z.string(),
      kind: z.enum(["build", "storage"]),
      accountId: z.string(),
      buildId: z.string().optional(),
      shape: z.string().optional(),
      volumeId: z.string().optional(),
      startedAt: z.iso.datetime(),
      endedAt: z.iso.datetime(),
      quantity: z.number(),
      unit: z.enum(["seconds", "gib-hours"]),
      endReason: z.string().optional(),
      recordedAt: z.iso.datetime(),
    }),
  ),
  cursor: z.string(),
});
