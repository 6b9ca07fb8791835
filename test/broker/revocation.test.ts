import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestService } from "../harness/context.js";
import { http } from "../harness/context.js";
import {
  type Dialed,
  dialBuild,
  eventually,
  getBuild,
  type ReadyBuild,
  readyBuild,
  type Rig,
  roundTrip,
  startRig,
  within,
} from "./support.js";

/** A stream far longer than any test: only the broker can end it. */
const ENDLESS = 100 * 1024 ** 3;

/** Opens a connection for `build` and starts an endless stream from its builder through it. */
async function openStream(
  service: TestService,
  build: ReadyBuild,
): Promise<Dialed & { closedAt: Promise<number> }> {
  const dialed = dialBuild(service, build);
  await dialed.secure;
  let received = 0;
  const flowing = new Promise<void>((resolve) =>
    dialed.socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= 1024 * 1024) resolve();
    }),
  );
  dialed.socket.write(`stream ${ENDLESS}\n`);
  await within(10_000, flowing, "the first MiB of the stream");
  return { ...dialed, closedAt: dialed.closed.then(() => Date.now()) };
}

/**
 * Opens a connection for `build` and proves it reaches the builder, then leaves it idle: a stream
 * would only compete (in this one process) with the service for the CPU.
 */
async function openIdle(
  service: TestService,
  build: ReadyBuild,
): Promise<Dialed & { closedAt: Promise<number> }> {
  const dialed = dialBuild(service, build);
  await dialed.secure;
  expect((await roundTrip(dialed.socket, "are you there")).toString()).toBe("are you there");
  return { ...dialed, closedAt: dialed.closed.then(() => Date.now()) };
}

async function complete(service: TestService, build: ReadyBuild): Promise<number> {
  const res = await http(service.url, "POST", `/api/v1/builds/${build.id}/complete`, {
    token: build.token,
    body: { result: "success" },
  });
  expect(res.status).toBe(200);
  return res.status;
}

