import { z } from "zod";
import { CI_KINDS } from "../core/ci-identity.js";

/** The zod types of the configuration's values: what a variable's text must say. */

/** A JSON-valued variable, validated by `schema` once parsed. */
export const json = <T extends z.ZodType>(schema: T) =>
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

export const port = z.coerce.number().int().min(0).max(65535);
export const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
export const toMs = (s: number) => s * 1000;
/** An unset optional variable as the nested configuration holds it. */
export const orNull = <T>(value: T | undefined): T | null => value ?? null;

export const shape = z.object({ cpu: z.number().positive(), memoryGiB: z.number().positive() });
export const plan = z.object({
  concurrencyLimit: z.number().int().positive(),
  monthlyBuildMinutes: z.number().int().nonnegative(),
  cacheVolumeGiB: z.number().int().positive(),
  allowedShapes: z.array(z.string()).nonempty(),
});
export const prices = z.object({
  currency: z.string().length(3),
  buildMinute: z.record(z.string(), z.number().nonnegative()),
  storageGiBHour: z.number().nonnegative(),
});

export const DEFAULT_SHAPES = {
  small: { cpu: 2, memoryGiB: 4 },
  medium: { cpu: 4, memoryGiB: 8 },
  large: { cpu: 8, memoryGiB: 16 },
  xlarge: { cpu: 16, memoryGiB: 32 },
};
export const DEFAULT_PLANS: Record<string, z.output<typeof plan>> = {
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

export const issuer = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a short lowercase name"),
    issuer: z.string().url(),
    kind: z.enum(CI_KINDS),
    audience: z.string().min(1).optional(),
  })
  .strict();
export const DEFAULT_ISSUERS: Array<z.output<typeof issuer>> = [
  { name: "github", issuer: "https://token.actions.githubusercontent.com", kind: "github" },
];

export const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS label");
export const digestImage = z
  .string()
  .regex(/^[^@\s]+@sha256:[a-f0-9]{64}$/, "must be pinned by digest: <image>@sha256:<64 hex>");
export const cidr = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "a CIDR such as 10.0.0.0/8");
export const toleration = z
  .object({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

/**
 * The drivers `serve` can run. The memory driver is not one: it builds nothing, so only the tests
 * and `dev` (without buildkitd) hand it to the service in-process.
 */
export const driverName = z.enum(["local", "kubernetes"], {
  error: (issue) =>
    issue.input === "memory"
      ? "memory is the tests' driver and builds nothing; set local or kubernetes (`remote-builder dev` alone falls back to it, where buildkitd is missing)"
      : "must be local or kubernetes",
});
