import { z } from "zod";
import type { Metrics } from "../metrics.js";
import { route, type RouteSpec } from "../route.js";
import { Health, Readiness } from "../schemas.js";

/** A dependency probe for /readyz; it rejects (or times out) when the dependency is unreachable. */
export type ReadinessCheck = () => Promise<unknown>;

const CHECK_TIMEOUT_MS = 2000;

export function operationRoutes(
  checks: Record<string, ReadinessCheck>,
  metrics: Metrics,
  openapi: () => object,
): RouteSpec[] {
  return [
    route({
      method: "get",
      path: "/healthz",
      operationId: "health",
      summary: "The process is up",
      tag: "operations",
      auth: "none",
      response: { status: 200, schema: Health, description: "Alive" },
      problems: [],
      async handle() {
        return { body: { status: "ok" } };
      },
    }),
    route({
      method: "get",
      path: "/readyz",
      operationId: "ready",
      summary: "Redis and PostgreSQL are reachable",
      tag: "operations",
      auth: "none",
      response: { status: 200, schema: Readiness, description: "Ready (503 with the same body when not)" },
      problems: [],
      async handle() {
        const results = await Promise.all(
          Object.entries(checks).map(async ([name, check]) => [
            name,
            (await probe(check)) ? "ok" : "unavailable",
          ]),
        );
        const ok = results.every(([, r]) => r === "ok");
        return {
          status: ok ? 200 : 503,
          body: { status: ok ? "ok" : "unavailable", checks: Object.fromEntries(results) },
        };
      },
    }),
    route({
      method: "get",
      path: "/metrics",
      operationId: "metrics",
      summary: "Prometheus metrics",
      tag: "operations",
      auth: "none",
      response: {
        status: 200,
        schema: z.string(),
        description: "Prometheus text format",
        contentType: "text/plain; version=0.0.4",
      },
      problems: [],
      async handle() {
        return { body: await metrics.registry.metrics() };
      },
    }),
    route({
      method: "get",
      path: "/api/v1/openapi.json",
      operationId: "openapi",
      summary: "This document",
      tag: "operations",
      auth: "none",
      response: { status: 200, schema: z.object({}).passthrough(), description: "OpenAPI 3.1" },
      problems: [],
      async handle() {
        return { body: openapi() };
      },
    }),
  ];
}

async function probe(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
