/**
 * Dashboard benchmark: `npm run bench:dashboard`.
 *
 * Starts a Redis and a PostgreSQL of its own in a temp folder and the service in this process
 * (memory driver), with one account holding BENCH_BUILDS (default 1,000) finished builds spread
 * over this month, each with its ledger row, plus its cache volume and a day of storage hours. It
 * signs in the way a browser does (a one-time link from the API, then the session cookie) and
 * times, over loopback with the client in the same process:
 *
 * 1. the page's first render: the very first GET /dashboard (cold caches: no query plan or
 *    template has run yet), then BENCH_RENDERS (default 50) more, for the median and p95;
 * 2. the baseline, in the same process against the same data: GET /api/v1/builds?limit=100, the
 *    plain builds list (the page lists the newest 100 builds as well).
 *
 * Target: the first render under 300 ms. The last line is
 * `RESULT first_render_ms=<n> builds=<n> render_p50_ms=<n> render_p95_ms=<n> list_api_p50_ms=<n>`.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { PostgresBuildStore } from "../service/adapters/postgres/builds.js";
import { PostgresLedgerStore } from "../service/adapters/postgres/ledger.js";
import type { Build } from "../service/core/build.js";
import { type BuildInsights, SLOWEST_STEPS } from "../service/core/build-insights.js";
import { buildEntry, HOUR_MS, type LedgerEntry } from "../service/core/ledger.js";
import { PostgresVolumeStore } from "../service/adapters/postgres/volumes.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { startService } from "../service/server.js";
import { memoryDriver } from "../test/doubles/memory-driver.js";
import { loadTestConfig } from "../test/harness/context.js";
import { benchAccount, percentile } from "./support.js";

const BUILDS = Number(process.env.BENCH_BUILDS ?? 1000);
const RENDERS = Number(process.env.BENCH_RENDERS ?? 50);
const ADMIN = "bench-admin-token-0123456789abcdef0123456789";
const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (ms: number) => Math.round(ms * 10) / 10;

/** The `i`-th newest of the account's finished builds, spread over the month so far, with its ledger row. */
function finishedBuild(accountId: string, now: number, i: number): { build: Build; entry: LedgerEntry } {
  const createdAt = now - (i + 1) * Math.floor((now - monthStartOf(now)) / (BUILDS + 1));
  const readyAt = createdAt + 2_000 + (i % 7) * 1000;
  const endedAt = readyAt + 60_000 + (i % 13) * 15_000;
  const build: Build = {
    id: randomUUID(),
    accountId,
    tokenId: null,
    shape: i % 3 === 0 ? "medium" : "small",
    profile: null,
    state: i % 10 === 0 ? "failed" : "completed",
    cacheRequest: "wait",
    cacheVolume: "buildkit",
    cacheMode: "persistent",
    cacheReason: null,
    prewarmed: false,
    repositoryKey: null,
    labels: { job: `job-${i}` },
    builderId: `mem-${i}`,
    tier: (["idle", "warm", "cold"] as const)[i % 3]!,
    endpoint: null,
    claimFence: null,
    volumeFence: null,
    createdAt,
    startedAt: createdAt + (i % 5) * 200,
    readyAt,
    endedAt,
    lastActivityAt: endedAt,
    lastSeenAt: endedAt,
    deadlineAt: createdAt + 7_200_000,
    waitDeadlineAt: null,
    endReason: i % 10 === 0 ? "builder-failed" : "completed",
    result: i % 10 === 0 ? "failure" : "success",
    clientCertificate: null,
    bytesIn: 1_000_000 + i * 1000,
    bytesOut: 50_000_000 + i * 10_000,
    repository: "acme/app",
    ref: "refs/heads/main",
    workflow: "ci",
    run: String(i),
    runKey: null,
    cacheWrite: true,
    insights: insightsOf(endedAt, i),
  };
  return { build, entry: buildEntry(build, endedAt, build.endReason!)! };
}

