import { describe, expect, it } from "@jest/globals";
import type { CacheMode } from "../../service/core/build.js";
import { niceTicks, renderChart } from "../../bench/fleet/chart.js";
import type { JobQueued } from "../../bench/fleet/jobs.js";
import {
  DEFAULT_MODEL,
  DEFAULT_PREWARM,
  type FleetModel,
  type PoolConfig,
  uniformPool,
} from "../../bench/fleet/model.js";
import { parseSeed } from "../../bench/fleet/random.js";
import { summarize } from "../../bench/fleet/report.js";
import { simulate } from "../../bench/fleet/simulation.js";
import { type BuildRequest, generateWorkload, VOLUME, type Workload } from "../../bench/fleet/workload.js";

// A day of a small fleet with room to spare, no node losses: fast, and nothing but the pool and
// the TTL decides a build's tier.
const MODEL: FleetModel = {
  ...DEFAULT_MODEL,
  days: 1,
  warmupS: 0,
  accounts: 150,
  runsPerDay: { median: 3, sigma: 1 },
  nodes: 4,
  nodeCpu: 400,
  nodeLossPerNodeDay: 0,
};
const SEED = 7;
const workload = generateWorkload(MODEL, SEED);
const config = (pool: number, idleTtlS: number): PoolConfig => ({ warmPool: uniformPool(pool), idleTtlS });

describe("fleet simulation", () => {
  it("serves every build cold with no warm pool and no idle TTL", () => {
    const r = simulate(MODEL, workload, config(0, 0), SEED);
    expect(r.builds).toBeGreaterThan(500);
    expect(r.tiers).toEqual({ idle: 0, warm: 0, cold: r.builds });
    expect(r.podHours.idle + r.podHours.warm).toBe(0);
    expect(r.readyS[0]).toBeGreaterThan(MODEL.scheduleS);
  });

  it("serves every account's first build from the warm pool when no account has a volume yet", () => {
    const fresh = { ...workload, volumes: [] };
    const r = simulate(MODEL, fresh, config(60, 600), SEED);
    const seen = new Set<number>();
    const firsts = r.placements.filter((p) => {
      const account = fresh.builds[p.build]!.account;
      return !seen.has(account) && seen.add(account);
    });
    expect(firsts.length).toBe(new Set(fresh.builds.map((b) => b.account)).size);
    expect(firsts.filter((p) => p.tier !== "warm")).toEqual([]);
    for (const p of firsts) expect(p.readyS).toBeCloseTo(MODEL.warmReadyS, 6);
  });

  it("gives the same result for the same seed, and another for another seed", () => {
    const again = simulate(MODEL, generateWorkload(MODEL, SEED), config(2, 600), SEED);
    expect(again).toEqual(simulate(MODEL, workload, config(2, 600), SEED));
    const other = simulate(MODEL, generateWorkload(MODEL, SEED + 1), config(2, 600), SEED + 1);
    expect(other.readyS).not.toEqual(again.readyS);
  });

  it("spends more idle pod-hours, and serves more builds idle, the longer the idle TTL", () => {
    const runs = [0, 300, 600, 1800].map((ttl) => simulate(MODEL, workload, config(0, ttl), SEED));
    const hours = runs.map((r) => r.podHours.idle);
    const idle = runs.map((r) => r.tiers.idle);
    expect(hours[0]).toBe(0);
    expect(idle[0]).toBe(0);
    for (let i = 1; i < runs.length; i++) {
      expect(hours[i]!).toBeGreaterThan(hours[i - 1]!);
      expect(idle[i]!).toBeGreaterThan(idle[i - 1]!);
    }
  });

  it("holds a warm pool of n pods per shape for the whole day when the cluster has room", () => {
    const r = simulate(MODEL, workload, config(2, 0), SEED);
    // 2 pods × 3 shapes × 24 h: a taken pod is replaced at once, and a booting one counts.
    expect(r.podHours.warm).toBeCloseTo(144, 0);
  });
});

