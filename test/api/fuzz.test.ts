import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { PROBLEM_BASE, PROBLEMS } from "../../service/core/problems.js";
import {
  ADMIN_TOKEN,
  http,
  type HttpResult,
  startTestService,
  type TestService,
} from "../harness/context.js";

/**
 * Random bodies, from well-formed JSON of any shape to arbitrary text, against the routes that take
 * a body: whatever arrives, the answer is a success or a client error, never a 5xx, and every client
 * error is a problem document with a known, stable type.
 */
const RUNS = 200;

/** Throws (so fast-check shrinks and reports the input) unless `res` is a 2xx or a well-formed 4xx. */
function expectNoServerError(res: HttpResult, input: unknown): void {
  const context = JSON.stringify(input)?.slice(0, 500);
  if (res.status >= 500) throw new Error(`${res.status} for ${context}: ${JSON.stringify(res.body)}`);
  expect(res.status).toBeGreaterThanOrEqual(200);
  if (res.status < 300) {
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    return;
  }
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const type = String(res.body.type);
  expect(type.startsWith(PROBLEM_BASE)).toBe(true);
  const kind = type.slice(PROBLEM_BASE.length) as keyof typeof PROBLEMS;
  expect(Object.keys(PROBLEMS)).toContain(kind);
  expect(PROBLEMS[kind].status).toBe(res.status);
  expect(res.body.status).toBe(res.status);
  expect(typeof res.body.detail).toBe("string");
}

const SHAPES = ["small", "medium", "large", "xlarge"];

/** Any string at all, with the ones that break storage (NUL, lone surrogates) made likely. */
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "\u0000",
      "a\u0000b",
      "\ud800",
      "x\udc00",
      "%",
      "__proto__",
      "constructor",
    ),
  },
);
/** Any JSON value, with such strings in its keys and values. */
const json = fc.jsonValue({ stringUnit: "binary", maxDepth: 3 });
/** Numbers a schema must cope with: huge, negative, fractional, beyond a PostgreSQL integer. */
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true }), {
  weight: 3,
  arbitrary: fc.constantFrom(0, -1, 1, 1000, 1001, 2 ** 31, 2 ** 53, 1e300),
});
const anyField = (...likely: unknown[]) => fc.oneof(fc.constantFrom(null, ...likely), text, number, json);
/**
 * Mostly a valid value, sometimes anything: so that whole bodies often pass validation and reach
 * the code behind it, with one wild field at a time.
 */
const field = <T>(valid: fc.Arbitrary<T>, ...likely: unknown[]) =>
  fc.oneof(
    { weight: 4, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: anyField(...likely) },
  );
const validName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/);

/** How a body goes on the wire: a raw string, and the content type it claims. */
interface Wire {
  rawBody: string;
  contentType: string;
}
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "application/problem+json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ),
  },
);
const wire = (body: fc.Arbitrary<unknown>): fc.Arbitrary<Wire> =>
  fc.record({
    rawBody: fc.oneof(
      { weight: 6, arbitrary: body.map((v) => JSON.stringify(v) ?? "") },
      { weight: 2, arbitrary: json.map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: text },
    ),
    contentType,
  });

/** Percent-encodes any string as a path segment (a lone surrogate has no UTF-8, so it is replaced). */
const pathSegment = (s: string) => encodeURIComponent(s.replace(/\p{Cs}/gu, "\ufffd"));
const labelKey = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9./_-]{0,8}$/), text);
const buildBody = fc.oneof(
  fc.record(
    {
      shape: field(fc.constantFrom(...SHAPES), "gigantic", "constructor", "toString"),
      cache: field(fc.constantFrom("wait", "cold")),
      waitSeconds: field(fc.integer({ min: 0, max: 30 }), 31, 1e300),
      labels: field(fc.dictionary(labelKey, field(text, "main"), { maxKeys: 5 })),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      profile: field(fc.constantFrom("deploy"), "toString", "__proto__", "nightly"),
      labels: field(fc.dictionary(labelKey, field(text, "main"), { maxKeys: 5 })),
    },
    { requiredKeys: [] },
  ),
);

/** The limits an admin may set, on create and on update. */
const limits = {
  plan: field(fc.constantFrom("free", "team", "enterprise"), "gold", "toString", "constructor"),
  concurrencyLimit: field(fc.integer({ min: 1, max: 1000 })),
  monthlyBuildMinutes: field(fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 31 - 1, 2 ** 31, 2 ** 40))),
  cacheVolumeGiB: field(fc.integer({ min: 1, max: 10_000 })),
  allowedShapes: field(fc.subarray(SHAPES, { minLength: 1 }), ["constructor"], ["gigantic"]),
  profiles: field(fc.dictionary(validName, fc.constantFrom(...SHAPES), { maxKeys: 3 }), {
    deploy: "constructor",
  }),
};
const accountBody = (handles: fc.Arbitrary<unknown>) =>
  fc.record({ handle: handles, ...limits }, { requiredKeys: ["handle"] });
const handle = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/) },
  { weight: 1, arbitrary: fc.oneof(text, json) },
);

