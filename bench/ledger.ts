/**
 * Ledger benchmark: `npm run bench:ledger`.
 *
 * Starts a PostgreSQL of its own in a temp folder with default durability (fsync and
 * synchronous_commit on; the ledger touches no Redis, so none is started), migrates it, and
 * measures:
 *
 * 1. Build ends per second, on the production path: BENCH_WRITERS (default 32) concurrent
 *    writers, each ending one build at a time through PostgresBuildStore.finish, the statement the
 *    service runs when a build ends (the build's compare-and-set UPDATE and its ledger row's INSERT
 *    in one CTE: one round trip, one commit), with the patch and ledger entry that the end of a
 *    build (service/core/build-ends.ts) passes it (lifecycle `complete`, billedEnd, buildEntry),
 *    on builds recorded beforehand in state `building` (untimed). The baseline, in the same process and in alternating rounds of
 *    BENCH_ROUND_SECONDS (default 2.5) × BENCH_ROUNDS (default 4) each: the same row appended
 *    alone (PostgresLedgerStore.append, one plain INSERT). Both on the service's own pool (10
 *    connections).
 * 2. The usage query: the table is bulk-loaded (generate_series in SQL) to 1,000,000 rows spread
 *    over 1,000 accounts and a year (nine build rows to one storage row), vacuumed and analyzed as
 *    autovacuum would; then PostgresLedgerStore.usage is timed over BENCH_QUERIES (default 400)
 *    calls, each for one random account over this month (the report's default range). The
 *    admission quota check (PostgresBuildStore.usedSeconds), which reads the same rows, is timed
 *    alongside for information.
 *
 * Targets: ≥ 2,000 build ends/s and usage p99 ≤ 50 ms. The last line is
 * `RESULT ends_per_s=<n> end_p99_ms=<n> appends_per_s=<n> end_append_ratio=<ends/s over appends/s>
 * usage_p99_ms=<n>`.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Pool } from "pg";
import { PostgresBuildStore } from "../service/adapters/postgres/builds.js";
import { PostgresLedgerStore } from "../service/adapters/postgres/ledger.js";
import { migrate } from "../service/adapters/postgres/migrate.js";
import { createPool } from "../service/adapters/postgres/pool.js";
import { monthStart } from "../service/core/admission.js";
import type { Build } from "../service/core/build.js";
import { billedEnd, buildEntry, type LedgerEntry } from "../service/core/ledger.js";
import { changeOf } from "../service/core/lifecycle.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";

const WRITERS = Number(process.env.BENCH_WRITERS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 2.5);
const WARMUP_SECONDS = 1;
const TABLE_ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ACCOUNTS = 1_000;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 400);
const TARGET_ENDS = 2_000;
const TARGET_P99_MS = 50;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-ledger-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  const postgres = await startPostgres({ dataDir: join(root, "postgres"), port: await freePort() });
  const pool = createPool(await postgres.createDatabase("bench"), (err) => log(`pool error: ${err.message}`));
  try {
    await migrate(pool);
    const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]!.v;
    const durability = (
      await pool.query<{ f: string; s: string }>(
        "SELECT current_setting('fsync') AS f, current_setting('synchronous_commit') AS s",
      )
    ).rows[0]!;
    log(
      `ledger bench: PostgreSQL ${version} (fsync ${durability.f}, synchronous_commit ${durability.s}), ` +
        `${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    );
    const accounts = await createAccounts(pool);

    const writes = await writePhase(pool, accounts);
    const ratio = writes.end.perSecond / writes.append.perSecond;
    for (const [name, w] of [
      ["build ends (finish: UPDATE + ledger INSERT in one CTE, as the service)", writes.end],
      ["appends (the ledger INSERT alone, baseline)", writes.append],
    ] as const) {
      log(
        `${name}: ${WRITERS} writers, ${w.count} in ${w.seconds.toFixed(1)} s = ${Math.round(w.perSecond)}/s; ` +
          `latency p50 ${fmt(w.p50)} ms, p99 ${fmt(w.p99)} ms`,
      );
    }
    log(
      `ends/appends: ×${ratio.toFixed(2)} the throughput, ×${(writes.end.p50 / writes.append.p50).toFixed(2)} the p50 latency ` +
        `(${ROUNDS} alternating rounds of ${ROUND_SECONDS} s each, ends/appends round by round ` +
        `${writes.ratios.map((r) => `×${r.toFixed(2)}`).join(" ")}` +
        `${writes.short > 0 ? `; ${writes.short} end round(s) ran out of recorded builds and were timed to their last end` : ""})`,
    );

    const load = await bulkLoad(pool);
    log(
      `table: ${load.rows.toLocaleString("en")} rows over ${ACCOUNTS} accounts (${load.sizeMiB} MiB with indexes), ` +
        `loaded in ${load.loadSeconds.toFixed(1)} s, vacuum analyze ${load.vacuumSeconds.toFixed(1)} s`,
    );

    const usage = await queryPhase(pool, accounts);
    log(
      `usage (one account, this month): ${QUERIES} calls, p50 ${fmt(usage.usage.p50)} ms, p99 ${fmt(usage.usage.p99)} ms, ` +
        `max ${fmt(usage.usage.max)} ms; ${usage.rowsPerAccount} rows per account in the range on average`,
    );
    log(
      `admission quota check (usedSeconds, same rows): p50 ${fmt(usage.quota.p50)} ms, p99 ${fmt(usage.quota.p99)} ms`,
    );
    log(`usage plan:\n${usage.plan.map((l) => `  ${l}`).join("\n")}`);

    const endsOk = writes.end.perSecond >= TARGET_ENDS;
    const usageOk = usage.usage.p99 <= TARGET_P99_MS;
    log(
      `targets: build ends ≥ ${TARGET_ENDS}/s ${endsOk ? "met" : "MISSED"}, ` +
        `usage p99 ≤ ${TARGET_P99_MS} ms ${usageOk ? "met" : "MISSED"}; ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s in all`,
    );
    log(
      `RESULT ends_per_s=${Math.round(writes.end.perSecond)} end_p99_ms=${fmt(writes.end.p99)} ` +
        `appends_per_s=${Math.round(writes.append.perSecond)} end_append_ratio=${ratio.toFixed(2)} ` +
        `usage_p99_ms=${fmt(usage.usage.p99)}`,
    );
  } finally {
    await pool.end();
    await postgres.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

async function createAccounts(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO accounts (handle, plan, features, concurrency_limit, monthly_build_minutes, cache_volume_gib, allowed_shapes)
     SELECT 'bench-' || g, 'team', '{remote_builder}', 3, 3000, 50, '{small,medium,large}'
       FROM generate_series(1, $1) g
     RETURNING id`,
    [ACCOUNTS],
  );
  return rows.map((r) => r.id);
}

type Writer = "end" | "append";

/**
 * The two writers, in alternating rounds so that both see the same machine: `end`, the service's
 * end-of-build statement (PostgresBuildStore.finish: the build's compare-and-set and its ledger
 * row in one CTE, given what the build services give it: the lifecycle's `complete`, billedEnd
 * and buildEntry), on builds recorded beforehand as `building`; and `append`, the baseline, one
 * plain insert of the same row (PostgresLedgerStore.append). WRITERS concurrent writers each, on
 * the service's own pool (10 connections); one statement, one commit per build. Each round records
 * half as many builds again as it is likely to end; those left over stay `building` (a few per
 * account), as running builds would when the quota check reads them later.
 */
