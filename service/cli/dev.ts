import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BUILDKIT_HELP, SINGLE_TENANT_WARNING } from "../adapters/drivers/local.js";
import { loadConfig } from "../config.js";
import type { AccountService } from "../core/account-service.js";
import { startPostgres } from "../embedded/postgres.js";
import { findExecutable, freePort } from "../embedded/process.js";
import { startRedis } from "../embedded/redis.js";
import { type ServiceOverrides, startService } from "../server.js";
import { type StopSignals, stopSignals } from "./signals.js";

const DEV_ACCOUNT = "dev";

/**
 * The newcomer's first run: Redis (AOF on) and PostgreSQL of its own in `dataDir`, the service on
 * top with the local buildkitd driver, a dev account and its agent token, until Ctrl-C. Running
 * it again reuses the data, the cache volumes included.
 *
 * Ctrl-C is listened for from the first line on: one that comes while things start lets them
 * finish starting, then stops them all, rather than killing this process and leaving Redis and
 * PostgreSQL behind.
 */
export async function devCommand(options: { dataDir: string; port: number }): Promise<number> {
  const signals = stopSignals();
  // What is running, to stop in the reverse order it started.
  const running: Running[] = [];
  let failure: unknown = null;
  try {
    await runUntilSignal(options, signals, running);
  } catch (err) {
    failure = err;
  }
  // Whatever came up is stopped, also when something else failed to start.
  const stopFailure = await stopAll(running);
  failure ??= stopFailure;
  signals.dispose();
  if (failure) throw failure as Error;
  if (running.length > 0) process.stdout.write("stopped.\n");
  return 0;
}

interface Running {
  what: string;
  stop(): Promise<void>;
}

/** Stops each one, even when another fails to; returns the first failure. */
async function stopAll(running: Running[]): Promise<unknown> {
  let failure: unknown = null;
  for (const { what, stop } of [...running].reverse()) {
    await stop().catch((err: Error) => {
      process.stderr.write(`remote-builder: stopping ${what} failed: ${err.message}\n`);
      failure ??= err;
    });
  }
  return failure;
}

/** Starts everything (pushing each onto `running` as it comes up), prints the banner, waits for Ctrl-C. */
async function runUntilSignal(
  options: { dataDir: string; port: number },
  signals: StopSignals,
  running: Running[],
): Promise<void> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const adminToken = readOrCreateSecret(join(dataDir, "admin-token"));
  const hookSecretKey = readOrCreateSecret(join(dataDir, "hook-secret-key"));
  const missing = [process.env.RB_BUILDKITD ?? "buildkitd", "runc"].filter((name) => !findExecutable(name));
  const local = missing.length === 0;
  if (!local) {
    process.stderr.write(
      `\n${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not on PATH, so builders will be the ` +
        `in-memory test driver: builds are admitted, queued and tracked, but nothing builds.\n` +
        `${BUILDKIT_HELP}\nThen run this again.\n\n`,
    );
  }
  // RB_DRIVER, when set, wins, as any variable does over dev's choices.
  const driver = local || process.env.RB_DRIVER ? undefined : await testsMemoryDriver();
  if (signals.received()) return;
  const redis = await startRedis({ dataDir: join(dataDir, "redis"), port: await freePort() });
  running.push({ what: "Redis", stop: () => redis.stop() });
  if (signals.received()) return;
  const postgres = await startPostgres({ dataDir: join(dataDir, "postgres"), port: await freePort() });
  running.push({ what: "PostgreSQL", stop: () => postgres.stop() });
  if (signals.received()) return;
  const defaultShape = process.env.RB_DEFAULT_SHAPE ?? "small";
  const config = loadConfig(
    {
      ...(local ? { RB_DRIVER: "local" } : {}),
      RB_WARM_POOL: JSON.stringify({ [defaultShape]: 1 }),
      RB_LOCAL_DIR: join(dataDir, "local"),
      RB_LOG_LEVEL: "warn",
      ...process.env,
      RB_PORT: String(options.port),
      RB_DATABASE_URL: await postgres.createDatabase("remote_builder"),
      RB_REDIS_URL: redis.url,
      RB_ADMIN_TOKEN: adminToken,
      RB_HOOK_SECRET_KEY: hookSecretKey,
      RB_CA_DIR: process.env.RB_CA_DIR ?? join(dataDir, "ca"),
    },
    { driverInjected: driver !== undefined },
  );
  const service = await startService(config, driver ? { driver } : {});
  running.push({ what: "the service", stop: () => service.stop() });
  if (signals.received()) return;
  const tokenPath = join(dataDir, "dev-token");
  await ensureDevAccount(service.accounts, tokenPath);
  if (signals.received()) return;
  process.stdout.write(
    banner({
      url: service.url,
      broker: service.brokerInfo.endpoint,
      dataDir: shown(dataDir),
      tokenPath: shown(tokenPath),
      local,
    }),
  );
  await signals.first;
  process.stdout.write("\nstopping the builders, the service, PostgreSQL and Redis…\n");
}

