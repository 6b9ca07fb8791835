import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import type { LocalDriver } from "../../service/adapters/drivers/local.js";
import type { PrewarmSpec } from "../../service/core/ports.js";
import { FAKE_BIN } from "../harness/action-job.js";
import { http, type TestService } from "../harness/context.js";
import {
  alive,
  completeBuild,
  daemonOf,
  daemons,
  killStrays,
  readyBuild,
  startLocalService,
  until,
} from "./support.js";

// The fake buildkitd (on PATH) records each start; real buildkitd runs the same path in
// test/integration/prewarm.test.ts.
process.env.PATH = `${FAKE_BIN}:${process.env.PATH}`;
const work = mkdtempSync(join(tmpdir(), "rb-local-prewarm-"));
process.env.FAKE_BUILDKITD_LOG = join(work, "buildkitd.jsonl");

const running = new Set<TestService>();
async function start(
  name: string,
  idleTtlSeconds = 1,
  env: Record<string, string> = {},
): Promise<{ service: TestService; dir: string; driver: LocalDriver }> {
  const dir = join(work, name);
  const service = await startLocalService(dir, {
    RB_BUILDER_IDLE_TTL_SECONDS: String(idleTtlSeconds),
    ...env,
  });
  running.add(service);
  return { service, dir, driver: service.driver as LocalDriver };
}
afterEach(async () => {
  await Promise.all([...running].map((s) => s.stop()));
  running.clear();
});
afterAll(() => {
  killStrays(work);
  rmSync(work, { recursive: true, force: true });
});

const spec = (accountId: string, more: Partial<PrewarmSpec> = {}): PrewarmSpec => ({
  accountId,
  shapeName: "small",
  shape: { cpu: 2, memoryGiB: 4 },
  volume: { name: "buildkit", sizeGiB: 10 },
  ttlMs: 60_000,
  maxPerAccount: 2,
  ...more,
});

/** /metrics once it counts an expired pre-warm. */
const expiredMetrics = (service: TestService) =>
  until("an expired pre-warm in /metrics", async () => {
    const { body } = await http<string>(service.url, "GET", "/metrics");
    return /remote_builder_prewarm_total\{outcome="expired"\}/.test(body) ? body : null;
  });

/** The buildkitd processes started on a folder of `dir`'s that are still running. */
const live = (dir: string) => daemons(dir).filter((d) => alive(d.pid));