async function writePhase(pool: Pool, accounts: string[]) {
  const ledger = new PostgresLedgerStore(pool);
  const builds = new PostgresBuildStore(pool);
  const totals = {
    end: { count: 0, seconds: 0, latencies: [] as number[] },
    append: { count: 0, seconds: 0, latencies: [] as number[] },
  };
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  // Builds for the next `end` round, recorded (untimed) before it starts.
  let building: Build[] = [];
  const record = async (count: number) => {
    const made = Array.from({ length: count }, () => runningBuild(pick()));
    const queue = [...made];
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        for (let b = queue.pop(); b; b = queue.pop()) await builds.insert(b);
      }),
    );
    building = made;
  };
  const endOne = async (): Promise<boolean> => {
    const build = building.pop();
    if (!build) return false;
    const endedAt = billedEnd(build, "complete", Date.now());
    const ended = await builds.finish(
      build.id,
      changeOf(build.state, "complete"),
      { endedAt, endReason: "completed", result: "success" },
      buildEntry(build, endedAt, "completed"),
    );
    if (ended?.state !== "completed") throw new Error(`build ${build.id} did not end`);
    return true;
  };
  const appendOne = async (): Promise<boolean> => {
    const added = await ledger.append([appendedEntry(pick())]);
    if (added !== 1) throw new Error(`append wrote ${added} rows`);
    return true;
  };
  /** One round of `writer` for `seconds`, or until the recorded builds run out; returns writes/s. */
  const round = async (writer: Writer, seconds: number, measure: boolean): Promise<number> => {
    const write = writer === "end" ? endOne : appendOne;
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    const latencies: number[] = [];
    let last = t0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (performance.now() < until) {
          const t = performance.now();
          if (!(await write())) return; // out of recorded builds: the round ends early
          last = performance.now();
          latencies.push(last - t);
        }
      }),
    );
    const elapsed = (last - t0) / 1000;
    if (measure) {
      totals[writer].count += latencies.length;
      totals[writer].seconds += elapsed;
      totals[writer].latencies.push(...latencies);
    }
    return latencies.length / elapsed;
  };

  // Warm-up: one untimed second of each; the append rate sizes the batches of builds to end.
  let rate = await round("append", WARMUP_SECONDS, false);
  await record(Math.ceil(rate * WARMUP_SECONDS * 1.5) + WRITERS);
  await round("end", WARMUP_SECONDS, false);
  let short = 0;
  /** Each round's ends/s over the appends/s of the round before it: the spread of the ratio. */
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const appended = await round("append", ROUND_SECONDS, true);
    rate = Math.max(rate, appended);
    await record(Math.ceil(rate * ROUND_SECONDS * 1.5) + WRITERS);
    ratios.push((await round("end", ROUND_SECONDS, true)) / appended);
    if (building.length === 0) short++;
  }
  const summary = (writer: Writer) => {
    const t = totals[writer];
    const sorted = t.latencies.sort((a, b) => a - b);
    return {
      count: t.count,
      seconds: t.seconds,
      perSecond: t.count / t.seconds,
      p50: pct(sorted, 0.5),
      p99: pct(sorted, 0.99),
    };
  };
  return { end: summary("end"), append: summary("append"), short, ratios };
}

