/**
 * Admission benchmark: `npm run bench:admission`.
 *
 * Starts a Redis and a PostgreSQL of its own in a temp folder (default durability: AOF everysec,
 * fsync and synchronous_commit on), the service as its own process (`remote-builder serve`, memory
 * driver), and an account with room for every client. Each client loops: POST /api/v1/builds, then
 * GET /api/v1/builds/:id?wait=10 until the build is ready — that span is the admission latency —
 * then POST .../complete, outside the timed span but on the same client, so the service does
 * every build's whole lifecycle and the throughput pays for completions too (their latency is
 * reported on its own). Runs 1 and then 50 concurrent clients, each for a fixed duration, and
 * measures Redis PING round trips in between.
 *
 * BENCH_SECONDS (default 10) sets the 50-client phase; BENCH_PROFILE=<dir> writes a CPU profile of
 * the service there (node --cpu-prof); BENCH_SYNCHRONOUS_COMMIT=off turns PostgreSQL's commit
 * flushes off, to see what they cost (not for figures of record).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { benchAccount, call, percentile, stopChild } from "./support.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ADMIN_TOKEN = randomBytes(32).toString("hex");
const MANY = 50;
const MANY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ONE_SECONDS = 4;
const WARMUP_SECONDS = 2;
const IDLE_SECONDS = 2;
const PINGS = 2000;

interface Sample {
  /** POST → ready, ms: the admission latency. */
  admit: number;
  post: number;
  wait: number;
  /** The untimed POST .../complete. */
  complete: number;
  /** GET ?wait=10 requests it took to see the build ready. */
  gets: number;
}

interface PhaseResult {
  clients: number;
  seconds: number;
  samples: Sample[];
  /** CPU seconds each process spent during the phase. */
  cpu: Record<string, Cpu>;
  /** How much work the phase made PostgreSQL and Redis do. */
  work: Counters;
}

interface Counters {
  /** PostgreSQL transactions that wrote (each one waits for a WAL flush when it commits). */
  writes: number;
  walBytes: number;
  redisCommands: number;
}

/** The processes whose CPU time is accounted: name → pid (PostgreSQL's includes its backends). */
type Processes = Record<string, number>;

interface Cpu {
  user: number;
  sys: number;
  /** Seconds the process (its main thread) was ready to run but waited for a CPU. */
  waiting: number;
}

async function main(): Promise<void> {
  let result: string;
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  const stops: Array<() => Promise<void>> = [];
  try {
    const started = performance.now();
    const [redis, postgres] = await Promise.all([
      startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
      startPostgres({
        dataDir: join(root, "postgres"),
        port: await freePort(),
        // Only for attributing time to WAL flushes: the figures of record use the defaults.
        ...(process.env.BENCH_SYNCHRONOUS_COMMIT
          ? { settings: { synchronous_commit: process.env.BENCH_SYNCHRONOUS_COMMIT } }
          : {}),
      }),
    ]);
    stops.push(
      () => redis.stop(),
      () => postgres.stop(),
    );
    const databaseUrl = await postgres.createDatabase("remote_builder");
    const port = await freePort();
    const service = startServiceProcess({
      RB_PORT: String(port),
      RB_DATABASE_URL: databaseUrl,
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
      RB_DRIVER: "memory",
      RB_LOG_LEVEL: "warn",
    });
    stops.unshift(() => stopChild(service));
    const base = `http://127.0.0.1:${port}`;
    await untilReady(base, service);
    const token = await benchAccount(base, ADMIN_TOKEN, {
      concurrencyLimit: 1000,
      monthlyBuildMinutes: 1_000_000_000,
    });
    log(`Redis, PostgreSQL and the service up in ${Math.round(performance.now() - started)} ms`);
    const processes: Processes = {
      service: service.pid!,
      postgres: postgres.process.child.pid!,
      redis: redis.process.child.pid!,
      bench: process.pid,
    };

    const counters = await counterSource(databaseUrl, redis.url);
    stops.unshift(() => counters.close());

    await runPhase(base, token, 10, WARMUP_SECONDS, processes, counters.read);
    const idle = await runPhase(base, token, 0, IDLE_SECONDS, processes, counters.read);
    const one = await runPhase(base, token, 1, ONE_SECONDS, processes, counters.read);
    const ping = await redisPings(redis.url, PINGS);
    const many = await runPhase(base, token, MANY, MANY_SECONDS, processes, counters.read);
    const pingAfter = await redisPings(redis.url, PINGS);

    result = report([one, many], idle, ping, pingAfter);
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  }
  // Last, after everything has stopped, so that nothing can print after it.
  console.log(result);
}

