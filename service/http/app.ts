import express from "express";
import type { Logger } from "pino";
import type { AccountService } from "../core/account-service.js";
import type { BuildRequests } from "../core/build-requests.js";
import type { OidcExchange } from "../core/oidc-exchange.js";
import type { TrustService } from "../core/trust-service.js";
import type { VolumeService } from "../core/volume-service.js";
import type { AccountStore, Clock, LedgerStore } from "../core/ports.js";
import type { Prices } from "../core/usage.js";
import { authenticators } from "./auth.js";
import type { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { bodyProblem, errorHandler, notFound } from "./problem.js";
import { requestLog } from "./request-log.js";
import { mount, type RouteSpec } from "./route.js";
import { adminRoutes } from "./routes/admin.js";
import { buildRoutes } from "./routes/builds.js";
import { operationRoutes, type ReadinessCheck } from "./routes/operations.js";
import type { BrokerInfo } from "./schemas.js";
import { usageRoutes } from "./routes/usage.js";
import { oidcRoutes } from "./routes/oidc.js";
import { trustRoutes } from "./routes/trust.js";
import { volumeRoutes } from "./routes/volumes.js";
import { dashboardLinkRoutes } from "./routes/dashboard-links.js";
import type { BuildEvents } from "../core/build-events.js";
import { Dashboard } from "../core/dashboard.js";
import type { DashboardAccess } from "../core/dashboard-access.js";
import type { BuildStore } from "../core/ports.js";
import { dashboardRouter } from "./dashboard/routes.js";
import type { HookDeliveries } from "../core/hook-deliveries.js";
import type { HookInstallations } from "../core/hook-installations.js";
import { HOOK_BODY_LIMIT, hookRoutes } from "./routes/hooks.js";
import { hookInstallationRoutes } from "./routes/hook-installations.js";

export interface AppDeps {
  accountStore: AccountStore;
  accounts: AccountService;
  builds: BuildRequests;
  volumes: VolumeService;
  oidc: OidcExchange;
  trust: TrustService;
  broker: BrokerInfo;
  ledger: LedgerStore;
  prices: Prices | null;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  adminToken: string;
  maxWaitSeconds: number;
  claimLeaseMs: number;
  readiness: Record<string, ReadinessCheck>;
  version: string;
  /** The dashboard: sign-in links and sessions, the builds it reads and their changes. */
  dashboard: { access: DashboardAccess; builds: BuildStore; events: BuildEvents };
  /** CI hooks: their installations (admin) and their deliveries (the CIs). */
  hooks: { installations: HookInstallations; deliveries: HookDeliveries };
}

/** Every route the service serves, in one table: express mounts it and the OpenAPI document describes it. */
export function routeTable(deps: Omit<AppDeps, "logger" | "accountStore" | "adminToken">): RouteSpec[] {
  const routes: RouteSpec[] = [];
  routes.push(
    ...operationRoutes(deps.readiness, deps.metrics, () => openApiDocument(routes, deps.version)),
    ...buildRoutes(deps.builds, {
      maxWaitSeconds: deps.maxWaitSeconds,
      heartbeatIntervalSeconds: Math.max(1, Math.floor(deps.claimLeaseMs / 3000)),
      broker: deps.broker,
    }),
    ...usageRoutes({ accounts: deps.accounts, ledger: deps.ledger, prices: deps.prices, clock: deps.clock }),
    ...volumeRoutes(deps.accounts, deps.volumes),
    ...adminRoutes(deps.accounts),
    ...oidcRoutes(deps.oidc),
    ...trustRoutes(deps.trust),
    ...dashboardLinkRoutes(deps.dashboard.access),
    ...hookInstallationRoutes(deps.hooks.installations),
    ...hookRoutes(deps.hooks.deliveries, deps.metrics),
  );
  return routes;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestLog(deps.logger, deps.metrics));
  app.use("/api/v1/hooks", hookBody());
  app.use(jsonBody());
  const router = express.Router();
  mount(
    router,
    routeTable(deps),
    authenticators(deps.accountStore, deps.adminToken, (credential) => deps.oidc.authenticate(credential)),
  );
  app.use(router);
  app.use(
    dashboardRouter({
      access: deps.dashboard.access,
      events: deps.dashboard.events,
      dashboard: new Dashboard({
        accounts: deps.accounts,
        builds: deps.dashboard.builds,
        ledger: deps.ledger,
        volumes: deps.volumes,
        trust: deps.trust,
        clock: deps.clock,
      }),
    }),
  );
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}

/**
 * Hook deliveries as bytes, for their signatures: read before the JSON parser, which then finds
 * the body taken and leaves it.
 */
function hookBody(): express.RequestHandler {
  const parse = express.raw({ type: () => true, limit: HOOK_BODY_LIMIT });
  return (req, res, next) =>
    parse(req, res, (err?: unknown) =>
      next(err === undefined ? undefined : bodyProblem(err, req.headers["content-encoding"], "1 MiB")),
    );
}

/** JSON bodies of at most 64 KiB; every refusal of one is a problem about the body, never a 500. */
function jsonBody(): express.RequestHandler {
  const parse = express.json({ limit: "64kb", type: ["application/json", "application/*+json"] });
  return (req, res, next) =>
    parse(req, res, (err?: unknown) =>
      next(err === undefined ? undefined : bodyProblem(err, req.headers["content-encoding"])),
    );
}