/** A build as the service records it once it is ready and in use: what `finish` ends. */
function runningBuild(accountId: string): Build {
  const now = Date.now();
  const readyAt = now - (30 + Math.floor(Math.random() * 1800)) * 1000;
  return {
    id: randomUUID(),
    accountId,
    tokenId: null,
    shape: "small",
    profile: "default",
    state: "building",
    cacheRequest: "wait",
    cacheVolume: "default",
    cacheMode: "persistent",
    cacheReason: null,
    prewarmed: false,
    repositoryKey: null,
    labels: { repository: "bench/app" },
    builderId: `builder-${randomUUID()}`,
    tier: "idle",
    endpoint: "tcp://10.0.0.1:1234",
    claimFence: 1,
    volumeFence: 1,
    createdAt: readyAt - 2_000,
    startedAt: readyAt - 1_500,
    readyAt,
    endedAt: null,
    lastActivityAt: now,
    lastSeenAt: now,
    deadlineAt: now + 3_600_000,
    waitDeadlineAt: null,
    endReason: null,
    result: null,
    // As long as the PEM the service signs for each build: finish returns the row with it.
    clientCertificate: CERTIFICATE_SIZED,
    bytesIn: 1 << 20,
    bytesOut: 1 << 16,
    repository: null,
    ref: null,
    workflow: null,
    run: null,
    runKey: null,
    cacheWrite: true,
    insights: null,
  };
}

const CERTIFICATE_SIZED = `-----BEGIN CERTIFICATE-----\n${"A".repeat(760)}\n-----END CERTIFICATE-----\n`;

/** The row the end statement writes for a build, for the baseline's plain insert. */
function appendedEntry(accountId: string): LedgerEntry {
  return buildEntry(runningBuild(accountId), Date.now(), "completed")!;
}

/**
 * Fills the table to TABLE_ROWS in SQL: rows spread evenly over the accounts and over the last
 * year, one in ten a storage hour. Then VACUUM ANALYZE, as autovacuum would after such a load.
 */
