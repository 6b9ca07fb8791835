/**
 * Admission benchmark: `npm run bench:admission`.
 *
 * Starts a Redis and a PostgreSQL of its own in a temp folder (default durability: AOF everysec,
 * fsync and synchronous_commit on), the service as its own process (`remote-builder serve`, memory
 * driver), and an account with room for every client. Each client loops: POST /api/v1/builds, then
 * GET /api/v1/builds/:id?wait=10 until the build is ready — that span is the admission latency —
 * then POST .../complete, outside the timed span but on the same client, so the service does
 * every build's whole lifecycle and the throughput pays for completions too (their latency is
 * reported on its own). Every build sends a public key, as the Action and the CLI do: a fresh
 * ECDSA P-256 key pair per build (`createKeyFiles`, the client's own code), so the service signs a
 * client certificate for each. The key pairs are made before each phase, since a runner makes its
 * own on its own machine: made during the phase, they would take the CPU that the service, on the
 * same cores here, is measured with (a phase that runs short makes more as it goes, and says so).
 * Each build that sent a key is checked once ready, outside the timed span: its certificate must be
 * an X.509 certificate for that very public key, naming the build (`CN=build <id>`), so the phase
 * fails rather than time a path on which no certificate was signed.
 * Runs 1 and then 50 concurrent clients, each for a fixed duration, then 50 clients that send no
 * key (the baseline: what the certificates cost), and measures Redis PING round trips in between.
 *
 * Then the queues, on a second account with BENCH_QUEUE_SLOTS (default 5) concurrent builds and
 * BENCH_QUEUE_CLIENTS (default 20) clients, each sending a key and waitSeconds, so that builds
 * are queued (FIFO). Each client completes its build as soon as it is ready, so what is held
 * turns over as fast as the service hands it on. Two phases:
 * - the concurrency queue: builds ask for a cold cache (`cache: cold`), so they wait for a
 *   concurrency slot alone; three in four are queued behind the account's limit;
 * - the cache-volume queue, the Action's default (`cache: wait`): an account's volume has one
 *   writer, so builds hold a slot and wait for the volume, one running at a time.
 * The hand-over latency is the time from a release (POST .../complete sent) to the build queued
 * next being seen ready by its client's GET ?wait=10: each freed slot (or the freed volume) is
 * paired with the next build that took one, in time order (bench/queue-handover.ts). The same
 * pairing on the service's own timestamps (endedAt → admittedAt, the queued → pending move;
 * → readyAt) is printed beside it, and how many queued builds were admitted ahead of one that
 * surely joined the queue before them (its POST answered before theirs was recorded).
 *
 * The headline is the service's CPU per admission at 50 clients with keys (its CPU time over the
 * phase, from /proc, over the admissions the phase made: the whole cycle, complete included):
 * `RESULT service_cpu_ms=<n> cert_cpu_ratio=<with keys / without> admissions_per_s=<n> p99_ms=<n>
 * redis_rtt_ms=<n> queue_handover_p50_ms=<n> queue_handover_p99_ms=<n>
 * handover_admit_ratio=<queue hand-over p50 / the 1-client admission's p50>
 * volume_handover_p50_ms=<n>` (queue_*: the concurrency queue; volume_*: the cache-volume queue).
 *
 * BENCH_SECONDS (default 10) sets the 50-client phases and the queue phase; BENCH_PROFILE=<dir>
 * profiles the service's main thread over both 50-client phases (through its inspector), writes
 * the profiles there and prints the top self-time functions and packages with keys, and what the
 * keys added (a profiled run's CPU figures include the profiler's own cost);
 * BENCH_SYNCHRONOUS_COMMIT=off turns
 * PostgreSQL's commit flushes off, to see what they cost (not for figures of record).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { createKeyFiles, type KeyFiles } from "../service/client/keys.js";
import { fifoInversions, handOverTimes } from "./queue-handover.js";
import {
  benchAccount,
  call,
  type CpuProfile,
  largest,
  percentile,
  RemoteProfiler,
  type SelfTime,
  selfTime,
  stopChild,
} from "./support.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ADMIN_TOKEN = randomBytes(32).toString("hex");
const MANY = 50;
const MANY_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ONE_SECONDS = 4;
const WARMUP_SECONDS = 2;
const IDLE_SECONDS = 2;
const PINGS = 2000;
const PROFILE_DIR = process.env.BENCH_PROFILE;
const PROFILE_INTERVAL_US = 250;
/** Key pairs made ahead of a phase, per second it runs: more than any run here has admitted. */
const KEYS_PER_SECOND = 400;
const QUEUE_SLOTS = Number(process.env.BENCH_QUEUE_SLOTS ?? 5);
const QUEUE_CLIENTS = Number(process.env.BENCH_QUEUE_CLIENTS ?? 20);
/** How long a queued build may wait: far longer than any wait here. */
const QUEUE_WAIT_SECONDS = 300;

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
  /** Whether each build sent a public key (and so had a client certificate signed). */
  withKey: boolean;
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
    const inspectorPort = PROFILE_DIR ? await freePort() : null;
    const service = startServiceProcess(inspectorPort, {
      RB_PORT: String(port),
      RB_DATABASE_URL: databaseUrl,
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
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

    // Key pairs for a phase are made before it starts (see keySupply).
    const keys = (seconds: number) => keySupply(join(root, "keys"), seconds * KEYS_PER_SECOND);
    const phase = (clients: number, seconds: number, supply: KeySupply | null) =>
      runPhase(base, token, { clients, seconds, keys: supply }, processes, counters.read);
    await phase(10, WARMUP_SECONDS, keys(WARMUP_SECONDS));
    await phase(10, WARMUP_SECONDS, null);
    const idle = await phase(0, IDLE_SECONDS, null);
    const one = await phase(1, ONE_SECONDS, keys(ONE_SECONDS));
    const ping = await redisPings(redis.url, PINGS);
    const manyKeys = keys(MANY_SECONDS);
    const profiler = inspectorPort ? await RemoteProfiler.connect(inspectorPort) : null;
    await profiler?.start(PROFILE_INTERVAL_US);
    const many = await phase(MANY, MANY_SECONDS, manyKeys);
    const profile = await profiler?.stop();
    await profiler?.start(PROFILE_INTERVAL_US);
    const baseline = await phase(MANY, MANY_SECONDS, null);
    const baselineProfile = await profiler?.stop();
    profiler?.close();
    const pingAfter = await redisPings(redis.url, PINGS);
    const queueToken = await benchAccount(
      base,
      ADMIN_TOKEN,
      { concurrencyLimit: QUEUE_SLOTS, monthlyBuildMinutes: 1_000_000_000 },
      "bench-queue",
    );
    const queues = [
      await runQueuePhase(base, queueToken, "cold", MANY_SECONDS, keys(MANY_SECONDS)),
      await runQueuePhase(base, queueToken, "wait", MANY_SECONDS, keys(MANY_SECONDS)),
    ] as const;

    result = report([one, many, baseline], idle, ping, pingAfter, queues);
    if (profile && baselineProfile) {
      reportProfile({ profile, phase: many }, { profile: baselineProfile, phase: baseline }, PROFILE_DIR!);
    }
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  }
  // Last, after everything has stopped, so that nothing can print after it.
  console.log(result);
}

