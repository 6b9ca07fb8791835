/**
 * Writes docs/openapi.json from the route table express mounts: `npm run openapi`.
 * test/api/openapi.test.ts fails when the checked-in file and the routes drift apart.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { pino } from "pino";
import type { AccountService } from "../service/core/account-service.js";
import type { BuildService } from "../service/core/build-service.js";
import type { OidcExchange } from "../service/core/oidc-exchange.js";
import type { TrustService } from "../service/core/trust-service.js";
import type { AccountStore, LedgerStore } from "../service/core/ports.js";
import { type AppDeps, routeTable } from "../service/http/app.js";
import { Metrics } from "../service/http/metrics.js";
import { openApiDocument } from "../service/http/openapi.js";
import { VERSION } from "../service/server.js";

export const OPENAPI_PATH = fileURLToPath(new URL("../docs/openapi.json", import.meta.url));

/**
 * Everything createApp and routeTable take, as inert stand-ins: building the route table and the
 * app only reads the routes' shapes, never calls a handler, so nothing here is ever used.
 */
export function inertAppDeps(): AppDeps {
  return {
    accountStore: {} as AccountStore,
    accounts: {} as AccountService,
    builds: {} as BuildService,
    oidc: {} as OidcExchange,
    trust: {} as TrustService,
    broker: { endpoint: "", serverName: "", caCertificate: "" },
    ledger: {} as LedgerStore,
    prices: null,
    clock: { now: () => 0 },
    metrics: new Metrics(),
    logger: pino({ level: "silent" }),
    adminToken: "",
    maxWaitSeconds: 0,
    claimLeaseMs: 0,
    readiness: {},
    version: VERSION,
  };
}

/** The document, from the same table the service mounts. */
export function generateOpenApi(): Record<string, unknown> {
  return openApiDocument(routeTable(inertAppDeps()), VERSION);
}

/**
 * Every object's keys sorted, so that the file only changes when the API does; laid out by the
 * project's prettier settings, so that `prettier --check .` agrees with it.
 */
export async function renderOpenApi(document: unknown): Promise<string> {
  const options = (await resolveConfig(OPENAPI_PATH)) ?? {};
  return format(JSON.stringify(sortKeys(document)), { ...options, filepath: OPENAPI_PATH });
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_PATH, await renderOpenApi(generateOpenApi()));
  console.log(`wrote ${OPENAPI_PATH}`);
}
