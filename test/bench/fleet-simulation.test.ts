import { describe, expect, it } from "@jest/globals";
import { niceTicks, renderChart } from "../../bench/fleet/chart.js";
import { DEFAULT_MODEL, type FleetModel, type PoolConfig, uniformPool } from "../../bench/fleet/model.js";
import { parseSeed } from "../../bench/fleet/random.js";
import { simulate } from "../../bench/fleet/simulation.js";
import { generateWorkload } from "../../bench/fleet/workload.js";

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
