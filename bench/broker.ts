/**
 * Broker benchmark: `npm run bench:broker`.
 *
 * Starts a Redis and a PostgreSQL of its own in a temp folder, and the service in a child process
 * (this file again, with `--service`: `startService` with the memory driver, whose builders are
 * served by this process). Each builder is an mTLS echo target that requires a certificate from the
 * service CA, offers only h2 and echoes with backpressure; it runs here, in the benchmark process,
 * so that the broker's process does nothing but the service and the broker. The same target is
 * reached two ways: through the broker, with the build's client certificate, and directly, with a
 * certificate from the same CA, as the broker itself dials it.
 *
 *   (a) throughput: 1 GiB sent and 1 GiB echoed back on one connection, at once; runs alternate
 *       direct, broker, direct, broker and the best of each counts;
 *   (b) latency: 1 KiB ping-pong, one message in flight, p50 and p99, direct and through the broker,
 *       the two connections taking turns;
 *   (c) memory: 1,000 idle connections through the broker (handshake done, one round trip each, so
 *       the broker's leg to the builder is up too); the service process's RSS, after a forced GC,
 *       before and after, read inside the child (process.memoryUsage) over IPC.
 *
 * BENCH_GIB (default 1) sets the bytes each way per throughput run; BENCH_ROUNDS (default 5000) the
 * ping-pong rounds; BENCH_PROFILE=<dir> writes a CPU profile of the service there (node --cpu-prof).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { MemoryDriver } from "../test/doubles/memory-driver.js";
import type { DriverContext } from "../service/server.js";
import { CertificateAuthority } from "../service/certs/authority.js";
import { loadTestConfig } from "../test/harness/context.js";
import type { BuilderTls } from "../service/core/ports.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import type { BrokerInfo } from "../service/http/schemas.js";
import { startService } from "../service/server.js";
import { benchAccount, call, percentile, stopChild } from "./support.js";
import { builderTlsOptions } from "../test/harness/echo-builder.js";

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ADMIN_TOKEN = randomBytes(32).toString("hex");
const BYTES = Math.round(Number(process.env.BENCH_GIB ?? 1) * 1024 ** 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5000);
const WARMUP_ROUNDS = 500;
const IDLE = 1000;
const MESSAGE = 1024;

/** Messages between this process and the service's. */
type ToParent =
  | { type: "ready"; url: string; broker: BrokerInfo }
  | { type: "serve"; id: number; buildId: string; tls: BuilderTls }
  | { type: "memory"; id: number; usage: NodeJS.MemoryUsage }
  | { type: "loop"; id: number; delay: LoopDelay };
type ToChild =
  | { type: "served"; id: number; endpoint: string }
  | { type: "memory"; id: number }
  | { type: "loop"; id: number };

/** The service's event-loop delay since the last reading, ms (perf_hooks.monitorEventLoopDelay). */
interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

interface Target {
  endpoint: string;
  port: number;
  connections: () => number;
  close(): Promise<void>;
}

interface Throughput {
  path: "direct" | "broker";
  seconds: number;
  /** MB/s (10^6 bytes) each way. */
  mbps: number;
  /** CPU seconds of the service's process during the run. */
  serviceCpu: number;
  benchCpu: number;
}

