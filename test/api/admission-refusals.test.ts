import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";

/** Asserts an RFC 9457 refusal: status, stable type, content type, and a detail that explains it. */
/** Seconds from `now` to the first instant of the next UTC month. */
function secondsToNextMonth(now: number): number {
  const d = new Date(now);
  return Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - now) / 1000);
}

describe("admission refusals", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ RB_MAX_WAIT_SECONDS: "30" });
  });
  afterAll(async () => {
    await service.stop();
  });

  const createBuild = (token: string, body: unknown = {}) =>
    http(service.url, "POST", "/api/v1/builds", { token, body });

  it("refuses an account without the remote_builder flag with 403 feature-disabled", async () => {
    const { token, handle } = await service.account({ featureOn: false });
    const res = await createBuild(token, { shape: "small" });
    expectProblem(res, 403, "feature-disabled", /does not have the remote_builder feature turned on/);
    expect(res.body.detail).toContain(`remote-builder admin accounts feature ${handle} remote_builder on`);
    expect(res.body.feature).toBe("remote_builder");
    expect(res.headers.get("retry-after")).toBeNull();
  });

  it("refuses a shape the plan does not include with 403 shape-not-allowed, naming the allowed shapes", async () => {
    const { token } = await service.account({ plan: "free" });
    const res = await createBuild(token, { shape: "large" });
    expectProblem(res, 403, "shape-not-allowed", /"free" plan .* allows the shapes small, not "large"/);
    expect(res.body).toMatchObject({ shape: "large", allowedShapes: ["small"], plan: "free" });
  });

  it("refuses a shape that is not in the catalog with 422 unknown-shape, listing the shapes", async () => {
    const { token } = await service.account({ plan: "team" });
    const res = await createBuild(token, { shape: "gigantic" });
    expectProblem(
      res,
      422,
      "unknown-shape",
      /There is no shape "gigantic"\. Shapes: small, medium, large, xlarge/,
    );
    expect(res.body.shapes).toEqual(["small", "medium", "large", "xlarge"]);
  });

  it("refuses a profile the account does not have with 422 unknown-shape, listing its profiles", async () => {
    const { token } = await service.account({ plan: "team", profiles: { deploy: "medium" } });
    const res = await createBuild(token, { profile: "nightly" });
    expectProblem(res, 422, "unknown-shape", /There is no profile "nightly".*profiles: deploy/);
    expect(res.body.profiles).toEqual(["deploy"]);
  });

  it.each([
    ["shape", "constructor"],
    ["shape", "toString"],
    ["profile", "toString"],
    ["profile", "valueOf"],
  ])("refuses the %s %s, an object property and no shape, with 422 unknown-shape", async (field, name) => {
    const { token } = await service.account({ plan: "enterprise" });
    const res = await createBuild(token, { [field]: name });
    expectProblem(res, 422, "unknown-shape", new RegExp(`There is no ${field} "${name}"`));
  });

  it("resolves a profile to its shape and keeps the profile's name on the build", async () => {
    const { token } = await service.account({ plan: "team", profiles: { deploy: "medium" } });
    const res = await createBuild(token, { profile: "deploy" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ shape: "medium", profile: "deploy", state: "pending" });
  });

  it("refuses a profile whose shape the plan does not include with shape-not-allowed", async () => {
    const { token } = await service.account({ plan: "free", profiles: { big: "xlarge" } });
    const res = await createBuild(token, { profile: "big" });
    expectProblem(res, 403, "shape-not-allowed", /not "xlarge"/);
    expect(res.body).toMatchObject({ shape: "xlarge", allowedShapes: ["small"] });
  });

  it("refuses with 429 quota-exhausted when the monthly minutes are zero, retrying at the next UTC month", async () => {
    const { token } = await service.account({ plan: "team", monthlyBuildMinutes: 0 });
    const before = Date.now();
    const res = await createBuild(token, { shape: "small" });
    const after = Date.now();
    expectProblem(res, 429, "quota-exhausted", /has used 0 of its 0 build minutes this month/);
    expect(res.body).toMatchObject({ limit: 0, current: 0, unit: "minutes" });
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(secondsToNextMonth(after));
    expect(retryAfter).toBeLessThanOrEqual(secondsToNextMonth(before));
    const d = new Date(before);
    const reset = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString();
    expect(res.body.detail).toContain(`the quota resets at ${reset}`);
  });

  it("refuses with 429 concurrency-limit and Retry-After when every slot is taken, and admits once one frees", async () => {
    const { token } = await service.account({ plan: "team", concurrencyLimit: 1 });
    const first = await createBuild(token, { shape: "small" });
    expect(first.status).toBe(201);
    const second = await createBuild(token, { shape: "small" });
    expectProblem(second, 429, "concurrency-limit", /already runs 1 of 1 concurrent builds/);
    expect(second.body).toMatchObject({ limit: 1, current: 1 });
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(0);

    const done = await http(service.url, "POST", `/api/v1/builds/${String(first.body.id)}/complete`, {
      token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    expect((await createBuild(token, { shape: "small" })).status).toBe(201);
  });

  it("reports the number of running builds as current when the limit is above one", async () => {
    const { token } = await service.account({ plan: "team", concurrencyLimit: 2 });
    expect((await createBuild(token)).status).toBe(201);
    expect((await createBuild(token)).status).toBe(201);
    const third = await createBuild(token);
    expectProblem(third, 429, "concurrency-limit", /already runs 2 of 2/);
    expect(third.body).toMatchObject({ limit: 2, current: 2 });
  });

  it("refuses waitSeconds above RB_MAX_WAIT_SECONDS with 400 invalid-request naming the field", async () => {
    const { token } = await service.account({ plan: "team" });
    const res = await createBuild(token, { shape: "small", waitSeconds: 31 });
    expectProblem(res, 400, "invalid-request", /waitSeconds is 31; the most this service allows is 30/);
    expect(res.body.errors).toEqual([{ path: "body.waitSeconds", message: "at most 30" }]);
    expect((await createBuild(token, { shape: "small", waitSeconds: 30 })).status).toBe(201);
  });

  it("does not record a build for any refusal", async () => {
    const { token, id } = await service.account({ plan: "free", monthlyBuildMinutes: 0 });
    await createBuild(token, { shape: "large" });
    await createBuild(token, { shape: "nope" });
    await createBuild(token, { shape: "small" });
    const { rows } = await service.pool.query("SELECT count(*)::int AS n FROM builds WHERE account_id = $1", [
      id,
    ]);
    expect(rows[0].n).toBe(0);
  });

  describe("checks in the promised order", () => {
    it("checks the token before the flag: a bad token on a flag-off account is 401", async () => {
      await service.account({ featureOn: false });
      const res = await createBuild(`rba_${"x".repeat(43)}`, { shape: "xlarge" });
      expectProblem(res, 401, "unauthorized", /not a valid agent token/);
    });

    it("checks the flag before the shape: flag off and shape not allowed is feature-disabled", async () => {
      const { token } = await service.account({ plan: "free", featureOn: false });
      expectProblem(await createBuild(token, { shape: "xlarge" }), 403, "feature-disabled", /remote_builder/);
    });

    it("checks the flag before the quota: flag off and no minutes left is feature-disabled", async () => {
      const { token } = await service.account({ monthlyBuildMinutes: 0, featureOn: false });
      expectProblem(await createBuild(token, { shape: "small" }), 403, "feature-disabled", /remote_builder/);
    });

    it("checks the shape before the quota: shape not allowed and no minutes left is shape-not-allowed", async () => {
      const { token } = await service.account({ plan: "free", monthlyBuildMinutes: 0 });
      expectProblem(await createBuild(token, { shape: "large" }), 403, "shape-not-allowed", /not "large"/);
    });

    it("checks the quota before concurrency: no minutes left and no free slot is quota-exhausted", async () => {
      const { token, id } = await service.account({ plan: "team", concurrencyLimit: 1 });
      expect((await createBuild(token)).status).toBe(201);
      await service.accounts.update(id, { monthlyBuildMinutes: 0 });
      const res = await createBuild(token);
      expectProblem(res, 429, "quota-exhausted", /0 build minutes/);
      expect(res.body).toMatchObject({ limit: 0, current: 0 });
    });
  });
});

