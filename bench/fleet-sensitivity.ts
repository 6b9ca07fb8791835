/**
 * How the fleet model's pre-warm figures move with its assumptions: `npm run bench:fleet-sensitivity`.
 * Each row changes one input of bench:fleet's model (the lead time, the runs that never build, the
 * service's pre-warm settings, the workload's shape) and runs that model's default configuration
 * without and with pre-warming, and with a warm pool of 4 per shape, on the same seed. Modelled,
 * not measured, as bench:fleet is; docs/fleet-simulation.md reads the table.
 *
 * Ends with `RESULT modelled=1 rows=<n> cold_share_prewarm_min=<n> cold_share_prewarm_max=<n>
 * rows_p95_3x=<n>`: over the rows at the default pool, the least and most builds started cold with
 * pre-warming (0–1), and in how many rows the p95 with pre-warming is at least 3× lower.
 */
import {
  DEFAULT_MODEL,
  DEFAULT_PREWARM,
  type FleetModel,
  type PoolConfig,
  uniformPool,
} from "./fleet/model.js";
import type { PrewarmSettings } from "../service/core/prewarm-policy.js";
import { parseSeed } from "./fleet/random.js";
import { summarize, type Summary } from "./fleet/report.js";
import { simulate } from "./fleet/simulation.js";
import { generateWorkload } from "./fleet/workload.js";

const DEFAULT_SEED = 20261129;
const DEFAULT_POOL = { small: 2, medium: 2, large: 1 };
const IDLE_TTL_S = 600;
const M = DEFAULT_MODEL;

interface Row {
  changed: string;
  model?: FleetModel;
  prewarm?: Partial<PrewarmSettings>;
}

const ROWS: Row[] = [
  { changed: "nothing" },
  {
    changed: "lead median 15 s",
    model: { ...M, jobs: { ...M.jobs, leadS: { ...M.jobs.leadS, median: 15 } } },
  },
  {
    changed: "lead median 90 s",
    model: { ...M, jobs: { ...M.jobs, leadS: { ...M.jobs.leadS, median: 90 } } },
  },
  {
    changed: "lead σ 1.5 (p90 ≈ 275 s)",
    model: { ...M, jobs: { ...M.jobs, leadS: { ...M.jobs.leadS, sigma: 1.5 } } },
  },
  { changed: "no runs that never build", model: { ...M, jobs: { ...M.jobs, noBuildShareMax: 0 } } },
  { changed: "runs that never build up to 60%", model: { ...M, jobs: { ...M.jobs, noBuildShareMax: 0.6 } } },
  { changed: "TTL 120 s", prewarm: { ttlMs: 120_000 } },
  { changed: "TTL 600 s", prewarm: { ttlMs: 600_000 } },
  { changed: "cap 1 per account", prewarm: { maxPerAccount: 1 } },
  { changed: "cap 4 per account", prewarm: { maxPerAccount: 4 } },
  { changed: "minBuilds 1", prewarm: { minBuilds: 1 } },
  { changed: "no job matrices (one build a run)", model: { ...M, burst: { ...M.burst, more: 0 } } },
  {
    changed: "1 repository with 1 workflow an account",
    model: { ...M, jobs: { ...M.jobs, repositories: [1], workflows: [1] } },
  },
];

function main(): void {
  const seed = parseSeed(process.env.FLEET_SEED, DEFAULT_SEED);
  const header = ["changed", "default pool 2/2/1", "pool 4 per shape"];
  const lines: string[][] = [header];
  const atDefault: Array<{ without: Summary; withIt: Summary }> = [];
  for (const row of ROWS) {
    const model = row.model ?? M;
    const workload = generateWorkload(model, seed);
    const prewarm = { ...DEFAULT_PREWARM, ...row.prewarm };
    const run = (config: PoolConfig) => summarize("", simulate(model, workload, config, seed), model.days);
    const cells = [DEFAULT_POOL, uniformPool(4)].map((warmPool) => {
      const without = run({ warmPool, idleTtlS: IDLE_TTL_S });
      const withIt = run({ warmPool, idleTtlS: IDLE_TTL_S, prewarm });
      if (warmPool === DEFAULT_POOL) atDefault.push({ without, withIt });
      return cell(without, withIt);
    });
    lines.push([row.changed, ...cells]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines)
    console.log(
      l
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    );
  const shares = atDefault.map((r) => r.withIt.coldShare);
  const threeX = atDefault.filter((r) => r.without.p95 >= 3 * r.withIt.p95).length;
  console.log(
    `RESULT modelled=1 rows=${ROWS.length} cold_share_prewarm_min=${Math.min(...shares).toFixed(3)} ` +
      `cold_share_prewarm_max=${Math.max(...shares).toFixed(3)} rows_p95_3x=${threeX}`,
  );
}

/** p95 without → with pre-warming (×ratio), the cold share and wasted pod-hours a day with it. */
function cell(without: Summary, withIt: Summary): string {
  const ratio = (without.p95 / withIt.p95).toFixed(1);
  const cold = (100 * withIt.coldShare).toFixed(1);
  return (
    `${without.p95.toFixed(2)} → ${withIt.p95.toFixed(2)} s (×${ratio}; cold ${cold}%, ` +
    `${withIt.prewarm.wastedHours.toFixed(1)} wasted)`
  );
}

main();
