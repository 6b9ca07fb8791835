import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import {
  CLIENT_TYPES_PATH,
  generateOpenApi,
  inertAppDeps,
  OPENAPI_PATH,
  renderClientTypes,
  renderOpenApi,
} from "../../scripts/openapi.js";
import { createApp } from "../../service/http/app.js";
import { VERSION } from "../../service/server.js";
import {
  ADMIN_TOKEN,
  http,
  type HttpResult,
  startTestService,
  type TestService,
} from "../harness/context.js";

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as typeof addFormatsModule.default;

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** `/api/v1/builds/:id` in express is `/api/v1/builds/{id}` in OpenAPI. */
const openApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, "{$1}");

/** JSON Pointer escaping (RFC 6901). */
const pointer = (...tokens: string[]) =>
  tokens.map((t) => "/" + t.replace(/~/g, "~0").replace(/\//g, "~1")).join("");

/** The type/subtype of a media type, and its parameters (without charset, which express adds). */
function mediaType(value: string): { essence: string; params: string[] } {
  const [essence = "", ...params] = value.split(";").map((p) => p.trim().toLowerCase());
  return { essence, params: params.filter((p) => p !== "" && !p.startsWith("charset=")) };
}

/** Every [METHOD, path] express would route, walking the app's router stack (express 5: app.router.stack). */
function mountedRoutes(app: unknown): string[] {
  const found: string[] = [];
  interface Layer {
    name: string;
    slash?: boolean;
    rawPath?: unknown;
    route?: { path: string; methods: Record<string, boolean> };
    handle: { stack?: Layer[] };
  }
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== "_all") found.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
        }
      } else if (layer.handle.stack) {
        if (!layer.slash && typeof layer.rawPath !== "string") {
          throw new Error("a router is mounted under a prefix this walk cannot read");
        }
        walk(layer.handle.stack, layer.slash ? prefix : `${prefix}${String(layer.rawPath)}`);
      }
    }
  };
  const router = (app as { router?: { stack?: Layer[] } }).router;
  if (!router?.stack) throw new Error("express no longer exposes app.router.stack");
  walk(router.stack, "");
  return found.sort();
}

