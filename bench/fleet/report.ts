/** The figures a sweep reports per configuration, and the table they are printed in. */
import { percentile } from "../support.js";
import { type PoolConfig, SHAPES } from "./model.js";
import type { FleetResult, PrewarmOutcome } from "./simulation.js";

export interface Summary {
  label: string;
  config: PoolConfig;
  builds: number;
  p50: number;
  p95: number;
  p99: number;
  meanS: number;
  /** Cold builds alone: what a build with no idle or warm builder waits (the RFC's cold-start target). */
  cold: { p50: number; p95: number; p99: number };
  /** Shares of builds, 0–1. */
  idleShare: number;
  warmShare: number;
  coldShare: number;
  queuedShare: number;
  /** Pod-hours per simulated day. */
  idleHours: number;
  warmHours: number;
  totalHours: number;
  /** vCPU-hours per simulated day held by idle and warm pods: what the pods' requests cost. */
  idleVcpuHours: number;
  bootsPerDay: number;
  lostBuilds: number;
  warmEligible: FleetResult["warmEligible"];
  counters: FleetResult["counters"];
  prewarm: PrewarmSummary;
  /** Cold builds by what kept them from an idle or pre-warmed builder (coldCauses). */
  coldCauses: Record<ColdCause, number>;
}

export interface PrewarmSummary {
  /**
   * Shares of builds, 0–1: served by a pre-warmed builder, by one still booting, by a warm one,
   * and by a warm one started for another job than the build's.
   */
  servedShare: number;
  servedBootingShare: number;
  servedWarmShare: number;
  servedWarmOtherShare: number;
  /** Per simulated day. */
  startsPerDay: number;
  /** Pod-hours a day of pre-warmed builders no build took (wasted), and of taken ones before their build. */
  wastedHours: number;
  usedHours: number;
  /** Of the pre-warms that reached their TTL, by why (per day). */
  expiredPerDay: FleetResult["prewarm"]["expired"];
  outcomes: Record<PrewarmOutcome, number>;
}

/**
 * Why a cold build was cold, by what its queued job's pre-warm came to. A build that held no volume
 * (a pull request, a matrix job that found the volume busy) found no warm pod: `warm-gone`, its job
 * started a warm pre-warm that was gone by the build (another build took it, or its TTL passed);
 * `no-volume`, its job started none of the warm kind (the history said "volume", the volume was
 * busy or kept up, or no pre-warming). A build that held the volume found no idle builder on it: its
 * job started one on the volume that was gone by the build (`expired`: TTL, preemption), started a
 * warm one instead (`kind`: the history said its builds run cold), found an idle builder that was
 * gone by the build (`idle-gone`), or the volume `busy`; `no-prewarm`: run without pre-warming.
 * Either kind: its job was `declined` (too few builds), met the per-account `cap`, or `no-room`.
 */
export type ColdCause =
  | "no-volume"
  | "warm-gone"
  | "declined"
  | "expired"
  | "kind"
  | "idle-gone"
  | "busy"
  | "cap"
  | "no-room"
  | "no-prewarm";

export function coldCauses(r: FleetResult): Record<ColdCause, number> {
  const causes: Record<ColdCause, number> = {
    "no-volume": 0,
    "warm-gone": 0,
    declined: 0,
    expired: 0,
    kind: 0,
    "idle-gone": 0,
    busy: 0,
    cap: 0,
    "no-room": 0,
    "no-prewarm": 0,
  };
  const withVolume: Record<PrewarmOutcome, ColdCause> = {
    started: "expired",
    "started-warm": "kind",
    declined: "declined",
    "already-warm": "idle-gone",
    "volume-busy": "busy",
    cap: "cap",
    "no-room": "no-room",
  };
  const withoutVolume: Record<PrewarmOutcome, ColdCause> = {
    ...withVolume,
    started: "no-volume",
    "started-warm": "warm-gone",
    "already-warm": "no-volume",
    "volume-busy": "no-volume",
  };
  for (const p of r.placements) {
    if (p.tier !== "cold") continue;
    if (p.job === null) causes[p.volume ? "no-prewarm" : "no-volume"]++;
    else causes[(p.volume ? withVolume : withoutVolume)[p.job]]++;
  }
  return causes;
}

export function summarize(label: string, r: FleetResult, days: number): Summary {
  const share = (n: number) => n / r.builds;
  const cold = r.placements.filter((p) => p.tier === "cold").map((p) => p.readyS);
  return {
    label,
    config: r.config,
    builds: r.builds,
    p50: percentile(r.readyS, 50),
    p95: percentile(r.readyS, 95),
    p99: percentile(r.readyS, 99),
    meanS: r.readyS.reduce((a, b) => a + b, 0) / r.builds,
    cold: { p50: percentile(cold, 50), p95: percentile(cold, 95), p99: percentile(cold, 99) },
    idleShare: share(r.tiers.idle),
    warmShare: share(r.tiers.warm),
    coldShare: share(r.tiers.cold),
    queuedShare: share(r.queued),
    idleHours: r.podHours.idle,
    warmHours: r.podHours.warm,
    totalHours: r.podHours.idle + r.podHours.warm,
    idleVcpuHours: r.vcpuHours.idle + r.vcpuHours.warm,
    bootsPerDay: r.counters.boots / days,
    lostBuilds: r.lostBuilds,
    warmEligible: r.warmEligible,
    counters: r.counters,
    prewarm: {
      servedShare: share(r.prewarm.served),
      servedBootingShare: share(r.prewarm.servedBooting),
      servedWarmShare: share(r.prewarm.servedWarm),
      servedWarmOtherShare: share(r.prewarm.servedWarmOther),
      startsPerDay: (r.prewarm.outcomes.started + r.prewarm.outcomes["started-warm"]) / days,
      wastedHours: r.podHours.prewarmWasted,
      usedHours: r.podHours.prewarmUsed,
      expiredPerDay: {
        noBuild: r.prewarm.expired.noBuild / days,
        tookOther: r.prewarm.expired.tookOther / days,
        late: r.prewarm.expired.late / days,
      },
      outcomes: r.prewarm.outcomes,
    },
    coldCauses: coldCauses(r),
  };
}

