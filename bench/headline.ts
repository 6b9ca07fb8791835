/**
 * Headline benchmark: `npm run bench:headline`.
 *
 * The product's one promise, measured against what a team would otherwise run, on this machine,
 * in one run, with upstream BuildKit v0.11.6 and buildx v0.10.5 (../shared/tools/buildkit):
 *
 * - the project: a generated C program of BENCH_FILES (300) files built with make and ccache, its
 *   objects and ccache in a cache mount (bench/headline/project.ts), on a compiler image made with
 *   debootstrap (bench/headline/image.ts);
 * - the product: the service as its own process (`remote-builder serve`, the local driver, one
 *   warm builder, its own Redis and PostgreSQL), and each job is what another CI runs: the bundled
 *   `dist/remote-builder.mjs setup`, `docker buildx build` through the broker, `finish`;
 * - bare: buildkitd with the same configuration (buildkitdToml, the same CNI network and GC),
 *   straight over mTLS, each job a new `buildx create` + `inspect --bootstrap`, the build, `rm`;
 * - the status quo: a fresh buildkitd (empty root) per job, with `--cache-from type=registry` from
 *   Debian's docker-registry on loopback, primed once with `--cache-to mode=max`.
 *
 * After a priming build on each, BENCH_ROUNDS (3) rounds, the product and bare taking turns:
 * warm (a 1-file edit in the same checkout), fresh (a new checkout, all mtimes new, 1 edit), and
 * the status quo on that fresh checkout. Each job is timed whole (as CI waits for it) and by
 * phase; a no-op rebuild on the same builder, outside the job's time, gives the per-build floor.
 *
 * RESULT warm_ratio=<product/bare, warm> fresh_ratio=<product/bare, fresh>
 *        speedup_vs_status_quo=<status quo / product, fresh>, medians of the rounds.
 * Targets: warm_ratio ≤ 1.15, fresh_ratio ≤ 1.15, speedup_vs_status_quo ≥ 6.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { keepStorageBytes } from "../service/core/placement.js";
import { buildNetwork } from "../service/adapters/drivers/local-network.js";
import { startPostgres } from "../service/embedded/postgres.js";
import { freePort } from "../service/embedded/process.js";
import { startRedis } from "../service/embedded/redis.js";
import {
  dockerConfig,
  findBuildkitTools,
  realDockerEnv,
  ROOT,
  type BuildkitTools,
} from "../test/harness/buildkit-tools.js";
import { type Daemon, startDaemon } from "../test/harness/buildkitd-daemon.js";
import { compilerImage } from "./headline/image.js";
import { bareJob, type Phases, productJob } from "./headline/jobs.js";
import { editOneFile, freshCheckout, writeProject } from "./headline/project.js";
import { benchAccount, percentile, stopChild } from "./support.js";

const FILES = Number(process.env.BENCH_FILES ?? 300);
const FUNCTIONS = Number(process.env.BENCH_FUNCTIONS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123456789";
const CLI = join(ROOT, "dist/remote-builder.mjs");
const log = (line: string) => process.stdout.write(`${line}\n`);

type Kind = "product" | "bare" | "statusQuo";
type Scenario = "warm" | "fresh";

async function main(): Promise<void> {
  const { tools, skip } = findBuildkitTools();
  if (!tools) throw new Error(`no real BuildKit: ${skip}`);
  const root = mkdtempSync(join(tmpdir(), "rb-headline-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root
  const stops: Array<() => Promise<unknown>> = [];
  let result = "";
  try {
    const base = compilerImage(join(ROOT, ".cache/headline"), log).context;
    const docker = realDockerEnv(tools, dockerConfig(join(root, "docker"), tools));
    log(
      `machine: ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}; ${FILES} files × ${FUNCTIONS} functions`,
    );

    const product = await startProduct(root, tools, docker, stops);
    const bare = await bareDaemon(join(root, "bare"), stops);
    const registry = await startRegistry(join(root, "registry"), stops);

    const checkout = join(root, "checkout");
    writeProject(checkout, FILES, FUNCTIONS);
    const times: Record<Scenario, Record<Kind, Phases[]>> = {
      warm: { product: [], bare: [], statusQuo: [] },
      fresh: { product: [], bare: [], statusQuo: [] },
    };
    const job = (kind: Kind, context: string, extra: string[] = []) =>
      kind === "product"
        ? productJob({ cli: CLI, env: product.env, context, base })
        : bareJob({ daemon: bare, env: docker, context, base, extra });

    log("priming: a first build on the product, on bare buildkitd, and into the registry cache…");
    for (const kind of ["product", "bare"] as const) show("prime", kind, await job(kind, checkout));
    show("prime", "statusQuo", await statusQuoJob(root, registry, docker, base, checkout, true));

    for (let round = 1; round <= ROUNDS; round++) {
      const order: Array<"product" | "bare"> = round % 2 ? ["product", "bare"] : ["bare", "product"];
      editOneFile(checkout, round, FUNCTIONS);
      for (const kind of order) times.warm[kind].push(show(`warm ${round}`, kind, await job(kind, checkout)));
      const fresh = join(root, `fresh-${round}`);
      freshCheckout(checkout, fresh);
      editOneFile(fresh, 100 + round, FUNCTIONS);
      for (const kind of order) times.fresh[kind].push(show(`fresh ${round}`, kind, await job(kind, fresh)));
      times.fresh.statusQuo.push(
        show(`fresh ${round}`, "statusQuo", await statusQuoJob(root, registry, docker, base, fresh, false)),
      );
    }
    result = report(times);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => log(`cleanup: ${err.message}`));
    rmSync(root, { recursive: true, force: true });
  }
  console.log(result);
}

/** The service as its own process on the local driver, its Redis and PostgreSQL, and a job's environment. */
async function startProduct(
  root: string,
  tools: BuildkitTools,
  docker: Record<string, string>,
  stops: Array<() => Promise<unknown>>,
): Promise<{ env: Record<string, string> }> {
  const [redis, postgres] = await Promise.all([
    startRedis({ dataDir: join(root, "redis"), port: await freePort() }),
    startPostgres({ dataDir: join(root, "postgres"), port: await freePort() }),
  ]);
  stops.push(
    () => redis.stop(),
    () => postgres.stop(),
  );
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "bin/remote-builder.js"), "serve"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: `${process.env.PATH}:/usr/sbin:/sbin`,
      RB_DATABASE_URL: await postgres.createDatabase("headline"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
      RB_PORT: String(port),
      RB_BROKER_PORT: String(await freePort()),
      RB_CA_DIR: join(root, "ca"),
      RB_DRIVER: "local",
      RB_BUILDKITD: tools.buildkitd,
      RB_LOCAL_DIR: join(root, "local"),
      RB_WARM_POOL: '{"small":1}',
      RB_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  stops.push(() => stopChild(child));
  const url = `http://127.0.0.1:${port}`;
  await untilReady(url, child);
  const token = await benchAccount(url, ADMIN_TOKEN);
  return { env: { ...docker, RB_SERVER_URL: url, RB_TOKEN: token } };
}