/**
 * The memory driver, which builds nothing, for a machine without buildkitd. It is a test double
 * and lives with the tests (test/doubles/memory-driver.ts), outside the service and its build, so
 * it is loaded from the source tree beside this module: by tsx under `npm run dev`, with Node's
 * type stripping under the compiled CLI (bin/remote-builder.js dev).
 */
async function testsMemoryDriver(): Promise<ServiceOverrides["driver"]> {
  const file = findUp(dirname(fileURLToPath(import.meta.url)), MEMORY_DRIVER);
  if (!file) {
    throw new Error(
      `builders need buildkitd and runc here: this copy has no ${MEMORY_DRIVER} to fall back on.\n${BUILDKIT_HELP}`,
    );
  }
  const tests = (await import(
    pathToFileURL(file).href
  )) as typeof import("../../test/doubles/memory-driver.js");
  return tests.memoryDriver();
}

const MEMORY_DRIVER = "test/doubles/memory-driver.ts";

/** `path` in `dir`, or in the nearest folder above it that holds it. */
function findUp(dir: string, path: string): string | null {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, path))) return join(at, path);
    if (dirname(at) === at) return null;
  }
}

/** A path as the banner shows it: relative to this folder when inside it, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** The `dev` account, enabled, with an agent token kept in `tokenPath` across runs. */
async function ensureDevAccount(accounts: AccountService, tokenPath: string): Promise<void> {
  const existing = await accounts.get(DEV_ACCOUNT).catch(() => null);
  if (existing && existsSync(tokenPath)) return;
  const account = existing ?? (await accounts.create({ handle: DEV_ACCOUNT, plan: "team" }));
  await accounts.setFeature(account.id, "remote_builder", true);
  const { token } = await accounts.mintToken(account.id, "dev");
  writeFileSync(tokenPath, `${token}\n`, { mode: 0o600 });
}

function readOrCreateSecret(path: string): string {
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const secret = randomBytes(32).toString("hex");
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function banner(o: {
  url: string;
  broker: string;
  dataDir: string;
  tokenPath: string;
  local: boolean;
}): string {
  const builders = o.local
    ? `buildkitd processes on this machine, cache volumes in ${o.dataDir}/local/volumes\n  ${SINGLE_TENANT_WARNING}`
    : "the in-memory test driver (install buildkitd and runc for real builds)";
  return `
remote-builder is running at ${o.url}
  TLS broker (builds connect here with their client certificate): ${o.broker}
  builders: ${builders}
  data (PostgreSQL, Redis with AOF, the CA, the tokens): ${o.dataDir}

Build something, from another terminal in this folder (the "${DEV_ACCOUNT}" account is ready):
  export RB_SERVER_URL=${o.url} RB_TOKEN=$(cat ${o.tokenPath})
  npx remote-builder setup
  docker buildx build --builder remote-builder -t hello .
  npx remote-builder finish --result success

Ctrl-C stops everything this started; running it again keeps the data and the build cache.
`;
}
