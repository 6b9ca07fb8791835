/**
 * Fleet simulation: `npm run bench:fleet`. The RFC's open question 2, how big the warm pool should
 * be, answered with a discrete-event simulation of a week of builds on a simulated cluster
 * (bench/fleet/): every build is placed by the service's own choosePlacement, and the pool kept by
 * its own warmDeficit.
 *
 * Sweeps the warm-pool size (the same for every shape) against the idle TTL; the baseline (pool 0,
 * TTL 0: every build cold) is one of the sweep's rows, and every row is also given as a ratio to
 * it. Then runs the default configuration (DEFAULT_CONFIG below). All runs see the same workload,
 * drawn from one seed: FLEET_SEED overrides it, and a seed gives the same output byte for byte.
 *
 * Prints the table, writes docs/fleet-simulation.svg, and ends with
 * `RESULT modelled=1 modelled_p95_ready_s=<n> modelled_warm_share=<n> modelled_idle_pod_hours=<n>`
 * for the default configuration: p95 time to ready in seconds, the share of builds a warm pod
 * served (0–1), and the pod-hours a day that idle builders and warm pods hold. Every figure is
 * modelled, not measured: no pod, cluster or service runs; boot and schedule times are the model's
 * inputs (bench/fleet/model.ts), so the line says so in every key.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderChart } from "./fleet/chart.js";
import { DEFAULT_MODEL, type PoolConfig, uniformPool } from "./fleet/model.js";
import { parseSeed } from "./fleet/random.js";
import { coverageTable, poolLabel, type Summary, summarize, table } from "./fleet/report.js";
import { simulate } from "./fleet/simulation.js";
import { generateWorkload } from "./fleet/workload.js";

const DEFAULT_SEED = 20261129;
const POOLS = [0, 1, 2, 4, 8, 16];
const TTLS = [0, 300, 600, 1800];
/** The configuration this project recommends; docs/fleet-simulation.md says why. */
const DEFAULT_CONFIG: PoolConfig = { warmPool: { small: 2, medium: 2, large: 1 }, idleTtlS: 600 };
const CHART = fileURLToPath(new URL("../docs/fleet-simulation.svg", import.meta.url));

function main(): void {
  const started = performance.now();
  const model = DEFAULT_MODEL;
  const seed = parseSeed(process.env.FLEET_SEED, DEFAULT_SEED);
  const workload = generateWorkload(model, seed);
  const run = (label: string, config: PoolConfig) =>
    summarize(label, simulate(model, workload, config, seed), model.days);

  const sweep: Summary[] = [];
  for (const idleTtlS of TTLS) {
    for (const pool of POOLS) {
      const label = pool === 0 && idleTtlS === 0 ? "baseline" : "sweep";
      sweep.push(run(label, { warmPool: uniformPool(pool), idleTtlS }));
    }
  }
  const baseline = sweep[0]!;
  const chosen = run("default", DEFAULT_CONFIG);

  const perDay = workload.builds.filter((b) => b.at >= 0).length / model.days;
  console.log(`fleet simulation, seed ${seed} (FLEET_SEED to change it)`);
  console.log(
    `${model.accounts} accounts, ${perDay.toFixed(0)} builds a day over ${model.days} days ` +
      `(after ${model.warmupS / 3600} h of warm-up), ${model.nodes} nodes × ${model.nodeCpu} vCPU, ` +
      `${model.nodeDiskGiB} GiB of local disk each, ${model.volumeGiB} GiB volumes`,
  );
  console.log(
    `time to ready: p50/p95/p99 from arrival; idle/warm/cold: share of builds per tier; waited: ` +
      `builds that waited for room on a node; pod-h/d and vCPU-h/d: held by idle builders and warm ` +
      `pods per simulated day; boots/d: pods started a day`,
  );
  console.log("");
  for (const line of table([...sweep, chosen], baseline)) console.log(line);
  console.log("");
  console.log(
    `warm-pool coverage at idle TTL ${DEFAULT_CONFIG.idleTtlS} s: of the builds a warm pod could serve ` +
      `(no volume wanted, or none yet; a day, per shape), the share that found one`,
  );
  const atTtl = sweep.filter((s) => s.config.idleTtlS === DEFAULT_CONFIG.idleTtlS);
  for (const line of coverageTable(atTtl, model.days)) console.log(line);
  console.log("");
  const c = chosen;
  console.log(
    `default (pool small/medium/large ${DEFAULT_CONFIG.warmPool.small}/${DEFAULT_CONFIG.warmPool.medium}/` +
      `${DEFAULT_CONFIG.warmPool.large}, idle TTL ${DEFAULT_CONFIG.idleTtlS} s): p95 ${c.p95.toFixed(2)} s ` +
      `(×${(c.p95 / baseline.p95).toFixed(2)} the all-cold baseline's ${baseline.p95.toFixed(2)} s), ` +
      `${c.totalHours.toFixed(1)} idle pod-hours a day`,
  );
  console.log(
    `cold starts alone, p50/p95/p99 s: baseline ${[baseline.cold.p50, baseline.cold.p95, baseline.cold.p99].map((x) => x.toFixed(2)).join(" / ")}, ` +
      `default ${[c.cold.p50, c.cold.p95, c.cold.p99].map((x) => x.toFixed(2)).join(" / ")}`,
  );
  for (const s of [baseline, chosen]) {
    const k = s.counters;
    console.log(
      `${s.label}, in the whole run (warm-up included): peak ${k.peakCpu} of ${model.nodes * model.nodeCpu} vCPU requested, ` +
        `${k.preemptions} idle/warm pods preempted, ${k.evictions} volumes evicted (LRU), ` +
        `${k.expiredVolumes} expired (${model.retentionDays} d unused), ${k.lostVolumes} lost with ` +
        `${k.nodeLosses} nodes, ${s.lostBuilds} builds lost, ${k.overcommits} disk overcommits`,
    );
  }

  writeFileSync(
    CHART,
    renderChart({
      title: `Warm pool and idle TTL: a simulated week (seed ${seed})`,
      pools: POOLS,
      baselineP95: baseline.p95,
      note:
        `default, pool ${poolLabel(DEFAULT_CONFIG.warmPool)} (small/medium/large), idle TTL ${DEFAULT_CONFIG.idleTtlS} s: ` +
        `p95 ${c.p95.toFixed(2)} s, ${c.totalHours.toFixed(0)} idle + warm pod-hours a day`,
      series: TTLS.map((ttl) => ({
        label: `idle TTL ${ttl} s`,
        points: sweep
          .filter((s) => s.config.idleTtlS === ttl)
          .map((s) => ({ pool: s.config.warmPool.small, p95: s.p95, podHours: s.totalHours })),
      })),
    }),
  );
  process.stderr.write(
    `bench: ${sweep.length + 1} runs in ${((performance.now() - started) / 1000).toFixed(1)} s; chart in ${CHART}\n`,
  );
  console.log(
    `RESULT modelled=1 modelled_p95_ready_s=${c.p95.toFixed(2)} ` +
      `modelled_warm_share=${c.warmShare.toFixed(3)} modelled_idle_pod_hours=${c.totalHours.toFixed(1)}`,
  );
}

main();
