import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem, errorPaths } from "../harness/problems.js";

describe("request validation", () => {
  let service: TestService;
  let token: string;
  let accountId: string;
  beforeAll(async () => {
    service = await startTestService();
    ({ token, id: accountId } = await service.account({ plan: "enterprise", concurrencyLimit: 50 }));
  });
  afterAll(async () => {
    await service.stop();
  });

  const buildCount = async () =>
    (await service.pool.query("SELECT count(*)::int AS n FROM builds WHERE account_id = $1", [accountId]))
      .rows[0].n as number;
  const post = (path: string, options: Parameters<typeof http>[3] = {}) =>
    http(service.url, "POST", path, { token, ...options });

  describe("the body", () => {
    it("refuses invalid JSON with 400 invalid-request and records nothing", async () => {
      const before = await buildCount();
      const res = await post("/api/v1/builds", { rawBody: '{"shape": "small",' });
      expectProblem(res, 400, "invalid-request", /^The body is not valid JSON\.$/);
      expect(await buildCount()).toBe(before);
    });

    it.each([
      ["a bare string", '"small"'],
      ["null", "null"],
      ["a number", "42"],
    ])("refuses %s as the body with 400 invalid-request", async (_, raw) => {
      const res = await post("/api/v1/builds", { rawBody: raw });
      expectProblem(res, 400, "invalid-request", /not valid JSON|body is not valid/);
    });

    it("refuses a JSON array as the body with 400 invalid-request naming the body", async () => {
      const res = await post("/api/v1/builds", { rawBody: "[]" });
      expectProblem(res, 400, "invalid-request", /The request's body is not valid/);
      expect(errorPaths(res)).toEqual(["body"]);
    });

    it.each([
      ["text/plain", "/api/v1/builds"],
      ["application/x-www-form-urlencoded", "/api/v1/builds"],
      ["text/plain", `/api/v1/builds/${randomUUID()}/complete`],
      ["text/plain", "/api/v1/admin/accounts"],
    ])("refuses a %s body on POST %s with 415 unsupported-media-type", async (contentType, path) => {
      const admin = path.includes("/admin/");
      const res = await http(service.url, "POST", path, {
        token: admin ? ADMIN_TOKEN : token,
        rawBody: '{"shape":"small","result":"success","handle":"x"}',
        contentType,
      });
      expectProblem(res, 415, "unsupported-media-type", new RegExp(`The body is ${contentType}; send JSON`));
    });

    it("accepts application/json with a charset parameter", async () => {
      const res = await post("/api/v1/builds", {
        rawBody: '{"shape":"small"}',
        contentType: "application/json; charset=utf-8",
      });
      expect(res.status).toBe(201);
    });

    it("refuses a JSON body in a charset other than UTF-8 with 415 unsupported-media-type", async () => {
      const res = await post("/api/v1/builds", {
        rawBody: '{"shape":"small"}',
        contentType: "application/json; charset=latin1",
      });
      expectProblem(res, 415, "unsupported-media-type", /UTF-8 JSON/);
    });

    it("refuses a body over 64 KiB with 413 payload-too-large and records nothing", async () => {
      const before = await buildCount();
      const res = await post("/api/v1/builds", { body: { labels: { big: "x".repeat(70 * 1024) } } });
      expectProblem(res, 413, "payload-too-large", /larger than 64 KiB/);
      expect(await buildCount()).toBe(before);
    });

    it("treats an empty body as an empty object: the default shape", async () => {
      const res = await post("/api/v1/builds");
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ shape: "small", cache: { requested: "wait" } });
    });

    it("refuses unknown fields with 400 invalid-request naming each of them", async () => {
      const before = await buildCount();
      const res = await post("/api/v1/builds", { body: { shape: "small", colour: "red", size: 3 } });
      expectProblem(res, 400, "invalid-request", /The request's body is not valid: .*colour.*size/);
      expect(errorPaths(res)).toEqual(["body.colour", "body.size"]);
      expect(await buildCount()).toBe(before);
    });

    it("refuses wrong types with 400 invalid-request naming each path", async () => {
      const res = await post("/api/v1/builds", {
        body: { shape: 5, cache: "hot", waitSeconds: "ten", labels: { ok: 1 } },
      });
      expectProblem(res, 400, "invalid-request", /body\.shape: .*body\.waitSeconds/);
      expect(errorPaths(res)).toEqual(["body.cache", "body.labels.ok", "body.shape", "body.waitSeconds"]);
      for (const error of res.body.errors as Array<{ message: string }>)
        expect(error.message.length).toBeGreaterThan(0);
    });

    it.each([
      ["a negative waitSeconds", { waitSeconds: -1 }, "body.waitSeconds"],
      ["a fractional waitSeconds", { waitSeconds: 1.5 }, "body.waitSeconds"],
      ["a shape name with a space", { shape: "big one" }, "body.shape"],
      ["a label value over 256 characters", { labels: { k: "v".repeat(257) } }, "body.labels.k"],
      ["a label key that is not a key", { labels: { "-bad": "v" } }, "body.labels.-bad"],
      // PostgreSQL's jsonb cannot hold these; they used to reach it and fail with a 500.
      ["a label value with a NUL character", { labels: { k: "a\u0000b" } }, "body.labels.k"],
      ["a label value with an unpaired surrogate", { labels: { k: "a\ud800b" } }, "body.labels.k"],
    ])("refuses %s with 400 invalid-request naming its path", async (_, body, path) => {
      const res = await post("/api/v1/builds", { body });
      expectProblem(res, 400, "invalid-request", /The request's body is not valid/);
      expect(errorPaths(res)).toContain(path);
    });

    it("refuses a shape and a profile together with 400 invalid-request", async () => {
      const res = await post("/api/v1/builds", { body: { shape: "small", profile: "deploy" } });
      expectProblem(res, 400, "invalid-request", /give shape or profile, not both/);
    });

    it("refuses a complete without a result, or with an unknown one, naming body.result", async () => {
      const created = await post("/api/v1/builds", { body: {} });
      const id = created.body.id as string;
      const none = await post(`/api/v1/builds/${id}/complete`, { body: {} });
      expectProblem(none, 400, "invalid-request", /body\.result/);
      expect(errorPaths(none)).toEqual(["body.result"]);
      const odd = await post(`/api/v1/builds/${id}/complete`, { body: { result: "meh" } });
      expect(errorPaths(odd)).toEqual(["body.result"]);
      // Neither refusal ended the build.
      const still = await http(service.url, "GET", `/api/v1/builds/${id}`, { token });
      expect(still.body.state).not.toBe("completed");
    });
  });

  describe("the path and the query", () => {
    it.each([
      ["GET", "/api/v1/builds/not-a-uuid"],
      ["POST", "/api/v1/builds/123/heartbeat"],
      ["POST", "/api/v1/builds/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/complete"],
    ])("refuses a bad build id on %s %s with 400 invalid-request naming path.id", async (method, path) => {
      const body = path.endsWith("/complete") ? { result: "success" } : undefined;
      const res = await http(service.url, method, path, { token, body });
      expectProblem(res, 400, "invalid-request", /path\.id: must be a build id \(a UUID\)/);
      expect(errorPaths(res)).toEqual(["path.id"]);
    });

    it.each(["%", "%zz", "%E0%A4%A", "%ED%A0%80"])(
      "refuses a path segment that is not valid percent-encoding (%s) with 400 invalid-request",
      async (segment) => {
        const res = await http(service.url, "GET", `/api/v1/builds/${segment}`, { token });
        expectProblem(res, 400, "invalid-request", /^The URL's path is not valid percent-encoded UTF-8\.$/);
      },
    );

    it.each([
      ["wait=abc", "query.wait"],
      ["wait=61", "query.wait"],
      ["wait=-1", "query.wait"],
    ])("refuses ?%s on a build with 400 invalid-request naming %s", async (query, path) => {
      const created = await post("/api/v1/builds", { body: {} });
      const res = await http(service.url, "GET", `/api/v1/builds/${String(created.body.id)}?${query}`, {
        token,
      });
      expectProblem(res, 400, "invalid-request", /The request's query is not valid/);
      expect(errorPaths(res)).toContain(path);
    });

    it.each([
      ["state=bogus", "query.state.0"],
      ["state=ready,nope", "query.state.1"],
      ["limit=0", "query.limit"],
      ["limit=501", "query.limit"],
      ["limit=many", "query.limit"],
    ])("refuses ?%s on the build list with 400 invalid-request naming %s", async (query, path) => {
      const res = await http(service.url, "GET", `/api/v1/builds?${query}`, { token });
      expectProblem(res, 400, "invalid-request", /The request's query is not valid/);
      expect(errorPaths(res)).toContain(path);
    });

    it.each([
      ["GET", "/api/v1/nothing-here"],
      ["GET", "/"],
      ["DELETE", "/api/v1/builds"],
      ["PUT", `/api/v1/builds/${randomUUID()}`],
      ["POST", "/api/v1/accounts/acme/cache-volumes"],
      ["PUT", "/api/v1/accounts/acme/cache-volumes/buildkit"],
    ])("answers an unknown route %s %s with a 404 not-found problem", async (method, path) => {
      const res = await http(service.url, method, path, { token });
      expectProblem(res, 404, "not-found", new RegExp(`^There is no route ${method} ${path}\\.$`));
      expect(res.body.instance).toBe(path);
    });
  });

  describe("the build's state", () => {
    const newBuild = async () => {
      const created = await post("/api/v1/builds", { body: {} });
      expect(created.status).toBe(201);
      return created.body.id as string;
    };

    it("refuses a heartbeat on a completed build with 409 illegal-transition", async () => {
      const id = await newBuild();
      expect((await post(`/api/v1/builds/${id}/complete`, { body: { result: "success" } })).status).toBe(200);
      const res = await post(`/api/v1/builds/${id}/heartbeat`);
      expectProblem(res, 409, "illegal-transition", /The build is completed; start a new one\./);
      expect(res.body.state).toBe("completed");
    });

    it("returns a completed build again when it is completed twice, keeping the first result", async () => {
      const id = await newBuild();
      const first = await post(`/api/v1/builds/${id}/complete`, { body: { result: "failure" } });
      expect(first.status).toBe(200);
      const again = await post(`/api/v1/builds/${id}/complete`, { body: { result: "success" } });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id, state: "completed", result: "failure" });
      expect(again.body.endedAt).toBe(first.body.endedAt);
    });
  });
});

describe("a build whose claim ran out", () => {
  // A one-second lease, and a reconciler that never runs during the test, so the heartbeat is
  // the first to notice.
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ RB_CLAIM_LEASE_SECONDS: "1", RB_RECONCILE_INTERVAL_MS: "3600000" });
  });
  afterAll(async () => {
    await service.stop();
  });

  it("refuses a late heartbeat with 409 claim-lost, reaps the build, then refuses completing it", async () => {
    const { token } = await service.account({ plan: "team" });
    const created = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const alive = await http(service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token });
    expect(alive.status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const late = await http(service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token });
    expectProblem(late, 409, "claim-lost", /concurrency claim was lost \(not-held\), so it was reaped/);
    expect(late.body).toMatchObject({ scope: "concurrency", reason: "not-held" });

    const now = await http(service.url, "GET", `/api/v1/builds/${id}`, { token });
    expect(now.body).toMatchObject({ state: "reaped" });
    expect(now.body.endReason).toMatch(/^lease-lost: concurrency/);

    const again = await http(service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token });
    expectProblem(again, 409, "illegal-transition", /The build is reaped; start a new one\./);

    const complete = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token,
      body: { result: "success" },
    });
    expectProblem(complete, 409, "illegal-transition", /already ended as reaped \(lease-lost: concurrency/);
    expect(complete.body).toMatchObject({ state: "reaped" });
  });

  it("gives the slot back when the claim is lost, so a new build is admitted", async () => {
    const { token } = await service.account({ plan: "team", concurrencyLimit: 1 });
    const created = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const late = await http(service.url, "POST", `/api/v1/builds/${String(created.body.id)}/heartbeat`, {
      token,
    });
    expect(late.status).toBe(409);
    const next = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(next.status).toBe(201);
  });
});
