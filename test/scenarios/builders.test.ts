import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import type { Clock } from "../../service/core/ports.js";
import { http } from "../harness/context.js";
import { type BuildBody, Scenario } from "./scenario.js";

/** Builders made by hand here never accept a connection, so their credentials are never read. */

const SECOND = 1000;
const BOOT_TIMEOUT = 5;

/** The memory driver, except that builders marked with `hangNext` do not boot until released. */
class HangingDriver extends MemoryDriver {
  private hangs = 0;
  private readonly gates = new Map<string, { opened: Promise<void>; open: () => void }>();

  constructor(clock: Clock) {
    super({ clock });
  }

  hangNext(): void {
    this.hangs++;
  }

  releaseAll(): void {
    for (const gate of this.gates.values()) gate.open();
    this.gates.clear();
  }

  override async create(spec: Parameters<MemoryDriver["create"]>[0]) {
    const created = await super.create(spec);
    if (this.hangs > 0) {
      this.hangs--;
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      this.gates.set(created.builderId, { opened, open });
    }
    return created;
  }

  override async awaitReady(builderId: string, timeoutMs: number) {
    await this.gates.get(builderId)?.opened;
    return super.awaitReady(builderId, timeoutMs);
  }
}

describe("builders that fail, crash or are left behind", () => {
  let s: Scenario;
  let driver: HangingDriver;
  beforeAll(async () => {
    s = await Scenario.start(
      {
        RB_BOOT_TIMEOUT_SECONDS: String(BOOT_TIMEOUT),
        RB_CLAIM_LEASE_SECONDS: "86400",
        RB_IDLE_TIMEOUT_SECONDS: "86400",
        RB_BUILD_DEADLINE_SECONDS: "86400",
      },
      { driver: (clock) => (driver = new HangingDriver(clock)) },
    );
  });
  afterAll(async () => {
    driver.releaseAll();
    await s.stop();
  });

  it("fails a build whose builder cannot boot with a boot-failed reason, and frees its slot", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    s.driver.failNextBoot("image pull failed: manifest unknown");
    const created = await s.create(token);
    expect(created.status).toBe(201);
    expect(created.body.state).toBe("pending");

    await s.expectEnded(token, created.body.id, "failed", "boot-failed: image pull failed: manifest unknown");
    const next = await s.started(token);
    expect(next.state).toBe("ready");
    expect(next.cache.mode).toBe("persistent");
  });

  it("fails a build that started from the queue when its builder cannot boot, and starts the next in line", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await s.started(token);
    const second = (await s.create(token, { waitSeconds: 300 })).body;
    const third = (await s.create(token, { waitSeconds: 300 })).body;

    s.driver.failNextBoot("no capacity on the node");
    await s.complete(token, first.id);
    await s.expectEnded(token, second.id, "failed", /^boot-failed: no capacity/);
    expect((await s.build(token, third.id)).state).toBe("ready");
  });

  it("fails a build whose builder never becomes ready with boot-timeout, and a late boot does not revive it", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    driver.hangNext();
    // Not through s.create: its settle would wait for the boot that hangs.
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.body.state).toBe("pending");
    const id = created.body.id;

    s.clock.advance(BOOT_TIMEOUT * SECOND - 1);
    await s.service.reconcilePass.run();
    expect((await s.build(token, id)).state).toBe("pending");
    s.clock.advance(1);
    await s.service.reconcilePass.run();
    expect((await s.build(token, id)).state).toBe("failed");

    driver.releaseAll();
    await s.settle();
    await s.expectEnded(token, id, "failed", "boot-timeout");
    expect((await s.started(token)).state).toBe("ready");
  });

  it("notices a crashed builder on a reconcile pass and fails its build builder-lost, after the boot grace", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const build = await s.started(token);
    s.driver.crash(await s.builderIdOf(build.id));

    // A builder younger than the grace may still be starting (or listing late): left alone.
    await s.after(BOOT_TIMEOUT * SECOND - 1);
    expect((await s.build(token, build.id)).state).toBe("ready");
    await s.after(1);
    await s.expectEnded(token, build.id, "failed", /^builder-lost/);
    expect((await s.started(token)).state).toBe("ready");
  });

  it("fails a long-running build on the first pass after its builder crashes", async () => {
    const { token } = await s.account();
    const build = await s.started(token);
    await s.service.builds.recordActivity(build.id, "connect");
    await s.after(10 * 60 * SECOND);
    expect((await s.build(token, build.id)).state).toBe("building");

    s.driver.crash(await s.builderIdOf(build.id));
    await s.reconcile();
    await s.expectEnded(token, build.id, "failed", /^builder-lost/);
  });

  it("terminates a builder that belongs to no build once it is older than the boot grace", async () => {
    const { id: accountId } = await s.account();
    const { builderId } = await s.driver.create({
      buildId: randomUUID(),
      accountId,
      shapeName: "small",
      shape: { cpu: 2, memoryGiB: 4 },
      volume: null,
    });

    await s.after(BOOT_TIMEOUT * SECOND - 1);
    expect((await s.driver.list()).map((b) => b.builderId)).toContain(builderId);
    await s.after(1);
    expect((await s.driver.list()).map((b) => b.builderId)).not.toContain(builderId);
  });

  it("terminates a builder left behind by an ended build, and keeps every builder of an unfinished one", async () => {
    const { id: accountId, token } = await s.account({ concurrencyLimit: 2 });
    const ended = await s.started(token);
    await s.complete(token, ended.id);
    const running = await s.started(token);
    const { builderId: leftover } = await s.driver.create({
      buildId: ended.id,
      accountId,
      shapeName: "small",
      shape: { cpu: 2, memoryGiB: 4 },
      volume: null,
    });

    await s.after(BOOT_TIMEOUT * SECOND);
    const live = (await s.driver.list()).map((b) => b.builderId);
    expect(live).not.toContain(leftover);
    expect(live).toContain(await s.builderIdOf(running.id));
    expect((await s.build(token, running.id)).state).toBe("ready");
  });
});