async function main(): Promise<void> {
  let result = "";
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-broker-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  const stops: Array<() => Promise<void>> = [];
  const targets: Target[] = [];
  try {
    const started = performance.now();
    const [redis, postgres] = await Promise.all([
      startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
      startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
    ]);
    stops.push(
      () => redis.stop(),
      () => postgres.stop(),
    );
    const caDir = join(root, "ca");
    const ca = await CertificateAuthority.inFolder(caDir);
    const child = spawnService({
      RB_PORT: String(await freePort()),
      RB_BROKER_PORT: String(await freePort()),
      RB_DATABASE_URL: await postgres.createDatabase("remote_builder"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
      RB_CA_DIR: caDir,
      RB_LOG_LEVEL: "warn",
    });
    stops.unshift(() => stopChild(child));
    const serverNames = new Map<string, string>();
    const ipc = new Ipc(child, async (msg) => {
      if (msg.type !== "serve") return;
      serverNames.set(msg.buildId, msg.tls.serverName);
      const target = await startTarget(msg.tls);
      targets.push(target);
      ipc.send({ type: "served", id: msg.id, endpoint: target.endpoint });
    });
    const ready = await ipc.ready;
    log(`Redis, PostgreSQL and the service up in ${Math.round(performance.now() - started)} ms`);

    // One build; every connection through the broker is one of its connections.
    const token = await benchAccount(ready.url, ADMIN_TOKEN);
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const build = await readyBuild(
      ready.url,
      token,
      publicKey.export({ type: "spki", format: "pem" }) as string,
    );
    const target = targets.at(-1)!;
    // The build lives as long as its client says it does: heartbeat it, as a CI job would.
    const heartbeat = setInterval(
      () => void call(ready.url, "POST", `/api/v1/builds/${build.id}/heartbeat`, token).catch(() => {}),
      10_000,
    );
    stops.unshift(async () => clearInterval(heartbeat));
    const brokerClient = await ca.issueBrokerClient(Date.now() + 86_400_000);
    const [, brokerHost, brokerPort] = /^tcp:\/\/(.+):(\d+)$/.exec(ready.broker.endpoint)!;
    const viaBroker = (): tls.ConnectionOptions => ({
      host: brokerHost,
      port: Number(brokerPort),
      servername: ready.broker.serverName,
      ca: [ready.broker.caCertificate],
      cert: build.certificate,
      key: privateKey.export({ type: "pkcs8", format: "pem" }),
      ALPNProtocols: ["h2"],
    });
    const direct = (): tls.ConnectionOptions => ({
      host: "127.0.0.1",
      port: target.port,
      servername: serverNames.get(build.id),
      ca: [ca.caPem],
      cert: brokerClient.certPem,
      key: brokerClient.keyPem,
      ALPNProtocols: ["h2"],
    });

    // (c) first, on a warm but not yet bloated process: 1,000 idle connections.
    log(`(c) ${IDLE} idle connections through the broker`);
    await holdIdle(viaBroker, 100).then(closeAll); // warm-up: code paths, pools, caches
    const memBefore = await ipc.memory();
    const openCpu0 = cpuSeconds(child.pid!);
    const openStarted = performance.now();
    const idle = await holdIdle(viaBroker, IDLE);
    const opening = {
      seconds: (performance.now() - openStarted) / 1000,
      cpu: cpuSeconds(child.pid!) - openCpu0,
    };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const memAfter = await ipc.memory();
    const targetConnections = target.connections();
    await closeAll(idle);
    const perConn = (k: keyof NodeJS.MemoryUsage) => (memAfter[k] - memBefore[k]) / IDLE / 1024;

    // (b) latency.
    log(`(b) ${ROUNDS} 1 KiB ping-pongs each way`);
    await ipc.loopDelay();
    const waited0 = runQueueSeconds(child.pid!);
    const { directRtt, brokerRtt } = await pingPong(direct, viaBroker);
    const pingLoop = await ipc.loopDelay();
    const pingWaited = runQueueSeconds(child.pid!) - waited0;

    // (a) throughput.
    const runs: Throughput[] = [];
    for (const path of ["direct", "broker", "direct", "broker"] as const) {
      log(`(a) ${gib(BYTES)} GiB each way, ${path}`);
      runs.push(await throughput(path, path === "direct" ? direct : viaBroker, child.pid!));
    }

    result = report({
      runs,
      directRtt,
      brokerRtt,
      memBefore,
      memAfter,
      perConn,
      targetConnections,
      pingLoop,
      pingWaited,
      opening,
    });
  } finally {
    for (const target of targets) await target.close().catch(() => {});
    for (const stop of stops) await stop().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  }
  // Last, after everything has stopped, so that nothing can print after it.
  console.log(result);
}

/** The service in this process: the child side of the benchmark. */
async function serviceMain(): Promise<void> {
  const send = (msg: ToParent) => process.send!(msg);
  const served = new Map<number, (endpoint: string) => void>();
  let next = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.on("message", (msg: ToChild) => {
    if (msg.type === "served") served.get(msg.id)?.(msg.endpoint);
    if (msg.type === "loop") {
      const ms = (ns: number) => ns / 1e6;
      const delay = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) };
      loop.reset();
      send({ type: "loop", id: msg.id, delay });
    }
    if (msg.type === "memory") {
      // Twice: the first pass queues finalizers (TLS sockets' native parts) that the second frees.
      global.gc?.();
      global.gc?.();
      send({ type: "memory", id: msg.id, usage: process.memoryUsage() });
    }
  });
  const driver = (context: DriverContext) =>
    new MemoryDriver({
      ...context,
      serve: async (spec) => {
        const id = ++next;
        const endpoint = new Promise<string>((resolve) => served.set(id, resolve));
        send({ type: "serve", id, buildId: spec.buildId, tls: await spec.tls() });
        return { endpoint: await endpoint, close: async () => {} };
      },
    });
  const service = await startService(loadTestConfig(process.env), { driver });
  process.once("SIGTERM", () => void service.stop().then(() => process.exit(0)));
  process.once("disconnect", () => void service.stop().then(() => process.exit(0)));
  send({ type: "ready", url: service.url, broker: service.brokerInfo });
}

