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
 * Then pre-warming (issue 18): the default configuration again with the CI's queued events
 * judged by the service's own decidePrewarm (DEFAULT_PREWARM), on the same workload, and with
 * pre-warming at other warm-pool sizes.
 *
 * Prints the tables, writes docs/fleet-simulation.svg, and ends with
 * `RESULT modelled=1 p95_ready_s=<n> p95_ready_prewarm_s=<n> wasted_pod_hours_prewarm=<n>
 * cold_share=<n> cold_share_prewarm=<n> modelled_p95_ready_s=<n> modelled_warm_share=<n>
 * modelled_idle_pod_hours=<n>`: the default configuration's p95 time to ready in seconds without
 * and with pre-warming, the pod-hours a day unused pre-warmed builders held, the share of builds
 * that started cold without and with it (0–1: the p95 is a cold start while that is above 5%, so
 * it says how near the edge the p95 is), then (as before issue 18) the default's p95 again, the share of
 * builds a warm pod served (0–1), and the pod-hours a day idle builders and warm pods hold. Every
 * figure is modelled, not measured: no pod, cluster or service runs; boot, schedule and lead
 * times are the model's inputs (bench/fleet/model.ts).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderChart } from "./fleet/chart.js";
import { DEFAULT_MODEL, DEFAULT_PREWARM, type PoolConfig, uniformPool } from "./fleet/model.js";
import { parseSeed } from "./fleet/random.js";
import {
  coldCauseTable,
  coverageTable,
  poolLabel,
  prewarmTable,
  type Summary,
  summarize,
  table,
} from "./fleet/report.js";
import { simulate } from "./fleet/simulation.js";
import { generateWorkload, type Workload } from "./fleet/workload.js";
import { percentile } from "./support.js";

const DEFAULT_SEED = 20261129;
const POOLS = [0, 1, 2, 4, 8, 16];
const TTLS = [0, 300, 600, 1800];
const PREWARM_POOLS = [0, 1, 2, 4, 8];
/** The configuration this project recommends; docs/fleet-simulation.md says why. */
const DEFAULT_CONFIG: PoolConfig = { warmPool: { small: 2, medium: 2, large: 1 }, idleTtlS: 600 };
/**
 * A cap of one pre-warmed builder per account, beside the service's default (DEFAULT_PREWARM): the
 * p95 turns on whether under 5% of builds start cold, and this shows how near that edge it is.
 */
const TIGHT_CAP = 1;
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
  const prewarmed = run("default", { ...DEFAULT_CONFIG, prewarm: DEFAULT_PREWARM });
  // Not the RESULT's: how near the edge the default's p95 is.
  const tight = run(`cap ${TIGHT_CAP}`, {
    ...DEFAULT_CONFIG,
    prewarm: { ...DEFAULT_PREWARM, maxPerAccount: TIGHT_CAP },
  });
  const byPool = PREWARM_POOLS.map((pool) =>
    run("by pool", {
      warmPool: uniformPool(pool),
      idleTtlS: DEFAULT_CONFIG.idleTtlS,
      prewarm: DEFAULT_PREWARM,
    }),
  );

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

  console.log("");
  printPrewarm(workload, chosen, prewarmed, tight, byPool);

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
    `bench: ${sweep.length + 3 + byPool.length} runs in ${((performance.now() - started) / 1000).toFixed(1)} s; chart in ${CHART}\n`,
  );
  console.log(
    `RESULT modelled=1 p95_ready_s=${c.p95.toFixed(2)} p95_ready_prewarm_s=${prewarmed.p95.toFixed(2)} ` +
      `wasted_pod_hours_prewarm=${prewarmed.prewarm.wastedHours.toFixed(1)} ` +
      `cold_share=${c.coldShare.toFixed(3)} cold_share_prewarm=${prewarmed.coldShare.toFixed(3)} ` +
      `modelled_p95_ready_s=${c.p95.toFixed(2)} ` +
      `modelled_warm_share=${c.warmShare.toFixed(3)} modelled_idle_pod_hours=${c.totalHours.toFixed(1)}`,
  );
}

