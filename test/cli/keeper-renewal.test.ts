import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { argvOf, CliJob, environOf, gitlabClaims, until } from "./cli-job.js";

type Json = Record<string, unknown>;
const TTL_SECONDS = 60;

/**
 * The real CLI in a GitLab job whose credentials live a minute (the least the service allows):
 * the heartbeat process renews the credential at half its life and writes it to the state file,
 * and finish, run after the first credential expired, completes the build with the renewed one.
 * The job's identity token cannot help: it was exchanged once, by setup.
 */
describe("remote-builder's heartbeat process renews the job's credential for finish", () => {
  let service: TestService;
  let gitlab: TestIssuer;
  let driver: MemoryDriver;
  const jobs: CliJob[] = [];

  beforeAll(async () => {
    gitlab = await TestIssuer.start();
    service = await startTestService(
      oidcEnv([{ name: "gitlab", kind: "gitlab", issuer: gitlab }], null, {
        RB_OIDC_CREDENTIAL_TTL_SECONDS: String(TTL_SECONDS),
        // A heartbeat every 2 s: the renewal is checked before each one.
        RB_CLAIM_LEASE_SECONDS: "6",
      }),
      { driver: (context) => (driver = new MemoryDriver({ ...context, serve: startEchoBuilder })) },
    );
  });
  afterEach(() => {
    for (const made of jobs.splice(0)) made.cleanUp();
  });
  afterAll(async () => {
    for (const builder of (await driver?.list()) ?? []) await driver.terminate(builder.builderId);
    await service?.stop();
    await gitlab?.stop();
  });

  it("writes each renewed credential to the state file, owner-only and never in argv or its log; finish uses it", async () => {
    const { handle, token: agent } = await service.account();
    const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "gitlab", ownerId: "72", repositoryId: "20" },
    });
    expect(trusted.status).toBe(201);
    const ci = new CliJob({ RB_SERVER_URL: service.url, RB_ID_TOKEN: await gitlab.token(gitlabClaims()) });
    jobs.push(ci);

    const setup = await ci.run(["setup"]);
    expect(setup.stderr).not.toMatch(/remote-builder:/);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const exchanged = ci.state()!;
    const first = exchanged.credential!;
    expect(first).toMatch(/^rbc_/);
    expect(exchanged.credentialRenewAt! - Date.now()).toBeLessThanOrEqual((TTL_SECONDS / 2) * 1000);
    expect(exchanged.credentialExpiresAt! - exchanged.credentialRenewAt!).toBeCloseTo(
      (TTL_SECONDS / 2) * 1000,
      -2,
    );
    const keeper = exchanged.keeperPid!;
    expect(environOf(keeper).RB_KEEPER_STATE).toBe(ci.statePath());

    const renewed = await until(
      "the heartbeat process to renew the credential",
      () => {
        const credential = ci.state()?.credential;
        return credential && credential !== first ? credential : null;
      },
      (TTL_SECONDS / 2 + 15) * 1000,
    );
    expect(renewed).toMatch(/^rbc_[A-Za-z0-9_-]{43}$/);
    expect(statSync(ci.statePath()).mode & 0o777).toBe(0o600);
    expect(ci.state()!.credentialExpiresAt!).toBeGreaterThan(exchanged.credentialExpiresAt!);
    // The renewed credential is of the same run: it sees the build.
    const seen = await http<Json>(service.url, "GET", `/api/v1/builds/${buildId}`, { token: renewed });
    expect(seen.status).toBe(200);
    const log = readFileSync(join(exchanged.session.keyDir, "heartbeats.log"), "utf8");
    expect(log).toMatch(/credential renewed; it expires in \d+ s/);
    expect(log).not.toContain("rbc_");
    expect(argvOf(keeper)).not.toContain("rbc_");

    // Once the first credential is dead, only the state file's can finish the build.
    await until(
      "the first credential to expire",
      async () =>
        (await http(service.url, "GET", `/api/v1/builds/${buildId}`, { token: first })).status === 401,
      (TTL_SECONDS + 10) * 1000,
    );
    const finish = await ci.run(["finish"]);
    expect(finish.stderr).not.toMatch(/remote-builder:/);
    expect(finish.code).toBe(0);
    expect(
      (await http<Json>(service.url, "GET", `/api/v1/builds/${buildId}`, { token: agent })).body,
    ).toMatchObject({ state: "completed", result: "success" });
    expect(ci.stateFiles()).toEqual([]);
  }, 150_000);
});
