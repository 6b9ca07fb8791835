import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { problemOf, Scenario } from "./scenario.js";

const SECOND = 1000;

describe("the build deadline", () => {
  const DEADLINE = 600;
  let s: Scenario;
  beforeAll(async () => {
    // Leases and idleness far beyond the deadline, so that only the deadline can end a build here.
    s = await Scenario.start({
      RB_BUILD_DEADLINE_SECONDS: String(DEADLINE),
      RB_CLAIM_LEASE_SECONDS: "86400",
      RB_IDLE_TIMEOUT_SECONDS: "86400",
    });
  });
  afterAll(() => s.stop());

  it("expires a build once RB_BUILD_DEADLINE_SECONDS have passed since admission, and not a moment before", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const build = await s.started(token);
    expect(build.state).toBe("ready");
    const admittedAt = s.clock.now();
    expect(build.deadlineAt).toBe(new Date(admittedAt + DEADLINE * SECOND).toISOString());

    await s.after(DEADLINE * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");
    expect(await s.builderOf(build.id)).toBeDefined();

    await s.after(1);
    await s.expectEnded(token, build.id, "expired", "deadline");
  });

  it("expires a build even while a connection is open (building)", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.service.builds.recordActivity(build.id, "connect");
    expect((await s.build(token, build.id)).state).toBe("building");

    await s.after(DEADLINE * SECOND);
    await s.expectEnded(token, build.id, "expired", "deadline");
  });

  it("gives an expired build's concurrency slot and cache volume to the next build, and terminates its builder", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    expect(first.cache.mode).toBe("persistent");
    const builderId = await s.builderIdOf(first.id);

    // While the first build runs, the account's one slot is taken.
    const refused = await s.create(token);
    expect(refused.status).toBe(429);
    expect(problemOf(refused).type).toMatch(/\/concurrency-limit$/);

    await s.after(DEADLINE * SECOND);
    await s.expectEnded(token, first.id, "expired", "deadline");
    expect((await s.driver.list()).map((b) => b.builderId)).not.toContain(builderId);

    const next = await s.started(token);
    expect(next.state).toBe("ready");
    expect(next.cache).toMatchObject({ mode: "persistent", reason: null });
  });

  it("refuses to complete a build that already expired, with 409 illegal-transition saying how it ended", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.after(DEADLINE * SECOND);

    const late = await s.complete(token, build.id, "success");
    expect(late.status).toBe(409);
    expect(late.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(problemOf(late)).toMatchObject({ status: 409, state: "expired", endReason: "deadline" });
    expect(problemOf(late).type).toMatch(/\/illegal-transition$/);
    const after = await s.build(token, build.id);
    expect(after).toMatchObject({ state: "expired", endReason: "deadline", result: null });
    expect(after.endedAt).toBe(new Date(s.clock.now()).toISOString());
  });

  it("expires a queued build at its deadline even when its wait would last longer", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const running = await s.started(token);
    const queued = await s.create(token, { waitSeconds: DEADLINE * 2 });
    expect(queued.body.state).toBe("queued");

    // Both were admitted at the same moment, so both reach the deadline in the same pass.
    await s.after(DEADLINE * SECOND);
    await s.expectEnded(token, queued.body.id, "expired", "deadline");
    await s.expectEnded(token, running.id, "expired", "deadline");
  });
});