describe("fleet simulation with pre-warming", () => {
  const prewarm = (pool: number, idleTtlS: number, settings = DEFAULT_PREWARM): PoolConfig => ({
    ...config(pool, idleTtlS),
    prewarm: settings,
  });

  it("is never worse at the p95 than without, on the same workload, and serves builds pre-warmed", () => {
    for (const pool of [0, 2]) {
      const without = summarize("off", simulate(MODEL, workload, config(pool, 600), SEED), MODEL.days);
      const withIt = summarize("on", simulate(MODEL, workload, prewarm(pool, 600), SEED), MODEL.days);
      expect(withIt.builds).toBe(without.builds);
      expect(withIt.p95).toBeLessThanOrEqual(without.p95);
      expect(withIt.coldShare).toBeLessThan(without.coldShare);
      expect(withIt.prewarm.servedShare).toBeGreaterThan(0.1);
      expect(withIt.prewarm.servedWarmShare).toBeGreaterThan(0);
      expect(without.prewarm.servedShare).toBe(0);
    }
  });

  it("wastes pod-hours only on warm builders another build's volume made needless, when every queued job is followed by its build within the TTL", () => {
    // No jobs without a build, no pull requests, every lead 40 s: each pre-warm on a volume is taken.
    // A warm one (the job's workflow mostly found its volume busy) goes unused when its build finds
    // the volume free and takes that instead, and another build has taken the warm one it would have.
    const model: FleetModel = {
      ...MODEL,
      noCacheWriteShare: 0,
      jobs: { ...MODEL.jobs, noBuildShareMax: 0, leadS: { median: 40, sigma: 0 } },
    };
    const w = generateWorkload(model, SEED);
    expect(w.jobs.every((j) => j.build !== null)).toBe(true);
    const r = simulate(model, w, prewarm(0, 600), SEED);
    expect(r.prewarm.outcomes.started).toBeGreaterThan(100);
    expect(r.prewarm.served).toBeGreaterThan(100);
    const { noBuild, tookOther, late } = r.prewarm.expired;
    expect({ noBuild, late }).toEqual({ noBuild: 0, late: 0 });
    expect(tookOther).toBeLessThanOrEqual(r.prewarm.outcomes["started-warm"]);
    const ttlS = DEFAULT_PREWARM.ttlMs / 1000;
    expect(r.podHours.prewarmWasted * 3600).toBeCloseTo((tookOther * ttlS) / model.days, 6);
    // With jobs that never build, the same day wastes some.
    const noisy = { ...model, jobs: { ...model.jobs, noBuildShareMax: 0.3 } };
    const wasted = simulate(noisy, generateWorkload(noisy, SEED), prewarm(0, 600), SEED);
    expect(wasted.prewarm.expired.noBuild).toBeGreaterThan(0);
    expect(wasted.podHours.prewarmWasted).toBeGreaterThan(0);
  });

  it("gives the same result for the same seed with pre-warming on", () => {
    const again = simulate(MODEL, generateWorkload(MODEL, SEED), prewarm(2, 600), SEED);
    expect(again).toEqual(simulate(MODEL, workload, prewarm(2, 600), SEED));
    expect(again.prewarm.outcomes.started).toBeGreaterThan(0);
  });
});

/**
 * One account on one roomy node, with two push builds of its workflow `ci` in its history, and the
 * builds and queued jobs each test gives: what the service decides, and when, is then exact. A
 * pull request's build and job (`pr`) may not write the cache: its builder is a warm one.
 */
