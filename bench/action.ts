/**
 * Action benchmark: `npm run bench:action`.
 *
 * How long the GitHub Action's main step takes to hand a job a usable builder when one is warm,
 * beside the bare HTTP round trips that step makes, in one run. It starts a Redis (AOF on) and a
 * PostgreSQL of its own in a temp folder (default durability), an OIDC issuer and GitHub's job
 * token endpoint on loopback (test/oidc/fixtures.ts, test/harness/action-job.ts), and the service
 * in this process with the memory driver at bootMs 0, whose builders are mTLS echo servers with
 * the builder's own credentials (this file's, so that it can note when the broker dials one).
 * The memory driver reports every builder as tier "cold"; at bootMs 0 it stands in for a warm one.
 *
 * Each round, after WARMUP rounds, takes turns (so that all see the same machine):
 *
 * 1. the committed bundle's main step, `node dist/index.js`, run as the runner runs it
 *    (ActionJob: INPUT_* variables, the GITHUB_* files, the recording fake docker on PATH, whose
 *    `buildx inspect --bootstrap` dials the broker over mTLS and echoes a line through it), with
 *    an agent token input; then its post step (complete, `buildx rm`, summary), timed apart;
 * 2. the same with no token, so that main exchanges the job's OIDC token (the action's default);
 * 3. the bare HTTP sequence main makes, with plain fetch from this process: POST /api/v1/builds
 *    with a public key, GET /api/v1/builds/:id?wait=10 until ready (timed: http_overhead_s);
 *    then, timed apart, one mTLS connection through the broker with the build's certificate and a
 *    line echoed (what `inspect --bootstrap` does on the wire), and POST .../complete (post makes
 *    it, not main);
 * 4. the same, first asking the token endpoint for an ID token and exchanging it
 *    (POST /api/v1/auth/oidc), as main does;
 * 5. what every step pays before it does anything: `node -e 0`, the bundle with no inputs to its
 *    first output, the fake docker with nothing to do, a `node` that makes one fetch.
 *
 * Then the CLI as installed (bench/cli-start.ts: `npm pack`, `npm install --global` into the
 * bench's folder): `remote-builder --version` and `node -e 0` in turns, CLI_RUNS of each, spawn
 * to exit; the first run of each fills Node's compile cache and is not counted.
 *
 * It prints where each main step's time went (from the build's timestamps, the token endpoint,
 * the fake docker's builder file and the echo builder), then `RESULT builder_boot_ms=0
 * client_overhead_s=<p50 of main, OIDC> http_overhead_s=<p50 of the bare sequence, OIDC>
 * cli_start_s=<median of the installed --version> node_start_s=<median of node -e 0>`.
 *
 * What it does not measure: a builder's boot. The memory driver's builders are ready the moment
 * they are asked for (bootMs 0) and run no buildkitd, so client_overhead_s is what the Action and
 * the service add on top of the boot, not a job's time to a real builder (that is bench:headline,
 * with real buildkitd); the line starts with builder_boot_ms=0 to say so.
 *
 * BENCH_RUNS (default 20) sets the measured rounds. Targets: client_overhead_s ≤ 0.7 s,
 * cli_start_s ≤ 0.15 s.
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import tls from "node:tls";
import { pino } from "pino";
import { MemoryDriver, type ServedBuilder } from "../test/doubles/memory-driver.js";
import { loadTestConfig } from "../test/harness/context.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import { startService } from "../service/server.js";
import {
  ActionJob,
  FAKE_BIN,
  FakeActionsTokenEndpoint,
  ROOT,
  type StepRun,
} from "../test/harness/action-job.js";
import { builderTlsOptions } from "../test/harness/echo-builder.js";
import { AUDIENCE, githubClaims, TestIssuer } from "../test/oidc/fixtures.js";
import { installCli, timeRun } from "./cli-start.js";
import { call, percentile } from "./support.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 2;
const TARGET_S = 0.7;
const CLI_TARGET_S = 0.15;
const CLI_RUNS = 15;
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123456789";
const DIST = join(ROOT, "dist/index.js");
const log = (line: string) => process.stdout.write(`${line}\n`);

type Variant = "token" | "oidc";

/** One main step, with wall-clock marks (ms since the epoch) from this process and the service. */
interface ActionRun {
  mainMs: number;
  postMs: number;
  spawnedAt: number;
  /** When the job token endpoint was asked for an ID token (OIDC only). */
  idTokenAt: number | null;
  createdAt: number;
  readyAt: number;
  /** When the fake docker's `buildx create` finished. */
  createdBuilderAt: number;
  /** When the broker's connection reached the builder (during `buildx inspect --bootstrap`). */
  builderAt: number;
  exitedAt: number;
  queued: boolean;
}

