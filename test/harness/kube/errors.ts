/**
 * Kubernetes `Status` errors, shaped like the real apiserver's (apimachinery/pkg/api/errors), so
 * that the driver's error handling is exercised against the bodies it will meet in production.
 */
export type StatusReason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "BadRequest"
  | "Gone"
  | "Expired"
  | "Forbidden"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "InternalError"
  | "ServiceUnavailable"
  | "TooManyRequests"
  | "Timeout";

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusObject {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

export class KubeError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): StatusObject {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** What the real server names a resource in messages: `pods`, `leases.coordination.k8s.io`. */
export interface ResourceName {
  plural: string;
  group: string;
}

const qualified = (r: ResourceName) => (r.group ? `${r.plural}.${r.group}` : r.plural);
const detailsOf = (r: ResourceName, name: string): StatusDetails => ({
  name,
  ...(r.group ? { group: r.group } : {}),
  kind: r.plural,
});

export const notFound = (r: ResourceName, name: string) =>
  new KubeError(404, "NotFound", `${qualified(r)} "${name}" not found`, detailsOf(r, name));

export const alreadyExists = (r: ResourceName, name: string) =>
  new KubeError(409, "AlreadyExists", `${qualified(r)} "${name}" already exists`, detailsOf(r, name));

export const conflict = (r: ResourceName, name: string, why: string) =>
  new KubeError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`,
    detailsOf(r, name),
  );

export const STALE =
  "the object has been modified; please apply your changes to the latest version and try again";

export const badRequest = (message: string) => new KubeError(400, "BadRequest", message);

/** 422 with field causes, as `errors.NewInvalid` renders them: `Pod "x" is invalid: [a: ..., b: ...]`. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): KubeError {
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new KubeError(422, "Invalid", `${kind} "${name}" is invalid: ${summary}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes,
  });
}

export const REASON_BY_CODE: Record<number, StatusReason> = {
  400: "BadRequest",
  404: "NotFound",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** A generic failure for an HTTP code, like the ones a loaded or restarting apiserver returns. */
export function failureFor(code: number): KubeError {
  const reason = REASON_BY_CODE[code] ?? "InternalError";
  const message =
    code === 429
      ? "Too many requests, please try again later."
      : code === 503
        ? "the server is currently unable to handle the request"
        : code === 504
          ? "the server was unable to return a response in the time allotted, but may still be processing the request"
          : 'an error on the server ("injected fault") has prevented the request from succeeding';
  return new KubeError(code, reason, message, code === 429 ? { retryAfterSeconds: 1 } : undefined);
}

/** The code and Status body of the call's client-node ApiException; throws if the call succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; body: unknown };
    return {
      code: e.code,
      body: (typeof e.body === "string" ? JSON.parse(e.body) : e.body) as Record<string, unknown>,
    };
  }
  throw new Error("expected the call to fail");
}