/** The service as production runs it; with an inspector on loopback when the bench profiles it. */
function startServiceProcess(inspectorPort: number | null, env: Record<string, string>): ChildProcess {
  const args = [
    ...(inspectorPort ? [`--inspect=127.0.0.1:${inspectorPort}`] : []),
    "--import",
    "tsx",
    // `serve` with memory builders (which `serve` itself refuses).
    join(ROOT, "test/harness/serve-memory.ts"),
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

/**
 * `count` key pairs made now, in `parent`, handed out one per build; when they run out, more are
 * made on demand (`late` counts them). Its folder goes with `discard`.
 */
function keySupply(parent: string, count: number) {
  const made = Array.from({ length: count }, () => createKeyFiles(parent));
  const supply = {
    late: 0,
    take(): KeyFiles {
      const keys = made.pop();
      if (keys) return keys;
      supply.late++;
      return createKeyFiles(parent);
    },
    discard(): void {
      rmSync(parent, { recursive: true, force: true });
    },
  };
  return supply;
}

type KeySupply = ReturnType<typeof keySupply>;

/**
 * `clients` loops of admit → ready → complete, for `seconds`. With `keys`, each build sends the
 * public half of a key pair of its own, as the Action does.
 */
async function runPhase(
  base: string,
  token: string,
  { clients, seconds, keys }: { clients: number; seconds: number; keys: KeySupply | null },
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
        const key = keys?.take();
        const t0 = performance.now();
        const created = await call(base, "POST", "/api/v1/builds", token, {
          shape: "small",
          ...(key ? { publicKey: key.publicKeyPem } : {}),
        });
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
        if (key) checkCertificate(build, key);
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
  if (keys?.late) log(`${keys.late} key pairs were made during the ${clients}-client phase`);
  keys?.discard();
  return { clients, withKey: keys !== null, seconds: elapsed, samples, cpu, work };
}

/**
 * Fails unless `build` carries a client certificate signed for `key`'s public half and naming the
 * build: proof that the service signed one on the path just timed.
 */
function checkCertificate(build: Record<string, unknown>, key: KeyFiles): void {
  if (typeof build.certificate !== "string") {
    throw new Error(`build ${String(build.id)} is ready with no client certificate`);
  }
  const cert = new X509Certificate(build.certificate);
  const certified = cert.publicKey.export({ type: "spki", format: "pem" }).toString();
  if (certified !== key.publicKeyPem) {
    throw new Error(`build ${String(build.id)}'s certificate is not for the key it sent`);
  }
  if (!cert.subject.includes(`CN=build ${String(build.id)}`)) {
    throw new Error(`build ${String(build.id)}'s certificate names ${cert.subject}`);
  }
}

/** One build of the queue phase: the client's marks (performance.now()) and the service's (epoch ms). */
interface QueuedRun {
  queued: boolean;
  waitingFor: string | null;
  /** Its POST was answered (epoch ms, to compare with the service's marks). */
  answeredAt: number;
  /** The client saw it ready (its GET ?wait=10 answered `ready`). */
  readyAt: number;
  /** POST .../complete sent, and answered. */
  releaseAt: number;
  releasedAt: number;
  service: { createdAt: number; admittedAt: number; readyAt: number; endedAt: number };
}

interface QueueResult {
  /** cold: builds wait for a concurrency slot alone; wait: also for the account's cache volume. */
  cache: "cold" | "wait";
  clients: number;
  /** What is handed on: QUEUE_SLOTS slots, or the one volume. */
  capacity: number;
  seconds: number;
  runs: QueuedRun[];
  /** Release (complete sent) → the next queued build seen ready by its client, ms. */
  handOver: number[];
  /** The same from complete's answer. */
  handOverFromAnswer: number[];
  /** On the service's timestamps: endedAt → the next queued build's admittedAt, and its readyAt. */
  serviceToPending: number[];
  serviceToReady: number[];
  inversions: number;
}

/**
 * QUEUE_CLIENTS loops of admit → ready → complete on an account with QUEUE_SLOTS slots, for
 * `seconds`: each build sends a key and may wait, so most are queued; see the file's comment.
 */
async function runQueuePhase(
  base: string,
  token: string,
  cache: "cold" | "wait",
  seconds: number,
  keys: KeySupply,
): Promise<QueueResult> {
  // With a cold cache only the slots are handed on; with the volume, one build runs at a time.
  const capacity = cache === "cold" ? QUEUE_SLOTS : 1;
  const runs: QueuedRun[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  const epoch = (iso: unknown) => Date.parse(String(iso));
  await Promise.all(
    Array.from({ length: QUEUE_CLIENTS }, async () => {
      while (performance.now() < until) {
        const key = keys.take();
        const created = await call(base, "POST", "/api/v1/builds", token, {
          shape: "small",
          publicKey: key.publicKeyPem,
          cache,
          waitSeconds: QUEUE_WAIT_SECONDS,
        });
        const answeredAt = Date.now();
        const queue = created.queue as { waitingFor: string } | null;
        const path = `/api/v1/builds/${String(created.id)}`;
        let build = created;
        while (build.state !== "ready") {
          if (!["queued", "pending"].includes(String(build.state))) {
            throw new Error(`build ${String(build.id)} is ${String(build.state)}, not ready`);
          }
          build = await call(base, "GET", `${path}?wait=10`, token);
        }
        const readyAt = performance.now();
        checkCertificate(build, key);
        const releaseAt = performance.now();
        const ended = await call(base, "POST", `${path}/complete`, token, { result: "success" });
        runs.push({
          queued: created.state === "queued",
          waitingFor: queue?.waitingFor ?? null,
          readyAt,
          releaseAt,
          releasedAt: performance.now(),
          answeredAt,
          service: {
            createdAt: epoch(build.createdAt),
            admittedAt: epoch(build.admittedAt),
            readyAt: epoch(build.readyAt),
            endedAt: epoch(ended.endedAt),
          },
        });
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  if (keys.late) log(`${keys.late} key pairs were made during the ${cache}-cache queue phase`);
  keys.discard();
  const takes = (at: (r: QueuedRun) => number) => runs.map((r) => ({ at: at(r), queued: r.queued }));
  const queued = runs.filter((r) => r.queued);
  return {
    cache,
    clients: QUEUE_CLIENTS,
    capacity,
    seconds: elapsed,
    runs,
    handOver: handOverTimes(
      capacity,
      runs.map((r) => r.releaseAt),
      takes((r) => r.readyAt),
    ),
    handOverFromAnswer: handOverTimes(
      capacity,
      runs.map((r) => r.releasedAt),
      takes((r) => r.readyAt),
    ),
    serviceToPending: handOverTimes(
      capacity,
      runs.map((r) => r.service.endedAt),
      takes((r) => r.service.admittedAt),
    ),
    serviceToReady: handOverTimes(
      capacity,
      runs.map((r) => r.service.endedAt),
      takes((r) => r.service.readyAt),
    ),
    inversions: fifoInversions(
      queued.map((r) => ({
        createdAt: r.service.createdAt,
        answeredAt: r.answeredAt,
        admittedAt: r.service.admittedAt,
      })),
    ),
  };
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
function report(
  phases: PhaseResult[],
  idle: PhaseResult,
  ping: number[],
  pingAfter: number[],
  queues: readonly [QueueResult, QueueResult],
): string {
  const rows = [
    [
      "clients",
      "key",
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
        p.withKey ? "yes" : "no",
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
    `admission = POST /api/v1/builds → GET /api/v1/builds/:id?wait=10 until ready; complete is untimed; ` +
      `key: whether each build sent a public key (a certificate signed per build, as the Action does)`,
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
      `per admission, ${label(p)}: ${(p.work.writes / n).toFixed(1)} PostgreSQL write transactions, ` +
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
    console.log(
      `CPU, ${label(p)}, % of one core: ${shares.join(", ")}; ` +
        `the service spends ${ms(serviceCpuMs(p))} ms of CPU per admission`,
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
  for (const queue of queues) {
    const queued = queue.runs.filter((r) => r.queued);
    const waitingFor = [...new Set(queued.map((r) => r.waitingFor))].join(", ");
    const name =
      queue.cache === "cold"
        ? "concurrency queue (cache: cold)"
        : "cache-volume queue (cache: wait, the Action's default)";
    console.log(
      `${name}: ${queue.clients} clients, ${QUEUE_SLOTS} slots, keys and waitSeconds on; ` +
        `${queue.runs.length} builds in ${queue.seconds.toFixed(1)} s = ${(queue.runs.length / queue.seconds).toFixed(0)}/s, ` +
        `${queued.length} of them queued (waiting for ${waitingFor || "nothing"}); ` +
        `${queue.inversions} admitted ahead of a build that surely joined the queue before them`,
    );
    console.log(
      `  hand-over p50/p99 ms (${queue.handOver.length} ${queue.cache === "cold" ? "slots" : "volume releases"} handed on): ` +
        `complete sent → next queued build seen ready ${pair(queue.handOver)}; ` +
        `from complete's answer ${pair(queue.handOverFromAnswer)}; ` +
        `service timestamps, ended → next admitted (pending) ${pair(queue.serviceToPending)}, → ready ${pair(queue.serviceToReady)}`,
    );
  }
  const many = phases.find((p) => p.clients === MANY && p.withKey)!;
  const baseline = phases.find((p) => p.clients === MANY && !p.withKey)!;
  const one = phases.find((p) => p.clients === 1)!;
  const admit = many.samples.map((s) => s.admit);
  const [slots, volume] = queues;
  const handOverP50 = percentile(slots.handOver, 50);
  const oneAdmitP50 = percentile(
    one.samples.map((s) => s.admit),
    50,
  );
  return (
    `RESULT service_cpu_ms=${ms(serviceCpuMs(many))} ` +
    `cert_cpu_ratio=${(serviceCpuMs(many) / serviceCpuMs(baseline)).toFixed(2)} ` +
    `admissions_per_s=${Math.round(many.samples.length / many.seconds)} ` +
    `p99_ms=${ms(percentile(admit, 99))} redis_rtt_ms=${ms(percentile(ping, 50))} ` +
    `queue_handover_p50_ms=${ms(handOverP50)} queue_handover_p99_ms=${ms(percentile(slots.handOver, 99))} ` +
    `handover_admit_ratio=${(handOverP50 / oneAdmitP50).toFixed(2)} ` +
    `volume_handover_p50_ms=${ms(percentile(volume.handOver, 50))}`
  );
}

/** The service's CPU time over a phase, per admission the phase made (complete included). */
function serviceCpuMs(p: PhaseResult): number {
  const service = p.cpu.service!;
  return (1000 * (service.user + service.sys)) / p.samples.length;
}

function label(p: PhaseResult): string {
  return `${p.clients} client(s)${p.withKey ? "" : ", no key"}`;
}

/**
 * Writes both profiles and prints where the service's main thread was busy in the phase with keys,
 * by self time, then what the keys added: the functions whose time per admission grew the most
 * against the phase without.
 */
function reportProfile(
  keyed: { profile: CpuProfile; phase: PhaseResult },
  keyless: { profile: CpuProfile; phase: PhaseResult },
  dir: string,
): void {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const files = [keyed, keyless].map(({ profile, phase }) => {
    const file = join(dir, `service-${stamp}-${phase.withKey ? "keys" : "no-keys"}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  });
  const [withKeys, without] = [keyed, keyless].map(({ profile }) => selfTime(profile, ROOT)) as [
    SelfTime,
    SelfTime,
  ];
  /** Microseconds of main-thread time per admission that `samples` stand for. */
  const perAdmission = (samples: number, phase: PhaseResult) =>
    (samples * PROFILE_INTERVAL_US) / phase.samples.length;
  const share = (samples: number) => `${((100 * samples) / withKeys.busy).toFixed(1).padStart(5)}%`;
  const us = (n: number) => `${n.toFixed(0).padStart(5)} µs`;
  console.log(`profiles of the service's main thread over the ${MANY}-client phases: ${files.join(", ")}`);
  console.log(
    `  busy per admission: ${us(perAdmission(withKeys.busy, keyed.phase))} with keys, ` +
      `${us(perAdmission(without.busy, keyless.phase))} without (a sample every ${PROFILE_INTERVAL_US} µs ` +
      `of wall time, so time spent waiting for a CPU counts too)`,
  );
  console.log(`  with keys, by self time (% of busy samples, µs per admission):`);
  for (const [name, samples] of largest(withKeys.functions, 15)) {
    console.log(`  ${share(samples)} ${us(perAdmission(samples, keyed.phase))}  ${name}`);
  }
  console.log(
    `  by package: ${largest(withKeys.packages, 12)
      .map(([name, samples]) => `${name} ${share(samples).trim()}`)
      .join(", ")}`,
  );
  const growth = new Map(
    [...withKeys.functions].map(([name, samples]) => [
      name,
      perAdmission(samples, keyed.phase) - perAdmission(without.functions.get(name) ?? 0, keyless.phase),
    ]),
  );
  console.log(`  what the keys added, µs per admission against the phase without:`);
  for (const [name, added] of largest(growth, 8)) console.log(`  ${us(added)}  ${name}`);
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

main().catch((err: Error) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