function printPrewarm(
  workload: Workload,
  without: Summary,
  withIt: Summary,
  tight: Summary,
  byPool: Summary[],
): void {
  const s = DEFAULT_PREWARM;
  const lead = DEFAULT_MODEL.jobs.leadS;
  const leads = workload.jobs
    .filter((j) => j.build !== null)
    .map((j) => workload.builds[j.build!]!.at - j.at);
  const noBuild = workload.jobs.filter((j) => j.build === null).length;
  console.log(
    `pre-warm from queued jobs: the service's decidePrewarm (${s.historyDays} days of history, ${s.minBuilds} builds ` +
      `of the workflow: on the volume when most held it and the ref may write the cache, a fresh warm builder ` +
      `of the shape otherwise), TTL ${s.ttlMs / 1000} s from its start, ${s.maxPerAccount} per account (either kind); ` +
      `an idle builder on the volume kept up to the event + the TTL; never on a busy volume, never preempting; ` +
      `same workload`,
  );
  console.log(
    `lead from queued event to build (assumed, lognormal median ${lead.median} s, σ ${lead.sigma}): drawn ` +
      `p10/p50/p90 ${[10, 50, 90].map((p) => percentile(leads, p).toFixed(0)).join(" / ")} s; ` +
      `${(noBuild / DEFAULT_MODEL.days).toFixed(0)} queued runs a day never ask for a builder ` +
      `(${pct(noBuild / workload.jobs.length)} of queued events)`,
  );
  console.log(
    `pre-warmed: builds that took a pre-warmed builder (of them booting: it was still booting; warm: a warm ` +
      `one; other job: a warm one started for another job); ` +
      `wasted pod-h/d: pre-warmed builders no build took, start to stop; used pod-h/d: taken ones, ` +
      `start to their build (not wasted: it stood in for the boot)`,
  );
  console.log("");
  for (const line of prewarmTable([without, withIt, tight, ...byPool])) console.log(line);
  console.log("");
  console.log(
    `cold builds by cause, as shares of all builds (docs/fleet-simulation.md says what each means)`,
  );
  for (const line of coldCauseTable([without, withIt, tight, ...byPool])) console.log(line);
  console.log("");
  const o = withIt.prewarm.outcomes;
  const perDay = (n: number) => (n / DEFAULT_MODEL.days).toFixed(0);
  const e = withIt.prewarm.expiredPerDay;
  console.log(
    `default with pre-warm, queued events a day: ${perDay(o.started)} started on the volume, ` +
      `${perDay(o["started-warm"])} started warm, ${perDay(o.declined)} declined by the history, ` +
      `${perDay(o["already-warm"])} found a builder on the volume (kept up), ${perDay(o["volume-busy"])} the volume ` +
      `busy, ${perDay(o.cap)} the cap, ${perDay(o["no-room"])} no room; unused to their TTL a day: ` +
      `${e.noBuild.toFixed(0)} no build came, ${e.tookOther.toFixed(0)} its build came in time but took another ` +
      `builder or could use none of this kind, ${e.late.toFixed(0)} its build came later`,
  );
  console.log(
    `default with pre-warm: p95 ${withIt.p95.toFixed(2)} s against ${without.p95.toFixed(2)} s without ` +
      `(×${(without.p95 / withIt.p95).toFixed(2)} lower), ${withIt.prewarm.wastedHours.toFixed(1)} pod-hours a day wasted`,
  );
  console.log(
    `default with pre-warm: cold ${pct(withIt.coldShare)} of builds, p99 ${withIt.p99.toFixed(2)} s; with a cap of ` +
      `${TIGHT_CAP} per account: p95 ${tight.p95.toFixed(2)} s (×${(without.p95 / tight.p95).toFixed(2)} lower), ` +
      `cold ${pct(tight.coldShare)}, ${tight.prewarm.wastedHours.toFixed(1)} pod-hours a day wasted`,
  );
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

main();