/** buildkitd as the local driver configures it (GC, the shape's CPUs, the CNI network), straight. */
async function bareDaemon(
  dir: string,
  stops: Array<() => Promise<unknown>>,
  editToml: (toml: string) => string = (t) => t,
): Promise<Daemon> {
  const { cni } = buildNetwork(dir);
  const daemon = await startDaemon(
    dir,
    { root: join(dir, "root"), maxParallelism: 2, keepBytes: keepStorageBytes(20), ...(cni ? { cni } : {}) },
    editToml,
  );
  stops.push(() => daemon.stop());
  return daemon;
}

/** Debian's docker-registry on loopback, over HTTP, storing in `dir`. */
async function startRegistry(dir: string, stops: Array<() => Promise<unknown>>): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  stops.push(() => stopChild(child));
  const until = Date.now() + 15_000;
  while (
    !(await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > until) throw new Error("docker-registry did not answer within 15 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return `127.0.0.1:${port}`;
}

/**
 * The status quo: a fresh buildkitd (a new runner's empty root) importing the registry cache;
 * `prime` exports it instead, once.
 */
async function statusQuoJob(
  root: string,
  registry: string,
  docker: Record<string, string>,
  base: string,
  context: string,
  prime: boolean,
): Promise<Phases> {
  const dir = mkdtempSync(join(root, "status-quo-"));
  const local: Array<() => Promise<unknown>> = [];
  const daemon = await bareDaemon(dir, local, (toml) => `${toml}\n[registry."${registry}"]\n  http = true\n`);
  try {
    const ref = `${registry}/headline/cache:main`;
    const cache = prime
      ? ["--cache-to", `type=registry,ref=${ref},mode=max`]
      : ["--cache-from", `type=registry,ref=${ref}`];
    return await bareJob({ daemon, env: docker, context, base, extra: cache });
  } finally {
    for (const stop of local) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function untilReady(url: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    if (
      await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the service was not ready within 60 s");
}

function show(what: string, kind: Kind, p: Phases): Phases {
  const s = (ms: number) => (ms / 1000).toFixed(2).padStart(6);
  log(
    `${what.padEnd(8)} ${kind.padEnd(9)} total ${s(p.total)} s = setup ${s(p.setup)} + build ${s(p.build)} + finish ${s(p.finish)}   (no-op rebuild ${s(p.noop)}, compiled ${p.compiled})`,
  );
  return p;
}

function report(times: Record<Scenario, Record<Kind, Phases[]>>): string {
  const median = (list: Phases[], key: "total" | "setup" | "build" | "finish" | "noop") =>
    percentile(
      list.map((p) => p[key]),
      50,
    ) / 1000;
  log("\nmedians (s)             total   setup   build  finish  no-op");
  for (const scenario of ["warm", "fresh"] as const) {
    for (const kind of ["product", "bare", "statusQuo"] as const) {
      const list = times[scenario][kind];
      if (list.length === 0) continue;
      const cells = (["total", "setup", "build", "finish", "noop"] as const).map((k) =>
        median(list, k).toFixed(2).padStart(7),
      );
      log(`${scenario.padEnd(6)} ${kind.padEnd(16)}${cells.join(" ")}`);
    }
  }
  const extra = (scenario: Scenario) => {
    const p = times[scenario].product;
    const b = times[scenario].bare;
    return (["setup", "build", "finish", "noop"] as const)
      .map(
        (k) =>
          `${k} ${median(p, k) - median(b, k) >= 0 ? "+" : ""}${(median(p, k) - median(b, k)).toFixed(2)} s`,
      )
      .join(", ");
  };
  log(`\nthe product's extra time over bare (medians): warm: ${extra("warm")}; fresh: ${extra("fresh")}`);
  log("  setup: the CLI (credential, build, wait, keys) around the same buildx create + bootstrap;");
  log("  build and no-op: the broker's TLS legs (client→broker→builder instead of client→builder).");
  const warm = median(times.warm.product, "total") / median(times.warm.bare, "total");
  const fresh = median(times.fresh.product, "total") / median(times.fresh.bare, "total");
  const speedup = median(times.fresh.statusQuo, "total") / median(times.fresh.product, "total");
  return `RESULT warm_ratio=${warm.toFixed(2)} fresh_ratio=${fresh.toFixed(2)} speedup_vs_status_quo=${speedup.toFixed(1)}`;
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
