import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { alive, CliJob, isKeeper, until } from "./cli-job.js";

type Json = Record<string, unknown>;

/**
 * The heartbeat process `setup` leaves behind, against a service with a short claim lease (10 s,
 * so a heartbeat every 3 s): without it a build is reaped once the lease runs out. (The lease
 * must also outlast setup itself until the heartbeat process has started: setup sends none.)
 */
describe("remote-builder's heartbeat process between setup and finish", () => {
  let service: TestService;
  let driver: MemoryDriver;
  const jobs: CliJob[] = [];
  const job = (env: Record<string, string>) => {
    const made = new CliJob({ RB_SERVER_URL: service.url, ...env });
    jobs.push(made);
    return made;
  };
  const getBuild = async (id: string, token: string) =>
    (await http<Json>(service.url, "GET", `/api/v1/builds/${id}`, { token })).body;

  beforeAll(async () => {
    service = await startTestService(
      { RB_CLAIM_LEASE_SECONDS: "10" },
      { driver: (context) => (driver = new MemoryDriver({ ...context, serve: startEchoBuilder })) },
    );
  });
  afterEach(() => {
    for (const made of jobs.splice(0)) made.cleanUp();
  });
  afterAll(async () => {
    for (const builder of (await driver?.list()) ?? []) await driver.terminate(builder.builderId);
    await service?.stop();
  });

  it("keeps the build alive past its claim lease, while a build without heartbeats is reaped", async () => {
    const { token } = await service.account({ concurrencyLimit: 2 });
    const ci = job({ RB_TOKEN: token });
    const setup = await ci.run(["setup"]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    expect(ci.state()!.keeperPid).toEqual(expect.any(Number));

    // A build admitted after ours, with no one sending its heartbeats: once it is reaped, ours
    // has gone a whole lease on the heartbeat process alone.
    const control = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(control.status).toBe(201);
    const reaped = await until(
      "the build without heartbeats to be reaped",
      async () => {
        const build = await getBuild(String(control.body.id), token);
        return build.endedAt ? build : null;
      },
      20_000,
    );
    expect(reaped).toMatchObject({ state: "reaped", endReason: expect.stringMatching(/^lease-expired/) });

    expect(await getBuild(buildId, token)).toMatchObject({ state: "ready", endedAt: null });
    const finish = await ci.run(["finish"]);
    expect(finish.code).toBe(0);
    expect(await getBuild(buildId, token)).toMatchObject({ state: "completed", result: "success" });
  });

  it("stops by itself once the build ends elsewhere; finish then reports how it ended", async () => {
    const { token } = await service.account();
    const ci = job({ RB_TOKEN: token });
    const setup = await ci.run(["setup"]);
    expect(setup.code).toBe(0);
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const { keeperPid, session } = ci.state()!;
    expect(isKeeper(keeperPid!)).toBe(true);

    const ended = await http(service.url, "POST", `/api/v1/builds/${buildId}/complete`, {
      token,
      body: { result: "failure" },
    });
    expect(ended.status).toBe(200);
    await until("the heartbeat process to stop", () => !alive(keeperPid!), 10_000);
    expect(readFileSync(join(session.keyDir, "heartbeats.log"), "utf8")).toMatch(/heartbeats stopped: 409 /);

    // Completing again is idempotent: finish reports the result the build ended with.
    const finish = await ci.run(["finish", "--result", "success", "--json"]);
    expect(finish.code).toBe(0);
    expect(finish.stderr).toContain(`Build ${buildId} completed as failure\n`);
    expect(JSON.parse(finish.stdout)).toMatchObject({ id: buildId, state: "completed", result: "failure" });
    expect(ci.stateFiles()).toEqual([]);
  });
});