/** What BuildKit's history gives a typical build: most steps cached, the slowest few named. */
function insightsOf(readAt: number, i: number): BuildInsights {
  const slowest = Array.from({ length: SLOWEST_STEPS }, (_, n) => ({
    name: `[${n + 2}/43] RUN make -j8 target-${n}`,
    seconds: 12.4 - n,
    cached: false,
  }));
  const cachedSteps = 43 - (i % 5);
  return {
    status: "read",
    reason: null,
    solves: 1,
    steps: 43,
    cachedSteps,
    cacheHitRatio: cachedSteps / 43,
    buildkitSteps: 48,
    slowest,
    errors: [],
    readAt,
  };
}

function monthStartOf(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

async function timed(url: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-dashboard-"));
  chmodSync(root, 0o755);
  const [redis, postgres] = await Promise.all([
    startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
    startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
  ]);
  const config = loadTestConfig({
    RB_DATABASE_URL: await postgres.createDatabase("bench"),
    RB_REDIS_URL: redis.url,
    RB_ADMIN_TOKEN: ADMIN,
    RB_PORT: "0",
    RB_BROKER_PORT: "0",
    RB_LOG_LEVEL: "error",
  });
  const service = await startService(config, { logger: pino({ level: "error" }), driver: memoryDriver() });
  try {
    const token = await benchAccount(service.url, ADMIN);
    const account = await service.accounts.get("bench");
    const now = Date.now();
    const builds = new PostgresBuildStore(service.pool);
    const ledger = new PostgresLedgerStore(service.pool);
    const made = Array.from({ length: BUILDS }, (_, i) => finishedBuild(account.id, now, i));
    for (let i = 0; i < made.length; i += 50) {
      await Promise.all(made.slice(i, i + 50).map(({ build }) => builds.insert(build)));
    }
    await ledger.append(made.map((m) => m.entry));
    // The account's cache volume, and a day of its storage hours.
    const volume = await new PostgresVolumeStore(service.pool).ensure(account.id, "buildkit", 50, now);
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    await ledger.append(
      Array.from({ length: 24 }, (_, h) => ({
        key: `storage:${volume.id}:${h}`,
        kind: "storage" as const,
        accountId: account.id,
        volumeId: volume.id,
        startedAt: hour - (h + 1) * HOUR_MS,
        endedAt: hour - h * HOUR_MS,
        quantity: 50,
        unit: "gib-hours" as const,
      })),
    );
    await service.pool.query("ANALYZE");
    log(
      `dashboard bench: ${BUILDS} builds, ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}, Node ${process.version}`,
    );

    const link = (await (
      await fetch(`${service.url}/api/v1/dashboard/links`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { path: string };
    const signIn = await fetch(service.url + link.path, { redirect: "manual" });
    const cookie = /rb_dashboard=[^;]+/.exec(signIn.headers.get("set-cookie") ?? "")![0];
    const page = { cookie };
    const api = { authorization: `Bearer ${token}` };

    const first = await timed(`${service.url}/dashboard`, page);
    const renders: number[] = [];
    const lists: number[] = [];
    await timed(`${service.url}/api/v1/builds?limit=100`, api);
    for (let i = 0; i < RENDERS; i++) {
      renders.push(await timed(`${service.url}/dashboard`, page));
      lists.push(await timed(`${service.url}/api/v1/builds?limit=100`, api));
    }
    log(`first render (cold): ${round(first)} ms`);
    log(
      `renders: p50 ${round(percentile(renders, 50))} ms, p95 ${round(percentile(renders, 95))} ms (${RENDERS})`,
    );
    log(
      `builds list API (limit 100): p50 ${round(percentile(lists, 50))} ms, p95 ${round(percentile(lists, 95))} ms`,
    );
    log(first < 300 ? "target met: first render < 300 ms" : "TARGET MISSED: first render >= 300 ms");
    log(
      `RESULT first_render_ms=${round(first)} builds=${BUILDS} render_p50_ms=${round(percentile(renders, 50))} ` +
        `render_p95_ms=${round(percentile(renders, 95))} list_api_p50_ms=${round(percentile(lists, 50))}`,
    );
  } finally {
    await service.stop();
    await Promise.all([redis.stop(), postgres.stop()]);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
