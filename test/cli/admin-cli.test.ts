import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { closedPort } from "../harness/wait.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/remote-builder.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process; never rejects, so a test can assert on a failure. */
function cli(args: string[], env: Record<string, string | undefined>, cwd = ROOT): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe("remote-builder admin, the CLI", () => {
  let service: TestService;
  let env: Record<string, string>;
  const admin = (...args: string[]) => cli(["admin", ...args], env);
  beforeAll(async () => {
    service = await startTestService();
    env = { RB_SERVER_URL: service.url, RB_ADMIN_TOKEN: ADMIN_TOKEN };
  });
  afterAll(async () => {
    await service.stop();
  });

  it("creates an account, turns its flag on and mints a token that admits a build", async () => {
    const handle = `cli-${randomUUID().slice(0, 8)}`;
    const created = await admin(
      "accounts",
      "create",
      handle,
      "--plan",
      "team",
      "--concurrency",
      "2",
      "--profile",
      "deploy=medium",
    );
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(created.stdout)).toMatchObject({
      handle,
      plan: "team",
      concurrencyLimit: 2,
      profiles: { deploy: "medium" },
      features: [],
    });

    const on = await admin("accounts", "feature", handle, "remote_builder", "on");
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout).features).toEqual(["remote_builder"]);

    const minted = await admin("tokens", "create", handle, "--name", "ci");
    expect(minted.code).toBe(0);
    const { token, id: tokenId } = JSON.parse(minted.stdout) as { token: string; id: string };
    expect(token).toMatch(/^rba_/);

    const build = await http(service.url, "POST", "/api/v1/builds", { token, body: { profile: "deploy" } });
    expect(build.status).toBe(201);
    expect(build.body).toMatchObject({ shape: "medium", profile: "deploy" });

    const [list, table] = await Promise.all([
      admin("tokens", "list", handle, "--json"),
      admin("tokens", "list", handle),
    ]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).tokens).toEqual([expect.objectContaining({ id: tokenId, name: "ci" })]);
    expect(list.stdout).not.toContain(token);
    // For people, a table; never the token itself either.
    expect(table).toMatchObject({ code: 0, stderr: "" });
    expect(table.stdout).toMatch(
      new RegExp(
        `^ID +NAME +PREFIX +CREATED +LAST USED +REVOKED\n${tokenId} +ci +rba_\\S* +\\d{4}-\\d\\d-\\d\\d [\\d:]+ UTC +\\S`,
      ),
    );
    expect(table.stdout).not.toContain(token);

    const got = await admin("accounts", "get", handle);
    expect(JSON.parse(got.stdout)).toMatchObject({ handle, features: ["remote_builder"] });

    const revoked = await admin("tokens", "revoke", handle, tokenId);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout).revokedAt).not.toBeNull();
    const refused = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(refused.status).toBe(401);
  });

  it("updates an account's limits, which the next admission obeys", async () => {
    const { handle, token } = await service.account({ plan: "team" });
    const updated = await admin("accounts", "update", handle, "--minutes", "0", "--shapes", "small,large");
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      monthlyBuildMinutes: 0,
      allowedShapes: ["small", "large"],
    });
    const res = await http(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(res.status).toBe(429);
    expect(res.body.type).toBe("https://remote-builder.tuist.dev/problems/quota-exhausted");
  });

  it("prints a refusal's status, title and detail to stderr and exits 1", async () => {
    const { handle } = await service.account();
    const [again, badPlan, missing] = await Promise.all([
      admin("accounts", "create", handle),
      admin("accounts", "update", handle, "--plan", "gold"),
      admin("accounts", "get", "nobody-here"),
    ]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toBe(
      `409 It already exists: An account with the handle "${handle}" already exists.\n`,
    );

    expect(badPlan.code).toBe(1);
    expect(badPlan.stderr).toMatch(
      /^400 The request is not valid: There is no plan "gold"\. Plans: free, team, enterprise\.\n$/,
    );

    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('404 Not found: There is no account "nobody-here".\n');
  });

  it("refuses a limit that is not a whole number, or a profile without =, naming the flag, with exit code 2", async () => {
    const { handle } = await service.account({ plan: "team" });
    const [concurrency, minutes, profile] = await Promise.all([
      admin("accounts", "update", handle, "--concurrency", "lots"),
      admin("accounts", "update", handle, "--minutes", "1.5"),
      admin("accounts", "update", handle, "--profile", "deploy"),
    ]);
    for (const run of [concurrency, minutes, profile]) expect(run).toMatchObject({ code: 2, stdout: "" });
    expect(concurrency.stderr).toBe('remote-builder: --concurrency takes a whole number, not "lots"\n');
    expect(minutes.stderr).toBe('remote-builder: --minutes takes a whole number, not "1.5"\n');
    expect(profile.stderr).toBe('remote-builder: --profile takes label=shape, not "deploy"\n');
    // Nothing was sent: the account is as it was.
    const account = await service.accounts.get(handle);
    expect(account).toMatchObject({ concurrencyLimit: 3, monthlyBuildMinutes: 3000, profiles: {} });
  });

  it("refuses a wrong admin token with the service's admin-required detail", async () => {
    const res = await cli(["admin", "accounts", "get", "anyone"], {
      ...env,
      RB_ADMIN_TOKEN: "not-the-admin-token",
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      "403 This needs the admin token: This route takes the admin token (RB_ADMIN_TOKEN), not an agent token.\n",
    );
  });

  it("says the service cannot be reached when it is down, and exits 1", async () => {
    const port = await closedPort();
    const res = await cli(["admin", "accounts", "get", "anyone"], {
      RB_SERVER_URL: `http://127.0.0.1:${port}`,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
    expect(res.stderr).toMatch(
      new RegExp(
        `^remote-builder: cannot reach http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); is the service running\\?\\n$`,
      ),
    );
  });

  it("says how to give the admin token when there is none", async () => {
    const empty = mkdtempSync(join(tmpdir(), "rb-cli-"));
    try {
      const res = await cli(["admin", "accounts", "get", "anyone"], { RB_SERVER_URL: service.url }, empty);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^remote-builder: no admin token: pass --admin-token, set RB_ADMIN_TOKEN/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("refuses an unknown command, a missing or extra argument or a bad one, saying what it takes, and exits 2", async () => {
    const [unknown, state, noHandle, noId, extra] = await Promise.all([
      admin("accounts", "delete", "someone"),
      admin("accounts", "feature", "someone", "remote_builder", "maybe"),
      admin("accounts", "get"),
      admin("tokens", "revoke", "someone"),
      admin("tokens", "list", "someone", "else"),
    ]);
    for (const run of [unknown, state, noHandle, noId, extra])
      expect(run).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toBe(
      'remote-builder: there is no command "admin accounts delete"; see `remote-builder admin accounts --help`\n',
    );
    expect(state.stderr).toBe(
      'remote-builder: a feature is turned on or off, not "maybe": remote-builder admin accounts feature <handle> <feature> on|off\n',
    );
    expect(noHandle.stderr).toBe(
      "remote-builder: name the account: remote-builder admin accounts get <handle>\n",
    );
    expect(noId.stderr).toBe(
      "remote-builder: admin tokens revoke needs <token-id>: remote-builder admin tokens revoke <handle> <token-id>\n",
    );
    expect(extra.stderr).toBe(
      'remote-builder: admin tokens list takes <handle>, not also "else": remote-builder admin tokens list <handle>\n',
    );
  });

  it("lists trust relationships for people, and as the service's JSON with --json", async () => {
    const { handle } = await service.account();
    const empty = await admin("trust", "list", handle);
    expect(empty).toEqual({ code: 0, stdout: `The account ${handle} trusts no CI identity.\n`, stderr: "" });
    const added = await admin(
      "trust",
      "add",
      handle,
      "--owner-id",
      "72",
      "--ref",
      "refs/heads/main",
      "--event",
      "push",
    );
    expect(added.code).toBe(0);
    const { id } = JSON.parse(added.stdout) as { id: string };
    const [listed, json] = await Promise.all([
      admin("trust", "list", handle),
      admin("trust", "list", handle, "--json"),
    ]);
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    expect(listed.stdout).toMatch(
      new RegExp(`^${id}  github  owner 72  every repository  since \\d{4}-\\d\\d-\\d\\d [\\d:]+ UTC\n`),
    );
    expect(listed.stdout).toContain(
      [
        "  refs: refs/heads/main",
        "  cache-write refs: refs/heads/**, refs/tags/**",
        "  environments: any",
        "  workflows: any",
        "  events: push",
      ].join("\n"),
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      relationships: [{ id, ownerId: "72", events: ["push"] }],
    });
  });
});
