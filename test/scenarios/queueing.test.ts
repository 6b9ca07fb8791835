import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { builderEndpoint } from "../harness/context.js";
import { problemOf, Scenario } from "./scenario.js";

const SECOND = 1000;

describe("queueing for a concurrency slot", () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({ RB_CLAIM_LEASE_SECONDS: "60", RB_IDLE_TIMEOUT_SECONDS: "86400" });
  });
  afterAll(() => s.stop());

  it("queues a build that asks to wait when the account's one slot is taken, with its place in line", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    expect(first.queue).toBeNull();

    const second = await s.create(token, { waitSeconds: 60 });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({
      state: "queued",
      queue: { waitingFor: "concurrency", position: 1 },
      endedAt: null,
    });
    expect(await builderEndpoint(s.service, second.body.id)).toBeNull();
    const third = await s.create(token, { waitSeconds: 60 });
    expect(third.body.queue).toEqual({ waitingFor: "concurrency", position: 2 });
    expect((await s.build(token, second.body.id)).queue).toEqual({ waitingFor: "concurrency", position: 1 });
    // Queued builds get no builder until they start.
    expect(await s.builderOf(second.body.id)).toBeUndefined();
  });

  it("refuses at once, with concurrency-limit and Retry-After, a build that does not ask to wait", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    await s.started(token);
    const refused = await s.create(token, { waitSeconds: 0 });
    expect(refused.status).toBe(429);
    expect(problemOf(refused)).toMatchObject({ limit: 1, current: 1 });
    expect(refused.headers.get("retry-after")).not.toBeNull();
  });

  it("starts queued builds first come, first served as each running build completes", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const waiting = [];
    for (let i = 0; i < 3; i++) waiting.push((await s.create(token, { waitSeconds: 300 })).body.id);

    let running = first.id;
    for (let i = 0; i < waiting.length; i++) {
      expect((await s.complete(token, running)).status).toBe(200);
      await s.expectEnded(token, running, "completed", "completed");
      const started = await s.build(token, waiting[i]!);
      expect(started).toMatchObject({ state: "ready", queue: null });
      expect(await builderEndpoint(s.service, started.id)).toMatch(/^memory:\/\//);
      for (let j = i + 1; j < waiting.length; j++) {
        expect((await s.build(token, waiting[j]!)).queue).toEqual({
          waitingFor: "concurrency",
          position: j - i,
        });
      }
      running = started.id;
    }
  });

  it("gives a slot freed by the reconciler (a reaped build) to the head of the queue in the same pass", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const readyAt = s.clock.now();
    const second = (await s.create(token, { waitSeconds: 300 })).body;

    await s.after(60 * SECOND);
    await s.expectEnded(token, first.id, "reaped", /^lease-expired/, readyAt);
    expect((await s.build(token, second.id)).state).toBe("ready");
  });

  it("fails a queued build with wait-timeout once its waitSeconds pass, and takes it out of the queue", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const impatient = (await s.create(token, { waitSeconds: 20 })).body;
    const patient = (await s.create(token, { waitSeconds: 300 })).body;
    expect(patient.queue?.position).toBe(2);

    await s.after(20 * SECOND - 1);
    expect((await s.build(token, impatient.id)).state).toBe("queued");
    await s.after(1);

    await s.expectEnded(token, impatient.id, "failed", "wait-timeout");
    expect((await s.build(token, patient.id)).queue).toEqual({ waitingFor: "concurrency", position: 1 });

    // The one that timed out never runs, even when the slot frees; the next in line does.
    await s.heartbeat(token, first.id);
    expect((await s.complete(token, first.id)).status).toBe(200);
    expect((await s.build(token, patient.id)).state).toBe("ready");
    expect((await s.build(token, impatient.id)).state).toBe("failed");
  });

  it("needs no heartbeats from a queued build; its claim lease starts when it starts", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const second = (await s.create(token, { waitSeconds: 600 })).body;

    // Five minutes against a 60 s lease: only the running build's client heartbeats.
    for (let i = 0; i < 15; i++) {
      s.clock.advance(20 * SECOND);
      expect((await s.heartbeat(token, first.id)).status).toBe(200);
      await s.reconcile();
    }
    expect((await s.build(token, second.id)).queue).toEqual({ waitingFor: "concurrency", position: 1 });

    await s.complete(token, first.id);
    const startedAt = s.clock.now();
    expect((await s.build(token, second.id)).state).toBe("ready");
    await s.after(60 * SECOND - 1);
    expect((await s.build(token, second.id)).state).toBe("ready");
    await s.after(1);
    await s.expectEnded(token, second.id, "reaped", /^lease-expired/, startedAt);
  });

  it("lets a queued build be completed (cancelled) before it starts, which frees its place", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const second = (await s.create(token, { waitSeconds: 300 })).body;
    const third = (await s.create(token, { waitSeconds: 300 })).body;

    const cancelled = await s.complete(token, second.id, "cancelled");
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: "completed", result: "cancelled" });
    expect((await s.build(token, third.id)).queue).toEqual({ waitingFor: "concurrency", position: 1 });

    await s.complete(token, first.id);
    expect((await s.build(token, third.id)).state).toBe("ready");
  });
});

