import { statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { CREDENTIAL_HELP } from "../../service/cli/id-token.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { eventually } from "../harness/wait.js";
import { oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { alive, argvOf, CliJob, closedPort, environOf, gitlabClaims, isKeeper, until } from "./cli-job.js";

type Json = Record<string, unknown>;

const BUILD_ID = /Build ([0-9a-f-]{36}) (?:admitted|queued)/;

/**
 * The CLI as a job of another CI system runs it: `setup`, docker builds, `finish`, each step a new
 * process, against a real service whose broker has an mTLS echo builder behind every build.
 */
describe("remote-builder setup, status and finish in another CI system", () => {
  let service: TestService;
  let gitlab: TestIssuer;
  let driver: MemoryDriver;
  const jobs: CliJob[] = [];
  const job = (env: Record<string, string>) => {
    const made = new CliJob({ RB_SERVER_URL: service.url, ...env });
    jobs.push(made);
    return made;
  };
  const getBuild = async (id: string, token: string) =>
    (await http<Json>(service.url, "GET", `/api/v1/builds/${id}`, { token })).body;
  /** The build once the bootstrap's connection through the broker is recorded closed. */
  const settledBuild = (id: string, token: string) =>
    eventually("the bootstrap's connection to be recorded closed", async () => {
      const build = await getBuild(id, token);
      return build.state === "building" ? null : build;
    });

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
    // A builder outlives the service (as a real one would a restart): end the echo servers of
    // builds a test left running, or they keep jest from exiting.
    for (const builder of (await driver?.list()) ?? []) await driver.terminate(builder.builderId);
    await service?.stop();
    await gitlab?.stop();
  });

  it("sets up with an agent token, shows the build, and finishes: builder, keys, state and heartbeats gone", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });

    const setup = await ci.run(["setup"]);
    expect(setup.stderr).not.toMatch(/remote-builder:/);
    expect(setup.code).toBe(0);
    const printed = JSON.parse(setup.stdout) as Json;
    expect(Object.keys(printed).sort()).toEqual(["buildId", "endpoint", "name", "readySeconds", "tier"]);
    expect(printed).toMatchObject({
      name: "remote-builder",
      endpoint: service.brokerInfo.endpoint,
      tier: "cold",
    });
    expect(printed.readySeconds).toEqual(expect.any(Number));
    const buildId = printed.buildId as string;
    // Progress goes to stderr, so that stdout stays one JSON document for scripts.
    expect(setup.stderr).toContain(`Build ${buildId} admitted (shape small, cache volume "buildkit")`);
    expect(setup.stderr).toMatch(/Builder ready in \d+\.\d s \(cold tier, shape small\)/);
    expect(setup.stderr).toContain('docker buildx builder "remote-builder" is ready and in use');
    expect(setup.stderr).toContain("Next: docker buildx build --builder remote-builder");

    const state = ci.state()!;
    expect(state).toMatchObject({
      server: service.url,
      session: { buildId, name: "remote-builder", builderCreated: true },
    });
    const keyDir = state.session.keyDir;
    expect(keyDir.startsWith(join(ci.stateDir, "remote-builder-"))).toBe(true);
    expect(statSync(ci.statePath()).mode & 0o777).toBe(0o600);
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);

    const { serverName, endpoint } = service.brokerInfo;
    const calls = ci.dockerCalls();
    expect(calls.map((c) => c.argv)).toEqual([
      [
        "buildx",
        "create",
        "--name",
        "remote-builder",
        "--driver",
        "remote",
        "--driver-opt",
        `cacert=${keyDir}/ca.pem,cert=${keyDir}/cert.pem,key=${keyDir}/key.pem,servername=${serverName}`,
        "--use",
        endpoint,
      ],
      ["buildx", "inspect", "--bootstrap", "remote-builder"],
    ]);
    expect(calls[0]!.files).toEqual({ cacert: "600", cert: "600", key: "600" });
    // The fake docker really dialed the broker with those files and got bytes back from the builder.
    expect(calls[1]).toMatchObject({ bootstrapped: true });

    // The heartbeat process runs detached, for this build, with its credential in its environment.
    const keeper = state.keeperPid!;
    expect(isKeeper(keeper)).toBe(true);
    expect(environOf(keeper)).toMatchObject({
      RB_KEEPER_SERVER: service.url,
      RB_KEEPER_BUILD: buildId,
      RB_KEEPER_CREDENTIAL: token,
      RB_KEEPER_INTERVAL: "20",
    });
    expect(argvOf(keeper)).not.toContain(token);

    // For people, a summary; for scripts, --json gives the API's build view as it always did.
    const [status, statusJson] = await Promise.all([ci.run(["status"]), ci.run(["status", "--json"])]);
    expect(status.code).toBe(0);
    expect(status.stderr).toMatch(/^Build ready \(\d+ s\)\n$/);
    expect(status.stdout).toMatch(
      new RegExp(
        `^build +${buildId}\nstate +ready\nshape +small\ntier +cold\nready in +\\d+\\.\\d s\ncache +buildkit, persistent\nduration +\\d+\\.\\d s so far\n$`,
      ),
    );
    expect(status.stdout).not.toContain("BEGIN CERTIFICATE");
    expect(statusJson.code).toBe(0);
    const view = JSON.parse(statusJson.stdout) as Json;
    expect(view).toMatchObject({ id: buildId, state: "ready", result: null });
    expect(Object.keys(view).sort()).toEqual(Object.keys(await getBuild(buildId, token)).sort());

    const finish = await ci.run(["finish", "--result", "success"]);
    expect(finish.code).toBe(0);
    expect(finish.stderr).toBe(
      `Build ${buildId} completed as success\nRemoved docker buildx builder "remote-builder"\n`,
    );
    expect(finish.stdout).toMatch(new RegExp(`^build +${buildId}\nstate +completed\nresult +success\n`));
    // The memory driver's builders run no BuildKit, so the build's insights say so.
    expect(finish.stdout).toMatch(
      /\nduration +\d+\.\d s\nsteps +not available \(the memory driver's builders keep no BuildKit history\)\n$/,
    );
    expect(finish.stdout).not.toContain("BEGIN CERTIFICATE");
    expect(
      ci
        .dockerCalls()
        .slice(2)
        .map((c) => c.argv),
    ).toEqual([["buildx", "rm", "remote-builder"]]);
    expect(await getBuild(buildId, token)).toMatchObject({ state: "completed", result: "success" });
    expect(ci.stateFiles()).toEqual([]);
    await until("the heartbeat process to stop", () => !alive(keeper), 5_000);
  });

  it("exchanges a GitLab id_token (RB_ID_TOKEN) when there is no agent token, for every step of the job", async () => {
    const { handle, token } = await service.account();
    const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "gitlab", ownerId: "72", repositoryId: "20", cacheWriteRefs: ["refs/heads/main"] },
    });
    expect(trusted.status).toBe(201);
    // GitLab mints a job's id_tokens once, when the job starts: every step sees the same one.
    const ci = job({ RB_ID_TOKEN: await gitlab.token(gitlabClaims()) });

    const setup = await ci.run(["setup", "--name", "gl"]);
    expect(setup.stderr).not.toMatch(/remote-builder:/);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    expect(await settledBuild(buildId, token)).toMatchObject({
      state: "ready",
      cache: { mode: "persistent" },
      ci: { repository: "group/project", ref: "refs/heads/main", run: "1212" },
    });
    expect(ci.dockerCalls().map((c) => c.argv.slice(0, 4))).toEqual([
      ["buildx", "create", "--name", "gl"],
      ["buildx", "inspect", "--bootstrap", "gl"],
    ]);
    // The keeper got the exchanged credential, not the identity token.
    expect(environOf(ci.state("gl")!.keeperPid!).RB_KEEPER_CREDENTIAL).toMatch(/^rbc_/);

    const status = await ci.run(["status", "--name", "gl", "--json"]);
    expect(status.stderr).not.toMatch(/remote-builder:/);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: buildId, state: "ready" });

    const finish = await ci.run(["finish", "--name", "gl"]);
    expect(finish.code).toBe(0);
    expect(finish.stderr).not.toMatch(/warning/);
    expect(await getBuild(buildId, token)).toMatchObject({ state: "completed", result: "success" });
    expect(ci.stateFiles()).toEqual([]);
  });

  it("says how to give a credential when there is none, and leaves nothing behind", async () => {
    const ci = job({});
    const setup = await ci.run(["setup"]);
    expect(setup).toMatchObject({ code: 1, stdout: "" });
    expect(setup.stderr).toBe(`remote-builder: ${CREDENTIAL_HELP}\n`);
    expect(setup.stderr).toContain("RB_TOKEN=rba_");
    expect(setup.stderr).toContain("GitLab CI       id_tokens: { RB_ID_TOKEN: { aud: remote-builder } }");
    expect(ci.stateFiles()).toEqual([]);
    expect(ci.dockerCalls()).toEqual([]);
  });

  it("says the service cannot be reached when it is down, and leaves no state or keys", async () => {
    const { token } = await service.account();
    const port = await closedPort();
    const ci = job({ RB_TOKEN: token, RB_SERVER_URL: `http://127.0.0.1:${port}` });
    const setup = await ci.run(["setup"]);
    expect(setup).toMatchObject({ code: 1, stdout: "" });
    expect(setup.stderr).toMatch(
      new RegExp(
        `^remote-builder: cannot reach the remote-builder service at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`,
      ),
    );
    expect(ci.stateFiles()).toEqual([]);
    expect(ci.dockerCalls()).toEqual([]);
  });

  it("gives up after --wait-timeout while the account's only slot is taken, exits 3, and ends its queued build", async () => {
    const { token } = await service.account({ concurrencyLimit: 1 });
    const holder = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(holder.status).toBe(201);
    const ci = job({ RB_TOKEN: token });

    const setup = await ci.run(["setup", "--wait-timeout", "2s"]);
    expect(setup).toMatchObject({ code: 3, stdout: "" });
    expect(setup.stderr).toContain(
      "Queued: the account runs as many builds as its plan allows; 0 build(s) ahead of this one",
    );
    const queuedId = BUILD_ID.exec(setup.stderr)![1]!;
    // Whether the service ended the queued build first or the CLI stopped waiting first, it says
    // the same: the timeout and where the build stood.
    expect(setup.stderr).toContain(
      "remote-builder: the builder was not ready within 2 s (the build is queued, position 1 in the queue); raise the wait timeout",
    );
    const queued = await getBuild(queuedId, token);
    expect(["failed", "completed"]).toContain(queued.state);
    expect(queued.endedAt).not.toBeNull();
    expect(ci.stateFiles()).toEqual([]);
    expect(ci.dockerCalls()).toEqual([]);

    // Nothing of it stays in the queue: once the holder ends, the next build gets the slot at once.
    await http(service.url, "POST", `/api/v1/builds/${String(holder.body.id)}/complete`, {
      token,
      body: { result: "success" },
    });
    const next = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(next.status).toBe(201);
    expect(next.body.state).not.toBe("queued");
  });

  it("finishes with --result cancelled", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const setup = await ci.run([
      "setup",
      "--no-use",
      "--cache",
      "cold",
      "--label",
      "pipeline=42",
      "--label",
      "note=a=b",
    ]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    // --no-use: the builder is there to name with --builder, and not made the default.
    const create = ci.dockerCalls()[0]!.argv;
    expect(create).not.toContain("--use");
    expect(create.at(-1)).toBe(service.brokerInfo.endpoint);
    const finish = await ci.run(["finish", "--result", "cancelled"]);
    expect(finish.code).toBe(0);
    expect(finish.stderr).toContain(`Build ${buildId} completed as cancelled`);
    expect(await getBuild(buildId, token)).toMatchObject({
      state: "completed",
      result: "cancelled",
      labels: { pipeline: "42", note: "a=b" },
      cache: { requested: "cold", mode: "cold" },
    });
    expect(ci.stateFiles()).toEqual([]);
  });

  it("finishes even when `docker buildx rm` fails, with a warning naming the builder", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const setup = await ci.run(["setup"]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const keyDir = ci.state()!.session.keyDir;

    const finish = await ci.run(["finish"], { FAKE_DOCKER_FAIL: "buildx rm" });
    expect(finish.code).toBe(0);
    expect(finish.stderr).toContain(
      'warning: could not remove the buildx builder "remote-builder": `docker buildx rm remote-builder` exited with 1: ERROR: buildx rm failed',
    );
    expect(ci.dockerCalls().at(-1)).toMatchObject({ argv: ["buildx", "rm", "remote-builder"], failed: true });
    expect(await getBuild(buildId, token)).toMatchObject({ state: "completed", result: "success" });
    expect(() => statSync(keyDir)).toThrow();
    expect(ci.stateFiles()).toEqual([]);
  });

  it("refuses a second setup of the same --name until finish, and a finish or status with no setup", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const first = await ci.run(["setup", "--name", "one"]);
    expect(first.code).toBe(0);
    const saved = ci.state("one");

    const [again, finishNone, statusOther] = await Promise.all([
      ci.run(["setup", "--name", "one"]),
      ci.run(["finish"]),
      ci.run(["status", "--name", "two"]),
    ]);
    expect(again).toMatchObject({ code: 1, stdout: "" });
    expect(again.stderr).toBe(
      'remote-builder: a builder named "one" is already set up here; run `remote-builder finish --name one` first, or pick another --name\n',
    );
    // The refusal touched nothing: the first builder is still set up, and no second build was made.
    expect(ci.state("one")).toEqual(saved);
    expect(ci.dockerCalls()).toHaveLength(2);

    for (const [refused, name] of [
      [finishNone, "remote-builder"],
      [statusOther, "two"],
    ] as const) {
      expect(refused).toMatchObject({ code: 1, stdout: "" });
      expect(refused.stderr).toBe(
        `remote-builder: no builder named "${name}" was set up here (looked for ${ci.statePath(name)}); run \`remote-builder setup\` first\n`,
      );
    }

    // Once finished, the name is free again: nothing of it is left in the state folder.
    expect((await ci.run(["finish", "--name", "one"])).code).toBe(0);
    expect(ci.stateFiles()).toEqual([]);
  });

  it("refuses bad flag values and unknown options before it does anything, naming them, with exit code 2", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const [cache, result, timeout, label, unknown, statusArgument, noValue] = await Promise.all([
      ci.run(["setup", "--cache", "warm"]),
      ci.run(["finish", "--result", "maybe"]),
      ci.run(["setup", "--wait-timeout", "10x"]),
      ci.run(["setup", "--label", "pipeline"]),
      ci.run(["setup", "--shpae", "large"]),
      ci.run(["status", "now"]),
      ci.run(["setup", "--name"]),
    ]);
    for (const run of [cache, result, timeout, label, unknown, statusArgument, noValue])
      expect(run).toMatchObject({ code: 2, stdout: "" });
    expect(cache.stderr).toBe('remote-builder: --cache is wait or cold, not "warm"\n');
    expect(result.stderr).toBe(
      'remote-builder: --result is success, failure or cancelled (or the CI\'s word for one: failed, canceled, ABORTED, …), not "maybe"\n',
    );
    expect(timeout.stderr).toBe(
      'remote-builder: --wait-timeout is a duration like "90" or "90s" (seconds), "10m" or "1h"; got "10x"\n',
    );
    expect(label.stderr).toBe('remote-builder: --label takes key=value, not "pipeline"\n');
    expect(unknown.stderr).toBe(
      "remote-builder: `remote-builder setup` has no option --shpae; see `remote-builder setup --help`\n",
    );
    expect(statusArgument.stderr).toBe(
      'remote-builder: `remote-builder status` takes no argument "now"; see `remote-builder status --help`\n',
    );
    expect(noValue.stderr).toMatch(
      /^remote-builder: Option '--name <value>' argument missing; see `remote-builder setup --help`\n$/,
    );
    expect(ci.stateFiles()).toEqual([]);
    expect(ci.dockerCalls()).toEqual([]);
  });

  it("takes --wait-timeout in seconds or with a unit (90, 90s, 10m, 1h), and asks the service for that wait", async () => {
    const asked = await recordingService();
    try {
      for (const [given, seconds] of [
        ["90", 90],
        ["90s", 90],
        ["10m", 600],
        ["1h", 3600],
      ] as const) {
        const ci = job({ RB_TOKEN: "rba_test", RB_SERVER_URL: asked.url });
        const setup = await ci.run(["setup", "--wait-timeout", given]);
        // The recorder refuses every build, so that the request is all there is to look at.
        expect(setup).toMatchObject({ code: 1, stdout: "" });
        expect(setup.stderr).toBe("remote-builder: 400 Recorded: the test's service refuses every build\n");
        expect(asked.bodies.pop()).toMatchObject({ waitSeconds: seconds });
      }
    } finally {
      await asked.stop();
    }
  });
});

/** An HTTP service that records each build request's body and refuses it with a 400. */
async function recordingService() {
  const bodies: Json[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/api/v1/builds") bodies.push(JSON.parse(text) as Json);
      res.writeHead(400, { "content-type": "application/problem+json" });
      res.end(
        JSON.stringify({
          type: "about:blank",
          title: "Recorded",
          detail: "the test's service refuses every build",
        }),
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}
