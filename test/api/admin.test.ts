import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem, errorPaths } from "../harness/problems.js";

let counter = 0;
const newHandle = () => `admin-${process.pid}-${++counter}-${randomUUID().slice(0, 6)}`;

describe("the admin API", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    http(service.url, method, `/api/v1/admin${path}`, { token: ADMIN_TOKEN, body });
  const create = (body: Record<string, unknown>) => admin("POST", "/accounts", body);
  const createBuild = (token: string) => http(service.url, "POST", "/api/v1/builds", { token, body: {} });

  describe("creating an account", () => {
    it("gives it the default plan's limits, no features and no profiles", async () => {
      const handle = newHandle();
      const res = await create({ handle });
      expect(res.status).toBe(201);
      const free = service.config.plans.free!;
      expect(res.body).toMatchObject({
        handle,
        plan: "free",
        features: [],
        profiles: {},
        concurrencyLimit: free.concurrencyLimit,
        monthlyBuildMinutes: free.monthlyBuildMinutes,
        cacheVolumeGiB: free.cacheVolumeGiB,
        allowedShapes: free.allowedShapes,
      });
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(res.body.createdAt as string).toISOString()).toBe(res.body.createdAt);
    });

    it("takes a named plan's limits, with overrides on top", async () => {
      const res = await create({
        handle: newHandle(),
        plan: "team",
        concurrencyLimit: 7,
        allowedShapes: ["small", "xlarge"],
        profiles: { deploy: "xlarge" },
      });
      expect(res.status).toBe(201);
      const team = service.config.plans.team!;
      expect(res.body).toMatchObject({
        plan: "team",
        concurrencyLimit: 7,
        monthlyBuildMinutes: team.monthlyBuildMinutes,
        cacheVolumeGiB: team.cacheVolumeGiB,
        allowedShapes: ["small", "xlarge"],
        profiles: { deploy: "xlarge" },
      });
    });

    it("refuses a handle that is taken with 409 conflict, leaving the first account as it was", async () => {
      const handle = newHandle();
      const first = await create({ handle, plan: "team" });
      expect(first.status).toBe(201);
      const again = await create({ handle, plan: "free" });
      expectProblem(
        again,
        409,
        "conflict",
        new RegExp(`An account with the handle "${handle}" already exists`),
      );
      const stored = await admin("GET", `/accounts/${handle}`);
      expect(stored.body).toMatchObject({ id: first.body.id, plan: "team" });
    });

    it.each(["gold", "toString", "constructor"])(
      "refuses an unknown plan (%s) with 400 invalid-request listing the plans",
      async (plan) => {
        const handle = newHandle();
        const res = await create({ handle, plan });
        expectProblem(
          res,
          400,
          "invalid-request",
          new RegExp(`There is no plan "${plan}"\\. Plans: free, team, enterprise\\.`),
        );
        expectProblem(await admin("GET", `/accounts/${handle}`), 404, "not-found", /There is no account/);
      },
    );

    it.each([
      [
        "an allowed shape",
        { allowedShapes: ["small", "gigantic"] },
        /No such shape: gigantic\. Shapes: small, medium, large, xlarge/,
      ],
      ["a profile's shape", { profiles: { deploy: "huge" } }, /No such shape: huge/],
      [
        "a shape named like an object property",
        { allowedShapes: ["constructor"] },
        /No such shape: constructor/,
      ],
    ])("refuses an unknown shape as %s with 422 unknown-shape", async (_, body, detail) => {
      const handle = newHandle();
      const res = await create({ handle, ...body });
      expectProblem(res, 422, "unknown-shape", detail);
      expect(res.body.shapes).toEqual(["small", "medium", "large", "xlarge"]);
      expect((await admin("GET", `/accounts/${handle}`)).status).toBe(404);
    });

    it.each([
      ["an upper-case handle", { handle: "Acme" }, "body.handle"],
      ["a missing handle", {}, "body.handle"],
      ["a zero concurrency limit", { handle: "x", concurrencyLimit: 0 }, "body.concurrencyLimit"],
      [
        "more minutes than PostgreSQL's integer",
        { handle: "x", monthlyBuildMinutes: 2 ** 31 },
        "body.monthlyBuildMinutes",
      ],
      ["an empty shape list", { handle: "x", allowedShapes: [] }, "body.allowedShapes"],
      ["an unknown field", { handle: "x", colour: "red" }, "body.colour"],
    ])("refuses %s with 400 invalid-request naming its path", async (_, body, path) => {
      const res = await create(body);
      expectProblem(res, 400, "invalid-request", /The request's body is not valid/);
      expect(errorPaths(res)).toEqual([path]);
    });
  });

  describe("reading an account", () => {
    it("finds it by id and by handle", async () => {
      const created = await create({ handle: newHandle(), plan: "enterprise" });
      const byId = await admin("GET", `/accounts/${String(created.body.id)}`);
      const byHandle = await admin("GET", `/accounts/${String(created.body.handle)}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual(created.body);
      expect(byHandle.body).toEqual(created.body);
    });

    it("is 404 not-found for an unknown handle or id", async () => {
      expectProblem(
        await admin("GET", "/accounts/nobody-here"),
        404,
        "not-found",
        /There is no account "nobody-here"/,
      );
      const id = randomUUID();
      expectProblem(await admin("GET", `/accounts/${id}`), 404, "not-found", new RegExp(id));
    });

    it.each([
      ["a space", "a%20b"],
      ["a NUL character", "a%00b"],
      ["broken percent-encoding", "%E0%A4%A"],
    ])("refuses an account reference with %s with 400 invalid-request", async (_, ref) => {
      const res = await admin("GET", `/accounts/${ref}`);
      expectProblem(
        res,
        400,
        "invalid-request",
        /path\.account: an account id or handle|not valid percent-encoded/,
      );
    });
  });

  describe("updating an account", () => {
    it("resets the limits to the new plan's when the plan changes", async () => {
      const created = await create({
        handle: newHandle(),
        plan: "free",
        concurrencyLimit: 9,
        monthlyBuildMinutes: 5,
      });
      const res = await admin("PATCH", `/accounts/${String(created.body.handle)}`, { plan: "enterprise" });
      expect(res.status).toBe(200);
      const enterprise = service.config.plans.enterprise!;
      expect(res.body).toMatchObject({ plan: "enterprise", ...enterprise });
      expect(Date.parse(res.body.updatedAt as string)).toBeGreaterThanOrEqual(
        Date.parse(created.body.updatedAt as string),
      );
    });

    it("keeps limits given with the plan change, and everything else when only a limit changes", async () => {
      const created = await create({ handle: newHandle(), plan: "free" });
      const handle = String(created.body.handle);
      const withLimit = await admin("PATCH", `/accounts/${handle}`, { plan: "team", concurrencyLimit: 2 });
      expect(withLimit.body).toMatchObject({
        plan: "team",
        concurrencyLimit: 2,
        allowedShapes: ["small", "medium", "large"],
      });
      const onlyMinutes = await admin("PATCH", `/accounts/${handle}`, { monthlyBuildMinutes: 42 });
      expect(onlyMinutes.body).toMatchObject({
        plan: "team",
        concurrencyLimit: 2,
        monthlyBuildMinutes: 42,
        allowedShapes: ["small", "medium", "large"],
      });
    });

    it("takes effect on the next admission", async () => {
      const { handle, token } = await service.account({ plan: "free" });
      const large = () => http(service.url, "POST", "/api/v1/builds", { token, body: { shape: "large" } });
      expectProblem(await large(), 403, "shape-not-allowed", /not "large"/);
      expect((await admin("PATCH", `/accounts/${handle}`, { plan: "team" })).status).toBe(200);
      expect((await large()).status).toBe(201);
    });

    it("refuses an unknown plan or shape and changes nothing", async () => {
      const created = await create({ handle: newHandle(), plan: "team" });
      const handle = String(created.body.handle);
      expectProblem(
        await admin("PATCH", `/accounts/${handle}`, { plan: "gold", concurrencyLimit: 9 }),
        400,
        "invalid-request",
        /no plan "gold"/,
      );
      expectProblem(
        await admin("PATCH", `/accounts/${handle}`, { allowedShapes: ["nope"], concurrencyLimit: 9 }),
        422,
        "unknown-shape",
        /No such shape: nope/,
      );
      const after = await admin("GET", `/accounts/${handle}`);
      expect(after.body).toEqual(created.body);
    });

    it("is 404 not-found for an unknown account", async () => {
      expectProblem(
        await admin("PATCH", "/accounts/nobody-here", { concurrencyLimit: 2 }),
        404,
        "not-found",
        /There is no account "nobody-here"/,
      );
    });
  });

  describe("the remote_builder flag", () => {
    it("turns on, stays on once however often it is set, and turns off, gating admission each time", async () => {
      const created = await create({ handle: newHandle(), plan: "team" });
      const handle = String(created.body.handle);
      const minted = await admin("POST", `/accounts/${handle}/tokens`, { name: "ci" });
      const token = minted.body.token as string;
      expectProblem(await createBuild(token), 403, "feature-disabled", /remote_builder/);

      const on = await admin("PUT", `/accounts/${handle}/features/remote_builder`, { enabled: true });
      expect(on.status).toBe(200);
      expect(on.body.features).toEqual(["remote_builder"]);
      const twice = await admin("PUT", `/accounts/${handle}/features/remote_builder`, { enabled: true });
      expect(twice.body.features).toEqual(["remote_builder"]);
      const build = await createBuild(token);
      expect(build.status).toBe(201);

      const off = await admin("PUT", `/accounts/${handle}/features/remote_builder`, { enabled: false });
      expect(off.body.features).toEqual([]);
      expectProblem(await createBuild(token), 403, "feature-disabled", /remote_builder/);
    });

    it("refuses an unknown feature with 400 invalid-request naming the one there is", async () => {
      const { handle } = await service.account();
      const res = await admin("PUT", `/accounts/${handle}/features/turbo`, { enabled: true });
      expectProblem(
        res,
        400,
        "invalid-request",
        /There is no feature "turbo"; the one feature is remote_builder/,
      );
    });

    it("refuses a body without enabled with 400 naming body.enabled, and an unknown account with 404", async () => {
      const { handle } = await service.account();
      const res = await admin("PUT", `/accounts/${handle}/features/remote_builder`, { enabled: "yes" });
      expectProblem(res, 400, "invalid-request", /body\.enabled/);
      expect(errorPaths(res)).toEqual(["body.enabled"]);
      const missing = await admin("PUT", "/accounts/nobody-here/features/remote_builder", { enabled: true });
      expectProblem(missing, 404, "not-found", /There is no account "nobody-here"/);
    });
  });

  describe("agent tokens", () => {
    it("are shown once, when minted, and never in the list", async () => {
      const { handle } = await service.account();
      const minted = await admin("POST", `/accounts/${handle}/tokens`, { name: "github-actions" });
      expect(minted.status).toBe(201);
      expect(minted.headers.get("cache-control")).toBe("no-store");
      const token = minted.body.token as string;
      expect(token).toMatch(/^rba_[A-Za-z0-9_-]{43}$/);
      expect(minted.body).toMatchObject({
        name: "github-actions",
        prefix: token.slice(0, 10),
        revokedAt: null,
        lastUsedAt: null,
      });

      const list = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}/tokens`, {
        token: ADMIN_TOKEN,
      });
      expect(list.status).toBe(200);
      const tokens = list.body.tokens as Array<Record<string, unknown>>;
      expect(tokens.map((t) => t.name).sort()).toEqual(["github-actions", "test"]);
      for (const t of tokens)
        expect(Object.keys(t).sort()).toEqual([
          "createdAt",
          "id",
          "lastUsedAt",
          "name",
          "prefix",
          "revokedAt",
        ]);
      expect(JSON.stringify(list.body)).not.toContain(token.slice(10));
    });

    it("are named default when minted with no name", async () => {
      const { handle } = await service.account();
      const minted = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/tokens`, {
        token: ADMIN_TOKEN,
      });
      expect(minted.status).toBe(201);
      expect(minted.body.name).toBe("default");
    });

    it("work for the build API at once, and record when they were last used", async () => {
      const { handle } = await service.account();
      const minted = await admin("POST", `/accounts/${handle}/tokens`, { name: "ci" });
      expect((await createBuild(minted.body.token as string)).status).toBe(201);
      const list = await admin("GET", `/accounts/${handle}/tokens`);
      const ci = (list.body.tokens as Array<Record<string, unknown>>).find((t) => t.id === minted.body.id)!;
      expect(ci.lastUsedAt).not.toBeNull();
    });

    it("stop working at once when revoked, while the account's other tokens go on", async () => {
      const { handle, token: other } = await service.account();
      const minted = await admin("POST", `/accounts/${handle}/tokens`, { name: "leaked" });
      const token = minted.body.token as string;
      expect((await createBuild(token)).status).toBe(201);
      const revoked = await admin("DELETE", `/accounts/${handle}/tokens/${String(minted.body.id)}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ id: minted.body.id, name: "leaked" });
      expect(revoked.body.revokedAt).not.toBeNull();
      expectProblem(await createBuild(token), 401, "unauthorized", /mistyped or revoked/);
      expect((await http(service.url, "GET", "/api/v1/builds", { token: other })).status).toBe(200);

      const again = await admin("DELETE", `/accounts/${handle}/tokens/${String(minted.body.id)}`);
      expect(again.status).toBe(200);
      expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
      const list = await admin("GET", `/accounts/${handle}/tokens`);
      const listed = (list.body.tokens as Array<Record<string, unknown>>).find(
        (t) => t.id === minted.body.id,
      );
      expect(listed?.revokedAt).toBe(revoked.body.revokedAt);
    });

    it("cannot be revoked through another account: 404, and the token still works", async () => {
      const mine = await service.account();
      const theirs = await service.account();
      const minted = await admin("POST", `/accounts/${theirs.handle}/tokens`, { name: "theirs" });
      const res = await admin("DELETE", `/accounts/${mine.handle}/tokens/${String(minted.body.id)}`);
      expectProblem(res, 404, "not-found", new RegExp(`has no token ${String(minted.body.id)}`));
      expect((await createBuild(minted.body.token as string)).status).toBe(201);
    });

    it("answer 404 not-found for an unknown token id or account", async () => {
      const { handle } = await service.account();
      expectProblem(
        await admin("DELETE", `/accounts/${handle}/tokens/not-an-id`),
        404,
        "not-found",
        /has no token not-an-id/,
      );
      expectProblem(
        await admin("DELETE", `/accounts/${handle}/tokens/${randomUUID()}`),
        404,
        "not-found",
        /has no token/,
      );
      expectProblem(
        await admin("POST", "/accounts/nobody-here/tokens", { name: "x" }),
        404,
        "not-found",
        /There is no account "nobody-here"/,
      );
      expectProblem(
        await admin("GET", "/accounts/nobody-here/tokens"),
        404,
        "not-found",
        /There is no account "nobody-here"/,
      );
    });

    it("refuse a bad token name with 400 naming body.name", async () => {
      const { handle } = await service.account();
      const res = await admin("POST", `/accounts/${handle}/tokens`, { name: "has spaces" });
      expectProblem(res, 400, "invalid-request", /body\.name/);
      expect(errorPaths(res)).toEqual(["body.name"]);
    });
  });
});
