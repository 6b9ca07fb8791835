import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { IllegalTransitionError } from "../core/lifecycle.js";
import { PROBLEM_BASE, PROBLEMS, Problem } from "../core/problems.js";

/** Writes a refusal as RFC 9457 `application/problem+json`. */
export function sendProblem(res: Parameters<RequestHandler>[1], problem: Problem, instance: string): void {
  if (problem.retryAfterSeconds !== undefined)
    res.setHeader("Retry-After", String(problem.retryAfterSeconds));
  if (problem.kind === "unauthorized") res.setHeader("WWW-Authenticate", 'Bearer realm="remote-builder"');
  res
    .status(problem.status)
    .type("application/problem+json")
    .send(
      JSON.stringify({
        ...problem.extensions,
        type: problem.type,
        title: PROBLEMS[problem.kind].title,
        status: problem.status,
        detail: problem.detail,
        instance,
      }),
    );
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, new Problem("not-found", `There is no route ${req.method} ${req.path}.`), req.originalUrl);
};

/** Every error becomes a problem; only a fault of ours is a 500, and it is logged. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const problem = toProblem(err);
    if (problem) {
      sendProblem(res, problem, req.originalUrl);
      return;
    }
    ((req as { log?: Logger }).log ?? logger).error({ err }, "request failed");
    res
      .status(500)
      .type("application/problem+json")
      .send(
        JSON.stringify({
          type: `${PROBLEM_BASE}internal`,
          title: "Internal error",
          status: 500,
          detail:
            "The service failed to handle this request; it has been logged. Retry, and report it if it persists.",
          instance: req.originalUrl,
        }),
      );
  };
}

function toProblem(err: unknown): Problem | null {
  if (err instanceof Problem) return err;
  // A path segment that is not valid percent-encoded UTF-8 (the router's decodeURIComponent).
  if (err instanceof URIError)
    return new Problem("invalid-request", "The URL's path is not valid percent-encoded UTF-8.");
  if (err instanceof IllegalTransitionError)
    return new Problem("illegal-transition", err.message, { state: err.from });
  const e = err as { type?: string; status?: number; code?: string; name?: string };
  // body-parser's own errors
  if (e.type === "entity.parse.failed") return new Problem("invalid-request", "The body is not valid JSON.");
  if (e.type === "entity.too.large")
    return new Problem("payload-too-large", "The body is larger than 64 KiB.");
  if (e.type === "encoding.unsupported" || e.type === "charset.unsupported") {
    return new Problem("unsupported-media-type", "Send the body as UTF-8 JSON.");
  }
  if (e.status === 400 && e.type !== undefined)
    return new Problem("invalid-request", "The body could not be read.");
  if (e.name === "MaxRetriesPerRequestError" || e.code === "ECONNREFUSED" || e.code === "57P01") {
    return new Problem("unavailable", "Redis or PostgreSQL is unreachable; retry shortly.", {}, 5);
  }
  return null;
}
