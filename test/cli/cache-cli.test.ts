import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { CliJob, gitlabClaims, until } from "./cli-job.js";

type Json = Record<string, unknown>;

/** `remote-builder cache` and `remote-builder usage` against a real service, through the typed client. */
describe("remote-builder cache and usage, the CLI", () => {
  let service: TestService;
  let gitlab: TestIssuer;
  let driver: MemoryDriver;
  const jobs: CliJob[] = [];
  const job = (env: Record<string, string>) => {
    const made = new CliJob({ RB_SERVER_URL: service.url, ...env });
    jobs.push(made);
    return made;
  };

  beforeAll(async () => {
    gitlab = await TestIssuer.start();
    service = await startTestService(oidcEnv([{ name: "gitlab", kind: "gitlab", issuer: gitlab }], null), {
      driver: (context) => (driver = new MemoryDriver({ ...context, serve: startEchoBuilder })),
    });
  });
  afterEach(() => {
    for (const made of jobs.splice(0)) made.cleanUp();
  });
  afterAll(async () => {
    for (const builder of (await driver?.list()) ?? []) await driver.terminate(builder.builderId);
    await service?.stop();
    await gitlab?.stop();
  });

  it("lists the volumes, refuses a reset while a build holds the volume, and resets it once the build is over", async () => {
    const { handle, id, token } = await service.account();
    const ci = job({ RB_TOKEN: token });

    const setup = await ci.run(["setup"]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const [listed, table, refused] = await Promise.all([
      ci.run(["cache", "list", handle, "--json"]),
      ci.run(["cache", "list", handle]),
      ci.run(["cache", "reset", handle]),
    ]);
    expect(listed.code).toBe(0);
    expect(table).toMatchObject({ code: 0, stderr: "" });
    expect(table.stdout).toMatch(
      /^VOLUME +SIZE +CREATED +LAST USED\nbuildkit +\d+ GiB +\d{4}-\d\d-\d\d \d\d:\d\d UTC +\d{4}-\d\d-\d\d \d\d:\d\d UTC\n$/,
    );
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        name: "buildkit",
        sizeGiB: expect.any(Number),
        createdAt: expect.any(String),
        lastUsedAt: expect.any(String),
      },
    ]);

    expect(refused).toMatchObject({ code: 1, stdout: "" });
    expect(refused.stderr).toBe(
      `remote-builder: 409 A build is using the cache volume: The cache volume "buildkit" is in use by build ${buildId}; reset it once that build ends.\n`,
    );
    expect(driver.dropped).toEqual([]);

    expect((await ci.run(["finish"])).code).toBe(0);
    // The volume is let go in the background once the builder is gone: moments after finish.
    const reset = await until("the reset to go through", async () => {
      const run = await ci.run(["cache", "reset", handle]);
      if (run.code !== 0) expect(run.stderr).toContain("is in use by build");
      return run.code === 0 ? run : null;
    });
    expect(reset).toMatchObject({
      stdout: 'Reset cache volume "buildkit": the next build starts cold.\n',
      stderr: "",
    });
    expect(driver.dropped).toEqual([`${id}/buildkit`]);
    const [empty, emptyTable] = await Promise.all([
      ci.run(["cache", "list", handle, "--json"]),
      ci.run(["cache", "list", handle]),
    ]);
    expect(empty).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(empty.stdout)).toEqual([]);
    expect(emptyTable).toMatchObject({ code: 0, stdout: `The account ${handle} has no cache volumes.\n` });
  });

  it("says what it needs when the verb, the account or the volume is wrong (2 for usage, 1 for the service's refusal)", async () => {
    const { handle, token } = await service.account();
    const other = await service.account();
    const ci = job({ RB_TOKEN: token });
    const [none, noAccount, wipe, missing, foreign] = await Promise.all([
      ci.run(["cache"]),
      ci.run(["cache", "list"]),
      ci.run(["cache", "wipe", handle]),
      ci.run(["cache", "reset", handle, "nothing-here"]),
      ci.run(["cache", "list", other.handle]),
    ]);
    for (const run of [none, noAccount, wipe]) expect(run).toMatchObject({ code: 2, stdout: "" });
    expect(none.stderr).toBe(
      "remote-builder: say what to do: remote-builder cache list|reset …; see `remote-builder cache --help`\n",
    );
    expect(noAccount.stderr).toBe("remote-builder: name the account: remote-builder cache list <account>\n");
    expect(wipe.stderr).toBe(
      'remote-builder: there is no command "cache wipe"; see `remote-builder cache --help`\n',
    );
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toBe(
      'remote-builder: 404 Not found: The account has no cache volume "nothing-here".\n',
    );
    expect(foreign).toMatchObject({ code: 1, stdout: "" });
    expect(foreign.stderr).toBe(
      `remote-builder: 404 Not found: There is no account "${other.handle}" visible to this token.\n`,
    );
  });

  it("acts for the account it names when several accounts trust the same GitLab project", async () => {
    const [a, b] = [await service.account(), await service.account()];
    for (const { handle } of [a, b]) {
      const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
        token: ADMIN_TOKEN,
        body: { issuer: "gitlab", ownerId: "72", repositoryId: "20", cacheWriteRefs: ["refs/heads/main"] },
      });
      expect(trusted.status).toBe(201);
    }
    // Each run is a job of its own: an identity token is good for one exchange.
    const gitlabJob = async () => job({ RB_ID_TOKEN: await gitlab.token(gitlabClaims()) });

    const listed = await (await gitlabJob()).run(["cache", "list", b.handle, "--json"]);
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(listed.stdout)).toEqual([]);

    const unnamed = await (await gitlabJob()).run(["setup"]);
    expect(unnamed.code).toBe(1);
    expect(unnamed.stderr).toMatch(
      /^remote-builder: 400 .*More than one account trusts this job; name the one to act for/,
    );

    const ci = await gitlabJob();
    const setup = await ci.run(["setup", "--account", b.handle]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const build = await http<Json>(service.url, "GET", `/api/v1/builds/${buildId}`, { token: b.token });
    expect(build.body).toMatchObject({ accountId: b.id, ci: { repository: "group/project" } });
    const finish = await ci.run(["finish", "--account", b.handle, "--json"]);
    expect(finish.code).toBe(0);
    expect(finish.stderr).not.toContain("warning");
    expect(JSON.parse(finish.stdout)).toMatchObject({ id: buildId, state: "completed" });
  });

  it("prints the account's usage with its agent token: a summary, or with --json as the API reports it", async () => {
    const { handle, token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const from = "2030-01-01T00:00:00.000Z";
    const to = "2030-02-01T00:00:00.000Z";
    const [month, range, summary] = await Promise.all([
      ci.run(["usage", handle, "--json"]),
      ci.run(["usage", handle, "--from", from, "--to", to, "--json"]),
      ci.run(["usage", handle, "--from", from, "--to", to]),
    ]);
    expect(summary).toMatchObject({ code: 0, stderr: "" });
    expect(summary.stdout).toMatch(
      new RegExp(
        `^account +${handle}\nfrom +2030-01-01 00:00 UTC\nto +2030-02-01 00:00 UTC\nbuild minutes +0\ncache GiB-hours +0\n`,
      ),
    );
    expect(month).toMatchObject({ code: 0, stderr: "" });
    const api = await http<Json>(service.url, "GET", `/api/v1/accounts/${handle}/usage`, { token });
    expect(api.status).toBe(200);
    // The default range ends now, so `to` is the one figure the two readings differ in.
    expect({ ...JSON.parse(month.stdout), to: null }).toEqual({ ...api.body, to: null });
    expect(api.body).toMatchObject({ account: handle, buildMinutes: 0 });

    expect(range).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(range.stdout)).toMatchObject({ from, to, buildMinutes: 0 });

    const [noAccount, badDate] = await Promise.all([
      ci.run(["usage"]),
      ci.run(["usage", handle, "--from", "yesterday"]),
    ]);
    expect(noAccount).toMatchObject({ code: 2, stdout: "" });
    expect(noAccount.stderr).toBe("remote-builder: name the account: remote-builder usage <account>\n");
    expect(badDate).toMatchObject({ code: 1, stdout: "" });
    expect(badDate.stderr).toMatch(/^remote-builder: 400 /);
  });
});
