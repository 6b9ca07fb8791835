import { z } from "zod";
import { PROBLEM_BASE, PROBLEMS } from "../core/problems.js";
import type { RouteSpec } from "./route.js";
import { Problem } from "./schemas.js";

const schema = (s: z.ZodType, io: "input" | "output") =>
  z.toJSONSchema(s, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;

const SECURITY: Record<RouteSpec["auth"], unknown[]> = {
  none: [],
  agent: [{ agentToken: [] }],
  admin: [{ adminToken: [] }],
  account: [{ agentToken: [] }, { adminToken: [] }],
};

/** The OpenAPI 3.1 document, generated from the same route table express mounts. */
export function openApiDocument(routes: RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, "{$1}");
    const parameters = [
      ...objectProperties(r.params).map(([name, s]) => ({ name, in: "path", required: true, schema: s })),
      ...objectProperties(r.query).map(([name, s]) => ({ name, in: "query", required: false, schema: s })),
    ];
    const responses: Record<string, unknown> = {
      [r.response.status]: {
        description: r.response.description,
        content: {
          [r.response.contentType ?? "application/json"]: { schema: schema(r.response.schema, "output") },
        },
      },
    };
    for (const [status, kinds] of groupByStatus(r.problems)) {
      responses[status] = {
        description: kinds.map((k) => `${k}: ${PROBLEMS[k].title}`).join("; "),
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
      };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: SECURITY[r.auth],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.rawBody
        ? {
            requestBody: {
              required: true,
              description: r.rawBody.description,
              content: { "application/json": { schema: schema(r.rawBody.schema, "input") } },
            },
          }
        : {}),
      ...(r.body
        ? {
            requestBody: {
              // A request with no body is validated as {}: the body is required when {} is refused.
              required: !r.body.safeParse({}).success,
              content: { "application/json": { schema: schema(r.body, "input") } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "remote-builder",
      version,
      description: `Warm, isolated, per-account BuildKit builders. Errors are application/problem+json; their types are ${PROBLEM_BASE}<kind>.`,
    },
    paths,
    components: {
      securitySchemes: {
        agentToken: { type: "http", scheme: "bearer", description: "An account's agent token (rba_…)" },
        adminToken: {
          type: "http",
          scheme: "bearer",
          description: "The service's admin token (RB_ADMIN_TOKEN)",
        },
      },
      schemas: {
        Problem: {
          ...schema(Problem, "output"),
          // RFC 9457 extension members (limit, current, shapes, ...) ride alongside the standard ones.
          additionalProperties: true,
          properties: {
            ...(schema(Problem, "output").properties as object),
            type: { type: "string", enum: Object.keys(PROBLEMS).map((k) => PROBLEM_BASE + k) },
          },
        },
      },
    },
  };
}

function objectProperties(s: z.ZodType | undefined): Array<[string, unknown]> {
  if (!s) return [];
  const json = schema(s, "input");
  return Object.entries((json.properties ?? {}) as Record<string, unknown>);
}

function groupByStatus(kinds: Array<keyof typeof PROBLEMS>): Map<number, Array<keyof typeof PROBLEMS>> {
  const groups = new Map<number, Array<keyof typeof PROBLEMS>>();
  for (const k of kinds) groups.set(PROBLEMS[k].status, [...(groups.get(PROBLEMS[k].status) ?? []), k]);
  return new Map([...groups].sort(([a], [b]) => a - b));
}
