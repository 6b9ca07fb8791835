import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ActionJob } from "../harness/action-job.js";
import { AUDIENCE } from "../oidc/fixtures.js";
import {
  type ActionWorld,
  closedPort,
  createBuild,
  errors,
  eventually,
  getBuild,
  keepersOf,
  killKeepers,
  runnerTempEntries,
  startActionWorld,
  warnings,
} from "./fixtures.js";

describe("the Action's heartbeat process, between main and post", () => {
  let world: ActionWorld;

  beforeAll(async () => {
    // A 3 s claim lease: heartbeats every second, and a build without them is reaped within ~3 s.
    world = await startActionWorld({ RB_CLAIM_LEASE_SECONDS: "3" });
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("keeps the build alive past its lease while the job runs, and is gone after post", async () => {
    const account = await world.account({ concurrencyLimit: 2 });
    const job = new ActionJob(
      { "server-url": world.service.url, audience: AUDIENCE, account: account.handle },
      world.tokens.env,
    );
    let buildId: string | undefined;
    try {
      const main = await job.main();
      expect(errors(main)).toEqual([]);
      expect(main.code).toBe(0);
      buildId = main.outputs["build-id"]!;
      const build = await getBuild(world, account, buildId);
      expect(build.heartbeatIntervalSeconds).toBe(1);
      expect(keepersOf(buildId)).toEqual([Number(main.state["keeper-pid"])]);

      // A build made after the Action's, with no one sending its heartbeats: once the service has
      // reaped it, the Action's build, older, would have been reaped too without its keeper.
      const control = await createBuild(world, account);
      expect(Date.parse(control.createdAt)).toBeGreaterThan(Date.parse(build.createdAt));
      const reaped = await eventually("the control build to be reaped", async () => {
        const b = await getBuild(world, account, control.id);
        return b.state === "reaped" ? b : null;
      });
      expect(reaped.endReason).toMatch(/^lease-expired/);
      expect(await getBuild(world, account, buildId)).toMatchObject({ state: "ready", endReason: null });

      const post = await job.post();
      expect(post.code).toBe(0);
      expect(warnings(post)).toEqual([]);
      expect(await getBuild(world, account, buildId)).toMatchObject({
        state: "completed",
        result: "success",
      });
      await eventually("the heartbeat process to exit", () => keepersOf(buildId!).length === 0, 5_000);
    } finally {
      killKeepers(buildId);
      job.cleanUp();
    }
  });

  it("is stopped by post even when post cannot reach the service, so the service reaps the build", async () => {
    const account = await world.account();
    const job = new ActionJob(
      { "server-url": world.service.url, audience: AUDIENCE, account: account.handle },
      world.tokens.env,
    );
    let buildId: string | undefined;
    try {
      const main = await job.main();
      expect(main.code).toBe(0);
      buildId = main.outputs["build-id"]!;
      const name = main.outputs.name!;
      expect(keepersOf(buildId)).toHaveLength(1);

      // The service is out of the runner's reach when post runs: post cannot hand the build back,
      // and a heartbeat process left behind would keep it alive (and retry) until the job ends.
      const url = `http://127.0.0.1:${await closedPort()}`;
      const post = await job.post({ "server-url": url });
      expect(post.code).toBe(0);
      expect(errors(post)).toEqual([]);
      expect(warnings(post)).toEqual([
        `could not complete build ${buildId}: cannot reach the remote-builder service at ${url} (ECONNREFUSED); ` +
          "check the server URL (server-url, --server or RB_SERVER_URL) and that the service is up",
      ]);
      expect(job.dockerCalls().at(-1)!.argv).toEqual(["buildx", "rm", name]);
      expect(runnerTempEntries(job)).toEqual([]);
      await eventually("the heartbeat process to exit", () => keepersOf(buildId!).length === 0, 5_000);
      const reaped = await eventually("the build to be reaped", async () => {
        const b = await getBuild(world, account, buildId!);
        return b.state === "reaped" ? b : null;
      });
      expect(reaped.endReason).toBe("lease-expired: the client stopped sending heartbeats");
    } finally {
      killKeepers(buildId);
      job.cleanUp();
    }
  });
});
