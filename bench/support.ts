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

/** An account ("bench" unless named), made through the admin API, with the feature on; returns its agent token. */
export async function benchAccount(
  base: string,
  adminToken: string,
  limits: Record<string, unknown> = {},
  handle = "bench",
): Promise<string> {
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

/** A V8 CPU profile, as the inspector's `Profiler.stop` (and `node --cpu-prof`) gives it. */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
}

/**
 * Profiles another Node process through its inspector (`node --inspect=127.0.0.1:<port>`), so that
 * a benchmark can profile exactly its measured phase rather than the process's whole life.
 */
export class RemoteProfiler {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
  }

  static async connect(inspectorPort: number): Promise<RemoteProfiler> {
    const targets = (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`).then((r) =>
      r.json(),
    )) as Array<{
      webSocketDebuggerUrl: string;
    }>;
    const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", () => reject(new Error("the inspector refused the connection")), {
        once: true,
      });
    });
    return new RemoteProfiler(socket);
  }

  /** Starts sampling, one sample every `intervalUs` microseconds of the target's main thread. */
  async start(intervalUs: number): Promise<void> {
    await this.send("Profiler.enable");
    await this.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.send("Profiler.start");
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = (await this.send("Profiler.stop")) as { profile: CpuProfile };
    await this.send("Profiler.disable");
    return profile;
  }

  close(): void {
    this.socket.close();
  }

  private send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

/** Samples of a profile by self time, and how many there were in which the thread was busy. */
export interface SelfTime {
  /** Per function: `name file:line`, the file relative to the root or its node_modules package. */
  functions: Map<string, number>;
  /** Per package: a node_modules package, `node:internal`, the root's top folder, or V8's pseudo-frames. */
  packages: Map<string, number>;
  /** Samples not `(idle)`, the thread waiting for work. */
  busy: number;
}

/** Where the busy samples of a profile were, by self time, per function and per package. */
export function selfTime(profile: CpuProfile, root: string): SelfTime {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const frame = byId.get(id);
    if (!frame || frame.functionName === "(idle)") continue;
    busy++;
    const file = frame.url.startsWith("file://") ? frame.url.slice("file://".length) : frame.url;
    const where = file.startsWith(root) ? file.slice(root.length) : file;
    const fn = `${frame.functionName || "(anonymous)"}${where ? ` ${where.replace(/^.*node_modules\//, "")}:${frame.lineNumber + 1}` : ""}`;
    functions.set(fn, (functions.get(fn) ?? 0) + 1);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ??
      (where.startsWith("node:")
        ? "node:internal"
        : where === ""
          ? frame.functionName
          : where.split("/")[0]!);
    packages.set(pkg, (packages.get(pkg) ?? 0) + 1);
  }
  return { functions, packages, busy };
}

/** The `n` largest entries, largest first. */
export function largest(counts: Map<string, number>, n: number): Array<[string, number]> {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}