describe("the OpenAPI document", () => {
  let service: TestService;
  let document: Json;
  let ajv: Ajv2020;
  const operation = (method: string, path: string): Operation => {
    const op = (document.paths as Record<string, Record<string, Operation>>)[openApiPath(path)]?.[method];
    if (!op) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
    return op;
  };

  /** A validator for the schema at `pointer` in the document; its `$ref`s resolve within it. */
  const validatorAt = (at: string): ValidateFunction =>
    ajv.getSchema(`openapi.json#${at}`) ?? ajv.compile({ $ref: `openapi.json#${at}` });

  /** Asserts that `response` is one the document describes for this operation: its status, media type and body. */
  const expectDocumented = (method: string, path: string, response: HttpResult<unknown>) => {
    const op = operation(method, path);
    const documented = op.responses[String(response.status)];
    if (!documented) {
      throw new Error(
        `${method.toUpperCase()} ${path} answered ${response.status}, which the document does not list (it lists ${Object.keys(op.responses).join(", ")})`,
      );
    }
    const sent = mediaType(response.headers.get("content-type") ?? "");
    const match = Object.keys(documented.content ?? {}).find((key) => {
      const doc = mediaType(key);
      return doc.essence === sent.essence && doc.params.every((p) => sent.params.includes(p));
    });
    if (!match) {
      throw new Error(
        `${method.toUpperCase()} ${path} ${response.status} is ${sent.essence}; the document says ${Object.keys(documented.content ?? {}).join(", ")}`,
      );
    }
    const validate = validatorAt(
      pointer(
        "paths",
        openApiPath(path),
        method,
        "responses",
        String(response.status),
        "content",
        match,
        "schema",
      ),
    );
    const valid = validate(response.body);
    expect({ valid, errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  };

  /** Asserts that a request body we send is one the document accepts. */
  const expectAcceptedBody = (method: string, path: string, body: unknown) => {
    expect(operation(method, path).requestBody).toBeDefined();
    const validate = validatorAt(
      pointer("paths", openApiPath(path), method, "requestBody", "content", "application/json", "schema"),
    );
    const valid = validate(body);
    expect({ valid, errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
  };

  beforeAll(async () => {
    service = await startTestService();
    document = generateOpenApi();
    ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(document, "openapi.json");
  });
  afterAll(async () => {
    await service.stop();
  });

  it("checked in at docs/openapi.json is exactly what the route table generates", async () => {
    const checkedIn = readFileSync(OPENAPI_PATH, "utf8");
    if (checkedIn !== (await renderOpenApi(document))) {
      throw new Error(
        "docs/openapi.json no longer matches the routes and schemas: run npm run openapi and commit the result",
      );
    }
    expect(JSON.parse(checkedIn)).toEqual(document);
  });

  it("generates the API client's types checked in at service/client/openapi-types.ts", async () => {
    if (readFileSync(CLIENT_TYPES_PATH, "utf8") !== (await renderClientTypes(document))) {
      throw new Error(
        "service/client/openapi-types.ts no longer matches the API: run npm run openapi and commit the result",
      );
    }
  });

  it("is served by the running service at GET /api/v1/openapi.json", async () => {
    const served = await http(service.url, "GET", "/api/v1/openapi.json");
    expect(served.status).toBe(200);
    expect(served.body).toEqual(document);
    expectDocumented("get", "/api/v1/openapi.json", served);
  });

  it("is OpenAPI 3.1 in shape: version, info, paths of operations with responses, components", () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toEqual(expect.objectContaining({ title: "remote-builder", version: VERSION }));
    expect(document.components).toEqual(
      expect.objectContaining({ schemas: expect.any(Object), securitySchemes: expect.any(Object) }),
    );
    const schemes = Object.keys((document.components as Json).securitySchemes as Json);
    const operationIds: string[] = [];
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
      expect(path.startsWith("/")).toBe(true);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item)) {
        expect(METHODS).toContain(method);
        operationIds.push(op.operationId);
        // Every path template has a required path parameter, and no path parameter lacks a template.
        const inPath = (op.parameters ?? []).filter((p) => p.in === "path");
        expect(inPath.map((p) => p.name).sort()).toEqual(templated);
        expect(inPath.every((p) => p.required === true)).toBe(true);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const [status, response] of Object.entries(op.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(typeof response.description).toBe("string");
          for (const type of Object.keys(response.content ?? {})) expect(type).toMatch(/^[\w.+-]+\/[\w.+-]+/);
          if (Number(status) >= 400)
            expect(Object.keys(response.content ?? {})).toEqual(["application/problem+json"]);
        }
        for (const requirement of (op as { security?: Json[] }).security ?? []) {
          for (const scheme of Object.keys(requirement)) expect(schemes).toContain(scheme);
        }
      }
    }
    expect(new Set(operationIds).size).toBe(operationIds.length);
    // Every $ref points at something in the document.
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(() => validatorAt(ref.slice(1))).not.toThrow();
  });

  it("describes every route express mounts, with the same method and path, and nothing else", () => {
    const app = createApp(inertAppDeps());
    // The dashboard's page, assets, events and resets are a browser session's, not the API's.
    const mounted = mountedRoutes(app)
      .map((r) => {
        const [method, path] = r.split(" ");
        return `${method} ${openApiPath(path!)}`;
      })
      .filter((r) => !/^\w+ \/dashboard(\/|$)/.test(r));
    const documented = Object.entries(document.paths as Record<string, Json>)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(mounted.length).toBeGreaterThan(10);
    expect(mounted).toEqual(documented);
  });

  describe("matches what the service answers:", () => {
    let token: string;
    let accountId: string;
    let handle: string;
    beforeAll(async () => {
      ({ token, id: accountId, handle } = await service.account({ plan: "team", concurrencyLimit: 2 }));
    });

    it("a build admitted (201), made ready by a long poll, listed, heartbeated and completed", async () => {
      const body = { shape: "small", labels: { repo: "tuist/tuist" } };
      expectAcceptedBody("post", "/api/v1/builds", body);
      const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body });
      expect(created.status).toBe(201);
      expectDocumented("post", "/api/v1/builds", created);
      const path = `/api/v1/builds/${String(created.body.id)}`;

      const ready = await http<Json>(service.url, "GET", `${path}?wait=5`, { token });
      expect(ready.body.state).toBe("ready");
      expectDocumented("get", "/api/v1/builds/:id", ready);

      const list = await http<Json>(service.url, "GET", "/api/v1/builds?state=ready,pending&limit=10", {
        token,
      });
      expect(list.status).toBe(200);
      expect((list.body.builds as unknown[]).length).toBe(1);
      expectDocumented("get", "/api/v1/builds", list);

      expectDocumented(
        "post",
        "/api/v1/builds/:id/heartbeat",
        await http(service.url, "POST", `${path}/heartbeat`, { token }),
      );

      expectAcceptedBody("post", "/api/v1/builds/:id/complete", { result: "success" });
      const done = await http(service.url, "POST", `${path}/complete`, {
        token,
        body: { result: "success" },
      });
      expect(done.status).toBe(200);
      expectDocumented("post", "/api/v1/builds/:id/complete", done);
    });

    it("problems: invalid request with errors, unauthorized, not found, illegal transition", async () => {
      const invalid = await http<Json>(service.url, "POST", "/api/v1/builds", {
        token,
        body: { shape: "small", waitSeconds: -1 },
      });
      expect(invalid.status).toBe(400);
      expect(invalid.body.errors).toEqual([expect.objectContaining({ path: "body.waitSeconds" })]);
      expectDocumented("post", "/api/v1/builds", invalid);

      const unauthorized = await http(service.url, "GET", "/api/v1/builds", { token: "rba_not-a-token" });
      expect(unauthorized.status).toBe(401);
      expectDocumented("get", "/api/v1/builds", unauthorized);

      const missing = await http(service.url, "GET", "/api/v1/builds/00000000-0000-4000-8000-000000000000", {
        token,
      });
      expect(missing.status).toBe(404);
      expectDocumented("get", "/api/v1/builds/:id", missing);

      const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
      const path = `/api/v1/builds/${String(created.body.id)}`;
      await http(service.url, "POST", `${path}/complete`, { token, body: { result: "cancelled" } });
      const ended = await http(service.url, "POST", `${path}/heartbeat`, { token });
      expect(ended.status).toBe(409);
      expectDocumented("post", "/api/v1/builds/:id/heartbeat", ended);
    });

    it("problems with extension members: feature disabled, shape not allowed, concurrency limit", async () => {
      const off = await service.account({ featureOn: false });
      const disabled = await http<Json>(service.url, "POST", "/api/v1/builds", {
        token: off.token,
        body: {},
      });
      expect(disabled.status).toBe(403);
      expect(disabled.body.feature).toBe("remote_builder");
      expectDocumented("post", "/api/v1/builds", disabled);

      const notAllowed = await http(service.url, "POST", "/api/v1/builds", {
        token,
        body: { shape: "xlarge" },
      });
      expect(notAllowed.status).toBe(403);
      expectDocumented("post", "/api/v1/builds", notAllowed);

      const one = await service.account({ concurrencyLimit: 1 });
      await http(service.url, "POST", "/api/v1/builds", { token: one.token, body: {} });
      const busy = await http<Json>(service.url, "POST", "/api/v1/builds", { token: one.token, body: {} });
      expect(busy.status).toBe(429);
      expect(busy.body).toMatchObject({ limit: 1, current: 1 });
      expectDocumented("post", "/api/v1/builds", busy);
    });

    it("the admin views of an account and its tokens, and the admin problems", async () => {
      const admin = { token: ADMIN_TOKEN };
      const account = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}`, admin);
      expect(account.status).toBe(200);
      expect(account.body.id).toBe(accountId);
      expectDocumented("get", "/api/v1/admin/accounts/:account", account);

      const newAccount = { handle: `${handle}-2`, plan: "free" };
      expectAcceptedBody("post", "/api/v1/admin/accounts", newAccount);
      const created = await http(service.url, "POST", "/api/v1/admin/accounts", {
        ...admin,
        body: newAccount,
      });
      expect(created.status).toBe(201);
      expectDocumented("post", "/api/v1/admin/accounts", created);
      const conflict = await http(service.url, "POST", "/api/v1/admin/accounts", {
        ...admin,
        body: newAccount,
      });
      expect(conflict.status).toBe(409);
      expectDocumented("post", "/api/v1/admin/accounts", conflict);

      const updated = await http(service.url, "PATCH", `/api/v1/admin/accounts/${handle}`, {
        ...admin,
        body: { concurrencyLimit: 3 },
      });
      expectDocumented("patch", "/api/v1/admin/accounts/:account", updated);
      const feature = await http(
        service.url,
        "PUT",
        `/api/v1/admin/accounts/${handle}/features/remote_builder`,
        {
          ...admin,
          body: { enabled: true },
        },
      );
      expectDocumented("put", "/api/v1/admin/accounts/:account/features/:feature", feature);

      const minted = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${handle}/tokens`, {
        ...admin,
        body: { name: "ci" },
      });
      expect(minted.status).toBe(201);
      expectDocumented("post", "/api/v1/admin/accounts/:account/tokens", minted);
      const tokens = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}/tokens`, admin);
      expectDocumented("get", "/api/v1/admin/accounts/:account/tokens", tokens);
      const revoked = await http(
        service.url,
        "DELETE",
        `/api/v1/admin/accounts/${handle}/tokens/${String(minted.body.id)}`,
        admin,
      );
      expect(revoked.status).toBe(200);
      expectDocumented("delete", "/api/v1/admin/accounts/:account/tokens/:token", revoked);

      const agentAsAdmin = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}`, { token });
      expect(agentAsAdmin.status).toBe(403);
      expectDocumented("get", "/api/v1/admin/accounts/:account", agentAsAdmin);
      const nobody = await http(service.url, "GET", "/api/v1/admin/accounts/no-such-account", admin);
      expect(nobody.status).toBe(404);
      expectDocumented("get", "/api/v1/admin/accounts/:account", nobody);
    });

    it("usage (agent and admin token) and the ledger export, after a build has ended", async () => {
      const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
      const path = `/api/v1/builds/${String(created.body.id)}`;
      await http(service.url, "GET", `${path}?wait=5`, { token });
      await http(service.url, "POST", `${path}/complete`, { token, body: { result: "success" } });

      const usagePath = `/api/v1/accounts/${handle}/usage`;
      const mine = await http(service.url, "GET", usagePath, { token });
      expect(mine.status).toBe(200);
      expectDocumented("get", "/api/v1/accounts/:account/usage", mine);
      const asAdmin = await http(service.url, "GET", usagePath, { token: ADMIN_TOKEN });
      expect(asAdmin.status).toBe(200);
      expectDocumented("get", "/api/v1/accounts/:account/usage", asAdmin);
      const other = await http(service.url, "GET", "/api/v1/accounts/someone-else/usage", { token });
      expect(other.status).toBe(404);
      expectDocumented("get", "/api/v1/accounts/:account/usage", other);

      const ledger = await http<Json>(service.url, "GET", "/api/v1/ledger?limit=100", { token: ADMIN_TOKEN });
      expect(ledger.status).toBe(200);
      expect((ledger.body.entries as unknown[]).length).toBeGreaterThan(0);
      expectDocumented("get", "/api/v1/ledger", ledger);
    });

    it("the operations routes: health, readiness and metrics", async () => {
      expectDocumented("get", "/healthz", await http(service.url, "GET", "/healthz"));
      const ready = await http(service.url, "GET", "/readyz");
      expect(ready.status).toBe(200);
      expectDocumented("get", "/readyz", ready);
      const metrics = await http(service.url, "GET", "/metrics");
      expect(metrics.body).toContain("remote_builder_admissions_total");
      expectDocumented("get", "/metrics", metrics);
    });

    it("and would notice a response that strays from its schema", async () => {
      const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
      expect(created.status).toBe(201);
      await http(service.url, "POST", `/api/v1/builds/${String(created.body.id)}/complete`, {
        token,
        body: { result: "cancelled" },
      });
      const strays: Array<HttpResult<unknown>> = [
        { ...created, body: { ...created.body, state: "exploded" } },
        { ...created, body: { ...created.body, surprise: true } },
        { ...created, body: { ...created.body, createdAt: "yesterday" } },
        { ...created, status: 418 },
        { ...created, headers: new Headers({ "content-type": "text/html" }) },
      ];
      for (const stray of strays) expect(() => expectDocumented("post", "/api/v1/builds", stray)).toThrow();
    });
  });
});
