import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import { LocalDriver, type LocalDriverOptions } from "../../service/adapters/drivers/local.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { BUILDER_MAX_REUSE_AGE_MS, builderCredentials } from "../../service/core/builder-credentials.js";
import { choosePlacement, warmDeficit } from "../../service/core/placement.js";
import type { BuilderSpec } from "../../service/core/ports.js";
import { FAKE_BIN } from "../harness/action-job.js";
import { alive, daemons, killStrays, runs, until } from "./support.js";

process.env.PATH = `${FAKE_BIN}:${process.env.PATH}`;
const work = mkdtempSync(join(tmpdir(), "rb-local-unit-"));
process.env.FAKE_BUILDKITD_LOG = join(work, "buildkitd.jsonl");

const SMALL = { cpu: 2, memoryGiB: 4 };
const MINUTE = 60_000;

/** Real time, plus whatever a test skips ahead. */
class SkippingClock {
  skipped = 0;
  now = () => Date.now() + this.skipped;
  skip(ms: number): void {
    this.skipped += ms;
  }
}

const drivers = new Set<LocalDriver>();
afterEach(async () => {
  await Promise.all([...drivers].map((d) => d.close()));
  drivers.clear();
});
afterAll(() => {
  killStrays(work);
  rmSync(work, { recursive: true, force: true });
});

async function driver(
  overrides: Partial<LocalDriverOptions> = {},
): Promise<{ driver: LocalDriver; dir: string; clock: SkippingClock }> {
  const clock = new SkippingClock();
  const { authority } = await CertificateAuthority.create();
  const dir = mkdtempSync(join(work, "data-"));
  const d = new LocalDriver({
    dataDir: dir,
    credentials: builderCredentials(authority, clock),
    shapes: { small: SMALL },
    clock,
    idleTtlMs: 30 * 24 * 60 * MINUTE,
    warmPool: {},
    ...overrides,
  });
  drivers.add(d);
  return { driver: d, dir, clock };
}

let builds = 0;
function spec(accountId: string, volume: boolean): BuilderSpec {
  return {
    buildId: `build-${++builds}`,
    accountId,
    shapeName: "small",
    shape: SMALL,
    volume: volume ? { name: "buildkit", sizeGiB: 1 } : null,
  };
}

describe("the local driver, on its own", () => {
  it("lists a reused builder as made when its build got it, so the core's orphan grace counts from there", async () => {
    const { driver: d, dir, clock } = await driver({ warmPool: { small: 1 } });
    await d.start();
    await until("the warm builder", () => daemons(dir).length === 1);
    clock.skip(10 * MINUTE);

    const before = clock.now();
    const warm = await d.create(spec("acct", true));
    const after = clock.now();
    expect(warm.tier).toBe("warm");
    await d.awaitReady(warm.builderId, 5_000);
    const [listed] = await d.list();
    expect(listed!.builderId).toBe(warm.builderId);
    expect(listed!.createdAt).toBeGreaterThanOrEqual(before);
    expect(listed!.createdAt).toBeLessThanOrEqual(after);

    await d.terminate(warm.builderId);
    clock.skip(10 * MINUTE);
    const again = clock.now();
    const idle = await d.create(spec("acct", true));
    expect(idle).toEqual({ builderId: warm.builderId, tier: "idle" });
    expect((await d.list())[0]!.createdAt).toBeGreaterThanOrEqual(again);
    expect((await d.list())[0]!.createdAt).toBeLessThanOrEqual(clock.now());
  });

  it("gives no build a builder near its certificate's end: a stale idle one stops before a cold start on its directory", async () => {
    const { driver: d, dir, clock } = await driver();
    await d.start();
    const first = await d.create(spec("acct", true));
    await d.awaitReady(first.builderId, 5_000);
    await d.terminate(first.builderId);
    const [old] = daemons(dir);
    expect(alive(old!.pid)).toBe(true);

    clock.skip(BUILDER_MAX_REUSE_AGE_MS);
    const next = await d.create(spec("acct", true));
    expect(next.tier).toBe("cold");
    expect(alive(old!.pid)).toBe(false);
    await d.awaitReady(next.builderId, 5_000);
    expect(daemons(dir)[1]!.root).toBe(old!.root);
    expect(runs(old!.root)).toHaveLength(2);
  });

  it("replaces a warm builder near its certificate's end instead of handing it out", async () => {
    const { driver: d, dir, clock } = await driver({ warmPool: { small: 1 } });
    await d.start();
    const [stale] = await until("the warm builder", () => (daemons(dir).length === 1 ? daemons(dir) : null));
    clock.skip(BUILDER_MAX_REUSE_AGE_MS);

    const build = await d.create(spec("acct", false));
    expect(build.tier).toBe("cold");
    await until("the stale warm builder to be replaced", () => {
      const now = daemons(dir);
      return (
        !alive(stale!.pid) && now.some((x) => x.pid !== stale!.pid && x.root !== stale!.root && alive(x.pid))
      );
    });
  });

  it("stops the warm builder a pool refill was starting when the driver closed", async () => {
    const { driver: d, dir } = await driver({ warmPool: { small: 2 } });
    const started = d.start();
    await d.close();
    await started;
    expect(readdirSync(join(dir, "run"))).toEqual([]);
    for (const { pid } of daemons(dir)) expect(alive(pid)).toBe(false);
  });

  it("at start, kills only what a predecessor's pid files name that is its buildkitd, and clears run/", async () => {
    const { driver: d, dir } = await driver();
    // A pid file whose process is someone else's now (the id was reused after a reboot, say).
    const stranger = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const runDir = join(dir, "run", "local-00000000-0000-0000-0000-000000000000");
      mkdirSync(runDir, { recursive: true });
      writeFileSync(join(runDir, "pid"), String(stranger.pid));
      await d.start();
      expect(existsSync(runDir)).toBe(false);
      expect(alive(stranger.pid!)).toBe(true);
    } finally {
      stranger.kill("SIGKILL");
    }
  });
});

describe("placement", () => {
  it("takes the idle builder for the account's volume, a warm one only for a new or throw-away volume, else cold", () => {
    const cases: Array<[Parameters<typeof choosePlacement>[0], string]> = [
      [{ idleBuilder: true, warmBuilder: true, wantsVolume: true, volumeExists: true }, "idle"],
      [{ idleBuilder: true, warmBuilder: true, wantsVolume: false, volumeExists: true }, "warm"],
      [{ idleBuilder: true, warmBuilder: false, wantsVolume: false, volumeExists: true }, "cold"],
      [{ idleBuilder: false, warmBuilder: true, wantsVolume: true, volumeExists: false }, "warm"],
      [{ idleBuilder: false, warmBuilder: true, wantsVolume: true, volumeExists: true }, "cold"],
      [{ idleBuilder: false, warmBuilder: false, wantsVolume: true, volumeExists: false }, "cold"],
    ];
    expect(cases.map(([o]) => choosePlacement(o))).toEqual(cases.map(([, tier]) => tier));
  });

  it("refills the warm pool by shape", () => {
    expect(warmDeficit({ small: 2, medium: 1, large: 0 }, { small: 1, medium: 3 })).toEqual([
      { shape: "small", missing: 1 },
    ]);
  });
});
