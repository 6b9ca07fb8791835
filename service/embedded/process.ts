import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A free TCP port on loopback, as the kernel hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Finds `name` on PATH, then in `extraDirs` (a path is taken as it is); null when it is nowhere. */
export function findExecutable(
  name: string,
  extraDirs: string[] = [],
  path = process.env.PATH ?? "",
): string | null {
  if (name.includes("/")) return existsSync(name) ? resolve(name) : null;
  const dirs = [...path.split(":"), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Debian keeps PostgreSQL's server binaries off PATH, under /usr/lib/postgresql/<version>/bin. */
export function postgresBinDirs(): string[] {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, "bin"));
}

/** PostgreSQL will not run as root; when we are root, it runs as the `postgres` user. */
export function unprivilegedUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      "running as root, and there is no `postgres` user to run PostgreSQL as (apt-get install postgresql creates it)",
    );
  }
}

export interface ManagedProcess {
  child: ChildProcess;
  /** What the process has written to stdout and stderr, for error messages. */
  output(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function startProcess(command: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    async stop(signal = "SIGTERM", timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `ready` until it resolves true, or throws with the process's output after `timeoutMs`. */
export async function waitUntil(
  what: string,
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${what} exited with code ${proc.child.exitCode}:\n${proc.output()}`);
    }
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms:\n${proc.output()}`);
}
