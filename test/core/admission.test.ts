import { describe, expect, it } from "@jest/globals";
import type { Account } from "../../service/core/accounts.js";
import { admit, monthStart, nextMonthStart } from "../../service/core/admission.js";
import { Problem } from "../../service/core/problems.js";

const catalog = { small: { cpu: 2, memoryGiB: 4 }, large: { cpu: 8, memoryGiB: 16 } };
const account: Account = {
  id: "a1",
  handle: "acme",
  plan: "team",
  features: ["remote_builder"],
  concurrencyLimit: 3,
  monthlyBuildMinutes: 100,
  cacheVolumeGiB: 50,
  allowedShapes: ["small"],
  profiles: { deploy: "small", huge: "large", ghost: "missing" },
  createdAt: 0,
  updatedAt: 0,
};
const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const input = { account, request: {}, catalog, defaultShape: "small", usedSecondsThisMonth: 0, now: NOW };

function refusal(fn: () => unknown): Problem {
  try {
    fn();
  } catch (err) {
    if (err instanceof Problem) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("admission policy", () => {
  it("admits the default shape when the request names none", () => {
    expect(admit(input)).toEqual({ shape: "small", profile: null });
  });

  it("resolves a profile to the shape it maps to", () => {
    expect(admit({ ...input, request: { profile: "deploy" } })).toEqual({
      shape: "small",
      profile: "deploy",
    });
  });

  it("refuses an account without the feature flag first, whatever else is wrong", () => {
    const p = refusal(() =>
      admit({
        ...input,
        account: { ...account, features: [] },
        request: { shape: "large" },
        usedSecondsThisMonth: 1e9,
      }),
    );
    expect(p.kind).toBe("feature-disabled");
    expect(p.status).toBe(403);
    expect(p.detail).toContain("remote-builder admin accounts feature acme remote_builder on");
  });

  it("refuses a shape that is not in the catalog, or a profile the account lacks, as unknown", () => {
    expect(refusal(() => admit({ ...input, request: { shape: "tiny" } })).kind).toBe("unknown-shape");
    expect(refusal(() => admit({ ...input, request: { profile: "nope" } })).detail).toContain(
      'profile "nope"',
    );
    expect(refusal(() => admit({ ...input, request: { profile: "ghost" } })).kind).toBe("unknown-shape");
  });

  it("refuses a shape the plan does not include, before looking at the quota", () => {
    const p = refusal(() => admit({ ...input, request: { profile: "huge" }, usedSecondsThisMonth: 1e9 }));
    expect(p.kind).toBe("shape-not-allowed");
    expect(p.extensions).toMatchObject({ shape: "large", allowedShapes: ["small"] });
  });

  it("refuses once the month's build minutes are used, until the next month starts", () => {
    expect(admit({ ...input, usedSecondsThisMonth: 100 * 60 - 1 })).toEqual({
      shape: "small",
      profile: null,
    });
    const p = refusal(() => admit({ ...input, usedSecondsThisMonth: 100 * 60 }));
    expect(p.kind).toBe("quota-exhausted");
    expect(p.status).toBe(429);
    expect(p.extensions).toEqual({ limit: 100, current: 100, unit: "minutes" });
    expect(p.retryAfterSeconds).toBe((Date.UTC(2026, 11, 1) - NOW) / 1000);
  });

  it("counts months in UTC, across the year's end", () => {
    const lastMoment = Date.UTC(2026, 11, 31, 23, 59, 59);
    expect(monthStart(lastMoment)).toBe(Date.UTC(2026, 11, 1));
    expect(nextMonthStart(lastMoment)).toBe(Date.UTC(2027, 0, 1));
  });
});