describe("the local driver's pre-warmed builders", () => {
  it("starts the account's builder on its volume; a build that comes takes it as idle, pre-warmed", async () => {
    const { service, dir, driver } = await start("taken");
    const account = await service.account();
    const started = await driver.prewarm(spec(account.id));
    expect(started).toMatchObject({ outcome: "started", builderId: expect.stringMatching(/^local-/) });
    const [daemon] = await until("the pre-warmed buildkitd", () => (live(dir).length ? live(dir) : null));
    expect(daemon!.root).toBe(join(dir, "volumes", account.id, "buildkit"));

    const build = await readyBuild(service, account);
    expect(build).toMatchObject({ tier: "idle", prewarmed: true });
    expect(daemonOf(dir, build).pid).toBe(daemon!.pid);
    expect(live(dir)).toHaveLength(1);
    // Once its build ends it is the ordinary idle builder: the idle TTL (1 s) stops it.
    await completeBuild(service, build);
    await until("the idle builder to stop", () => (live(dir).length === 0 ? true : null));
  });

  it("a build placed while the pre-warm is still starting buildkitd waits for it: one buildkitd on the volume", async () => {
    const { service, dir, driver } = await start("race");
    const account = await service.account();
    const { volume, shapeName, shape } = spec(account.id);
    // In one turn: the placement comes while the pre-warm is still getting the builder's certificate.
    const [started, placed] = await Promise.all([
      driver.prewarm(spec(account.id)),
      driver.create({ buildId: randomUUID(), accountId: account.id, shapeName, shape, volume }),
    ]);
    expect(started.outcome).toBe("started");
    expect(placed).toMatchObject({ tier: "idle", prewarmedAt: expect.any(Number) });
    expect(placed.builderId).toBe(started.outcome === "started" ? started.builderId : null);
    // Two buildkitd on one root would fight over its lock: only ever one was started there.
    await driver.awaitReady(placed.builderId, 10_000);
    const onVolume = daemons(dir).filter((d) => d.root === join(dir, "volumes", account.id, "buildkit"));
    expect(onVolume).toHaveLength(1);
  });

  it("starts nothing while a build's builder holds the volume, nor a second on a volume already warm", async () => {
    const { service, dir, driver } = await start("busy", 600);
    const account = await service.account();
    const build = await readyBuild(service, account);
    expect(await driver.prewarm(spec(account.id))).toEqual({
      outcome: "skipped",
      reason: "a build's builder holds the cache volume",
    });
    expect(live(dir)).toHaveLength(1);
    await completeBuild(service, build);
    await service.background.drain();
    // Its builder is now the idle one: there is nothing to start.
    expect(await driver.prewarm(spec(account.id))).toMatchObject({ outcome: "already-warm" });
    expect(live(dir)).toHaveLength(1);
  });

  it("keeps the account's idle builder up for a queued job, past its own idle TTL, until the pre-warm's", async () => {
    const { service, dir, driver } = await start("keep-up", 1);
    const account = await service.account();
    const build = await readyBuild(service, account);
    await completeBuild(service, build);
    await service.background.drain();
    const [idle] = live(dir);
    expect(await driver.prewarm(spec(account.id, { ttlMs: 4_000 }))).toEqual({
      outcome: "already-warm",
      reason: "the account's idle builder on this volume is kept up for the job",
    });
    // Its idle TTL (1 s) passes; the job's TTL (4 s) keeps it.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(alive(idle!.pid)).toBe(true);
    const next = await readyBuild(service, account);
    expect(next).toMatchObject({ tier: "idle", prewarmed: false });
    expect(daemonOf(dir, next).pid).toBe(idle!.pid);
  });

  it("starts a fresh warm builder of the shape for a job whose builds run cold, outside the pool", async () => {
    const { service, dir, driver } = await start("warm-kind", 1, { RB_WARM_POOL: '{"small":1}' });
    const asking = await service.account();
    const [pool] = await until("the pool's warm buildkitd", () => (live(dir).length ? live(dir) : null));
    const started = await driver.prewarm(spec(asking.id, { volume: null }));
    expect(started).toMatchObject({ outcome: "started" });
    const prewarmed = await until("the pre-warmed warm buildkitd", () =>
      live(dir).find((d) => d.pid !== pool!.pid),
    );
    expect(prewarmed.root).toMatch(/\/volumes\/scratch-[0-9a-f-]{36}$/);
    // It counts toward the asking account's cap.
    expect(await driver.prewarm(spec(asking.id, { volume: null, maxPerAccount: 1 }))).toMatchObject({
      outcome: "skipped",
    });
    // A build that runs cold (no volume) takes a warm builder: the pool's, the older. The pool
    // refills its own while the job's still waits: it does not count the job's.
    const first = await readyBuild(service, asking, { cache: "cold" });
    expect(first).toMatchObject({ tier: "warm", prewarmed: false });
    expect(daemonOf(dir, first).pid).toBe(pool!.pid);
    await until("the pool to refill", () =>
      live(dir).some((d) => d.pid !== pool!.pid && d.pid !== prewarmed.pid) ? true : null,
    );
    // Another account's build that runs cold may take the job's warm builder: it is no one's yet.
    const other = await readyBuild(service, await service.account(), { cache: "cold" });
    expect(other).toMatchObject({ tier: "warm" });
  });

  it("stops an untaken warm pre-warm at its TTL, counted as the asking account's waste", async () => {
    const { service, dir, driver } = await start("warm-expiry");
    const asking = await service.account();
    await driver.prewarm(spec(asking.id, { volume: null, ttlMs: 1_500 }));
    const [daemon] = await until("the pre-warmed warm buildkitd", () =>
      live(dir).length ? live(dir) : null,
    );
    await until("the warm pre-warm to stop", () => (alive(daemon!.pid) ? null : true));
    // Counted once its stop is done (its folder released and removed), a moment after the exit.
    expect(await expiredMetrics(service)).toMatch(/remote_builder_prewarm_total\{outcome="expired"\} 1/);
  });

  it("keeps each account within its cap of waiting pre-warmed builders", async () => {
    const { service, driver } = await start("cap");
    const account = await service.account();
    const one = { maxPerAccount: 1 };
    expect((await driver.prewarm(spec(account.id, one))).outcome).toBe("started");
    expect(
      await driver.prewarm(spec(account.id, { ...one, volume: { name: "other", sizeGiB: 10 } })),
    ).toEqual({
      outcome: "skipped",
      reason: "1 pre-warmed builder(s) already wait for this account",
    });
    // Another account has a cap of its own.
    const other = await service.account();
    expect((await driver.prewarm(spec(other.id, one))).outcome).toBe("started");
  });

  it("stops an unused pre-warmed builder at its own TTL and counts its seconds as wasted", async () => {
    const { service, dir, driver } = await start("expiry");
    const account = await service.account();
    await driver.prewarm(spec(account.id, { ttlMs: 1_500 }));
    const [daemon] = await until("the pre-warmed buildkitd", () => (live(dir).length ? live(dir) : null));
    await until("the pre-warmed builder to stop", () => (alive(daemon!.pid) ? null : true));
    const metrics = await expiredMetrics(service);
    expect(metrics).toMatch(/remote_builder_prewarm_total\{outcome="expired"\} 1/);
    const wasted = Number(/^remote_builder_prewarm_wasted_seconds_total (\S+)$/m.exec(metrics)?.[1]);
    expect(wasted).toBeGreaterThanOrEqual(1.5);
    expect(wasted).toBeLessThan(4);
  });
});