describe("a pre-warmed builder, one account at a time", () => {
  const ONE: FleetModel = { ...MODEL, accounts: 1, nodes: 1, nodeCpu: 40, warmupS: 0 };
  const COLD_S = 4;
  const TTL_S = DEFAULT_PREWARM.ttlMs / 1000;
  const boot = ONE.scheduleS + COLD_S;

  const PR = "refs/pull/1/merge";
  const MAIN = "refs/heads/main";

  function build(id: number, at: number, durationS = 60, ref = MAIN): BuildRequest {
    const origin = { repository: 0, workflow: "ci", ref, run: id, job: 0 };
    return { id, account: 0, at, durationS, cacheWrite: ref === MAIN, coldS: COLD_S, ...origin };
  }
  function job(at: number, b: number | null, ref = MAIN): JobQueued {
    const origin = { account: 0, repository: 0, workflow: "ci", ref, cacheWrite: ref === MAIN };
    return { at, ...origin, build: b, coldS: COLD_S };
  }
  function past(at: number) {
    const b = { createdAt: at * 1000, workflow: "ci", ref: "refs/heads/main", shape: "small" };
    return {
      account: 0,
      repository: 0,
      build: { ...b, cacheVolume: VOLUME, cacheMode: "persistent" as CacheMode },
    };
  }
  function workloadOf(
    builds: BuildRequest[],
    jobs: JobQueued[],
    history = [past(-7200), past(-3600)],
  ): Workload {
    return {
      accounts: [
        {
          id: 0,
          shape: "small",
          runsPerDay: 1,
          repositories: [{ workflows: [{ name: "ci", noBuildShare: 0 }] }],
        },
      ],
      builds,
      jobs,
      history,
      volumes: [{ account: 0, node: 0, lastUsed: -3600 }],
      nodeLosses: [],
    };
  }
  function run(builds: BuildRequest[], jobs: JobQueued[], history = [past(-7200), past(-3600)]) {
    const w = workloadOf(builds, jobs, history);
    return (settings = DEFAULT_PREWARM, idleTtlS = 0) =>
      simulate(ONE, w, { warmPool: uniformPool(0), idleTtlS, prewarm: settings }, SEED);
  }

  it("serves a build that comes while its builder boots after the rest of the boot only", () => {
    const r = run([build(0, 1002)], [job(1000, 0)])();
    expect(r.placements).toHaveLength(1);
    expect(r.placements[0]).toMatchObject({ tier: "idle", prewarmed: true, job: "started" });
    expect(r.placements[0]!.readyS).toBeCloseTo(1000 + boot + ONE.idleReadyS - 1002, 9);
    expect(r.prewarm.servedBooting).toBe(1);
    expect(r.podHours.prewarmWasted).toBe(0);
  });

  it("gives a build arriving after the TTL (from the pre-warm's start) no pre-warmed builder, and counts it as wasted", () => {
    const expires = 1000 + TTL_S;
    const late = run([build(0, expires + 1)], [job(1000, 0)])();
    expect(late.placements[0]).toMatchObject({ tier: "cold", prewarmed: false, job: "started" });
    expect(late.placements[0]!.readyS).toBeCloseTo(boot, 9);
    expect(late.prewarm.expired).toEqual({ noBuild: 0, tookOther: 0, late: 1 });
    expect(late.podHours.prewarmWasted * 3600).toBeCloseTo(TTL_S / ONE.days, 6);
    const inTime = run([build(0, expires - 1)], [job(1000, 0)])();
    expect(inTime.placements[0]).toMatchObject({ tier: "idle", prewarmed: true });
    expect(inTime.podHours.prewarmWasted).toBe(0);
    expect(inTime.podHours.prewarmUsed * 3600).toBeCloseTo((expires - 1 - 1000) / ONE.days, 6);
  });

  it("starts no pre-warm while a build holds the volume, and one once it is free", () => {
    // Build 0 holds the volume from 100 until about 2100; job 1 is queued at 500, job 2 at 3000.
    const r = run(
      [build(0, 100, 2000), build(1, 540), build(2, 3040)],
      [job(60, 0), job(500, 1), job(3000, 2)],
    )();
    const byBuild = new Map(r.placements.map((p) => [p.build, p]));
    expect(byBuild.get(0)).toMatchObject({ job: "started", prewarmed: true });
    expect(byBuild.get(1)).toMatchObject({ job: "volume-busy", prewarmed: false, volume: false });
    expect(byBuild.get(2)).toMatchObject({ job: "started", prewarmed: true });
    expect(r.prewarm.outcomes).toMatchObject({ started: 2, "volume-busy": 1 });
  });

  it("starts none for a workflow with too little history, or over the per-account cap", () => {
    const scarce = run([build(0, 1040)], [job(1000, 0)], [past(-3600)])();
    expect(scarce.placements[0]).toMatchObject({ tier: "cold", job: "declined" });
    const stale = run([build(0, 1040)], [job(1000, 0)], [past(-15 * 86_400), past(-3600)])();
    expect(stale.placements[0]).toMatchObject({ tier: "cold", job: "declined" });
    const capped = run([build(0, 1040)], [job(1000, 0)])({ ...DEFAULT_PREWARM, maxPerAccount: 0 });
    expect(capped.placements[0]).toMatchObject({ tier: "cold", job: "cap" });
    expect(capped.prewarm.outcomes.started).toBe(0);
  });

  it("counts a pre-warm for a job that never builds as wasted, and keeps it up for a second job instead of starting one", () => {
    const r = run([], [job(1000, null), job(1010, null)])();
    expect(r.prewarm.outcomes).toMatchObject({ started: 1, "already-warm": 1 });
    expect(r.prewarm.expired).toEqual({ noBuild: 1, tookOther: 0, late: 0 });
    // The second job put its stop off to its own event + the TTL.
    expect(r.podHours.prewarmWasted * 3600).toBeCloseTo((1010 + TTL_S - 1000) / ONE.days, 6);
  });

  it("starts a warm builder for a pull request's job, which its build (wanting no volume) takes", () => {
    const r = run([build(0, 1040, 60, PR)], [job(1000, 0, PR)])();
    expect(r.prewarm.outcomes).toMatchObject({ started: 0, "started-warm": 1 });
    expect(r.placements[0]).toMatchObject({
      tier: "warm",
      prewarmed: true,
      volume: false,
      job: "started-warm",
    });
    expect(r.placements[0]!.readyS).toBeCloseTo(ONE.warmReadyS, 9);
    expect(r.prewarm).toMatchObject({ served: 1, servedWarm: 1, servedWarmOther: 0 });
    expect(r.podHours.prewarmWasted).toBe(0);
    expect(r.podHours.prewarmUsed * 3600).toBeCloseTo(40 / ONE.days, 6);
    // Without pre-warming the same build starts cold, on a throw-away volume.
    const off = simulate(ONE, workloadOf([build(0, 1040, 60, PR)], []), config(0, 0), SEED);
    expect(off.placements[0]).toMatchObject({ tier: "cold", volume: false });
  });

  it("starts a warm builder for a workflow whose builds ran cold, and wastes it when no build can take it", () => {
    const cold = (at: number) => ({
      ...past(at),
      build: { ...past(at).build, ref: PR, cacheMode: "cold" as CacheMode },
    });
    // The history says cold; the push build that comes wants its volume, which the account has.
    const r = run([build(0, 1040)], [job(1000, 0)], [cold(-7200), cold(-3600)])();
    expect(r.prewarm.outcomes).toMatchObject({ started: 0, "started-warm": 1 });
    expect(r.placements[0]).toMatchObject({
      tier: "cold",
      prewarmed: false,
      volume: true,
      job: "started-warm",
    });
    expect(r.prewarm.expired).toEqual({ noBuild: 0, tookOther: 1, late: 0 });
    expect(r.podHours.prewarmWasted * 3600).toBeCloseTo(TTL_S / ONE.days, 6);
    // And a pull request's job that never builds wastes its warm builder for its whole TTL.
    const none = run([], [job(1000, null, PR)])();
    expect(none.prewarm.expired).toEqual({ noBuild: 1, tookOther: 0, late: 0 });
    expect(none.podHours.prewarmWasted * 3600).toBeCloseTo(TTL_S / ONE.days, 6);
    expect(none.podHours.warm).toBe(0);
  });

  it("counts warm pre-warms of either kind against the account's cap", () => {
    // A pull request's warm builder waits; the push's job then meets a cap of 1, and the default 2 lets it start.
    const builds = [build(0, 1100, 60, PR), build(1, 1100)];
    const jobs = [job(1000, 0, PR), job(1010, 1)];
    const one = run(builds, jobs)({ ...DEFAULT_PREWARM, maxPerAccount: 1 });
    expect(one.prewarm.outcomes).toMatchObject({ "started-warm": 1, started: 0, cap: 1 });
    expect(DEFAULT_PREWARM.maxPerAccount).toBe(2);
    const two = run(builds, jobs)();
    expect(two.prewarm.outcomes).toMatchObject({ "started-warm": 1, started: 1, cap: 0 });
    expect(two.placements.map((p) => p.tier).sort()).toEqual(["idle", "warm"]);
  });

  it("keeps an idle builder up for a queued job: its build, after the idle TTL but within the pre-warm TTL, takes it", () => {
    // Build 0 leaves its idle builder at about 164.5, to stop at 224.5 (idle TTL 60 s); job 1 comes at 200.
    const keptUp = run([build(0, 100), build(1, 400)], [job(200, 1)])(DEFAULT_PREWARM, 60);
    expect(keptUp.prewarm.outcomes).toMatchObject({ started: 0, "already-warm": 1 });
    expect(keptUp.placements[1]).toMatchObject({
      build: 1,
      tier: "idle",
      prewarmed: false,
      job: "already-warm",
    });
    expect(keptUp.placements[1]!.readyS).toBeCloseTo(ONE.idleReadyS, 9);
    // Its wait counts as idle time, not as a pre-warm's (and build 1's own idle TTL after it).
    expect(keptUp.podHours.prewarmWasted + keptUp.podHours.prewarmUsed).toBe(0);
    expect(keptUp.podHours.idle * 3600).toBeCloseTo((400 - (100 + boot + 60) + 60) / ONE.days, 6);
    // Past the event + the pre-warm TTL, it is gone.
    const late = run([build(0, 100), build(1, 200 + TTL_S + 1)], [job(200, 1)])(DEFAULT_PREWARM, 60);
    expect(late.placements[1]).toMatchObject({ tier: "cold", job: "already-warm" });
  });
});

describe("fleet bench helpers", () => {
  it("reads FLEET_SEED as a number, or hashes any other text", () => {
    expect(parseSeed(undefined, 42)).toBe(42);
    expect(parseSeed("123", 42)).toBe(123);
    expect(parseSeed("abc", 42)).toBe(parseSeed("abc", 1));
    expect(parseSeed("abc", 42)).not.toBe(parseSeed("abd", 42));
  });

  it("draws round axis ticks from zero past the largest value", () => {
    expect(niceTicks(6.8)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1371)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it("draws one line per series in each panel", () => {
    const svg = renderChart({
      title: "t",
      pools: [0, 1],
      baselineP95: 6,
      note: "n",
      series: [
        {
          label: "a",
          points: [
            { pool: 0, p95: 6, podHours: 0 },
            { pool: 1, p95: 3, podHours: 24 },
          ],
        },
        {
          label: "b",
          points: [
            { pool: 0, p95: 5, podHours: 10 },
            { pool: 1, p95: 2, podHours: 34 },
          ],
        },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
  });
});
