/** What the benchmarks share: talking to the service they start, and reading their samples. */
import type { ChildProcess } from "node:child_process";

/** One JSON call to the service; a non-2xx answer is an error, since a benchmark expects none. */
export async function call(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** The "bench" account, made through the admin API, with the feature on; returns its agent token. */
export async function benchAccount(
  base: string,
  adminToken: string,
  limits: Record<string, unknown> = {},
): Promise<string> {
  const handle = "bench";
  await call(base, "POST", "/api/v1/admin/accounts", adminToken, { handle, plan: "enterprise", ...limits });
  await call(base, "PUT", `/api/v1/admin/accounts/${handle}/features/remote_builder`, adminToken, {
    enabled: true,
  });
  const minted = await call(base, "POST", `/api/v1/admin/accounts/${handle}/tokens`, adminToken, {
    name: "bench",
  });
  return minted.token as string;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The nearest-rank percentile; NaN for no samples. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
