import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { PROBLEM_BASE } from "../../service/core/problems.js";
import { ApiClient, ApiError, OPERATIONS, staticToken } from "../../service/client/api-client.js";
import { waitUntilReady } from "../../service/client/wait.js";
import { ADMIN_TOKEN, builderEndpoint, startTestService, type TestService } from "../harness/context.js";
import { eventually } from "../harness/wait.js";

/**
 * The typed client the Action and the CLI share: checked against the OpenAPI document, against a
 * real service, and against small loopback servers that misbehave on purpose (refusing tokens,
 * answering 503, never answering, dropping the connection).
 */

const OPENAPI = new URL("../../docs/openapi.json", import.meta.url);

/** The ApiError a promise rejects with (fails the test if it resolves or throws anything else). */
async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected an ApiError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(ApiError);
  return outcome.error as ApiError;
}

describe("OPERATIONS", () => {
  const document = JSON.parse(readFileSync(OPENAPI, "utf8")) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };

  it.each(Object.entries(OPERATIONS))(
    "%s is in docs/openapi.json with the same method and path",
    (operationId, [method, path]) => {
      const item = document.paths[path];
      expect(item).toBeDefined();
      expect(item![method.toLowerCase()]?.operationId).toBe(operationId);
    },
  );

  it("names each operation of the document at most once, by a method and path the document has", () => {
    const byId = new Map<string, string>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (op.operationId) byId.set(op.operationId, `${method.toUpperCase()} ${path}`);
      }
    }
    const used = Object.entries(OPERATIONS).map(([id, [method, path]]) => [id, `${method} ${path}`]);
    expect(used.length).toBeGreaterThan(0);
    for (const [id, route] of used) expect([id, byId.get(id!)]).toEqual([id, route]);
    expect(new Set(used.map(([, route]) => route)).size).toBe(used.length);
  });
});