function startServiceProcess(env: Record<string, string>): ChildProcess {
  const profile = process.env.BENCH_PROFILE;
  const args = [
    ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
    "--import",
    "tsx",
    join(ROOT, "service/cli/main.ts"),
    "serve",
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}

async function untilReady(base: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    const ok = await fetch(`${base}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the service was not ready within 30 s");
}

/** `clients` loops of admit → ready → complete, for `seconds`. */
async function runPhase(
  base: string,
  token: string,
  clients: number,
  seconds: number,
  processes: Processes,
  counters: () => Promise<Counters>,
): Promise<PhaseResult> {
  const samples: Sample[] = [];
  const workBefore = await counters();
  const cpuBefore = cpuSeconds(processes);
  const started = performance.now();
  const until = started + seconds * 1000;
  if (clients === 0) await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const created = await call(base, "POST", "/api/v1/builds", token, { shape: "small" });
        const t1 = performance.now();
        const path = `/api/v1/builds/${String(created.id)}`;
        let build = created;
        let gets = 0;
        while (build.state !== "ready") {
          gets++;
          if (!["queued", "pending"].includes(String(build.state))) {
            throw new Error(`build ${String(build.id)} is ${String(build.state)}, not ready`);
          }
          build = await call(base, "GET", `${path}?wait=10`, token);
        }
        const t2 = performance.now();
        await call(base, "POST", `${path}/complete`, token, { result: "success" });
        const t3 = performance.now();
        samples.push({ admit: t2 - t0, post: t1 - t0, wait: t2 - t1, complete: t3 - t2, gets });
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(processes);
  const cpu = Object.fromEntries(
    Object.keys(processes).map((k) => [
      k,
      {
        user: cpuAfter[k]!.user - cpuBefore[k]!.user,
        sys: cpuAfter[k]!.sys - cpuBefore[k]!.sys,
        waiting: cpuAfter[k]!.waiting - cpuBefore[k]!.waiting,
      },
    ]),
  );
  const workAfter = await counters();
  const work = {
    writes: workAfter.writes - workBefore.writes,
    walBytes: workAfter.walBytes - workBefore.walBytes,
    redisCommands: workAfter.redisCommands - workBefore.redisCommands,
  };
  return { clients, seconds: elapsed, samples, cpu, work };
}

/**
 * Counters read at once (unlike pg_stat_*, which backends flush lazily): the next transaction id,
 * the WAL position, and Redis's command count. Reading them costs a command or two of each.
 */
async function counterSource(databaseUrl: string, redisUrl: string) {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const redis = new Redis(redisUrl);
  return {
    async read(): Promise<Counters> {
      const { rows } = await db.query(
        `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xid,
                pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal`,
      );
      const info = await redis.info("stats");
      const commands = Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
      return { writes: Number(rows[0].xid), walBytes: Number(rows[0].wal), redisCommands: commands };
    },
    async close(): Promise<void> {
      redis.disconnect();
      await db.end();
    },
  };
}

/**
 * CPU seconds in user and in kernel mode of each process, from /proc: for PostgreSQL, the
 * postmaster, its live backends, and the backends that have exited. Zero off Linux.
 */
function cpuSeconds(processes: Processes): Record<string, Cpu> {
  const TICKS = 100; // USER_HZ on Linux
  const stat = (pid: number | string) => {
    const path = `/proc/${pid}/stat`;
    if (!existsSync(path)) return null;
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const f = readFileSync(path, "utf8").split(") ")[1]!.split(" ").map(Number);
    return { ppid: f[1]!, user: f[11]!, sys: f[12]!, reapedUser: f[13]!, reapedSys: f[14]! };
  };
  // /proc/<pid>/schedstat: time on a CPU, time waiting on a run queue (ns), timeslices.
  const waiting = (pid: number | string) => {
    const path = `/proc/${pid}/schedstat`;
    return existsSync(path) ? Number(readFileSync(path, "utf8").split(" ")[1]) / 1e9 : 0;
  };
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  const result: Record<string, Cpu> = {};
  for (const [name, pid] of Object.entries(processes)) {
    const self = stat(pid);
    let user = self ? self.user + self.reapedUser : 0;
    let sys = self ? self.sys + self.reapedSys : 0;
    let wait = waiting(pid);
    if (name === "postgres") {
      for (const child of pids) {
        const s = stat(child);
        if (s && s.ppid === pid) {
          user += s.user;
          sys += s.sys;
          wait += waiting(child);
        }
      }
    }
    result[name] = { user: user / TICKS, sys: sys / TICKS, waiting: wait };
  }
  return result;
}

/** Sequential PINGs on a client of its own: the Redis round trip, with nothing else on the connection. */
async function redisPings(url: string, count: number): Promise<number[]> {
  const redis = new Redis(url, { enableAutoPipelining: false });
  try {
    await redis.ping();
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await redis.ping();
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    redis.disconnect();
  }
}

const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const pair = (values: number[]) => `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}`;

/** Prints the table; returns the RESULT line (figures for the many-client phase). */
function report(phases: PhaseResult[], idle: PhaseResult, ping: number[], pingAfter: number[]): string {
  const rows = [
    [
      "clients",
      "admissions",
      "seconds",
      "admissions/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "POST p50/p99",
      "wait p50/p99",
      "complete p50/p99",
      "GETs",
      "waits ≥ 450 ms",
    ],
    ...phases.map((p) => {
      const admit = p.samples.map((s) => s.admit);
      return [
        String(p.clients),
        String(p.samples.length),
        p.seconds.toFixed(1),
        (p.samples.length / p.seconds).toFixed(0),
        ms(percentile(admit, 50)),
        ms(percentile(admit, 99)),
        ms(Math.max(...admit)),
        pair(p.samples.map((s) => s.post)),
        pair(p.samples.map((s) => s.wait)),
        pair(p.samples.map((s) => s.complete)),
        (p.samples.reduce((n, s) => n + s.gets, 0) / p.samples.length).toFixed(2),
        String(p.samples.filter((s) => s.wait >= 450).length),
      ];
    }),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  console.log("");
  console.log(
    `admission = POST /api/v1/builds → GET /api/v1/builds/:id?wait=10 until ready; complete is untimed`,
  );
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}` +
      (process.env.BENCH_SYNCHRONOUS_COMMIT
        ? `; synchronous_commit=${process.env.BENCH_SYNCHRONOUS_COMMIT}`
        : ""),
  );
  console.log(line(rows[0]!));
  for (const r of rows.slice(1)) console.log(line(r));
  for (const p of phases) {
    const n = p.samples.length;
    console.log(
      `per admission, ${p.clients} client(s): ${(p.work.writes / n).toFixed(1)} PostgreSQL write transactions, ` +
        `${(p.work.walBytes / n / 1024).toFixed(1)} KiB of WAL, ${(p.work.redisCommands / n).toFixed(1)} Redis commands (counting those run inside Lua scripts)`,
    );
  }
  const idleService = idle.cpu.service!;
  console.log(
    `CPU with no requests (${idle.seconds.toFixed(1)} s): the service ${((100 * (idleService.user + idleService.sys)) / idle.seconds).toFixed(0)}% of one core, ` +
      `${idle.work.writes} PostgreSQL write transactions, ${idle.work.redisCommands} Redis commands (counting those run inside Lua scripts)`,
  );
  for (const p of phases) {
    const pct = (seconds: number) => `${((100 * seconds) / p.seconds).toFixed(0)}%`;
    const shares = Object.entries(p.cpu).map(
      ([name, c]) => `${name} ${pct(c.user + c.sys)} (${pct(c.user)} user)`,
    );
    const service = p.cpu.service!;
    console.log(
      `CPU, ${p.clients} client(s), % of one core: ${shares.join(", ")}; ` +
        `the service spends ${((1000 * (service.user + service.sys)) / p.samples.length).toFixed(1)} ms of CPU per admission`,
    );
    console.log(
      `  ready to run but waiting for a CPU, % of the phase: ` +
        Object.entries(p.cpu)
          .map(([name, c]) => `${name} ${pct(c.waiting)}`)
          .join(", "),
    );
  }
  console.log(
    `redis PING p50/p99 ms: ${pair(ping)} before the ${MANY}-client phase, ${pair(pingAfter)} after (${PINGS} each)`,
  );
  const many = phases[phases.length - 1]!;
  const admit = many.samples.map((s) => s.admit);
  return (
    `RESULT admissions_per_s=${Math.round(many.samples.length / many.seconds)} ` +
    `p99_ms=${ms(percentile(admit, 99))} redis_rtt_ms=${ms(percentile(ping, 50))}`
  );
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
