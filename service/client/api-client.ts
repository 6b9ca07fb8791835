import { type HttpAnswer, httpRequest } from "./http.js";
import type { operations } from "./openapi-types.js";

/**
 * The one typed client of the HTTP API, shared by the GitHub Action and the CLI. Request and
 * response types come from the OpenAPI document (`npm run openapi`), and OPERATIONS is checked
 * against it by test/client/api-client.test.ts, so the client cannot drift from the service.
 */
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type OkStatus = 200 | 201;
export type ResponseOf<Op extends keyof operations> = Json<
  operations[Op]["responses"][OkStatus & keyof operations[Op]["responses"]]
>;
export type BodyOf<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

export type Build = ResponseOf<"getBuild">;
export type CreateBuild = BodyOf<"createBuild">;
export type Credential = ResponseOf<"exchangeOidcToken">;
export type CacheVolume = ResponseOf<"resetCacheVolume">;
export type Usage = ResponseOf<"getUsage">;
export type DashboardLink = ResponseOf<"createDashboardLink">;
export type JobResult = BodyOf<"completeBuild">["result"];

export const OPERATIONS = {
  exchangeOidcToken: ["POST", "/api/v1/auth/oidc"],
  refreshCredential: ["POST", "/api/v1/auth/refresh"],
  createBuild: ["POST", "/api/v1/builds"],
  getBuild: ["GET", "/api/v1/builds/{id}"],
  heartbeatBuild: ["POST", "/api/v1/builds/{id}/heartbeat"],
  completeBuild: ["POST", "/api/v1/builds/{id}/complete"],
  listCacheVolumes: ["GET", "/api/v1/accounts/{account}/cache-volumes"],
  resetCacheVolume: ["DELETE", "/api/v1/accounts/{account}/cache-volumes/{name}"],
  getUsage: ["GET", "/api/v1/accounts/{account}/usage"],
  createDashboardLink: ["POST", "/api/v1/dashboard/links"],
} as const satisfies { [Op in keyof operations]?: readonly [string, string] };

type Operation = keyof typeof OPERATIONS;

/** A refusal from the service (problem+json), or no answer from it at all (`status` 0). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The problem type's slug (`concurrency-limit`, …), or `unreachable`/`timeout` with no answer. */
    readonly kind: string,
    readonly problem: Record<string, unknown> | null = null,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Where the bearer token comes from; `refresh` (when there is one) gets a new one after a 401. */
export interface TokenSource {
  token(): Promise<string>;
  refresh?(): Promise<string>;
}

export const staticToken = (token: string): TokenSource => ({ token: async () => token });

/** A token `exchange` gets, kept until a 401 asks for another; `initial` spares the first exchange. */
export function exchangedToken(exchange: () => Promise<string>, initial?: string): TokenSource {
  let current = initial ?? null;
  const refresh = async () => (current = await exchange());
  return { token: async () => current ?? refresh(), refresh };
}

export interface ClientOptions {
  serverUrl: string;
  auth?: TokenSource;
  /** Per request; a long poll adds its own wait on top. */
  timeoutMs?: number;
  userAgent?: string;
}

const IDEMPOTENT = new Set<Operation>([
  "getBuild",
  "heartbeatBuild",
  "completeBuild",
  "listCacheVolumes",
  "getUsage",
]);
const RETRY_DELAYS_MS = [250, 1_000, 3_000];
const MAX_RETRY_AFTER_MS = 10_000;

export class ApiClient {
  readonly serverUrl: string;

  constructor(private readonly options: ClientOptions) {
    this.serverUrl = options.serverUrl.replace(/\/+$/, "");
  }

  exchangeOidcToken(token: string, account?: string): Promise<Credential> {
    return this.call("exchangeOidcToken", {}, { token, ...(account ? { account } : {}) }, { auth: false });
  }

  /**
   * A new credential with the same scope for a live `credential` (rbc_…), or for this client's own
   * when none is given. Sent once, never retried with another token: a 401 means it is too late.
   */
  refresh(credential?: string): Promise<Credential> {
    return this.call("refreshCredential", {}, undefined, credential ? { token: credential } : {});
  }

  createBuild(body: CreateBuild): Promise<Build> {
    return this.call("createBuild", {}, body);
  }

  /** With `waitSeconds`, a long poll: answers once the build is ready or ended, or the wait runs out. */
  getBuild(id: string, waitSeconds = 0): Promise<Build> {
    const query = waitSeconds > 0 ? { wait: String(waitSeconds) } : undefined;
    return this.call("getBuild", { id }, undefined, { query, extraMs: waitSeconds * 1000 });
  }

  heartbeat(id: string): Promise<Build> {
    return this.call("heartbeatBuild", { id });
  }