/** The builder stand-in: an mTLS echo server with the builder's credentials, echoing with backpressure. */
async function startTarget(creds: BuilderTls): Promise<Target> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(builderTlsOptions(creds), (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `tcp://127.0.0.1:${port}`,
    port,
    connections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function connect(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options);
    socket.setNoDelay(true);
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      if (socket.alpnProtocol !== "h2") reject(new Error(`ALPN ${socket.alpnProtocol}, not h2`));
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Writes `data` and resolves once as many bytes came back. */
function echo(socket: tls.TLSSocket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got >= data.length) {
        socket.off("data", onData).off("close", onClose);
        resolve();
      }
    };
    const onClose = () => reject(new Error(`the connection closed after ${got} of ${data.length} bytes`));
    socket.on("data", onData).once("close", onClose);
    socket.write(data);
  });
}

/** `count` connections, opened 50 at a time (under the broker's handshake cap), each with one echo. */
async function holdIdle(options: () => tls.ConnectionOptions, count: number): Promise<tls.TLSSocket[]> {
  const sockets: tls.TLSSocket[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const socket = await connect(options());
        socket.on("error", () => {});
        await echo(socket, Buffer.from("x"));
        return socket;
      }),
    );
    sockets.push(...batch);
  }
  return sockets;
}

async function closeAll(sockets: tls.TLSSocket[]): Promise<void> {
  await Promise.all(
    sockets.map((s) => {
      const closed = once(s, "close");
      s.destroy();
      return closed;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/**
 * Round-trip times, ms, of 1 KiB messages, one in flight at a time, on a direct connection and one
 * through the broker, taking turns, so that both see the same machine (other processes, GC).
 */
async function pingPong(
  direct: () => tls.ConnectionOptions,
  viaBroker: () => tls.ConnectionOptions,
): Promise<{ directRtt: number[]; brokerRtt: number[] }> {
  const sockets = [await connect(direct()), await connect(viaBroker())] as const;
  const payload = randomBytes(MESSAGE);
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < WARMUP_ROUNDS + ROUNDS; i++) {
    for (const which of [0, 1] as const) {
      const t0 = performance.now();
      await echo(sockets[which], payload);
      if (i >= WARMUP_ROUNDS) times[which].push(performance.now() - t0);
    }
  }
  for (const s of sockets) s.destroy();
  return { directRtt: times[0], brokerRtt: times[1] };
}

/** `BYTES` sent and echoed back on one connection, both directions at once. */
async function throughput(
  path: Throughput["path"],
  options: () => tls.ConnectionOptions,
  servicePid: number,
): Promise<Throughput> {
  const socket = await connect(options());
  const block = Buffer.alloc(256 * 1024, 0x5a);
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received >= BYTES) resolve();
    });
    socket.once("close", () => reject(new Error(`closed after ${received} of ${BYTES} bytes`)));
  });
  const cpu0 = [cpuSeconds(servicePid), process.cpuUsage()] as const;
  const t0 = performance.now();
  for (let sent = 0; sent < BYTES; sent += block.length) {
    const piece = BYTES - sent >= block.length ? block : block.subarray(0, BYTES - sent);
    if (!socket.write(piece)) await Promise.race([once(socket, "drain"), done]);
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const bench = process.cpuUsage(cpu0[1]);
  const serviceCpu = cpuSeconds(servicePid) - cpu0[0];
  socket.destroy();
  return {
    path,
    seconds,
    mbps: BYTES / seconds / 1e6,
    serviceCpu,
    benchCpu: (bench.user + bench.system) / 1e6,
  };
}

