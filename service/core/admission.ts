import { REMOTE_BUILDER_FEATURE, type Account } from "./accounts.js";
import { resolveShape, type ResolvedShape, type ShapeCatalog, type ShapeRequest } from "./catalog.js";
import { Problem } from "./problems.js";

export interface AdmissionInput {
  account: Account;
  request: ShapeRequest;
  catalog: ShapeCatalog;
  defaultShape: string;
  /** Build seconds the account has used this calendar month (UTC), running builds included. */
  usedSecondsThisMonth: number;
  now: number;
}

/**
 * The policy half of admission, in the order the API promises: feature flag, shape allowed by
 * plan, monthly quota. (The token was checked before; concurrency is checked by claiming a slot.)
 * Throws the refusal as a Problem.
 */
export function admit(input: AdmissionInput): ResolvedShape {
  const { account, request, catalog, now } = input;
  if (!account.features.includes(REMOTE_BUILDER_FEATURE)) {
    throw new Problem(
      "feature-disabled",
      `The account "${account.handle}" does not have the ${REMOTE_BUILDER_FEATURE} feature turned on. ` +
        `An administrator can turn it on with: remote-builder admin accounts feature ${account.handle} ${REMOTE_BUILDER_FEATURE} on`,
      { feature: REMOTE_BUILDER_FEATURE },
    );
  }
  const resolved = resolveShape(request, account.profiles, catalog, input.defaultShape);
  if (resolved === null) {
    const asked = request.profile !== undefined ? `profile "${request.profile}"` : `shape "${request.shape}"`;
    throw new Problem(
      "unknown-shape",
      `There is no ${asked}. Shapes: ${Object.keys(catalog).join(", ")}; ` +
        `this account's profiles: ${Object.keys(account.profiles).join(", ") || "none"}.`,
      { shapes: Object.keys(catalog), profiles: Object.keys(account.profiles) },
    );
  }
  if (!account.allowedShapes.includes(resolved.shape)) {
    throw new Problem(
      "shape-not-allowed",
      `The "${account.plan}" plan of "${account.handle}" allows the shapes ${account.allowedShapes.join(", ")}, not "${resolved.shape}".`,
      { shape: resolved.shape, allowedShapes: account.allowedShapes, plan: account.plan },
    );
  }
  const limitSeconds = account.monthlyBuildMinutes * 60;
  if (input.usedSecondsThisMonth >= limitSeconds) {
    throw new Problem(
      "quota-exhausted",
      `"${account.handle}" has used ${Math.floor(input.usedSecondsThisMonth / 60)} of its ${account.monthlyBuildMinutes} build minutes this month; ` +
        `the quota resets at ${new Date(nextMonthStart(now)).toISOString()}.`,
      {
        limit: account.monthlyBuildMinutes,
        current: Math.floor(input.usedSecondsThisMonth / 60),
        unit: "minutes",
      },
      Math.ceil((nextMonthStart(now) - now) / 1000),
    );
  }
  return resolved;
}

export function monthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function nextMonthStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