export function poolLabel(pool: PoolConfig["warmPool"]): string {
  const sizes = SHAPES.map((s) => pool[s]);
  return sizes.every((n) => n === sizes[0]) ? String(sizes[0]) : sizes.join("/");
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const hours = (x: number) => x.toFixed(1);
const ratio = (x: number) => `×${x.toFixed(2)}`;

/** One row per configuration, with ratios against the baseline's p95, mean and boots. */
export function table(rows: Summary[], baseline: Summary): string[] {
  const header = [
    "config",
    "pool s/m/l",
    "idle TTL s",
    "p50 s",
    "p95 s",
    "p99 s",
    "idle",
    "warm",
    "cold",
    "waited",
    "idle pod-h/d",
    "warm pod-h/d",
    "total pod-h/d",
    "vCPU-h/d",
    "boots/d",
    "p95 vs base",
    "mean vs base",
    "boots vs base",
  ];
  const cells = rows.map((r) => [
    r.label,
    poolLabel(r.config.warmPool),
    String(r.config.idleTtlS),
    r.p50.toFixed(2),
    r.p95.toFixed(2),
    r.p99.toFixed(2),
    pct(r.idleShare),
    pct(r.warmShare),
    pct(r.coldShare),
    pct(r.queuedShare),
    hours(r.idleHours),
    hours(r.warmHours),
    hours(r.totalHours),
    hours(r.idleVcpuHours),
    r.bootsPerDay.toFixed(0),
    ratio(r.p95 / baseline.p95),
    ratio(r.meanS / baseline.meanS),
    ratio(r.bootsPerDay / baseline.bootsPerDay),
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
  );
}

/** Per shape, the share of the builds a warm pod could serve that found one, by pool size. */
export function coverageTable(rows: Summary[], days: number): string[] {
  const header = [
    "pool",
    ...SHAPES.map((s) => `${s} (${(rows[0]!.warmEligible[s].builds / days).toFixed(0)}/d)`),
  ];
  const cells = rows.map((r) => [
    poolLabel(r.config.warmPool),
    ...SHAPES.map((s) => pct(r.warmEligible[s].served / r.warmEligible[s].builds)),
  ]);
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => c.padStart(widths[i]!)).join("  "));
}

/**
 * Configurations with and without pre-warming: times to ready, the builds a pre-warmed builder
 * served, the pre-warms started, and the pod-hours a day: wasted by unused pre-warms, held by taken
 * ones before their build, and held by idle builders and warm pods as in the sweep.
 */
export function prewarmTable(rows: Summary[]): string[] {
  const header = [
    "config",
    "pool s/m/l",
    "pre-warm",
    "p50 s",
    "p95 s",
    "p99 s",
    "cold",
    "pre-warmed",
    "of them booting",
    "of them warm",
    "warm, other job",
    "pre-warms/d",
    "wasted pod-h/d",
    "used pod-h/d",
    "idle+warm pod-h/d",
  ];
  const cells = rows.map((r) => [
    r.label,
    poolLabel(r.config.warmPool),
    r.config.prewarm ? `TTL ${r.config.prewarm.ttlMs / 1000} s` : "off",
    r.p50.toFixed(2),
    r.p95.toFixed(2),
    r.p99.toFixed(2),
    pct(r.coldShare),
    pct(r.prewarm.servedShare),
    pct(r.prewarm.servedBootingShare),
    pct(r.prewarm.servedWarmShare),
    pct(r.prewarm.servedWarmOtherShare),
    r.prewarm.startsPerDay.toFixed(0),
    hours(r.prewarm.wastedHours),
    hours(r.prewarm.usedHours),
    hours(r.totalHours),
  ]);
  return align([header, ...cells]);
}

/** Per row, its cold builds by cause, as shares of all its builds. */
export function coldCauseTable(rows: Summary[]): string[] {
  const causes = Object.keys(rows[0]!.coldCauses) as ColdCause[];
  const header = ["config", "pool s/m/l", "pre-warm", ...causes];
  const cells = rows.map((r) => [
    r.label,
    poolLabel(r.config.warmPool),
    r.config.prewarm ? "on" : "off",
    ...causes.map((c) => pct(r.coldCauses[c] / r.builds)),
  ]);
  return align([header, ...cells]);
}

function align(all: string[][]): string[] {
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
  );
}