describe("the account's cache volume, one writer at a time", () => {
  const VOLUME = "layers";
  const SIZE_GIB = 37;
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({
      RB_CACHE_VOLUME: VOLUME,
      RB_CLAIM_LEASE_SECONDS: "60",
      RB_IDLE_TIMEOUT_SECONDS: "86400",
    });
  });
  afterAll(() => s.stop());

  async function account() {
    const acct = await s.account({ concurrencyLimit: 2 });
    await s.service.accounts.update(acct.id, { cacheVolumeGiB: SIZE_GIB });
    return acct;
  }

  it("gives the first build the persistent volume, and its builder spec names the volume and its size", async () => {
    const { token } = await account();
    const build = await s.started(token);
    expect(build.cache).toEqual({ requested: "wait", volume: VOLUME, mode: "persistent", reason: null });
    const spec = s.driver.specOf(await s.builderIdOf(build.id));
    expect(spec?.volume).toEqual({ name: VOLUME, sizeGiB: SIZE_GIB });
  });

  it("queues a second cache-wait build for the volume while it holds a concurrency slot, then hands it the volume", async () => {
    const { token } = await account();
    const first = await s.started(token);

    const second = await s.create(token, { cache: "wait", waitSeconds: 120 });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ state: "queued", queue: { waitingFor: "cache", position: 1 } });
    expect(await s.builderOf(second.body.id)).toBeUndefined();

    // It holds the account's second slot: a third build that will not wait is refused.
    const third = await s.create(token, { cache: "cold", waitSeconds: 0 });
    expect(third.status).toBe(429);
    expect(problemOf(third)).toMatchObject({ limit: 2, current: 2 });

    expect((await s.complete(token, first.id)).status).toBe(200);
    const handed = await s.build(token, second.body.id);
    expect(handed).toMatchObject({ state: "ready", queue: null });
    expect(handed.cache).toEqual({ requested: "wait", volume: VOLUME, mode: "persistent", reason: null });
    expect(s.driver.specOf(await s.builderIdOf(handed.id))?.volume).toEqual({
      name: VOLUME,
      sizeGiB: SIZE_GIB,
    });
  });

  it("keeps a cache-queued build's slot through reconcile passes that outlast the claim lease", async () => {
    const { token } = await account();
    const first = await s.started(token);
    const second = (await s.create(token, { waitSeconds: 600 })).body;
    expect(second.queue?.waitingFor).toBe("cache");

    // Five minutes against a 60 s lease; the first build's client heartbeats, the queued one has
    // nothing to heartbeat yet and relies on the reconciler.
    for (let i = 0; i < 15; i++) {
      s.clock.advance(20 * SECOND);
      expect((await s.heartbeat(token, first.id)).status).toBe(200);
      await s.reconcile();
    }
    expect((await s.build(token, second.id)).queue).toEqual({ waitingFor: "cache", position: 1 });
    expect((await s.create(token, { cache: "cold" })).status).toBe(429);

    await s.complete(token, first.id);
    expect((await s.build(token, second.id)).cache.mode).toBe("persistent");
  });

  it("runs a cache-cold build at once on a throw-away volume, saying why", async () => {
    const { token } = await account();
    await s.started(token);
    const cold = await s.started(token, { cache: "cold", waitSeconds: 120 });
    expect(cold.state).toBe("ready");
    expect(cold.cache).toMatchObject({ requested: "cold", mode: "cold" });
    expect(cold.cache.reason).toMatch(/asked for a cold builder/);
    expect(s.driver.specOf(await s.builderIdOf(cold.id))?.volume).toBeNull();
  });

  it("runs a cache-wait build cold at once when it gives waitSeconds 0 and the volume is in use, saying why", async () => {
    const { token } = await account();
    await s.started(token);
    const cold = await s.started(token, { cache: "wait", waitSeconds: 0 });
    expect(cold.state).toBe("ready");
    expect(cold.cache).toMatchObject({ requested: "wait", mode: "cold" });
    expect(cold.cache.reason).toMatch(/in use by another build/);
    expect(s.driver.specOf(await s.builderIdOf(cold.id))?.volume).toBeNull();
  });

  it("fails a build that waited for the volume past its waitSeconds and gives its slot back", async () => {
    const { token } = await account();
    await s.started(token);
    const waiting = (await s.create(token, { waitSeconds: 30 })).body;
    expect(waiting.queue?.waitingFor).toBe("cache");
    expect((await s.create(token, { cache: "cold" })).status).toBe(429);

    await s.after(30 * SECOND);
    await s.expectEnded(token, waiting.id, "failed", "wait-timeout");
    const next = await s.started(token, { cache: "cold" });
    expect(next.state).toBe("ready");
  });

  it("gives back the slot of a cache-queued build that is cancelled before it gets the volume", async () => {
    const { token } = await account();
    const first = await s.started(token);
    const waiting = (await s.create(token, { waitSeconds: 300 })).body;
    expect(waiting.queue?.waitingFor).toBe("cache");

    const cancelled = await s.complete(token, waiting.id, "cancelled");
    expect(cancelled.body).toMatchObject({ state: "completed", result: "cancelled", queue: null });
    // The next build gets the second slot at once, and is first in line for the volume.
    const next = (await s.create(token, { waitSeconds: 300 })).body;
    expect(next.queue).toEqual({ waitingFor: "cache", position: 1 });
    await s.complete(token, first.id);
    expect((await s.build(token, next.id)).cache.mode).toBe("persistent");
  });

  it("hands the volume on in arrival order when several builds wait for it", async () => {
    const acct = await s.account({ concurrencyLimit: 3 });
    const { token } = acct;
    const first = await s.started(token);
    const second = (await s.create(token, { waitSeconds: 300 })).body;
    const third = (await s.create(token, { waitSeconds: 300 })).body;
    expect(second.queue).toEqual({ waitingFor: "cache", position: 1 });
    expect(third.queue).toEqual({ waitingFor: "cache", position: 2 });

    await s.complete(token, first.id);
    expect((await s.build(token, second.id)).cache.mode).toBe("persistent");
    expect((await s.build(token, third.id)).queue).toEqual({ waitingFor: "cache", position: 1 });
    await s.complete(token, second.id);
    expect((await s.build(token, third.id)).cache.mode).toBe("persistent");
  });
});