/** Seconds a process's main thread has spent ready to run but waiting for a CPU (/proc/<pid>/schedstat). */
function runQueueSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function report(r: {
  runs: Throughput[];
  directRtt: number[];
  brokerRtt: number[];
  memBefore: NodeJS.MemoryUsage;
  memAfter: NodeJS.MemoryUsage;
  perConn: (k: keyof NodeJS.MemoryUsage) => number;
  targetConnections: number;
  pingLoop: LoopDelay;
  pingWaited: number;
  opening: { seconds: number; cpu: number };
}): string {
  console.log(
    `\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}; node ${process.version}`,
  );
  console.log(`\n(a) throughput, ${gib(BYTES)} GiB each way on one connection (both directions at once)`);
  console.log("  run      path     seconds  MB/s each way  service CPU s  bench CPU s");
  r.runs.forEach((run, i) =>
    console.log(
      `  ${String(i + 1).padEnd(8)} ${run.path.padEnd(8)} ${run.seconds.toFixed(2).padStart(7)}  ${run.mbps
        .toFixed(0)
        .padStart(13)}  ${run.serviceCpu.toFixed(2).padStart(13)}  ${run.benchCpu.toFixed(2).padStart(11)}`,
    ),
  );
  const best = (path: Throughput["path"]) =>
    Math.max(...r.runs.filter((x) => x.path === path).map((x) => x.mbps));
  const ratio = best("broker") / best("direct");
  console.log(
    `  best: direct ${best("direct").toFixed(0)} MB/s, broker ${best("broker").toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (target ≥ 0.7)`,
  );

  const p = (xs: number[], q: number) => percentile(xs, q);
  console.log(`\n(b) 1 KiB ping-pong, ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up, ms`);
  console.log("  path     p50     p90     p99     max");
  for (const [name, xs] of [
    ["direct", r.directRtt],
    ["broker", r.brokerRtt],
  ] as const) {
    console.log(
      `  ${name.padEnd(7)} ${[50, 90, 99, 100].map((q) => p(xs, q).toFixed(3).padStart(7)).join(" ")}`,
    );
  }
  const addedP50 = p(r.brokerRtt, 50) - p(r.directRtt, 50);
  const addedP99 = p(r.brokerRtt, 99) - p(r.directRtt, 99);
  console.log(
    `  added by the broker: p50 ${addedP50.toFixed(3)} ms, p99 ${addedP99.toFixed(3)} ms (target ≤ 1 ms)`,
  );
  const l = r.pingLoop;
  console.log(
    `  meanwhile, the service's event-loop delay p50/p99/max ${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} / ${l.max.toFixed(1)} ms; ` +
      `its main thread waited ${(r.pingWaited * 1000).toFixed(0)} ms in the run queue for a CPU`,
  );

  const mib = (n: number) => (n / 1024 ** 2).toFixed(1);
  console.log(
    `\n(c) ${IDLE} idle connections through the broker (each with its own leg to the builder: the target held ${r.targetConnections}),`,
  );
  console.log(
    "    the service process's memory after a forced GC, measured in that process (process.memoryUsage)",
  );
  console.log("  MiB         before   after   KiB per connection");
  for (const k of ["rss", "heapUsed", "external", "arrayBuffers"] as const) {
    console.log(
      `  ${k.padEnd(11)} ${mib(r.memBefore[k]).padStart(6)}  ${mib(r.memAfter[k]).padStart(6)}   ${r
        .perConn(k)
        .toFixed(1)
        .padStart(6)}`,
    );
  }
  console.log(
    `  opening them took ${r.opening.seconds.toFixed(1)} s, 50 at a time; the service spent ${(
      (r.opening.cpu * 1000) /
      IDLE
    ).toFixed(2)} ms of CPU per connection (two handshakes, a build lookup, one echo)`,
  );
  const idleKib = r.perConn("rss");
  console.log(`  RSS per idle connection: ${idleKib.toFixed(1)} KiB (target ≤ 100 KiB)`);
  return `RESULT throughput_ratio=${ratio.toFixed(2)} added_p99_ms=${addedP99.toFixed(3)} idle_kib_per_conn=${idleKib.toFixed(1)}`;
}