/** What a process pays before it does anything, and the step's one piece of crypto. */
interface Probe {
  nodeMs: number;
  bundleFirstMs: number;
  bundleExitMs: number;
  dockerMs: number;
  /** `node -e` with one fetch of /healthz: Node loads its HTTP client (undici) on the first fetch. */
  fetchFirstMs: number;
  fetchExitMs: number;
  keygenMs: number;
}

interface HttpRun {
  /** Up to the build being ready: what main waits for before it runs docker. */
  readyMs: number;
  exchangeMs: number;
  postMs: number;
  waitMs: number;
  gets: number;
  /** One mTLS connection through the broker to the builder and a line echoed (not in readyMs). */
  dialMs: number;
  completeMs: number;
}

/** A builder stand-in: an mTLS echo server with the build's builder credentials; notes its first connection. */
function echoBuilders(firstConnection: Map<string, number>) {
  return async (spec: ServedBuilder) => {
    const sockets = new Set<tls.TLSSocket>();
    const server = tls.createServer(builderTlsOptions(await spec.tls()), (socket) => {
      if (!firstConnection.has(spec.buildId)) firstConnection.set(spec.buildId, Date.now());
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.setNoDelay(true);
      socket.on("error", () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      endpoint: `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        }),
    };
  };
}

/** What `buildx inspect --bootstrap` does on the wire: dial the broker with the build's certificate, echo a line. */
function brokerDial(build: Record<string, unknown>, keyPem: string): Promise<number> {
  const broker = build.broker as { endpoint: string; serverName: string; caCertificate: string };
  const { hostname, port } = new URL(broker.endpoint.replace(/^tcp:/, "http:"));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port: Number(port),
      servername: broker.serverName,
      ca: broker.caCertificate,
      cert: build.certificate as string,
      key: keyPem,
      ALPNProtocols: ["h2"],
    });
    socket.on("error", reject);
    socket.once("secureConnect", () => socket.write("ping\n"));
    socket.once("data", (data: Buffer) => {
      const ms = performance.now() - started;
      socket.end();
      if (data.toString() === "ping\n") resolve(ms);
      else reject(new Error(`the builder answered ${JSON.stringify(data.toString())}`));
    });
  });
}

/** Runs a command; ms to its first byte on stdout (null if none) and to its exit. */
function timeProcess(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ firstOutputMs: number | null; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstOutputMs: number | null = null;
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.once("data", () => (firstOutputMs = performance.now() - started));
    child.on("error", reject);
    child.on("close", () => resolve({ firstOutputMs, exitMs: performance.now() - started }));
  });
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "remote-builder-bench-action-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  const stops: Array<() => Promise<void>> = [];
  let result: string;
  try {
    const load = loadavg();
    log(
      `action bench: ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
        `Node ${process.version}, load average ${load.map((l) => l.toFixed(2)).join(" ")}; ` +
        `${WARMUP} warm-up + ${RUNS} measured rounds`,
    );
    const [redis, postgres, issuer] = await Promise.all([
      startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
      startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
      TestIssuer.start(),
    ]);
    stops.push(
      () => redis.stop(),
      () => postgres.stop(),
      () => issuer.stop(),
    );
    let idTokenAt = 0;
    const tokens = await FakeActionsTokenEndpoint.start((audience) => {
      idTokenAt = Date.now();
      return issuer.token(githubClaims({ aud: audience }));
    });
    stops.unshift(() => tokens.stop());

    const firstConnection = new Map<string, number>();
    const config = loadTestConfig({
      RB_DATABASE_URL: await postgres.createDatabase("bench"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
      RB_PORT: "0",
      RB_BROKER_PORT: "0",
      RB_LOG_LEVEL: "warn",
      RB_OIDC_AUDIENCE: AUDIENCE,
      RB_OIDC_ISSUERS: JSON.stringify([{ name: "github", kind: "github", issuer: issuer.url }]),
    });
    const service = await startService(config, {
      logger: pino({ level: "warn" }),
      driver: (context) => new MemoryDriver({ ...context, bootMs: 0, serve: echoBuilders(firstConnection) }),
    });
    stops.unshift(() => service.stop());
    const account = await service.accounts.create({
      handle: "bench",
      plan: "enterprise",
      concurrencyLimit: 1000,
      monthlyBuildMinutes: 1_000_000_000,
    });
    await service.accounts.setFeature(account.id, "remote_builder", true);
    await service.trust.add(account.id, { ownerId: "1001" });
    const { token } = await service.accounts.mintToken(account.id, "bench");
    const base = service.url;

    // What every step pays before it does anything; one of each per round, beside the steps.
    const bare = { PATH: process.env.PATH, HOME: process.env.HOME };
    const probe = async (): Promise<Probe> => {
      const node = await timeProcess(["-e", "0"], bare);
      const bundle = await timeProcess([DIST], bare);
      const docker = await timeProcess([join(FAKE_BIN, "docker"), "version"], bare);
      const fetched = await timeProcess(
        [
          "--input-type=module",
          "-e",
          `await (await fetch(${JSON.stringify(`${base}/healthz`)})).text(); process.stdout.write("answered")`,
        ],
        bare,
      );
      const t = performance.now();
      generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
        type: "pkcs8",
        format: "pem",
      });
      return {
        nodeMs: node.exitMs,
        bundleFirstMs: bundle.firstOutputMs ?? Number.NaN,
        bundleExitMs: bundle.exitMs,
        dockerMs: docker.exitMs,
        fetchFirstMs: fetched.firstOutputMs ?? Number.NaN,
        fetchExitMs: fetched.exitMs,
        keygenMs: performance.now() - t,
      };
    };

    const actionRun = async (variant: Variant): Promise<ActionRun> => {
      const inputs: Record<string, string> = {
        "server-url": base,
        audience: AUDIENCE,
        "job-status": "success",
      };
      if (variant === "token") inputs.token = token;
      const job = new ActionJob(inputs, variant === "oidc" ? tokens.env : {}, "dist");
      try {
        idTokenAt = 0;
        const spawnedAt = Date.now();
        let t = performance.now();
        const main = await job.main();
        const mainMs = performance.now() - t;
        const exitedAt = Date.now();
        const askedAt = idTokenAt; // before post, which exchanges a token of its own
        // The fake docker's `buildx create` writes this file as its last act.
        const createdBuilderAt = statSync(`${job.dockerLog}.builders.json`).mtimeMs;
        const buildId = main.outputs["build-id"];
        t = performance.now();
        const post = await job.post();
        const postMs = performance.now() - t;
        failed("main", main, !buildId || !job.dockerCalls().some((c) => c.bootstrapped));
        failed("post", post, false);
        const build = await call(base, "GET", `/api/v1/builds/${buildId}`, token);
        if (build.state !== "completed")
          throw new Error(`build ${buildId} is ${String(build.state)} after post`);
        return {
          mainMs,
          postMs,
          spawnedAt,
          idTokenAt: variant === "oidc" ? askedAt : null,
          createdAt: Date.parse(build.createdAt as string),
          readyAt: Date.parse(build.readyAt as string),
          createdBuilderAt,
          builderAt: firstConnection.get(buildId!) ?? Number.NaN,
          exitedAt,
          queued: main.stdout.includes("Queued"),
        };
      } finally {
        job.cleanUp();
      }
    };

    const httpRun = async (variant: Variant): Promise<HttpRun> => {
      const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const publicKey = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
      const started = performance.now();
      let credential = token;
      if (variant === "oidc") {
        const { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken } =
          tokens.env;
        const idToken = await fetch(`${url}&audience=${encodeURIComponent(AUDIENCE)}`, {
          headers: { authorization: `Bearer ${requestToken}` },
        }).then((r) => r.json() as Promise<{ value: string }>);
        const exchanged = await fetch(`${base}/api/v1/auth/oidc`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: idToken.value }),
        });
        if (!exchanged.ok) throw new Error(`exchange: ${exchanged.status} ${await exchanged.text()}`);
        credential = ((await exchanged.json()) as { credential: string }).credential;
      }
      const exchangedAt = performance.now();
      let build = await call(base, "POST", "/api/v1/builds", credential, {
        cache: "wait",
        waitSeconds: 600,
        labels: { "github.repository": "acme/app", "github.run_id": "987654", "github.job": "build" },
        publicKey,
      });
      const postedAt = performance.now();
      let gets = 0;
      while (build.state !== "ready" && build.state !== "building") {
        if (["completed", "failed", "expired", "reaped"].includes(build.state as string)) {
          throw new Error(`build ${String(build.id)} ${String(build.state)} before it was ready`);
        }
        build = await call(base, "GET", `/api/v1/builds/${String(build.id)}?wait=10`, credential);
        gets++;
      }
      const readyAt = performance.now();
      const dialMs = await brokerDial(
        build,
        keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      );
      const dialledAt = performance.now();
      await call(base, "POST", `/api/v1/builds/${String(build.id)}/complete`, credential, {
        result: "success",
      });
      return {
        readyMs: readyAt - started,
        exchangeMs: exchangedAt - started,
        postMs: postedAt - exchangedAt,
        waitMs: readyAt - postedAt,
        gets,
        dialMs,
        completeMs: performance.now() - dialledAt,
      };
    };

    const actions: Record<Variant, ActionRun[]> = { token: [], oidc: [] };
    const https: Record<Variant, HttpRun[]> = { token: [], oidc: [] };
    const probes: Probe[] = [];
    for (let round = 0; round < WARMUP + RUNS; round++) {
      const a = await actionRun("token");
      const b = await actionRun("oidc");
      const c = await httpRun("token");
      const d = await httpRun("oidc");
      const e = await probe();
      if (round < WARMUP) continue;
      actions.token.push(a);
      actions.oidc.push(b);
      https.token.push(c);
      https.oidc.push(d);
      probes.push(e);
    }
    result = report(actions, https, probes, await cliStart(join(root, "cli")));
  } finally {
    for (const stop of stops) await stop().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  }
  log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(result);
}

