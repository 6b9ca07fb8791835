import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import {
  ADMIN_TOKEN,
  http,
  type HttpResult,
  startTestService,
  type TestService,
} from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";

function expectUnauthorized(res: HttpResult, detail: RegExp): void {
  expectProblem(res, 401, "unauthorized", detail);
  expect(res.headers.get("www-authenticate")).toBe('Bearer realm="remote-builder"');
}

/** Every log line the service writes, as text. */
const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  },
});

describe("authentication", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({}, { logger: pino({ level: "trace" }, logSink) });
  });
  afterAll(async () => {
    await service.stop();
  });

  const get = (headers: Record<string, string>) => http(service.url, "GET", "/api/v1/builds", { headers });

  it("refuses a request with no Authorization header with 401 unauthorized and WWW-Authenticate", async () => {
    expectUnauthorized(await get({}), /Send the token as `Authorization: Bearer <token>`/);
  });

  it.each([
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["no token after Bearer", "Bearer"],
    ["two words after Bearer", "Bearer abc def"],
    ["a bare token", "rba_abc"],
  ])("refuses a malformed Authorization header (%s) with 401 unauthorized", async (_, header) => {
    expectUnauthorized(await get({ authorization: header }), /must be `Bearer <token>`/);
  });

  it("refuses an unknown token of the right shape with 401 unauthorized", async () => {
    const res = await get({ authorization: `Bearer rba_${"A".repeat(43)}` });
    expectUnauthorized(res, /not a valid agent token: it may be mistyped or revoked/);
  });

  it("refuses a token that is not an agent token at all with 401 unauthorized", async () => {
    expectUnauthorized(await get({ authorization: "Bearer hello" }), /not a valid agent token/);
  });

  it("refuses the admin token on the build API: it is not an agent token", async () => {
    expectUnauthorized(await get({ authorization: `Bearer ${ADMIN_TOKEN}` }), /not a valid agent token/);
  });

  it("accepts a valid token whatever the case of the scheme", async () => {
    const { token } = await service.account();
    expect((await get({ authorization: `bearer ${token}` })).status).toBe(200);
    expect((await get({ authorization: `BEARER ${token}` })).status).toBe(200);
  });

  it("refuses a revoked token with 401 unauthorized at once, while the account's other tokens still work", async () => {
    const { token, handle } = await service.account();
    const other = await service.accounts.mintToken(handle, "other");
    expect((await get({ authorization: `Bearer ${token}` })).status).toBe(200);
    const tokens = await service.accounts.listTokens(handle);
    const first = tokens.find((t) => t.name === "test")!;
    const revoked = await http(service.url, "DELETE", `/api/v1/admin/accounts/${handle}/tokens/${first.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(revoked.status).toBe(200);
    expectUnauthorized(await get({ authorization: `Bearer ${token}` }), /mistyped or revoked/);
    const create = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expectUnauthorized(create, /mistyped or revoked/);
    expect((await get({ authorization: `Bearer ${other.token}` })).status).toBe(200);
  });

  describe("admin routes", () => {
    // Three columns each: jest would take a third parameter a row lacks for a `done` callback.
    const adminRoutes: Array<[string, string, unknown]> = [
      ["POST", "/api/v1/admin/accounts", { handle: "nobody" }],
      ["GET", "/api/v1/admin/accounts/nobody", undefined],
      ["PATCH", "/api/v1/admin/accounts/nobody", { plan: "team" }],
      ["PUT", "/api/v1/admin/accounts/nobody/features/remote_builder", { enabled: true }],
      ["POST", "/api/v1/admin/accounts/nobody/tokens", {}],
      ["GET", "/api/v1/admin/accounts/nobody/tokens", undefined],
      ["DELETE", `/api/v1/admin/accounts/nobody/tokens/${randomUUID()}`, undefined],
    ];

    it.each(adminRoutes)(
      "refuse an agent token on %s %s with 403 admin-required",
      async (method, path, body) => {
        const { token } = await service.account();
        const res = await http(service.url, method, path, { token, body });
        expectProblem(
          res,
          403,
          "admin-required",
          /takes the admin token \(RB_ADMIN_TOKEN\), not an agent token/,
        );
      },
    );

    it.each(adminRoutes)(
      "refuse a wrong admin token on %s %s with 403 admin-required",
      async (method, path, body) => {
        const res = await http(service.url, method, path, { token: `${ADMIN_TOKEN}x`, body });
        expectProblem(res, 403, "admin-required", /takes the admin token/);
      },
    );

    it("refuse a request with no token with 401 unauthorized", async () => {
      expectUnauthorized(await http(service.url, "GET", "/api/v1/admin/accounts/nobody"), /Send the token/);
    });

    it("refuse before reading the body: a bad body with a wrong token is still admin-required", async () => {
      const res = await http(service.url, "POST", "/api/v1/admin/accounts", {
        token: "wrong",
        body: { nonsense: true },
      });
      expectProblem(res, 403, "admin-required", /admin token/);
    });

    it("do not create anything for a refused request", async () => {
      const { token } = await service.account();
      const handle = `refused-${randomUUID().slice(0, 8)}`;
      await http(service.url, "POST", "/api/v1/admin/accounts", { token, body: { handle } });
      const res = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}`, { token: ADMIN_TOKEN });
      expectProblem(res, 404, "not-found", new RegExp(`no account "${handle}"`));
    });
  });

  describe("another account's build", () => {
    let mine: { token: string };
    let theirs: { token: string };
    let theirBuild: string;
    beforeAll(async () => {
      mine = await service.account({ plan: "team" });
      theirs = await service.account({ plan: "team" });
      const created = await http(service.url, "POST", "/api/v1/builds", { token: theirs.token, body: {} });
      expect(created.status).toBe(201);
      theirBuild = created.body.id as string;
    });

    it.each([
      ["GET", ""],
      ["GET", "?wait=1"],
      ["POST", "/heartbeat"],
      ["POST", "/complete"],
    ])("is 404 not-found, never 403, on %s …%s, like an id that does not exist", async (method, suffix) => {
      const body = suffix === "/complete" ? { result: "success" } : undefined;
      const res = await http(service.url, method, `/api/v1/builds/${theirBuild}${suffix}`, {
        token: mine.token,
        body,
      });
      expectProblem(res, 404, "not-found", new RegExp(`There is no build ${theirBuild} in this account`));
      const missing = randomUUID();
      const absent = await http(service.url, method, `/api/v1/builds/${missing}${suffix}`, {
        token: mine.token,
        body,
      });
      expectProblem(absent, 404, "not-found", new RegExp(`There is no build ${missing} in this account`));
      expect(Object.keys(res.body).sort()).toEqual(Object.keys(absent.body).sort());
    });

    it("is left untouched by the other account's attempts, and absent from its list", async () => {
      const list = await http<{ builds: Array<{ id: string }> }>(service.url, "GET", "/api/v1/builds", {
        token: mine.token,
      });
      expect(list.body.builds.map((b) => b.id)).not.toContain(theirBuild);
      const still = await http(service.url, "GET", `/api/v1/builds/${theirBuild}`, { token: theirs.token });
      expect(still.status).toBe(200);
      expect(["pending", "ready"]).toContain(still.body.state);
    });
  });

  it("never writes a token or the admin secret to the logs", async () => {
    const minted = await http(service.url, "POST", "/api/v1/admin/accounts", {
      token: ADMIN_TOKEN,
      body: { handle: `logs-${randomUUID().slice(0, 8)}`, plan: "team" },
    });
    expect(minted.status).toBe(201);
    const handle = minted.body.handle as string;
    await http(service.url, "PUT", `/api/v1/admin/accounts/${handle}/features/remote_builder`, {
      token: ADMIN_TOKEN,
      body: { enabled: true },
    });
    const tokenRes = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/tokens`, {
      token: ADMIN_TOKEN,
      body: { name: "ci" },
    });
    const token = tokenRes.body.token as string;
    expect(token).toMatch(/^rba_/);
    const wrong = `rba_${"Z".repeat(43)}`;
    const created = await http(service.url, "POST", "/api/v1/builds", {
      token,
      body: { labels: { a: "b" } },
    });
    expect(created.status).toBe(201);
    await http(service.url, "GET", `/api/v1/builds/${String(created.body.id)}`, { token });
    await http(service.url, "POST", `/api/v1/builds/${String(created.body.id)}/complete`, {
      token,
      body: { result: "success" },
    });
    await http(service.url, "GET", "/api/v1/builds", { token: wrong });
    await http(service.url, "GET", "/api/v1/builds", { headers: { authorization: `Token ${token}` } });
    await http(service.url, "GET", `/api/v1/admin/accounts/${handle}`, { token });
    await http(service.url, "POST", "/api/v1/builds", { token, rawBody: `{"secret": "${token}"` });

    // The capture works: every request above left a line.
    const requests = logLines.filter((line) => line.includes('"msg":"request"'));
    expect(requests.length).toBeGreaterThanOrEqual(9);
    const all = logLines.join("\n");
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(4));
    expect(all).not.toContain(wrong);
    expect(all).not.toContain(ADMIN_TOKEN);
    expect(all.toLowerCase()).not.toContain("authorization");
  });
});