describe("ApiClient against a real service", () => {
  let service: TestService;
  let account: { handle: string; id: string; token: string };
  let client: ApiClient;

  beforeAll(async () => {
    service = await startTestService();
    account = await service.account({ plan: "team", concurrencyLimit: 1 });
    // A trailing slash on the server URL is harmless.
    client = new ApiClient({ serverUrl: `${service.url}/`, auth: staticToken(account.token) });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it("creates, long-polls, heartbeats and completes a build; lists the cache volume; reports usage", async () => {
    expect(client.serverUrl).toBe(service.url);
    const created = await client.createBuild({ shape: "small", cache: "wait", labels: { repo: "acme/app" } });
    expect(created).toMatchObject({
      accountId: account.id,
      state: "pending",
      shape: "small",
      tier: "cold",
      labels: { repo: "acme/app" },
      cache: { requested: "wait", volume: "buildkit", mode: "persistent" },
      endedAt: null,
    });
    expect(created.admittedAt).toBe(created.createdAt);

    const ready = await client.getBuild(created.id, 5);
    expect(ready).toMatchObject({ id: created.id, state: "ready", tier: "cold" });
    // The builder's own address is the broker's business, never the client's.
    expect(ready).not.toHaveProperty("endpoint");
    expect(await builderEndpoint(service, created.id)).toMatch(/^memory:\/\//);
    expect(await client.getBuild(created.id)).toMatchObject({ id: created.id, state: "ready" });

    const beat = await client.heartbeat(created.id);
    expect(beat).toMatchObject({ id: created.id, state: "ready" });

    const volumes = await client.listCacheVolumes(account.handle);
    expect(volumes).toEqual([
      {
        name: "buildkit",
        sizeGiB: expect.any(Number),
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
      },
    ]);
    expect(await client.listCacheVolumes(account.id)).toEqual(volumes);

    const done = await client.complete(created.id, "success");
    expect(done).toMatchObject({ id: created.id, state: "completed", result: "success" });
    expect(done.endedAt).not.toBeNull();
    // Completing again is idempotent: the first result stands.
    expect(await client.complete(created.id, "failure")).toMatchObject({
      state: "completed",
      result: "success",
    });

    const usage = await client.usage(account.handle);
    expect(usage).toMatchObject({ account: account.handle, costs: null });
    expect(usage.buildMinutesByShape.small).toBeGreaterThanOrEqual(0);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    expect(await client.usage(account.handle, { from, to })).toMatchObject({ from, to });
  });

  it("resets a cache volume once no build holds it, and then lists none", async () => {
    const build = await client.createBuild({});
    const refused = await apiError(client.resetCacheVolume(account.handle, "buildkit"));
    expect(refused).toMatchObject({ status: 409, kind: "volume-in-use", retryAfterSeconds: 30 });
    expect(refused.problem).toMatchObject({ builds: [build.id] });
    await client.complete(build.id, "cancelled");
    // The volume goes back once the ended build's builder has been asked for its insights.
    const reset = await eventually("the volume released", () =>
      client
        .resetCacheVolume(account.handle, "buildkit")
        .catch((err: unknown) =>
          err instanceof ApiError && err.status === 409 ? null : Promise.reject(err),
        ),
    );
    expect(reset.name).toBe("buildkit");
    expect(await client.listCacheVolumes(account.handle)).toEqual([]);
  });

  it("turns a refusal into an ApiError with the status, the problem's slug and Retry-After", async () => {
    const running = await client.createBuild({});
    const refused = await apiError(client.createBuild({}));
    expect(refused).toMatchObject({
      name: "ApiError",
      status: 429,
      kind: "concurrency-limit",
      retryAfterSeconds: 5,
    });
    expect(refused.problem).toMatchObject({
      type: `${PROBLEM_BASE}concurrency-limit`,
      status: 429,
      limit: 1,
      current: 1,
    });
    expect(refused.message).toMatch(
      /^429 The account is running as many builds as its plan allows: The account already runs 1 of 1/,
    );
    await client.complete(running.id, "success");
  });

  it.each([
    ["a build id that is not a UUID", (c: ApiClient) => c.getBuild("not-a-uuid"), 400, "invalid-request"],
    [
      "a build that does not exist",
      (c: ApiClient) => c.heartbeat("00000000-0000-4000-8000-000000000000"),
      404,
      "not-found",
    ],
    ["another account's volumes", (c: ApiClient) => c.listCacheVolumes("someone-else"), 404, "not-found"],
    [
      "a volume name that is not one",
      (c: ApiClient) => c.resetCacheVolume("x", "-bad"),
      400,
      "invalid-request",
    ],
  ])(
    "refuses %s with an ApiError of that status and kind, and no Retry-After",
    async (_, call, status, kind) => {
      const refused = await apiError(call(client));
      expect(refused).toMatchObject({ status, kind, retryAfterSeconds: null });
    },
  );

  it("answers a token the service does not know with a 401 ApiError, and the admin token with the volumes", async () => {
    const stranger = new ApiClient({ serverUrl: service.url, auth: staticToken(`rba_${"A".repeat(43)}`) });
    expect(await apiError(stranger.listCacheVolumes(account.handle))).toMatchObject({
      status: 401,
      kind: "unauthorized",
    });
    const admin = new ApiClient({ serverUrl: service.url, auth: staticToken(ADMIN_TOKEN) });
    expect(await admin.listCacheVolumes(account.handle)).toEqual(expect.any(Array));
  });

  it("waits, with waitUntilReady, until a real build is ready", async () => {
    const created = await client.createBuild({});
    const lines: string[] = [];
    const ready = await waitUntilReady(client, created, 10, (line) => lines.push(line));
    expect(ready).toMatchObject({ id: created.id, state: "ready" });
    expect(created.state).toBe("pending");
    expect(lines).toEqual([expect.stringMatching(/^Booting a cold builder \(shape small\) \(\d+ s\)$/)]);
    await client.complete(created.id, "success");
  });
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A loopback HTTP server that answers with `handler` and records every request it got. */
async function stub(
  handler: (req: Seen, res: ServerResponse, n: number) => void,
): Promise<{ url: string; requests: Seen[]; close(): Promise<void> }> {
  const requests: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const seen = { method: req.method!, url: req.url!, headers: req.headers, body };
      requests.push(seen);
      handler(seen, res, requests.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));

const problem = (res: ServerResponse, status: number, kind: string, headers: Record<string, string> = {}) =>
  res
    .writeHead(status, { "content-type": "application/problem+json", ...headers })
    .end(
      JSON.stringify({ type: PROBLEM_BASE + kind, title: kind, status, detail: `a ${kind} for the test` }),
    );

const BUILD_ID = "00000000-0000-4000-8000-000000000001";
const aBuild = { id: BUILD_ID, state: "ready" };

describe("ApiClient against servers that misbehave", () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  const serve = async (handler: Parameters<typeof stub>[0]) => {
    const server = await stub(handler);
    servers.push(server);
    return server;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("refreshes the token once after a 401 and retries with the new one", async () => {
    const server = await serve((req, res) =>
      req.headers.authorization === "Bearer fresh"
        ? json(res, 200, { volumes: [] })
        : problem(res, 401, "unauthorized"),
    );
    const refresh = jest.fn(async () => "fresh");
    const client = new ApiClient({ serverUrl: server.url, auth: { token: async () => "stale", refresh } });
    expect(await client.listCacheVolumes("acme")).toEqual([]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(server.requests.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([
      ["GET", "/api/v1/accounts/acme/cache-volumes", "Bearer stale"],
      ["GET", "/api/v1/accounts/acme/cache-volumes", "Bearer fresh"],
    ]);
  });

  it("refreshes at most once: a second 401 is the caller's, and so is a 401 with nothing to refresh", async () => {
    const server = await serve((_req, res) => problem(res, 401, "unauthorized"));
    const refresh = jest.fn(async () => "still-refused");
    const client = new ApiClient({ serverUrl: server.url, auth: { token: async () => "stale", refresh } });
    const refused = await apiError(client.createBuild({}));
    expect(refused).toMatchObject({ status: 401, kind: "unauthorized" });
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer stale",
      "Bearer still-refused",
    ]);

    const plain = new ApiClient({ serverUrl: server.url, auth: staticToken("static") });
    expect(await apiError(plain.getBuild(BUILD_ID))).toMatchObject({ status: 401 });
    expect(server.requests).toHaveLength(3);
  });

  it("retries an idempotent call (getBuild) after a 503 and returns what the retry got", async () => {
    const server = await serve((_req, res, n) =>
      n === 1 ? problem(res, 503, "unavailable", { "retry-after": "5" }) : json(res, 200, aBuild),
    );
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t") });
    expect(await client.getBuild(BUILD_ID)).toEqual(aBuild);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET /api/v1/builds/${BUILD_ID}`,
      `GET /api/v1/builds/${BUILD_ID}`,
    ]);
  });

  it("gives up on an idempotent call after three retries, with the last answer's error", async () => {
    const server = await serve((_req, res) => problem(res, 502, "unavailable"));
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t") });
    expect(await apiError(client.heartbeat(BUILD_ID))).toMatchObject({ status: 502, kind: "unavailable" });
    expect(server.requests).toHaveLength(4);
  }, 15_000);

  it("does not retry createBuild after a 503: exactly one request reaches the server", async () => {
    const server = await serve((_req, res) => problem(res, 503, "unavailable", { "retry-after": "5" }));
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t") });
    const refused = await apiError(client.createBuild({ shape: "small" }));
    expect(refused).toMatchObject({ status: 503, kind: "unavailable", retryAfterSeconds: 5 });
    // Give a (wrong) retry its 250 ms to show up.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.requests).toHaveLength(1);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ shape: "small" });
  });

  it("names an answer that is not a problem document by its status", async () => {
    const server = await serve((_req, res) =>
      res.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>"),
    );
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t") });
    const refused = await apiError(client.createBuild({}));
    expect(refused).toMatchObject({ status: 502, kind: "http-502", problem: null, retryAfterSeconds: null });
    expect(refused.message).toMatch(/^502 Bad Gateway: <html>Bad Gateway<\/html>$/);
    expect(server.requests).toHaveLength(1);
  });

  it("says the service is unreachable, and to check server-url, when nothing listens", async () => {
    const gone = await stub(() => {});
    await gone.close();
    const client = new ApiClient({ serverUrl: gone.url, auth: staticToken("t") });
    const started = Date.now();
    const error = await apiError(client.getBuild(BUILD_ID));
    expect(error).toMatchObject({ status: 0, kind: "unreachable", problem: null });
    expect(error.message).toMatch(
      new RegExp(
        `^cannot reach the remote-builder service at ${gone.url} \\(ECONNREFUSED\\); check the server URL \\(server-url, --server or RB_SERVER_URL\\)`,
      ),
    );
    // Retried (it never reached a service) with backoff: 250 ms + 1 s + 3 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
  }, 15_000);

  it("times out a server that never answers, with kind timeout, and does not resend createBuild", async () => {
    const server = await serve(() => {
      // never answers
    });
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t"), timeoutMs: 200 });
    const started = Date.now();
    const error = await apiError(client.createBuild({}));
    expect(error).toMatchObject({ status: 0, kind: "timeout" });
    expect(error.message).toBe(`${server.url} did not answer POST /api/v1/builds in time`);
    expect(Date.now() - started).toBeLessThan(2_000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.requests).toHaveLength(1);
  });

  it("adds a long poll's wait to the timeout", async () => {
    const server = await serve((_req, res) => setTimeout(() => json(res, 200, aBuild), 500));
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t"), timeoutMs: 200 });
    // 200 ms alone would time out; with the wait's 3 s on top the answer comes in time, even on a
    // machine busy enough to take the 500 ms to a second (a 1 s wait was flaky on a loaded CI).
    expect(await client.getBuild(BUILD_ID, 3)).toEqual(aBuild);
    expect(server.requests.map((r) => r.url)).toEqual([`/api/v1/builds/${BUILD_ID}?wait=3`]);
  });

  it("builds each request from OPERATIONS: method, encoded path, query, headers and body", async () => {
    const server = await serve((req, res) =>
      json(res, 200, req.url.includes("cache-volumes") && req.method === "GET" ? { volumes: [] } : {}),
    );
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("tok"), userAgent: "rb-test/1" });
    await client.listCacheVolumes("a/b c");
    await client.resetCacheVolume("acme", "build kit");
    await client.usage("acme", { from: "2030-01-01T00:00:00Z" });
    await client.usage("acme", {});
    await client.complete(BUILD_ID, "failure");
    await client.exchangeOidcToken("id-token", "acme");
    await client.exchangeOidcToken("id-token");
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /api/v1/accounts/a%2Fb%20c/cache-volumes",
      "DELETE /api/v1/accounts/acme/cache-volumes/build%20kit",
      "GET /api/v1/accounts/acme/usage?from=2030-01-01T00%3A00%3A00Z",
      "GET /api/v1/accounts/acme/usage",
      `POST /api/v1/builds/${BUILD_ID}/complete`,
      "POST /api/v1/auth/oidc",
      "POST /api/v1/auth/oidc",
    ]);
    const [list, , , , complete, exchange, exchangeAny] = server.requests;
    expect(list!.headers).toMatchObject({
      authorization: "Bearer tok",
      "user-agent": "rb-test/1",
      accept: "application/json, application/problem+json",
    });
    expect(list!.headers["content-type"]).toBeUndefined();
    expect(complete!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(complete!.body)).toEqual({ result: "failure" });
    // The OIDC exchange carries the CI's token in its body, and no bearer token.
    expect(exchange!.headers.authorization).toBeUndefined();
    expect(JSON.parse(exchange!.body)).toEqual({ token: "id-token", account: "acme" });
    expect(JSON.parse(exchangeAny!.body)).toEqual({ token: "id-token" });
  });

  it("times out a server that stalls halfway through its body with an ApiError of kind timeout", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"id":');
    });
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t"), timeoutMs: 200 });
    expect(await apiError(client.createBuild({}))).toMatchObject({ status: 0, kind: "timeout" });
  });

  // A connection that drops after the request was sent may have admitted a build: not resent.
  it("does not resend createBuild when the connection drops after the request was sent", async () => {
    const server = await serve((_req, res) => res.socket?.destroy());
    const client = new ApiClient({ serverUrl: server.url, auth: staticToken("t") });
    await apiError(client.createBuild({}));
    expect(server.requests).toHaveLength(1);
  }, 15_000);
});