describe("random request bodies", () => {
  let service: TestService;
  let token: string;
  let handleOf: string;
  beforeAll(async () => {
    service = await startTestService();
    ({ token, handle: handleOf } = await service.account({
      plan: "enterprise",
      concurrencyLimit: 1000,
      profiles: { deploy: "medium" },
    }));
  });
  afterAll(async () => {
    await service.stop();
  });

  it("never make POST /api/v1/builds answer 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(wire(buildBody), async (input) => {
        expectNoServerError(await http(service.url, "POST", "/api/v1/builds", { token, ...input }), input);
      }),
      { numRuns: RUNS },
    );
  });

  it("never make POST /api/v1/builds/:id/complete answer 5xx, whatever the id or the body", async () => {
    const created = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.status).toBe(201);
    const completeBody = fc.record(
      { result: anyField("success", "failure", "cancelled") },
      { requiredKeys: [] },
    );
    const id = fc.oneof(
      { weight: 3, arbitrary: fc.constant(created.body.id as string) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: text.map(pathSegment) },
      { weight: 1, arbitrary: fc.constantFrom("%", "%zz", "%E0%A4%A", "%00", "..", "%2F") },
    );
    await fc.assert(
      fc.asyncProperty(id, wire(completeBody), async (buildId, input) => {
        const res = await http(service.url, "POST", `/api/v1/builds/${buildId}/complete`, {
          token,
          ...input,
        });
        expectNoServerError(res, { buildId, ...input });
      }),
      { numRuns: RUNS },
    );
  });

  it("never make POST /api/v1/admin/accounts answer 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(wire(accountBody(handle)), async (input) => {
        const res = await http(service.url, "POST", "/api/v1/admin/accounts", {
          token: ADMIN_TOKEN,
          ...input,
        });
        expectNoServerError(res, input);
      }),
      { numRuns: RUNS },
    );
  });

  it("never make PATCH /api/v1/admin/accounts/:account answer 5xx, whatever the account or the body", async () => {
    const { handle: victim } = await service.account({ plan: "team" });
    const account = fc.oneof(
      { weight: 4, arbitrary: fc.constant(victim) },
      { weight: 1, arbitrary: fc.constant(handleOf) },
      { weight: 1, arbitrary: text.map(pathSegment) },
      { weight: 1, arbitrary: fc.constantFrom("%", "%E0%A4%A", "%00", "%ED%A0%80", "Not-A-Handle") },
    );
    const update = fc.record(limits, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(account, wire(update), async (ref, input) => {
        const res = await http(service.url, "PATCH", `/api/v1/admin/accounts/${ref}`, {
          token: ADMIN_TOKEN,
          ...input,
        });
        expectNoServerError(res, { ref, ...input });
      }),
      { numRuns: RUNS },
    );
  });

  it("never make the other admin routes answer 5xx, whatever the path segments", async () => {
    const segment = fc.oneof(
      fc.constant(handleOf),
      fc.uuid(),
      text.map(pathSegment),
      fc.constantFrom("%", "%00", "%ED%A0%80", "remote_builder", "toString"),
    );
    const request = fc.record({
      route: fc.constantFrom("feature", "get", "mint", "list", "revoke"),
      account: segment,
      other: segment,
      body: wire(anyField({ enabled: true }, { enabled: false }, { name: "ci" }, {})),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ route, account, other, body }) => {
        const base = `/api/v1/admin/accounts/${account}`;
        const [method, path, withBody] = {
          feature: ["PUT", `${base}/features/${other}`, true],
          get: ["GET", base, false],
          mint: ["POST", `${base}/tokens`, true],
          list: ["GET", `${base}/tokens`, false],
          revoke: ["DELETE", `${base}/tokens/${other}`, false],
        }[route] as [string, string, boolean];
        const res = await http(service.url, method, path, { token: ADMIN_TOKEN, ...(withBody ? body : {}) });
        expectNoServerError(res, { method, path, body });
      }),
      { numRuns: RUNS },
    );
  });

  it("never make the cache-volume routes answer 5xx, whatever the path segments or the token", async () => {
    // The account has a volume, so that a reset can reach the driver (and later ones find none).
    const owner = await service.account({ plan: "team" });
    const built = await http(service.url, "POST", "/api/v1/builds", { token: owner.token, body: {} });
    expect(built.status).toBe(201);
    const done = await http(service.url, "POST", `/api/v1/builds/${String(built.body.id)}/complete`, {
      token: owner.token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    const segment = (...likely: string[]) =>
      fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...likely) },
        { weight: 1, arbitrary: validName },
        { weight: 1, arbitrary: text.map(pathSegment) },
        { weight: 1, arbitrary: fc.constantFrom("%", "%00", "%2F", "%ED%A0%80", "toString", "__proto__") },
      );
    const request = fc.record({
      reset: fc.boolean(),
      account: segment(owner.handle, owner.id, handleOf),
      name: segment("buildkit"),
      token: fc.constantFrom(owner.token, token, ADMIN_TOKEN, "rba_nope"),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ reset, account, name, token: bearer }) => {
        const base = `/api/v1/accounts/${account}/cache-volumes`;
        const [method, path] = reset ? ["DELETE", `${base}/${name}`] : ["GET", base];
        const res = await http(service.url, method, path, { token: bearer });
        expectNoServerError(res, { method, path });
      }),
      { numRuns: RUNS },
    );
  });

  it("leaves the service serving builds afterwards", async () => {
    // A fresh account: the admin fuzzing above may have turned the first one's flag off.
    const fresh = await service.account({ plan: "team" });
    const res = await http(service.url, "POST", "/api/v1/builds", { token: fresh.token, body: {} });
    expect(res.status).toBe(201);
  });
});
