/** The figures a sweep reports per configuration, and the table they are printed in. */
import { percentile } from "../support.js";
import { type PoolConfig, SHAPES } from "./model.js";
import type { FleetResult } from "./simulation.js";

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