  complete(id: string, result: JobResult): Promise<Build> {
    return this.call("completeBuild", { id }, { result });
  }

  async listCacheVolumes(account: string): Promise<CacheVolume[]> {
    return (await this.call("listCacheVolumes", { account })).volumes;
  }

  resetCacheVolume(account: string, name: string): Promise<CacheVolume> {
    return this.call("resetCacheVolume", { account, name });
  }

  usage(account: string, range: { from?: string; to?: string } = {}): Promise<Usage> {
    const query = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
    return this.call("getUsage", { account }, undefined, { query });
  }

  /** A one-time sign-in link to the dashboard: the service's URL with the path it returns. */
  async dashboardLink(): Promise<DashboardLink & { url: string }> {
    const link = await this.call("createDashboardLink", {});
    return { ...link, url: this.serverUrl + link.path };
  }

  private async call<Op extends Operation>(
    op: Op,
    params: Record<string, string>,
    body?: unknown,
    opts: {
      auth?: boolean;
      /** This token, instead of the client's own (and no new one after a 401). */
      token?: string;
      query?: Record<string, string> | undefined;
      extraMs?: number;
    } = {},
  ): Promise<ResponseOf<Op>> {
    const [method, template] = OPERATIONS[op];
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
    const query =
      opts.query && Object.keys(opts.query).length > 0 ? `?${new URLSearchParams(opts.query)}` : "";
    const url = this.serverUrl + path + query;
    const auth = opts.auth === false || opts.token ? null : (this.options.auth ?? null);
    let token = opts.token ?? (auth ? await auth.token() : null);
    let refreshed = false;
    for (let attempt = 0; ;) {
      try {
        return (await this.send(method, url, body, token, opts.extraMs ?? 0)) as ResponseOf<Op>;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 401 && auth?.refresh && !refreshed) {
          refreshed = true;
          token = await auth.refresh();
          continue;
        }
        // A request that never reached the service is safe to send again; one that may have
        // reached it, only when sending it twice does no harm.
        const retriable =
          err.kind === "unreachable" ||
          (IDEMPOTENT.has(op) &&
            (err.kind === "timeout" ||
              err.kind === "connection-lost" ||
              [502, 503, 504].includes(err.status)));
        const delay = RETRY_DELAYS_MS[attempt++];
        if (!retriable || delay === undefined) throw err;
        const asked = Math.min((err.retryAfterSeconds ?? 0) * 1000, MAX_RETRY_AFTER_MS);
        await new Promise((resolve) => setTimeout(resolve, Math.max(delay, asked)));
      }
    }
  }

  private transportError(err: Error, request: string): ApiError {
    if (err.name === "TimeoutError") {
      return new ApiError(`${this.serverUrl} did not answer ${request} in time`, 0, "timeout");
    }
    const { code: own, cause } = err as Error & {
      code?: string;
      cause?: { code?: string; message?: string };
    };
    const code = own ?? cause?.code ?? "";
    if (NEVER_SENT.has(code)) {
      return new ApiError(
        `cannot reach the remote-builder service at ${this.serverUrl} (${code}); check the server URL (server-url, --server or RB_SERVER_URL) and that the service is up`,
        0,
        "unreachable",
      );
    }
    return new ApiError(
      `the connection to ${this.serverUrl} broke during ${request} (${code || cause?.message || err.message})`,
      0,
      "connection-lost",
    );
  }

  private async send(
    method: string,
    url: string,
    body: unknown,
    token: string | null,
    extraMs: number,
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      accept: "application/json, application/problem+json",
      "user-agent": this.options.userAgent ?? "remote-builder-client",
    };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: HttpAnswer;
    try {
      response = await httpRequest(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        timeoutMs: (this.options.timeoutMs ?? 15_000) + extraMs,
      });
    } catch (err) {
      throw this.transportError(err as Error, `${method} ${new URL(url).pathname}`);
    }
    const text = response.text;
    const parsed = parseJson(text);
    if (response.status >= 200 && response.status < 300) return parsed;
    const problem = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : null;
    const type = typeof problem?.type === "string" ? problem.type : "";
    const kind = type.slice(type.lastIndexOf("/") + 1) || `http-${response.status}`;
    const title = typeof problem?.title === "string" ? problem.title : response.statusText;
    const detail = typeof problem?.detail === "string" ? problem.detail : text.slice(0, 300);
    const retryAfter = Number(response.header("retry-after"));
    throw new ApiError(
      `${response.status} ${title}: ${detail}`,
      response.status,
      kind,
      problem,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }
}

/** Connection errors that mean the request was never sent, so sending it again is always safe. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

function parseJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