const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(bytes % 1024 ** 3 === 0 ? 0 : 2);

/** IPC with the service's process: builder requests, memory readings, the ready message. */
class Ipc {
  readonly ready: Promise<{ url: string; broker: BrokerInfo }>;
  private readonly waiting = new Map<number, (answer: never) => void>();
  private next = 0;

  constructor(
    private readonly child: ChildProcess,
    onMessage: (msg: ToParent) => Promise<void>,
  ) {
    this.ready = new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`the service exited with code ${code}`)));
      child.on("message", (msg: ToParent) => {
        if (msg.type === "ready") resolve({ url: msg.url, broker: msg.broker });
        if (msg.type === "memory") this.waiting.get(msg.id)?.(msg.usage as never);
        if (msg.type === "loop") this.waiting.get(msg.id)?.(msg.delay as never);
        onMessage(msg).catch((err: Error) => log(`builder: ${err.message}`));
      });
    });
  }

  send(msg: ToChild): void {
    this.child.send(msg);
  }

  memory(): Promise<NodeJS.MemoryUsage> {
    return this.ask("memory");
  }

  /** The service's event-loop delay since the last call. */
  loopDelay(): Promise<LoopDelay> {
    return this.ask("loop");
  }

  private ask<T>(type: "memory" | "loop"): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve) => {
      this.waiting.set(id, resolve as (answer: never) => void);
      this.send({ type, id });
    });
  }
}

function spawnService(env: Record<string, string>): ChildProcess {
  const profile = process.env.BENCH_PROFILE;
  const flags = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
  return spawn(
    process.execPath,
    [
      ...flags,
      ...(process.env.BENCH_CHILD_FLAGS ?? "").split(" ").filter(Boolean),
      "--expose-gc",
      "--import",
      "tsx",
      SELF,
      "--service",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
}

async function readyBuild(
  base: string,
  token: string,
  publicKey: string,
): Promise<{ id: string; certificate: string }> {
  const created = await call(base, "POST", "/api/v1/builds", token, { publicKey });
  const ready = await call(base, "GET", `/api/v1/builds/${String(created.id)}?wait=30`, token);
  if (ready.state !== "ready") throw new Error(`the build is ${String(ready.state)}, not ready`);
  return { id: String(ready.id), certificate: String(ready.certificate) };
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

if (process.argv.includes("--service")) {
  serviceMain().catch((err: Error) => {
    console.error(`service failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
} else {
  main().catch((err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}
