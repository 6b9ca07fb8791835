/**
 * Every way a request can be refused, with its stable problem `type` (RFC 9457). The slug is the
 * contract: clients switch on it, so it never changes once shipped.
 */
export const PROBLEM_BASE = "https://remote-builder.tuist.dev/problems/";

export const PROBLEMS = {
  "invalid-request": { status: 400, title: "The request is not valid" },
  unauthorized: { status: 401, title: "A valid bearer token is required" },
  "invalid-token": { status: 401, title: "The identity token is not valid" },
  "token-expired": { status: 401, title: "The identity token has expired" },
  "token-replayed": { status: 401, title: "The identity token was already exchanged" },
  "wrong-audience": { status: 401, title: "The identity token is meant for another audience" },
  "unknown-issuer": { status: 401, title: "The identity token's issuer is not trusted" },
  "sign-in-link-invalid": { status: 401, title: "The sign-in link has expired or was already used" },
  "signature-invalid": {
    status: 401,
    title: "The delivery's signature does not match its installation's secret",
  },
  "admin-required": { status: 403, title: "This needs the admin token" },
  "feature-disabled": { status: 403, title: "Remote builders are not enabled for this account" },
  "shape-not-allowed": { status: 403, title: "The account's plan does not include this shape" },
  "no-trust-relationship": { status: 403, title: "No trust relationship admits this CI identity" },
  "event-not-allowed": { status: 403, title: "The job's event may not get a credential" },
  "cache-write-not-allowed": { status: 403, title: "This credential may not change the warm cache" },
  "refresh-not-allowed": { status: 403, title: "The credential can no longer be renewed" },
  "not-found": { status: 404, title: "Not found" },
  "unknown-owner": { status: 404, title: "No account trusts the job's owner and repository" },
  "illegal-transition": { status: 409, title: "The build cannot do that in its current state" },
  "claim-lost": { status: 409, title: "The build no longer holds its claim" },
  conflict: { status: 409, title: "It already exists" },
  "delivery-replayed": { status: 409, title: "This delivery was already received" },
  "volume-in-use": { status: 409, title: "A build is using the cache volume" },
  "payload-too-large": { status: 413, title: "The request body is too large" },
  "unsupported-media-type": { status: 415, title: "Send the body as application/json" },
  "unknown-shape": { status: 422, title: "No such shape or profile" },
  "quota-exhausted": { status: 429, title: "The account's monthly build minutes are used up" },
  "concurrency-limit": { status: 429, title: "The account is running as many builds as its plan allows" },
  unavailable: { status: 503, title: "A dependency of the service is unavailable" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemKind = keyof typeof PROBLEMS;

/** A refusal the domain raises; the HTTP layer turns it into `application/problem+json`. */
export class Problem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    /** Extension members (limit, current value, ...), sent alongside the standard ones. */
    readonly extensions: Record<string, unknown> = {},
    /** Seconds until a retry may succeed; becomes the `Retry-After` header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = "Problem";
  }

  get status(): number {
    return PROBLEMS[this.kind].status;
  }

  get type(): string {
    return PROBLEM_BASE + this.kind;
  }
}