describe("idle reaping", () => {
  const IDLE = 120;
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({
      RB_IDLE_TIMEOUT_SECONDS: String(IDLE),
      RB_CLAIM_LEASE_SECONDS: "86400",
      RB_BUILD_DEADLINE_SECONDS: "86400",
    });
  });
  afterAll(() => s.stop());

  it("reaps a ready build with no activity for RB_IDLE_TIMEOUT_SECONDS, and not a moment before", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const build = await s.started(token);
    expect(build.state).toBe("ready");
    const readyAt = s.clock.now();

    await s.after(IDLE * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");

    await s.after(1);
    // It ends (and is billed until) when it was last active, not when the reaper noticed.
    await s.expectEnded(token, build.id, "reaped", "idle", readyAt);
    // The slot went back: the account's one slot admits the next build at once.
    expect((await s.started(token)).state).toBe("ready");
  });

  it("moves a ready build to building on connect and never idle-reaps it while the connection is open", async () => {
    const { token } = await s.account();
    const build = await s.started(token);

    const connected = await s.service.builds.recordActivity(build.id, "connect");
    expect(connected?.state).toBe("building");
    for (let i = 0; i < 5; i++) await s.after(IDLE * SECOND);
    expect((await s.build(token, build.id)).state).toBe("building");
  });

  it("returns a building build to ready on disconnect, and counts idleness from the disconnect", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.service.builds.recordActivity(build.id, "connect");
    await s.after(IDLE * 3 * SECOND);

    const disconnected = await s.service.builds.recordActivity(build.id, "disconnect");
    expect(disconnected?.state).toBe("ready");
    expect((await s.build(token, build.id)).state).toBe("ready");
    const disconnectedAt = s.clock.now();

    await s.after(IDLE * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");
    await s.after(1);
    await s.expectEnded(token, build.id, "reaped", "idle", disconnectedAt);
  });

  it("restarts the idle clock on any activity of a ready build", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.after(IDLE * SECOND - 1);
    // A short connection: connect and disconnect at once.
    await s.service.builds.recordActivity(build.id, "connect");
    await s.service.builds.recordActivity(build.id, "disconnect");
    const activeAt = s.clock.now();
    await s.after(IDLE * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");
    await s.after(1);
    await s.expectEnded(token, build.id, "reaped", "idle", activeAt);
  });

  it("ignores activity on an ended build", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    expect((await s.complete(token, build.id)).status).toBe(200);
    expect(await s.service.builds.recordActivity(build.id, "connect")).toBeNull();
    await s.expectEnded(token, build.id, "completed", "completed");
  });
});

describe("a client that vanishes", () => {
  const LEASE = 30;
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({
      RB_CLAIM_LEASE_SECONDS: String(LEASE),
      RB_IDLE_TIMEOUT_SECONDS: "86400",
      RB_BUILD_DEADLINE_SECONDS: "86400",
    });
  });
  afterAll(() => s.stop());

  it("has its build reaped once no heartbeat came for the claim lease, and not a moment before", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const build = await s.started(token);
    const readyAt = s.clock.now();

    await s.after(LEASE * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");

    await s.after(1);
    await s.expectEnded(token, build.id, "reaped", /^lease-expired/, readyAt);
    expect((await s.started(token)).state).toBe("ready");
  });

  it("keeps a build alive for as long as heartbeats come within the lease", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const build = await s.started(token);
    // Ten minutes, a heartbeat every 20 s against a 30 s lease.
    for (let i = 0; i < 30; i++) {
      s.clock.advance(20 * SECOND);
      const beat = await s.heartbeat(token, build.id);
      expect(beat.status).toBe(200);
      await s.reconcile();
    }
    expect((await s.build(token, build.id)).state).toBe("ready");
    // The slot is still held: the account's one slot refuses another build.
    expect((await s.create(token)).status).toBe(429);
    const lastHeardAt = s.clock.now();

    // Billed until the last heartbeat, not until the reaper noticed the silence.
    await s.after(LEASE * SECOND);
    await s.expectEnded(token, build.id, "reaped", /^lease-expired/, lastHeardAt);
  });

  it("reaps a building build whose client stopped heartbeating, open connection or not", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.service.builds.recordActivity(build.id, "connect");
    const connectedAt = s.clock.now();
    await s.after(LEASE * SECOND);
    await s.expectEnded(token, build.id, "reaped", /^lease-expired/, connectedAt);
  });

  it("answers a heartbeat that comes after the lease ran out with claim-lost, and reaps the build", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    const readyAt = s.clock.now();
    s.clock.advance(LEASE * SECOND);

    const late = await s.heartbeat(token, build.id);
    expect(late.status).toBe(409);
    expect(problemOf(late)).toMatchObject({ scope: "concurrency", reason: "not-held" });
    expect(problemOf(late).type).toMatch(/\/claim-lost$/);
    await s.expectEnded(token, build.id, "reaped", /^lease-lost: concurrency/, readyAt);
  });
});