interface CliStart {
  cliMs: number[];
  nodeMs: number[];
}

async function cliStart(prefix: string): Promise<CliStart> {
  const cli = installCli(ROOT, prefix);
  const runs: CliStart = { cliMs: [], nodeMs: [] };
  for (let i = 0; i <= CLI_RUNS; i++) {
    const cliMs = await timeRun(cli, ["--version"]);
    const nodeMs = await timeRun(process.execPath, ["-e", "0"]);
    if (i === 0) continue; // fills the compile cache
    runs.cliMs.push(cliMs);
    runs.nodeMs.push(nodeMs);
  }
  return runs;
}

function failed(step: string, run: StepRun, otherwise: boolean): void {
  const errors = run.commands.filter((c) => c.command === "error");
  if (run.code !== 0 || errors.length > 0 || otherwise) {
    throw new Error(
      `the ${step} step failed (exit ${run.code}): ${errors.map((e) => e.message).join("; ")}\n${run.stdout}\n${run.stderr}`,
    );
  }
}

const s = (ms: number) => (ms / 1000).toFixed(3);
const ms = (v: number) => v.toFixed(0).padStart(6);

function report(
  actions: Record<Variant, ActionRun[]>,
  https: Record<Variant, HttpRun[]>,
  probes: Probe[],
  cli: CliStart,
): string {
  const p50 = (values: number[]) => percentile(values, 50);
  const row = (name: string, values: number[]) =>
    `${name.padEnd(48)} ${String(values.length).padStart(4)} ${[50, 95]
      .map((p) => s(percentile(values, p)).padStart(7))
      .join(" ")} ${s(Math.min(...values)).padStart(7)} ${s(Math.max(...values)).padStart(7)}`;
  const allHttp = [...https.token, ...https.oidc];
  log("");
  log(`${"seconds".padEnd(48)} runs     p50     p95     min     max`);
  log(
    row(
      "main step, OIDC (node dist/index.js)",
      actions.oidc.map((r) => r.mainMs),
    ),
  );
  log(
    row(
      "main step, agent token (node dist/index.js)",
      actions.token.map((r) => r.mainMs),
    ),
  );
  log(
    row(
      "bare HTTP, OIDC: ID token, exchange, POST → ready",
      https.oidc.map((r) => r.readyMs),
    ),
  );
  log(
    row(
      "bare HTTP, agent token: POST → ready",
      https.token.map((r) => r.readyMs),
    ),
  );
  log(
    row(
      "bare mTLS dial through the broker + echo",
      allHttp.map((r) => r.dialMs),
    ),
  );
  log(
    row(
      "bare HTTP: POST .../complete",
      allHttp.map((r) => r.completeMs),
    ),
  );
  log(
    row(
      "post step, OIDC (for information)",
      actions.oidc.map((r) => r.postMs),
    ),
  );
  log(
    row(
      "post step, agent token (for information)",
      actions.token.map((r) => r.postMs),
    ),
  );

  log("");
  log("where a main step's time goes, ms (p50 of each span over the runs, so they need not add up):");
  for (const variant of ["oidc", "token"] as const) {
    const runs = actions[variant];
    const spans: Array<[string, number[]]> =
      variant === "oidc"
        ? [
            ["start → asks for its ID token", runs.map((r) => r.idTokenAt! - r.spawnedAt)],
            ["ID token → POST /builds arrives", runs.map((r) => r.createdAt - r.idTokenAt!)],
          ]
        : [["start → POST /builds arrives", runs.map((r) => r.createdAt - r.spawnedAt)]];
    spans.push(
      ["POST arrives → build ready (service)", runs.map((r) => r.readyAt - r.createdAt)],
      ["ready → `buildx create` done", runs.map((r) => r.createdBuilderAt - r.readyAt)],
      ["`buildx create` done → broker dials builder", runs.map((r) => r.builderAt - r.createdBuilderAt)],
      ["builder dialled → step exits", runs.map((r) => r.exitedAt - r.builderAt)],
      ["whole step", runs.map((r) => r.mainMs)],
    );
    log(`  ${variant === "token" ? "agent token" : "OIDC"}:`);
    for (const [name, values] of spans) log(`    ${name.padEnd(46)} ${ms(p50(values))}`);
  }
  log("  bare requests from this process (keep-alive), p50:");
  for (const variant of ["oidc", "token"] as const) {
    const runs = https[variant];
    const gets = runs.reduce((sum, r) => sum + r.gets, 0) / runs.length;
    log(
      `    ${variant === "token" ? "agent token" : "OIDC       "}: ID token + exchange ${ms(p50(runs.map((r) => r.exchangeMs)))}, ` +
        `POST ${ms(p50(runs.map((r) => r.postMs)))}, GET ?wait=10 until ready ${ms(p50(runs.map((r) => r.waitMs)))} ` +
        `(${gets.toFixed(2)} GETs a run), then the broker dial ${ms(p50(runs.map((r) => r.dialMs)))}`,
    );
  }
  log("  what a process pays before it does anything, p50 ms (one of each per round):");
  log(`    node -e 0, to exit                             ${ms(p50(probes.map((p) => p.nodeMs)))}`);
  log(`    node dist/index.js, no inputs, to first output ${ms(p50(probes.map((p) => p.bundleFirstMs)))}`);
  log(`    node dist/index.js, no inputs, to exit         ${ms(p50(probes.map((p) => p.bundleExitMs)))}`);
  log(
    `    fake docker (a node script), to exit           ${ms(p50(probes.map((p) => p.dockerMs)))}  (main runs docker twice)`,
  );
  log(`    node, one fetch of /healthz, to its answer     ${ms(p50(probes.map((p) => p.fetchFirstMs)))}`);
  log(`    node, one fetch of /healthz, to exit           ${ms(p50(probes.map((p) => p.fetchExitMs)))}`);
  log(
    `    ECDSA P-256 key pair, in process               ${p50(probes.map((p) => p.keygenMs))
      .toFixed(1)
      .padStart(6)}`,
  );
  const queued = [...actions.token, ...actions.oidc].filter((r) => r.queued).length;
  if (queued > 0) log(`  ${queued} main step(s) saw their build queued`);

  // The main step's wall time with a builder that boots in 0 ms: the client's overhead alone.
  const readyS = p50(actions.oidc.map((r) => r.mainMs)) / 1000;
  const httpS = p50(https.oidc.map((r) => r.readyMs)) / 1000;
  const tokenS = p50(actions.token.map((r) => r.mainMs)) / 1000;
  const cliS = p50(cli.cliMs) / 1000;
  const nodeS = p50(cli.nodeMs) / 1000;
  log(`  the installed CLI, p50 ms of ${cli.cliMs.length} runs each, in turns:`);
  log(`    remote-builder --version, to exit              ${ms(p50(cli.cliMs))}`);
  log(`    node -e 0, to exit                             ${ms(p50(cli.nodeMs))}`);
  log("");
  log(
    `target: the installed CLI starts in ≤ ${CLI_TARGET_S} s: ${cliS <= CLI_TARGET_S ? "met" : "MISSED"} ` +
      `(p50 ${cliS.toFixed(3)} s; node -e 0 ${nodeS.toFixed(3)} s)`,
  );
  log(
    `target: the main step's overhead on a builder that boots in 0 ms ≤ ${TARGET_S} s: ` +
      `${readyS <= TARGET_S && tokenS <= TARGET_S ? "met" : "MISSED"} ` +
      `(p50 ${readyS.toFixed(3)} s with OIDC, ${tokenS.toFixed(3)} s with an agent token; ` +
      `memory driver at bootMs 0, no buildkitd, which reports tier cold)`,
  );
  return (
    `RESULT builder_boot_ms=0 client_overhead_s=${readyS.toFixed(3)} http_overhead_s=${httpS.toFixed(3)} ` +
    `cli_start_s=${cliS.toFixed(3)} node_start_s=${nodeS.toFixed(3)}`
  );
}

await main();