async function bulkLoad(pool: Pool) {
  const existing = Number((await pool.query("SELECT count(*) AS n FROM ledger_entries")).rows[0].n);
  const t0 = performance.now();
  await pool.query(
    `WITH ids AS (SELECT array_agg(id ORDER BY handle) AS ids, count(*)::int AS n FROM accounts)
     INSERT INTO ledger_entries
       (idempotency_key, kind, account_id, build_id, shape, volume_id, started_at, ended_at, quantity, unit, end_reason)
     SELECT CASE WHEN r.storage THEN 'storage:' || r.volume || ':' || r.g ELSE 'build:' || r.build END,
            CASE WHEN r.storage THEN 'storage' ELSE 'build' END,
            r.account,
            CASE WHEN r.storage THEN NULL ELSE r.build END,
            CASE WHEN r.storage THEN NULL ELSE (ARRAY['small', 'medium', 'large'])[1 + r.g % 3] END,
            CASE WHEN r.storage THEN r.volume END,
            CASE WHEN r.storage THEN date_trunc('hour', r.at) ELSE r.at END,
            CASE WHEN r.storage THEN date_trunc('hour', r.at) + interval '1 hour'
                 ELSE r.at + make_interval(secs => r.seconds) END,
            CASE WHEN r.storage THEN 50 ELSE r.seconds END,
            CASE WHEN r.storage THEN 'gib-hours' ELSE 'seconds' END,
            CASE WHEN r.storage THEN NULL ELSE 'completed' END
       FROM (SELECT g,
                    g % 10 = 0 AS storage,
                    ids.ids[1 + g % ids.n] AS account,
                    md5(ids.ids[1 + g % ids.n]::text)::uuid AS volume,
                    gen_random_uuid() AS build,
                    now() - interval '365 days' + (g::float8 / $1) * interval '365 days' AS at,
                    30 + (g::bigint * 7919) % 1800 AS seconds
               FROM generate_series(1, $1) g, ids) r`,
    [TABLE_ROWS - existing],
  );
  const loadSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await pool.query("VACUUM ANALYZE ledger_entries");
  const vacuumSeconds = (performance.now() - t1) / 1000;
  const { rows } = await pool.query<{ n: string; bytes: string }>(
    "SELECT count(*) AS n, pg_total_relation_size('ledger_entries') AS bytes FROM ledger_entries",
  );
  return {
    rows: Number(rows[0]!.n),
    sizeMiB: Math.round(Number(rows[0]!.bytes) / 2 ** 20),
    loadSeconds,
    vacuumSeconds,
  };
}

async function queryPhase(pool: Pool, accounts: string[]) {
  const ledger = new PostgresLedgerStore(pool);
  const builds = new PostgresBuildStore(pool);
  const now = Date.now();
  const from = monthStart(now);
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  for (let i = 0; i < 20; i++) await ledger.usage(pick(), from, now); // warm-up
  const usage: number[] = [];
  const quota: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const account = pick();
    let t = performance.now();
    await ledger.usage(account, from, now);
    usage.push(performance.now() - t);
    t = performance.now();
    await builds.usedSeconds(account, from, now);
    quota.push(performance.now() - t);
  }
  const sample = pick();
  const { rows: counted } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM ledger_entries WHERE ended_at > $1 AND started_at < $2",
    [new Date(from), new Date(now)],
  );
  const { rows: plan } = await pool.query<{ "QUERY PLAN": string }>(
    `EXPLAIN (ANALYZE, BUFFERS)
     SELECT kind, shape,
            sum(CASE WHEN kind = 'build'
                     THEN extract(epoch FROM least(ended_at, $3) - greatest(started_at, $2))
                     ELSE quantity END) AS amount
       FROM ledger_entries
      WHERE account_id = $1 AND ended_at > $2 AND started_at < $3
        AND (kind = 'build' OR started_at >= $2)
      GROUP BY kind, shape`,
    [sample, new Date(from), new Date(now)],
  );
  return {
    usage: summarize(usage),
    quota: summarize(quota),
    rowsPerAccount: Math.round(Number(counted[0]!.n) / accounts.length),
    plan: plan.map((r) => r["QUERY PLAN"]),
  };
}

function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted.at(-1) ?? 0 };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:ledger failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