describe("a builder that boots slowly", () => {
  const LEASE = 60;
  let s: Scenario;
  let driver: HangingDriver;
  beforeAll(async () => {
    s = await Scenario.start(
      { RB_BOOT_TIMEOUT_SECONDS: "300", RB_CLAIM_LEASE_SECONDS: String(LEASE) },
      { driver: (clock) => (driver = new HangingDriver(clock)) },
    );
  });
  afterAll(async () => {
    driver.releaseAll();
    await s.stop();
  });

  it("keeps a pending build whose client heartbeats while it boots, for longer than the claim lease", async () => {
    const { token } = await s.account();
    driver.hangNext();
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    const id = created.body.id;

    // Four minutes of booting against a 60 s lease (no settle: the boot is still hanging).
    for (let i = 0; i < 12; i++) {
      s.clock.advance(20 * SECOND);
      const beat = await http<BuildBody>(s.service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token });
      expect(beat.status).toBe(200);
      expect(beat.body.state).toBe("pending");
      await s.service.reconcilePass.run();
    }
    driver.releaseAll();
    await s.settle();
    const ready = await s.build(token, id);
    expect(ready.state).toBe("ready");
    expect(ready.readyAt).toBe(new Date(s.clock.now()).toISOString());

    await s.after(LEASE * SECOND);
    await s.expectEnded(token, id, "reaped", /^lease-expired/, s.clock.now() - LEASE * SECOND);
  });
});

describe("a builder that finishes booting after its build's deadline", () => {
  let s: Scenario;
  let driver: HangingDriver;
  beforeAll(async () => {
    s = await Scenario.start(
      {
        RB_BOOT_TIMEOUT_SECONDS: "60",
        RB_BUILD_DEADLINE_SECONDS: "10",
        RB_CLAIM_LEASE_SECONDS: "86400",
        RB_IDLE_TIMEOUT_SECONDS: "86400",
      },
      { driver: (clock) => (driver = new HangingDriver(clock)) },
    );
  });
  afterAll(async () => {
    driver.releaseAll();
    await s.stop();
  });

  it("never makes the build ready: it expires, unready and unbilled", async () => {
    const { token } = await s.account();
    driver.hangNext();
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.body.state).toBe("pending");

    s.clock.advance(10 * SECOND);
    driver.releaseAll();
    await s.settle();
    const late = await s.build(token, created.body.id);
    expect({ state: late.state, readyAt: late.readyAt }).toEqual({ state: "pending", readyAt: null });

    await s.service.reconcilePass.run();
    await s.expectEnded(token, created.body.id, "expired", "deadline");
    const rows = await s.service.pool.query("SELECT 1 FROM ledger_entries WHERE build_id = $1", [
      created.body.id,
    ]);
    expect(rows.rowCount).toBe(0);
  });
});
