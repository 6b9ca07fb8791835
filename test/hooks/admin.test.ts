import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { errorPaths, expectProblem } from "../harness/problems.js";
import {
  addHook,
  deliver,
  GITLAB_ISSUERS,
  githubSignature,
  hookKey,
  RecordingPrewarmer,
  startHookService,
} from "./support.js";

const BIN = join(resolve(import.meta.dirname, "../.."), "bin/remote-builder.js");

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe("hook installations, administered", () => {
  const key = hookKey();
  let service: TestService;
  const admin = (method: string, path: string, body?: Record<string, unknown>, token = ADMIN_TOKEN) =>
    http(service.url, method, `/api/v1/admin/hooks${path}`, { token, ...(body ? { body } : {}) });

  beforeAll(async () => {
    service = await startHookService({ env: { RB_HOOK_SECRET_KEY: key } });
  });
  afterAll(async () => {
    await service.stop();
  });

  it("are added with their secret, the delivery path and the CI's settings, shown once", async () => {
    const res = await admin("POST", "", { provider: "github", ownerId: "1001", ownerName: "acme" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({
      provider: "github",
      issuer: "github",
      ownerId: "1001",
      ownerName: "acme",
      path: "/api/v1/hooks/github",
      secret: expect.stringMatching(/^rbh_[0-9a-f]{32}[A-Za-z0-9_-]{43}$/),
      settings: expect.arrayContaining([
        { name: "Content type", value: "application/json" },
        { name: "Which events", value: "Let me select individual events: Workflow jobs (only)" },
      ]),
    });
    const list = await admin("GET", "");
    const listed = (list.body.installations as Array<Record<string, unknown>>).find(
      (i) => i.id === res.body.id,
    );
    expect(listed).toEqual({
      id: res.body.id,
      provider: "github",
      issuer: "github",
      ownerId: "1001",
      ownerName: "acme",
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(list.body)).not.toContain(String(res.body.secret));
  });

  it("keep no usable secret in PostgreSQL: a service with another key cannot verify its deliveries", async () => {
    const hook = await addHook(service, { provider: "github", ownerId: "6006" });
    const { rows } = await service.pool.query("SELECT * FROM hook_installations WHERE id = $1", [hook.id]);
    const row = JSON.stringify(rows);
    expect(row).not.toContain(hook.secret);
    expect(row).not.toContain(hook.secret.slice(-43)); // the MAC part
    const body = JSON.stringify({ zen: "x", organization: { id: 6006 } });
    const ping = (on: TestService) =>
      deliver(on, "/api/v1/hooks/github", body, {
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": githubSignature(hook.secret, body),
      });
    const sameDatabase = { RB_DATABASE_URL: service.config.databaseUrl };
    const otherKey = await startHookService({ env: sameDatabase, prewarmer: new RecordingPrewarmer() });
    const sameKey = await startHookService({
      env: { ...sameDatabase, RB_HOOK_SECRET_KEY: key },
      prewarmer: new RecordingPrewarmer(),
    });
    try {
      expectProblem(await ping(otherKey), 401, "signature-invalid", /no hook installation/);
      expect((await ping(sameKey)).status).toBe(200);
    } finally {
      await otherKey.stop();
      await sameKey.stop();
    }
  });

  it("take a GitLab namespace id under the configured gitlab issuer, and a Buildkite organization's UUID", async () => {
    expect(await addHook(service, { provider: "gitlab", ownerId: "72" })).toMatchObject({
      issuer: "gitlab",
      path: "/api/v1/hooks/gitlab",
    });
    const res = await admin("POST", "", { provider: "buildkite", ownerId: randomUUID() });
    // No buildkite issuer is configured: no trust relationship could match its jobs.
    expectProblem(res, 400, "invalid-request", /RB_OIDC_ISSUERS configures no buildkite issuer/);
  });

  it("refuse a caller without the admin token: 401 without one, 403 for an agent token", async () => {
    const { token } = await service.account();
    expectProblem(
      await admin("POST", "", { provider: "github", ownerId: "1" }, ""),
      401,
      "unauthorized",
      /Bearer/,
    );
    expectProblem(
      await admin("POST", "", { provider: "github", ownerId: "1" }, token),
      403,
      "admin-required",
      /admin token/,
    );
    expectProblem(await admin("GET", "", undefined, token), 403, "admin-required", /admin token/);
    expectProblem(
      await admin("DELETE", `/${randomUUID()}`, undefined, token),
      403,
      "admin-required",
      /admin token/,
    );
  });

  it("refuse a bad provider, owner id or issuer, or an unknown field, with 400 naming it", async () => {
    const provider = await admin("POST", "", { provider: "jenkins", ownerId: "1" });
    expectProblem(provider, 400, "invalid-request", /provider must be one of github, gitlab, buildkite/);
    expect(errorPaths(provider)).toEqual(["body.provider"]);
    const owner = await admin("POST", "", { provider: "github", ownerId: "acme" });
    expectProblem(owner, 400, "invalid-request", /ownerId must be the GitHub owner's numeric id/);
    expect(errorPaths(owner)).toEqual(["body.ownerId"]);
    const issuer = await admin("POST", "", { provider: "github", ownerId: "1", issuer: "gitlab" });
    expectProblem(issuer, 400, "invalid-request", /"gitlab" is not a configured github issuer/);
    const missing = await admin("POST", "", { provider: "github" });
    expect(errorPaths(missing)).toEqual(["body.ownerId"]);
    const extra = await admin("POST", "", { provider: "github", ownerId: "1", secret: "mine" });
    expect(errorPaths(extra)).toEqual(["body.secret"]);
  });

  it("are removed once: an unknown or removed id is a 404", async () => {
    const hook = await addHook(service, { provider: "github", ownerId: "7007" });
    expect((await admin("DELETE", `/${hook.id}`)).body).toMatchObject({ id: hook.id, ownerId: "7007" });
    expectProblem(
      await admin("DELETE", `/${hook.id}`),
      404,
      "not-found",
      new RegExp(`no hook installation ${hook.id}`),
    );
    expectProblem(await admin("DELETE", "/not-a-uuid"), 404, "not-found", /no hook installation not-a-uuid/);
  });
});

describe("remote-builder admin hooks, the CLI", () => {
  let service: TestService;
  let env: Record<string, string>;
  const admin = (...args: string[]) => cli(["admin", "hooks", ...args], env);
  beforeAll(async () => {
    service = await startTestService({ RB_HOOK_SECRET_KEY: hookKey(), RB_OIDC_ISSUERS: GITLAB_ISSUERS });
    env = { RB_SERVER_URL: service.url, RB_ADMIN_TOKEN: ADMIN_TOKEN };
  });
  afterAll(async () => {
    await service.stop();
  });

  it("adds an installation and prints the URL, the secret and the settings to give GitHub", async () => {
    const added = await admin("add", "github", "1001", "--owner-name", "acme");
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const id = /^Hook installation ([0-9a-f-]{36}): github owner acme \(1001\), issuer github\.$/m.exec(
      added.stdout,
    )?.[1];
    expect(id).toBeDefined();
    expect(added.stdout).toContain(`\n  URL               ${service.url}/api/v1/hooks/github\n`);
    expect(added.stdout).toMatch(/\n {2}Secret {12}rbh_[0-9a-f]{32}[A-Za-z0-9_-]{43}\n/);
    expect(added.stdout).toContain("\n  Content type      application/json\n");
    expect(added.stdout).toContain(`remote-builder admin hooks remove ${id}\` revokes it`);

    const json = await admin("add", "gitlab", "72", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({
      provider: "gitlab",
      ownerId: "72",
      path: "/api/v1/hooks/gitlab",
    });

    const list = await admin("list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${id} +github +github +acme \\(1001\\) +\\d{4}-`, "m"));
    expect(list.stdout).not.toContain("rbh_");

    const removed = await admin("remove", id!);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ id, ownerId: "1001" });
    expect((await admin("list", "--json")).stdout).not.toContain(id!);
  });

  it("prints the service's refusals and exits 1; a missing argument is a usage error, exit 2", async () => {
    const provider = await admin("add", "jenkins", "1");
    expect(provider).toMatchObject({ code: 1, stdout: "" });
    expect(provider.stderr).toMatch(
      /^400 The request is not valid: provider must be one of github, gitlab, buildkite/,
    );
    const owner = await admin("add", "github", "acme");
    expect(owner.code).toBe(1);
    expect(owner.stderr).toMatch(/ownerId must be the GitHub owner's numeric id/);
    const wrongToken = await cli(["admin", "hooks", "list"], {
      ...env,
      RB_ADMIN_TOKEN: "not-the-admin-token",
    });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toMatch(/^403 This needs the admin token/);
    const unknown = await admin("remove", randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^404 Not found: There is no hook installation/);
    const missing = await admin("add", "github");
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toMatch(
      /admin hooks add needs <owner-id>: remote-builder admin hooks add <provider> <owner-id>/,
    );
    expect((await admin("list", "extra")).code).toBe(2);
  });
});
