import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { FakeGitHub, githubClaims, oidcEnv, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;
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

describe("trust relationships, administered", () => {
  let issuer: TestIssuer;
  let github: FakeGitHub;
  let service: TestService;
  const admin = (method: string, path: string, body?: Json) =>
    http<Json>(service.url, method, `/api/v1/admin/accounts${path}`, {
      token: ADMIN_TOKEN,
      ...(body ? { body } : {}),
    });
  const exchange = async (claims: Json) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token: await issuer.token(claims) } });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    github = await FakeGitHub.start();
    github.owners.set("acme", { id: 1001, login: "acme", repos: { app: 2002, site: 2003 } });
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], github));
  });
  afterAll(async () => {
    await service.stop();
    await github.stop();
    await issuer.stop();
  });

  it("added by owner/repo name, pins the numeric ids GitHub's REST API gives, once", async () => {
    const { handle } = await service.account();
    github.requests = [];
    const added = await admin("POST", `/${handle}/trust`, {
      repository: "acme/app",
      refs: ["refs/heads/**"],
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      issuer: "github",
      ownerId: "1001",
      ownerName: "acme",
      repositoryId: "2002",
      repositoryName: "acme/app",
      refs: ["refs/heads/**"],
      cacheWriteRefs: ["refs/heads/**", "refs/tags/**"],
      events: null,
    });
    expect(github.requests).toEqual(["GET /repos/acme/app"]);
    expect((await exchange(githubClaims())).status).toBe(200);
    // A sibling repository of the same owner is not admitted by a repository-pinned relationship.
    const sibling = await exchange(githubClaims({ repository: "acme/site", repository_id: "2003" }));
    expect(sibling.status).toBe(403);
    // It is told about its own job and what to ask an admin for, never what the relationship admits.
    expect(String(sibling.body.detail)).toContain("acme/site id 2003");
    expect(String(sibling.body.detail)).not.toContain("2002");
    expect(github.requests).toEqual(["GET /repos/acme/app"]);
  });

  it("added by owner name resolves the owner's id through GET /users/{name}", async () => {
    const { handle } = await service.account();
    github.owners.set("globex", { id: 7007, login: "Globex" });
    github.requests = [];
    const added = await admin("POST", `/${handle}/trust`, { owner: "globex" });
    expect(added.body).toMatchObject({ ownerId: "7007", ownerName: "Globex", repositoryId: null });
    expect(github.requests).toEqual(["GET /users/globex"]);
  });

  it("a renamed owner keeps matching by id; a new owner re-registering the old name never matches", async () => {
    const { handle } = await service.account();
    github.owners.set("initech", { id: 8008, login: "initech", repos: { app: 8100 } });
    await admin("POST", `/${handle}/trust`, { repository: "initech/app" });
    const renamed = await exchange(
      githubClaims({
        repository_owner: "initech-renamed",
        repository_owner_id: "8008",
        repository_id: "8100",
      }),
    );
    expect(renamed.status).toBe(200);
    const squatter = await exchange(
      githubClaims({
        repository_owner: "initech",
        repository_owner_id: "9999",
        repository: "initech/app",
        repository_id: "9100",
      }),
    );
    expect(squatter.status).toBe(403);
    expect(squatter.body.type).toBe("https://remote-builder.tuist.dev/problems/no-trust-relationship");
  });

  it("a name GitHub does not know is a 404 that says what to do; GitHub failing is a 503", async () => {
    const { handle } = await service.account();
    const missing = await admin("POST", `/${handle}/trust`, { repository: "acme/nope" });
    expect(missing.status).toBe(404);
    expect(String(missing.body.detail)).toContain("numeric ownerId");
    github.failWith = 500;
    try {
      const down = await admin("POST", `/${handle}/trust`, { owner: "acme" });
      expect(down.status).toBe(503);
      expect(down.body.type).toBe("https://remote-builder.tuist.dev/problems/unavailable");
    } finally {
      github.failWith = 0;
    }
  });

  it("refuses a relationship with no owner, a non-numeric GitHub id, or an unknown issuer", async () => {
    const { handle } = await service.account();
    expect((await admin("POST", `/${handle}/trust`, {})).status).toBe(400);
    const notNumeric = await admin("POST", `/${handle}/trust`, { ownerId: "acme" });
    expect(notNumeric.status).toBe(400);
    expect(String(notNumeric.body.detail)).toContain("numeric");
    const issuerless = await admin("POST", `/${handle}/trust`, { ownerId: "1", issuer: "jenkins" });
    expect(issuerless.status).toBe(400);
    expect(String(issuerless.body.detail)).toContain("RB_OIDC_ISSUERS");
    expect((await admin("POST", "/no-such-account/trust", { ownerId: "1" })).status).toBe(404);
  });

  it("are listed and removed; removing an unknown one is a 404", async () => {
    const { handle } = await service.account();
    const a = await admin("POST", `/${handle}/trust`, {
      ownerId: "12",
      environments: ["prod"],
      events: ["push"],
    });
    const list = await admin("GET", `/${handle}/trust`);
    expect(list.body.relationships).toEqual([a.body]);
    expect((await admin("DELETE", `/${handle}/trust/${String(a.body.id)}`)).status).toBe(200);
    expect((await admin("GET", `/${handle}/trust`)).body.relationships).toEqual([]);
    expect((await admin("DELETE", `/${handle}/trust/${String(a.body.id)}`)).status).toBe(404);
  });

  it("need the admin token", async () => {
    const { handle, token } = await service.account();
    const agent = await http(service.url, "GET", `/api/v1/admin/accounts/${handle}/trust`, { token });
    expect(agent.status).toBe(403);
  });

  it("from the CLI: admin trust add by name, list, remove", async () => {
    const { handle } = await service.account();
    const env = { RB_SERVER_URL: service.url, RB_ADMIN_TOKEN: ADMIN_TOKEN };
    const added = await cli(
      [
        "admin",
        "trust",
        "add",
        handle,
        "--repository",
        "acme/app",
        "--cache-write-ref",
        "refs/heads/main",
        "--event",
        "push",
      ],
      env,
    );
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const relationship = JSON.parse(added.stdout) as Json;
    expect(relationship).toMatchObject({
      ownerId: "1001",
      repositoryId: "2002",
      cacheWriteRefs: ["refs/heads/main"],
      events: ["push"],
    });
    const listed = await cli(["admin", "trust", "list", handle, "--json"], env);
    expect((JSON.parse(listed.stdout) as Json).relationships).toEqual([relationship]);
    const removed = await cli(["admin", "trust", "remove", handle, String(relationship.id)], env);
    expect(removed.code).toBe(0);
    const noOwner = await cli(["admin", "trust", "add", handle], env);
    expect(noOwner.code).not.toBe(0);
    expect(noOwner.stderr).toContain("--owner-id, --owner or --repository");
  });
});
