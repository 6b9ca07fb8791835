import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ApiClient } from "../../service/client/api-client.js";
import { heartbeatOnce } from "../../service/client/keeper.js";
import { heldCredential } from "../../service/client/renewal.js";
import { keeperClient, readState, savedCredential } from "../../service/cli/builder.js";
import { ManualClock } from "../harness/clock.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { eventually } from "../harness/wait.js";
import { gitlabClaims, oidcEnv, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const LEASE_SECONDS = 300;
/** What the service tells clients: a heartbeat every third of the lease. */
const BEAT_MS = (LEASE_SECONDS / 3) * SECOND;

/**
 * A GitLab job's identity token is the same for every step of the job and good for one exchange,
 * so its credential's hour used to be the build's hour. Here a build runs two hours on one
 * exchange: the heartbeat process (the CLI's own keeper client) renews its credential on the way
 * and writes each renewal to the job's state file, from which finish completes the build. The
 * service's clock and the keeper's are one manual clock; the service's reconcile loop runs as
 * usual, so a claim that lapses is reaped for real.
 */
describe("a two-hour build on a GitLab credential, kept alive by renewal", () => {
  let gitlab: TestIssuer;
  let service: TestService;
  let dir: string;
  const clock = new ManualClock(Date.now());
  const savedIdToken = process.env.RB_ID_TOKEN;

  /** A GitLab project trusted by a fresh account; its jobs' tokens are signed at the clock's time. */
  async function project() {
    const account = await service.account({ concurrencyLimit: 2 });
    const namespace = String(1_000 + Math.floor(Math.random() * 1e9));
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "gitlab", ownerId: namespace },
    });
    expect(added.status).toBe(201);
    const now = Math.floor(clock.now() / 1000);
    const token = await gitlab.token(
      gitlabClaims({ namespace_id: namespace, iat: now, nbf: now, exp: now + 300 }),
    );
    return { account, token };
  }
  const exchange = (token: string) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });
  const getBuild = async (id: string, token: string) =>
    (await http<Json>(service.url, "GET", `/api/v1/builds/${id}`, { token })).body;
  async function createBuild(token: string): Promise<string> {
    const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.status).toBe(201);
    await service.background.drain();
    return String(created.body.id);
  }

  beforeAll(async () => {
    gitlab = await TestIssuer.start();
    dir = mkdtempSync(join(tmpdir(), "rb-long-build-"));
    service = await startTestService(
      oidcEnv([{ name: "gitlab", kind: "gitlab", issuer: gitlab }], null, {
        RB_BUILD_DEADLINE_SECONDS: String((3 * HOUR) / SECOND),
        RB_OIDC_CREDENTIAL_TTL_SECONDS: "3600",
        RB_CLAIM_LEASE_SECONDS: String(LEASE_SECONDS),
        // A real build holds a broker connection, and a building build is never idle; these send
        // nothing through the broker, so idleness must not end them instead.
        RB_IDLE_TIMEOUT_SECONDS: "86400",
      }),
      { clock },
    );
  });
  afterAll(async () => {
    if (savedIdToken === undefined) delete process.env.RB_ID_TOKEN;
    else process.env.RB_ID_TOKEN = savedIdToken;
    await service.stop();
    await gitlab.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("renews the credential before each expiry, so heartbeats go on for two hours and finish completes the build", async () => {
    const { token: idToken } = await project();
    const exchanged = await exchange(idToken);
    expect(exchanged.status).toBe(200);
    // The job's token cannot be exchanged again: without renewal, this one credential is all it has.
    expectProblem(await exchange(idToken), 401, "token-replayed", /already exchanged once/);
    // As in the job, where the CLI would try it (in vain) once renewal failed.
    process.env.RB_ID_TOKEN = idToken;

    const first = String(exchanged.body.credential);
    const buildId = await createBuild(first);
    // What setup leaves behind: the state file finish reads, and the keeper's environment.
    const held = heldCredential(
      { credential: first, expiresIn: Number(exchanged.body.expiresIn) },
      clock.now(),
    );
    const statePath = join(dir, "remote-builder.json");
    writeFileSync(
      statePath,
      JSON.stringify({
        server: service.url,
        session: {
          buildId,
          name: "remote-builder",
          keyDir: dir,
          builderCreated: false,
          startedAt: clock.now(),
        },
        keeperPid: null,
        credential: held.credential,
        credentialExpiresAt: held.expiresAt,
        credentialRenewAt: held.renewAt,
      }),
      { mode: 0o600 },
    );
    const logPath = join(dir, "heartbeats.log");
    const keeper = keeperClient(
      {
        RB_KEEPER_SERVER: service.url,
        RB_KEEPER_BUILD: buildId,
        RB_KEEPER_CREDENTIAL: held.credential,
        RB_KEEPER_CREDENTIAL_EXPIRES_AT: String(held.expiresAt),
        RB_KEEPER_CREDENTIAL_RENEW_AT: String(held.renewAt),
        RB_KEEPER_STATE: statePath,
        RB_KEEPER_LOG: logPath,
      },
      () => clock.now(),
    );

    const credentials = new Set([first]);
    const start = clock.now();
    while (clock.now() - start < 2 * HOUR) {
      clock.advance(BEAT_MS);
      const problems: string[] = [];
      expect(await heartbeatOnce(keeper, buildId, (line) => problems.push(line))).toBeNull();
      expect({ minute: (clock.now() - start) / MINUTE, problems }).toEqual({
        minute: (clock.now() - start) / MINUTE,
        problems: [],
      });
      credentials.add(String(readState(statePath, "remote-builder").credential));
    }
    // Renewed at every half hour: at 30, 60, 90 and 120 minutes.
    expect(credentials.size).toBeGreaterThanOrEqual(4);
    expect(statSync(statePath).mode & 0o777).toBe(0o600);
    const log = readFileSync(logPath, "utf8");
    expect(log).toMatch(/credential renewed; it expires in 3600 s/);
    expect(log).not.toMatch(/failed/);
    expect(log).not.toContain("rbc_");
    // Every credential the keeper got is of the same run: the build is its to see.
    expect(await getBuild(buildId, String(readState(statePath, "remote-builder").credential))).toMatchObject({
      id: buildId,
      endedAt: null,
    });

    // Two hours in, the first credential is long gone; finish reads the renewed one from the state file.
    expectProblem(
      await http(service.url, "GET", `/api/v1/builds/${buildId}`, { token: first }),
      401,
      "unauthorized",
      /expired/,
    );
    const state = readState(statePath, "remote-builder");
    const finish = new ApiClient({
      serverUrl: state.server,
      auth: savedCredential(state, { audience: "remote-builder" }, statePath, () => clock.now()),
    });
    const completed = await finish.complete(buildId, "success");
    expect(completed).toMatchObject({ id: buildId, state: "completed", result: "success" });
  });

  it("control: without renewal, the heartbeat after the first hour is refused and the build is reaped", async () => {
    const { account, token: idToken } = await project();
    const exchanged = await exchange(idToken);
    expect(exchanged.status).toBe(200);
    const credential = String(exchanged.body.credential);
    const buildId = await createBuild(credential);
    const heartbeat = () =>
      http<Json>(service.url, "POST", `/api/v1/builds/${buildId}/heartbeat`, { token: credential });

    const start = clock.now();
    while (clock.now() - start + BEAT_MS < HOUR) {
      clock.advance(BEAT_MS);
      expect((await heartbeat()).status).toBe(200);
    }
    clock.advance(BEAT_MS);
    expectProblem(await heartbeat(), 401, "unauthorized", /expired, mistyped or no longer trusted/);

    // With no heartbeat its claim lapses, and the build is reaped.
    clock.advance(LEASE_SECONDS * SECOND);
    const reaped = await eventually("the build without heartbeats to be reaped", async () => {
      const build = await getBuild(buildId, account.token);
      return build.endedAt ? build : null;
    });
    expect(reaped).toMatchObject({ state: "reaped", endReason: expect.stringMatching(/^lease-expired/) });
  });
});
