import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Calls to the API server, retried with backoff: 5xx, 429, timeouts and dropped connections are the
 * API server's weather, not the caller's error. A call whose answer was lost may have taken effect,
 * so callers make every mutation idempotent: names are theirs, a repeated create meets 409 and a
 * repeated delete 404, which `ignore` turns into success.
 */
export interface RetryOptions {
  attempts?: number;
  /** Per attempt: an API server that does not answer is given up on, and tried again. */
  timeoutMs?: number;
  baseDelayMs?: number;
  /** HTTP codes that mean the call's effect is already there (e.g. 404 for a delete). */
  ignore?: number[];
}

export class KubeError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly reason: string | null,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

const RETRIED = new Set([429, 500, 502, 503, 504]);

/**
 * The signal of the attempt a request belongs to. `kube()` sets it around each attempt, and the
 * cluster's clients give it to every request they make (cluster.ts), so an attempt that is given
 * up on is aborted: its connection is closed instead of staying busy while the retry runs.
 */
export const attemptSignal = new AsyncLocalStorage<AbortSignal>();

export async function kube<T>(what: string, call: () => Promise<T>, o: RetryOptions = {}): Promise<T | null> {
  const attempts = o.attempts ?? 6;
  let delay = o.baseDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      const attempt = new AbortController();
      return await withTimeout(attemptSignal.run(attempt.signal, call), o.timeoutMs ?? 10_000, what, attempt);
    } catch (err) {
      const failure = asKubeError(what, err);
      if (failure.code !== null && o.ignore?.includes(failure.code)) return null;
      const transient = failure.code === null || RETRIED.has(failure.code);
      if (!transient || attempt >= attempts) throw failure;
      // Full jitter: replicas that failed together do not retry together.
      await sleep(Math.random() * delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

export function asKubeError(what: string, err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string };
  const code = typeof e.code === "number" ? e.code : null;
  let status: { message?: string; reason?: string } = {};
  if (typeof e.body === "string") {
    try {
      status = JSON.parse(e.body) as typeof status;
    } catch {
      // Not a Status object (a proxy's page): the code says enough.
    }
  } else if (e.body && typeof e.body === "object") status = e.body as typeof status;
  const message = status.message ?? e.message ?? String(err);
  return new KubeError(`${what}: ${code ?? "no answer"} ${message}`, code, status.reason ?? null);
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  attempt: AbortController,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new KubeError(`${what}: no answer within ${ms} ms`, null, "Timeout");
      attempt.abort(error);
      reject(error);
    }, ms);
  });
  promise.catch(() => {}); // an aborted attempt rejects after the race is decided
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
