import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";
import { findExecutable, type ManagedProcess, startProcess, waitUntil } from "./process.js";

export interface EmbeddedRedis {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * A redis-server of our own on loopback, with its data (AOF on: claims must survive a restart) in
 * `dataDir`. Started again on the same folder, it comes back with everything it had.
 */
export async function startRedis(options: { dataDir: string; port: number }): Promise<EmbeddedRedis> {
  const binary = findExecutable("redis-server", ["/usr/sbin", "/usr/local/bin"]);
  if (!binary) {
    throw new Error(
      "redis-server is not installed. On Debian or Ubuntu: sudo apt-get install -y redis-server",
    );
  }
  mkdirSync(options.dataDir, { recursive: true });
  const proc = startProcess(binary, [
    "--port",
    String(options.port),
    "--bind",
    "127.0.0.1",
    "--dir",
    options.dataDir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    "",
  ]);
  const url = `redis://127.0.0.1:${options.port}`;
  await waitUntil("redis-server", proc, async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG";
    } finally {
      probe.disconnect();
    }
  });
  return { url, port: options.port, process: proc, stop: () => proc.stop("SIGTERM") };
}
