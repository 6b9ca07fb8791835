import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { FORK_HELP, PERMISSION_HELP } from "../../action/credential.js";
import { ActionJob } from "../harness/action-job.js";
import { AUDIENCE } from "../oidc/fixtures.js";
import {
  type Account,
  type ActionWorld,
  closedPort,
  createBuild,
  errors,
  getBuild,
  killKeepers,
  listBuilds,
  logGroups,
  masks,
  runnerTempEntries,
  savedBuildId,
  startActionWorld,
  warnings,
} from "./fixtures.js";

describe("the Action when things go wrong, against a real service", () => {
  let world: ActionWorld;
  const jobs: ActionJob[] = [];
  const started: string[] = [];

  beforeAll(async () => {
    world = await startActionWorld();
  });

  afterAll(async () => {
    for (const id of started) killKeepers(id);
    for (const job of jobs) job.cleanUp();
    await world?.stop();
  });

  /** A job of this repository for `account`, through OIDC unless `env` says otherwise. */
  function job(account: Account, inputs: Record<string, string> = {}, env?: Record<string, string>) {
    const made = new ActionJob(
      { "server-url": world.service.url, audience: AUDIENCE, account: account.handle, ...inputs },
      env ?? world.tokens.env,
    );
    jobs.push(made);
    return made;
  }

  /** Main, remembering the build it made so that a failed test leaves no heartbeat process. */
  async function runMain(j: ActionJob, env: Record<string, string> = {}) {
    const run = await j.main(env);
    const id = savedBuildId(run);
    if (id) started.push(id);
    return run;
  }

  it("without the id-token permission, fails at once with the YAML to add, and makes nothing", async () => {
    const account = await world.account();
    const requests = world.tokens.requests.length;
    const j = job(account, {}, {});

    const main = await runMain(j);
    expect(main.code).toBe(1);
    expect(errors(main)).toEqual([`remote-builder: ${PERMISSION_HELP}`]);
    expect(errors(main)[0]).toContain("permissions:\n  id-token: write");
    // The error comes after the group it happened in, not folded away inside it.
    expect(logGroups(main)).toEqual([{ name: "Getting a credential", lines: [expect.any(String)] }]);
    expect(main.stdout.indexOf("::error::")).toBeGreaterThan(main.stdout.indexOf("::endgroup::"));
    expect(main.state).toEqual({ "is-post": "true" });
    expect(main.outputs).toEqual({});
    expect(world.tokens.requests.length).toBe(requests);
    expect(j.dockerCalls()).toEqual([]);
    expect(runnerTempEntries(j)).toEqual([]);
    expect(await listBuilds(world, account)).toEqual([]);

    const post = await j.post();
    expect(post.code).toBe(0);
    expect(post.commands).toEqual([]);
    expect(post.stdout).toContain("remote-builder set nothing up in this job");
    expect(logGroups(post)).toEqual([]);
    expect(j.dockerCalls()).toEqual([]);
    expect(await listBuilds(world, account)).toEqual([]);
  });

  it("in post, warns about saved state it cannot read, and leaves the job green", async () => {
    const account = await world.account();
    const j = job(account);
    const keyDir = join(j.runnerTemp, "remote-builder-x");
    const post = await j.post(
      {},
      { "STATE_is-post": "true", "STATE_key-dir": keyDir, "STATE_builder-created": "maybe" },
    );
    expect(post.code).toBe(0);
    expect(errors(post)).toEqual([]);
    expect(warnings(post)).toEqual([
      'remote-builder cleanup: the saved state\'s builder-created is "maybe", not true or false',
    ]);
    expect(j.dockerCalls()).toEqual([]);
  });

  it("in a pull request from a fork, explains why there is no token and what to do instead", async () => {
    const account = await world.account();
    // The runner gives a fork's pull request no ACTIONS_ID_TOKEN_* at all.
    const runs: ActionJob[] = [];
    const pullRequest = (name: string, fork: boolean, headRepo: string) => {
      const j = job(account, {}, {});
      runs.push(j);
      const path = join(j.dir, "event.json");
      const payload = {
        pull_request: { head: { repo: { fork, full_name: headRepo } } },
        repository: { full_name: "acme/app" },
      };
      writeFileSync(path, JSON.stringify(payload));
      return runMain(j, { GITHUB_EVENT_NAME: name, GITHUB_EVENT_PATH: path });
    };
    const [fork, sameRepo, target] = await Promise.all([
      pullRequest("pull_request", true, "someone/app"),
      // A branch of this repository without the permission is told to add it, not about forks;
      pullRequest("pull_request", false, "acme/app"),
      // and so is pull_request_target, which runs in this repository even for a fork.
      pullRequest("pull_request_target", true, "someone/app"),
    ]);

    expect(fork.code).toBe(1);
    expect(errors(fork)).toEqual([`remote-builder: ${FORK_HELP}`]);
    expect(errors(fork)[0]).toContain(
      "if: github.event.pull_request.head.repo.full_name == github.repository",
    );
    expect(errors(fork)[0]).toContain("docker/setup-buildx-action");
    expect(errors(fork)[0]).toMatch(/Do not switch to pull_request_target/);
    for (const run of [sameRepo, target]) {
      expect(run.code).toBe(1);
      expect(errors(run)).toEqual([`remote-builder: ${PERMISSION_HELP}`]);
    }
    expect(runs.flatMap((j) => [...j.dockerCalls(), ...runnerTempEntries(j)])).toEqual([]);
    expect(await listBuilds(world, account)).toEqual([]);
  });

  it("with the service down, says it cannot reach it, and leaves no key files behind", async () => {
    const account = await world.account();
    const url = `http://127.0.0.1:${await closedPort()}`;
    const cannotReach =
      `remote-builder: cannot reach the remote-builder service at ${url} (ECONNREFUSED); ` +
      "check the server URL (server-url, --server or RB_SERVER_URL) and that the service is up";
    // Through OIDC it fails at the exchange; with an agent token, at creating the build, after
    // the key pair is made.
    const oidc = job(account, { "server-url": url });
    const agent = job(account, { "server-url": url, token: account.token }, {});
    const [viaOidc, viaToken] = await Promise.all([runMain(oidc), runMain(agent)]);

    expect(viaOidc.code).toBe(1);
    expect(errors(viaOidc)).toEqual([cannotReach]);
    expect(runnerTempEntries(oidc)).toEqual([]);
    expect(viaToken.code).toBe(1);
    expect(errors(viaToken)).toEqual([cannotReach]);
    expect(runnerTempEntries(agent)).toHaveLength(1);

    const post = await agent.post();
    expect(post.code).toBe(0);
    expect(post.commands.filter((c) => c.command !== "add-mask")).toEqual([]);
    expect(logGroups(post).map((g) => g.name)).toEqual(["Removing the key files"]);
    expect(runnerTempEntries(agent)).toEqual([]);
    expect([...oidc.dockerCalls(), ...agent.dockerCalls()]).toEqual([]);
  });

  it("gives up when no builder is free within wait-timeout, and post ends the queued build", async () => {
    const account = await world.account({ concurrencyLimit: 1 });
    const holder = await createBuild(world, account);
    expect(holder.state).not.toBe("queued");
    const j = job(account, { "wait-timeout": "2" });

    const startedAt = Date.now();
    const main = await runMain(j);
    const took = Date.now() - startedAt;
    expect(main.code).toBe(1);
    expect(errors(main)).toEqual([
      "remote-builder: the builder was not ready within 2 s (the build is queued, position 1 in the queue); " +
        "raise the wait timeout",
    ]);
    expect(main.stdout).toContain(
      "Queued: the account runs as many builds as its plan allows; 0 build(s) ahead of this one",
    );
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(main.outputs).toEqual({});
    const buildId = savedBuildId(main)!;
    // The service ends a queued build at its wait deadline, the moment the Action gives up on it:
    // either may come first.
    const afterMain = await getBuild(world, account, buildId);
    expect(["queued", "failed"]).toContain(afterMain.state);
    expect(runnerTempEntries(j)).toHaveLength(1);

    const post = await j.post({ "job-status": "failure" });
    expect(post.code).toBe(0);
    const ended = await getBuild(world, account, buildId);
    if (ended.state === "completed") {
      expect(ended).toMatchObject({ result: "failure", admittedAt: null });
      expect(warnings(post)).toEqual([]);
    } else {
      expect(ended).toMatchObject({ state: "failed", endReason: "wait-timeout", admittedAt: null });
      expect(warnings(post)).toEqual(["the build had already ended (failed: wait-timeout)"]);
    }
    expect(j.dockerCalls()).toEqual([]);
    expect(runnerTempEntries(j)).toEqual([]);
    expect(j.summary).toContain(`\`${buildId}\``);
    expect(j.summary).toMatch(/completed \(failure\)|failed: wait-timeout/);
    expect(await getBuild(world, account, holder.id)).toMatchObject({ state: "ready" });
  });

  it("reports a cancelled job as cancelled, and still removes the builder", async () => {
    const account = await world.account();
    const j = job(account);
    const main = await runMain(j);
    expect(errors(main)).toEqual([]);
    expect(main.code).toBe(0);
    const name = main.outputs.name!;

    const post = await j.post({ "job-status": "cancelled" });
    expect(post.code).toBe(0);
    expect(warnings(post)).toEqual([]);
    expect(await getBuild(world, account, main.outputs["build-id"]!)).toMatchObject({
      state: "completed",
      result: "cancelled",
      endReason: "completed",
    });
    const keyDir = main.state["key-dir"]!;
    const { endpoint, serverName } = world.service.brokerInfo;
    expect(j.dockerCalls().map((c) => c.argv)).toEqual([
      [
        "buildx",
        "create",
        "--name",
        name,
        "--driver",
        "remote",
        "--driver-opt",
        `cacert=${keyDir}/ca.pem,cert=${keyDir}/cert.pem,key=${keyDir}/key.pem,servername=${serverName}`,
        "--use",
        endpoint,
      ],
      ["buildx", "inspect", "--bootstrap", name],
      ["buildx", "rm", name],
    ]);
    expect(runnerTempEntries(j)).toEqual([]);
    expect(j.summary).toContain("completed (cancelled)");
  });

  it("warns, naming the builder, when `docker buildx rm` fails, and still hands the build back", async () => {
    const account = await world.account();
    const j = job(account);
    const main = await runMain(j);
    expect(main.code).toBe(0);
    const name = main.outputs.name!;

    const post = await j.post({}, { FAKE_DOCKER_FAIL: "buildx rm" });
    expect(post.code).toBe(0);
    expect(errors(post)).toEqual([]);
    const removal =
      `could not remove the buildx builder "${name}": \`docker buildx rm ${name}\` exited with 1: ` +
      "ERROR: buildx rm failed (told to by FAKE_DOCKER_FAIL)";
    expect(warnings(post)).toEqual([removal]);
    // docker's own words are in the log too, under the command that said them.
    expect(logGroups(post)[0]!.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\[command\]\S+\/docker buildx rm /),
        "ERROR: buildx rm failed (told to by FAKE_DOCKER_FAIL)",
      ]),
    );
    expect(j.dockerCalls().at(-1)).toEqual({ argv: ["buildx", "rm", name], failed: true });
    expect(await getBuild(world, account, main.outputs["build-id"]!)).toMatchObject({
      state: "completed",
      result: "success",
    });
    expect(runnerTempEntries(j)).toEqual([]);
    expect(j.summary).toContain(`⚠️ ${removal}`);
  });

  it("takes an agent token instead of OIDC, and masks it", async () => {
    const account = await world.account();
    const j = job(account, { token: account.token }, {});
    const main = await runMain(j);
    expect(errors(main)).toEqual([]);
    expect(main.code).toBe(0);
    expect(masks(main)).toContain(account.token);
    // Printed nowhere but in the mask command itself.
    expect(main.stdout.split(account.token).length - 1).toBe(1);
    expect(main.stderr).not.toContain(account.token);
    expect(Object.values(main.state).join("\n")).not.toContain(account.token);
    const build = await getBuild(world, account, main.outputs["build-id"]!);
    expect(build).toMatchObject({ state: "ready", ci: null });

    const post = await j.post();
    expect(post.code).toBe(0);
    expect(warnings(post)).toEqual([]);
    expect(post.stdout.split(account.token).length - 1).toBe(1);
    expect(await getBuild(world, account, build.id)).toMatchObject({ state: "completed", result: "success" });
    expect(j.dockerCalls().at(-1)!.argv).toEqual(["buildx", "rm", main.outputs.name]);
  });

  it.each([
    ["cache", "warm", 'cache must be "wait" (for the account\'s warm cache volume) or "cold"; got "warm"'],
    ["wait-timeout", "soon", 'wait-timeout must be seconds ("300") or minutes ("5m"); got "soon"'],
    ["use", "maybe", 'use must be true or false; got "maybe"'],
  ])("refuses %s: %s, naming the input, before anything is made", async (input, value, message) => {
    const account = await world.account();
    const requests = world.tokens.requests.length;
    const j = job(account, { [input]: value });
    const main = await runMain(j);
    expect(main.code).toBe(1);
    expect(errors(main)).toEqual([`remote-builder: ${message}`]);
    expect(world.tokens.requests.length).toBe(requests);
    expect(j.dockerCalls()).toEqual([]);
    expect(runnerTempEntries(j)).toEqual([]);
    expect(await listBuilds(world, account)).toEqual([]);
    const post = await j.post();
    expect(post.code).toBe(0);
    expect(post.commands).toEqual([]);
  });

  it("with cache: cold, takes a cold builder at once while another build holds the cache volume", async () => {
    const account = await world.account({ concurrencyLimit: 2 });
    const holder = await createBuild(world, account);
    expect(holder.cache).toMatchObject({ mode: "persistent", volume: "buildkit" });
    const j = job(account, { cache: "cold", "wait-timeout": "5" });

    const main = await runMain(j);
    expect(errors(main)).toEqual([]);
    expect(main.code).toBe(0);
    expect(main.outputs).toMatchObject({ tier: "cold", "cache-volume": "" });
    expect(main.stdout).toContain("cache cold: the client asked for a cold builder");
    const build = await getBuild(world, account, main.outputs["build-id"]!);
    expect(build.cache).toEqual({
      requested: "cold",
      volume: "buildkit",
      mode: "cold",
      reason: "the client asked for a cold builder",
    });

    const post = await j.post();
    expect(post.code).toBe(0);
    expect(warnings(post)).toEqual([]);
    expect(j.summary).toContain("cold builder: the client asked for a cold builder");
    expect(await getBuild(world, account, holder.id)).toMatchObject({
      state: "ready",
      cache: { mode: "persistent" },
    });
  });
});
