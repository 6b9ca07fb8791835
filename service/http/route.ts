import type { Request, Response, Router } from "express";
import type { z } from "zod";
import type { Principal } from "../core/accounts.js";
import { Problem, type ProblemKind } from "../core/problems.js";

/** `account`: the account's own agent token, or the admin token (principal null). */
export type Auth = "agent" | "admin" | "account" | "none";

export interface Context<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  principal: Principal | null;
  req: Request;
  res: Response;
}

export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** One route: what express mounts and what the OpenAPI document describes, from the same object. */
export interface RouteSpec {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  auth: Auth;
  body?: z.ZodType;
  params?: z.ZodType;
  query?: z.ZodType;
  /**
   * A body the handler reads as bytes (`req.body` is a Buffer): hook deliveries, whose signatures
   * are over the bytes as sent. Described in the OpenAPI document; never parsed by the route table.
   */
  rawBody?: { schema: z.ZodType; description: string };
  response: { status: number; schema: z.ZodType; description: string; contentType?: string };
  problems: ProblemKind[];
  handle(ctx: Context<unknown, unknown, unknown>): Promise<Reply>;
}

/** Declares a route with its handler typed from its schemas. */
export function route<
  B extends z.ZodType = z.ZodUnknown,
  P extends z.ZodType = z.ZodUnknown,
  Q extends z.ZodType = z.ZodUnknown,
>(
  spec: Omit<RouteSpec, "handle" | "body" | "params" | "query"> & {
    body?: B;
    params?: P;
    query?: Q;
    handle(ctx: Context<z.output<B>, z.output<P>, z.output<Q>>): Promise<Reply>;
  },
): RouteSpec {
  return spec as unknown as RouteSpec;
}

export interface Authenticators {
  agent(req: Request): Promise<Principal>;
  admin(req: Request): void;
  /** The admin token yields null; anything else must be a valid agent token. */
  agentOrAdmin(req: Request): Promise<Principal | null>;
}

export function mount(router: Router, routes: RouteSpec[], auth: Authenticators): void {
  for (const spec of routes) {
    router[spec.method](spec.path, async (req: Request, res: Response) => {
      let principal: Principal | null = null;
      if (spec.auth === "agent") principal = await auth.agent(req);
      else if (spec.auth === "account") principal = await auth.agentOrAdmin(req);
      else if (spec.auth === "admin") auth.admin(req);
      const ctx: Context<unknown, unknown, unknown> = {
        body: spec.body ? validate(spec.body, bodyOf(req), "body") : undefined,
        params: spec.params ? validate(spec.params, req.params, "path") : req.params,
        query: spec.query ? validate(spec.query, req.query, "query") : req.query,
        principal,
        req,
        res,
      };
      const reply = await spec.handle(ctx);
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      res.status(reply.status ?? spec.response.status);
      if (spec.response.contentType) res.type(spec.response.contentType).send(reply.body);
      else res.json(reply.body);
    });
  }
}

function bodyOf(req: Request): unknown {
  const hasBody =
    Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (!hasBody) return {};
  if (!req.is("application/json")) {
    throw new Problem(
      "unsupported-media-type",
      `The body is ${req.headers["content-type"] ?? "of no declared type"}; send JSON with Content-Type: application/json.`,
    );
  }
  return req.body;
}

function validate<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.flatMap((issue) => {
    const at = [where, ...issue.path.map(String)];
    // One entry per unknown field, at its own path, rather than one at the object's.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...at, key].join("."), message: "is not a known field" }));
    }
    return [{ path: at.join("."), message: issue.message }];
  });
  throw new Problem(
    "invalid-request",
    `The request's ${where} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}.`,
    { errors },
  );
}
