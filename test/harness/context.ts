import { randomBytes } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import { type Config, loadConfig } from "../../service/config.js";
import { startService, type RunningService, type ServiceOverrides } from "../../service/server.js";
import { memoryDriver } from "../doubles/memory-driver.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123456789";

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run the tests with jest, whose global setup starts Redis and PostgreSQL`,
    );
  return value;
}

export const redisUrl = () => required("RB_TEST_REDIS_URL");
export const postgresServerUrl = () => required("RB_TEST_POSTGRES_URL");

/** A random name for a database or key prefix, so that test files never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/** A fresh, empty database on the shared test server. */
export async function freshDatabase(): Promise<string> {
  const name = uniqueName("t");
  const client = new pg.Client({ connectionString: `${postgresServerUrl()}/postgres` });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return `${postgresServerUrl()}/${name}`;
}

/** The configuration of a service handed its driver by the caller: RB_DRIVER may be unset. */
export function loadTestConfig(env: Record<string, string | undefined>): Config {
  return loadConfig(env, { driverInjected: true });
}

/** Test configuration: a fresh database and key prefix, an ephemeral port, quiet logs. */
export async function testEnv(env: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    RB_DATABASE_URL: await freshDatabase(),
    RB_REDIS_URL: redisUrl(),
    RB_REDIS_PREFIX: `${uniqueName("rb")}:`,
    RB_ADMIN_TOKEN: ADMIN_TOKEN,
    RB_PORT: "0",
    RB_LOG_LEVEL: "silent",
    RB_RECONCILE_INTERVAL_MS: "100",
    RB_BROKER_PORT: "0",
    ...env,
  };
}

export interface TestService extends RunningService {
  config: Config;
  /** Creates an account with the feature flag on (unless told otherwise) and one agent token. */
  account(options?: AccountOptions): Promise<{ handle: string; id: string; token: string }>;
}

export interface AccountOptions {
  plan?: string;
  concurrencyLimit?: number;
  monthlyBuildMinutes?: number;
  allowedShapes?: string[];
  profiles?: Record<string, string>;
  featureOn?: boolean;
}

export async function startTestService(
  env: Record<string, string> = {},
  overrides: ServiceOverrides = {},
): Promise<TestService> {
  // Without RB_DRIVER, the memory driver: it needs no buildkitd and boots at once.
  const driver = overrides.driver ?? (env.RB_DRIVER ? undefined : memoryDriver());
  const config = driver ? loadTestConfig(await testEnv(env)) : loadConfig(await testEnv(env));
  const service = await startService(config, {
    logger: pino({ level: "silent" }),
    ...overrides,
    ...(driver ? { driver } : {}),
  });
  return {
    ...service,
    config,
    async account(options = {}) {
      const { featureOn = true, ...limits } = options;
      const account = await service.accounts.create({
        handle: uniqueName("acct").replace(/_/g, "-"),
        ...limits,
      });
      if (featureOn) await service.accounts.setFeature(account.id, "remote_builder", true);
      const { token } = await service.accounts.mintToken(account.id, "test");
      return { handle: account.handle, id: account.id, token };
    },
  };
}

/**
 * Where a build's builder listens, as the service recorded it: the broker dials it; the API never
 * shows it to clients.
 */
export async function builderEndpoint(service: { pool: pg.Pool }, buildId: string): Promise<string | null> {
  return (await builderOf(service, buildId)).endpoint;
}

/** The builder serving a build, as the service recorded it. */
export async function builderOf(
  service: { pool: pg.Pool },
  buildId: string,
): Promise<{ endpoint: string | null; builderId: string | null }> {
  const { rows } = await service.pool.query<{ endpoint: string | null; builder_id: string | null }>(
    "SELECT endpoint, builder_id FROM builds WHERE id = $1",
    [buildId],
  );
  return { endpoint: rows[0]?.endpoint ?? null, builderId: rows[0]?.builder_id ?? null };
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** Real HTTP to the service on loopback. */
export async function http<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: {
    token?: string;
    body?: unknown;
    rawBody?: string;
    contentType?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const response = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}
