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
  const e = err as { code?: string; name?: string };
  if (e.name === "MaxRetriesPerRequestError" || e.code === "ECONNREFUSED" || e.code === "57P01") {
    return new Problem("unavailable", "Redis or PostgreSQL is unreachable; retry shortly.", {}, 5);
  }
  return null;
}

/**
 * What the JSON body parser refused, as a problem that says what was wrong with the body. A body
 * that does not decode as its Content-Encoding says (gzip, deflate, br) is the client's error, never
 * a fault of ours; anything the parser raises that is not a 4xx stays a fault (a 500, logged).
 */
export function bodyProblem(err: unknown, contentEncoding: string | undefined, limit = "64 KiB"): unknown {
  const e = err as { type?: string; status?: number };
  if (typeof e.status !== "number" || e.status >= 500) return err;
  const encoding = JSON.stringify((contentEncoding ?? "").slice(0, 64));
  switch (e.type) {
    case "entity.parse.failed":
      return new Problem("invalid-request", "The body is not valid JSON.");
    case "entity.too.large":
      return new Problem("payload-too-large", `The body is larger than ${limit}.`);
    case "charset.unsupported":
      return new Problem("unsupported-media-type", "Send the body as UTF-8 JSON.");
    case "encoding.unsupported":
      return new Problem(
        "unsupported-media-type",
        `The body's Content-Encoding ${encoding} is not one this service reads: send it uncompressed, or as gzip, deflate or br.`,
      );
    case undefined:
      // Only a decompression stream fails without a type: the bytes are not what the header says.
      if (contentEncoding !== undefined) {
        return new Problem(
          "invalid-request",
          `The body is not valid ${encoding} data, as its Content-Encoding says: send it uncompressed, or encoded as declared.`,
        );
      }
  }
  return new Problem("invalid-request", "The body could not be read.");
}