describe("the monthly quota, counted from real usage", () => {
  // A clock the test moves: builds really run (admitted, ready, completed, billed to the ledger)
  // across a known month boundary. No reconcile pass runs, so nothing is reaped as time jumps.
  let now = Date.UTC(2031, 3, 30, 21, 0, 0); // 2031-04-30T21:00Z
  const advance = (minutes: number) => {
    now += minutes * 60_000;
  };
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService(
      { RB_RECONCILE_INTERVAL_MS: "3600000", RB_CLAIM_LEASE_SECONDS: "86400" },
      { clock: { now: () => now } },
    );
  });
  afterAll(async () => {
    await service.stop();
  });

  const createBuild = (token: string) => http(service.url, "POST", "/api/v1/builds", { token, body: {} });
  /** Admits a build and waits until its builder is up, when billing starts. */
  async function startReadyBuild(token: string): Promise<string> {
    const created = await createBuild(token);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (let i = 0; i < 100; i++) {
      const res = await http(service.url, "GET", `/api/v1/builds/${id}`, { token });
      if (res.body.state === "ready") return id;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`build ${id} never became ready`);
  }
  const complete = async (token: string, id: string) => {
    const res = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token,
      body: { result: "success" },
    });
    expect(res.status).toBe(200);
  };

  let spent: { token: string };
  let straddling: { token: string; build: string };

  it("refuses with 429 quota-exhausted once completed builds used up the month's minutes", async () => {
    spent = await service.account({ plan: "team", monthlyBuildMinutes: 90 });
    const id = await startReadyBuild(spent.token);
    advance(95); // 22:35
    await complete(spent.token, id);
    straddling = { ...(await service.account({ plan: "team", monthlyBuildMinutes: 90 })), build: "" };
    straddling.build = await startReadyBuild(straddling.token);

    const res = await createBuild(spent.token);
    expectProblem(res, 429, "quota-exhausted", /has used 95 of its 90 build minutes this month/);
    expect(res.body).toMatchObject({ limit: 90, current: 95, unit: "minutes" });
    expect(res.body.detail).toContain("the quota resets at 2031-05-01T00:00:00.000Z");
    expect(res.headers.get("retry-after")).toBe(String(85 * 60)); // 22:35 → 00:00
  });

  it("counts a running build's minutes too", async () => {
    const { token } = await service.account({ plan: "team", monthlyBuildMinutes: 30, concurrencyLimit: 3 });
    await startReadyBuild(token);
    expect((await createBuild(token)).status).toBe(201);
    advance(31); // 23:06
    const res = await createBuild(token);
    expectProblem(res, 429, "quota-exhausted", /has used \d+ of its 30 build minutes/);
    expect(res.body).toMatchObject({ limit: 30 });
    expect(res.body.current).toBeGreaterThanOrEqual(31);
  });

  it("admits again once the next month begins", async () => {
    advance(60); // 2031-05-01T00:06Z
    expect((await createBuild(spent.token)).status).toBe(201);
  });

  it("counts only the part of a build that ran this month", async () => {
    // Ready at 22:35 in April; this month it has run 6 minutes, then 90 more.
    advance(90); // 01:36
    await complete(straddling.token, straddling.build);
    const res = await createBuild(straddling.token);
    expectProblem(res, 429, "quota-exhausted", /has used 96 of its 90/);
    expect(res.body).toMatchObject({ limit: 90, current: 96 });
  });
});