describe("a build that ends loses its open connections within a second", () => {
  let rig: Rig;
  beforeAll(async () => {
    // Builders outlive their builds here, so only the broker can close a connection.
    rig = await startRig({ buildersOutliveBuilds: true });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("closes a stream that is running when the build is completed, within 1 s of the complete call", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const stream = await openStream(rig.service, build);
    // The broker records the connect beside the tunnel, not before it: bytes may flow first.
    expect(await eventually(async () => (await getBuild(rig.service, build)).state === "building")).toBe(
      true,
    );
    expect(rig.service.broker.openConnections(build.id)).toBe(1);

    const completing = Date.now();
    await complete(rig.service, build);
    const closedAt = await within(5000, stream.closedAt, "the stream closing");
    expect(closedAt - completing).toBeLessThan(1000);
    const outcome = await stream.closed;
    expect(outcome.received).toBeGreaterThan(0);
    expect(outcome.received).toBeLessThan(ENDLESS);
    expect(rig.service.broker.openConnections(build.id)).toBe(0);
    // The builder is still up and listening: it was the broker that cut the connection.
    expect(rig.builders.get(build.id)!.alpn).toEqual(["h2"]);
    expect((await getBuild(rig.service, build)).state).toBe("completed");
  });

  it("closes every connection of the build, and only that build's", async () => {
    const account = await rig.service.account({ plan: "team" });
    const ending = await readyBuild(rig.service, account);
    const staying = await readyBuild(rig.service, account);
    const ends = await Promise.all([1, 2, 3].map(() => openIdle(rig.service, ending)));
    const stays = dialBuild(rig.service, staying);
    await stays.secure;
    expect(rig.service.broker.openConnections(ending.id)).toBe(3);

    const completing = Date.now();
    await complete(rig.service, ending);
    for (const closedAt of await Promise.all(
      ends.map((s) => within(5000, s.closedAt, "a connection closing")),
    )) {
      expect(closedAt - completing).toBeLessThan(1000);
    }
    await sleep(200);
    expect((await roundTrip(stays.socket, "still here")).toString()).toBe("still here");
    expect(rig.service.broker.openConnections(staying.id)).toBe(1);
    stays.socket.destroy();
  });
});

describe("revocation reaches every replica", () => {
  let one: Rig;
  let two: Rig;
  beforeAll(async () => {
    one = await startRig({ buildersOutliveBuilds: true });
    two = await startRig({ replicaOf: one, buildersOutliveBuilds: true });
  });
  afterAll(async () => {
    await two.stop();
    await one.stop();
  });

  it("closes a stream on replica 1 within 1 s when replica 2 completes the build", async () => {
    const build = await readyBuild(one.service, await one.service.account({ plan: "team" }));
    const stream = await openStream(one.service, build);
    expect(one.service.broker.openConnections(build.id)).toBe(1);
    expect(two.service.broker.openConnections()).toBe(0);

    const completing = Date.now();
    await complete(two.service, build);
    const closedAt = await within(5000, stream.closedAt, "the stream on replica 1 closing");
    expect(closedAt - completing).toBeLessThan(1000);
    expect(one.service.broker.openConnections(build.id)).toBe(0);
    expect((await getBuild(one.service, build)).state).toBe("completed");
    // Replica 2's driver never knew the builder: nothing but the revocation message closed it.
    expect(two.builders.size).toBe(0);
  });

  it("a build completed on replica 2 is refused on replica 1 afterwards", async () => {
    const build = await readyBuild(one.service, await one.service.account({ plan: "team" }));
    await complete(two.service, build);
    const dialed = dialBuild(one.service, build);
    const outcome = await within(5000, dialed.closed, "replica 1 refusing the connection");
    expect(outcome.received).toBe(0);
  });
});

describe("builds ended by the reconciler lose their connections too", () => {
  let rig: Rig;
  const reconcileMs = 100;
  beforeAll(async () => {
    rig = await startRig({
      buildersOutliveBuilds: true,
      env: {
        RB_CLAIM_LEASE_SECONDS: "2",
        RB_BUILD_DEADLINE_SECONDS: "4",
        RB_RECONCILE_INTERVAL_MS: String(reconcileMs),
      },
    });
  });
  afterAll(async () => {
    await rig.stop();
  });

  /** When the build was first seen in `state`, polling every 20 ms. */
  async function seenIn(build: ReadyBuild, state: string): Promise<number> {
    expect(await eventually(async () => (await getBuild(rig.service, build)).state === state, 10_000)).toBe(
      true,
    );
    return Date.now();
  }

  it("closes a reaped build's connection within 1 s of the reap", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    const conn = await openIdle(rig.service, build);
    // No heartbeats: the build's claim lapses and the reconciler reaps it.
    const reapedSeen = await seenIn(build, "reaped");
    const closedAt = await within(5000, conn.closedAt, "the connection closing");
    expect(closedAt - reapedSeen).toBeLessThan(1000);
    expect(rig.service.broker.openConnections(build.id)).toBe(0);
    expect((await getBuild(rig.service, build)).endReason).toMatch(/^lease-expired/);
  });

  it("closes an expired build's connection within 1 s of its deadline (plus one reconcile period)", async () => {
    const build = await readyBuild(rig.service, await rig.service.account({ plan: "team" }));
    // A heartbeat that fails (once seen on a loaded CI: "other side closed") must not fail the test
    // by itself; a build that missed its heartbeats ends reaped, not expired, which the test checks.
    const heartbeat = setInterval(
      () =>
        void http(rig.service.url, "POST", `/api/v1/builds/${build.id}/heartbeat`, {
          token: build.token,
        }).catch(() => {}),
      300,
    );
    try {
      const conn = await openIdle(rig.service, build);
      const closedAt = await within(10_000, conn.closedAt, "the connection closing");
      const deadline = new Date(build.body.deadlineAt).getTime();
      expect(closedAt).toBeGreaterThanOrEqual(deadline);
      expect(closedAt - deadline).toBeLessThan(1000 + reconcileMs);
      expect((await getBuild(rig.service, build)).state).toBe("expired");
    } finally {
      clearInterval(heartbeat);
    }
  });
});
