import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { closeTree, PASSWORD_FILE, readOrCreatePassword } from "./password.js";
import { findExecutable, type ManagedProcess, startProcess, waitUntil } from "./process.js";

export interface EmbeddedRedis {
  /** With the password: `redis://:<password>@127.0.0.1:<port>`. */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * A redis-server of our own on loopback, with its data (AOF on: claims must survive a restart) in
 * `dataDir`. Started again on the same folder, it comes back with everything it had.
 *
 * It asks for a password (`requirepass`), made on first start and kept in `dataDir/password`; the
 * folder is 0700 and every file in it 0600, also for a folder made before there was a password.
 */
export async function startRedis(options: { dataDir: string; port: number }): Promise<EmbeddedRedis> {
  const binary = findExecutable("redis-server", ["/usr/sbin", "/usr/local/bin"]);
  if (!binary) {
    throw new Error(
      "redis-server is not installed. On Debian or Ubuntu: sudo apt-get install -y redis-server",
    );
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  closeTree(options.dataDir);
  const { password } = readOrCreatePassword(join(options.dataDir, PASSWORD_FILE));
  // Under umask 077, the AOF and RDB files Redis writes from now on are 0600 too. The password goes
  // in on stdin (`-`: more configuration follows there), never on the command line, which every
  // local user can read in /proc.
  const proc = startProcess(
    "/bin/sh",
    [
      "-c",
      'umask 077 && exec "$0" "$@"',
      binary,
      "-",
      "--port",
      String(options.port),
      "--bind",
      "127.0.0.1",
      "--protected-mode",
      "yes",
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
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  proc.child.stdin?.on("error", () => {}); // it exited before reading: waitUntil says why
  proc.child.stdin?.end(`requirepass ${password}\n`);
  const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
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
