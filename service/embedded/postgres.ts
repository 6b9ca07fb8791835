import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import {
  findExecutable,
  type ManagedProcess,
  postgresBinDirs,
  startProcess,
  unprivilegedUser,
  waitUntil,
} from "./process.js";

export interface EmbeddedPostgres {
  /** The server, with no database named: append `/<database>`. */
  serverUrl: string;
  port: number;
  process: ManagedProcess;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const USER = "remote_builder";

/**
 * A PostgreSQL server of our own on loopback (no Unix socket), its cluster in `dataDir`, created
 * on first use. `settings` are extra `-c name=value` server settings.
 */
export async function startPostgres(options: {
  dataDir: string;
  port: number;
  settings?: Record<string, string>;
}): Promise<EmbeddedPostgres> {
  const initdb = findExecutable("initdb", postgresBinDirs());
  const postgres = findExecutable("postgres", postgresBinDirs());
  if (!initdb || !postgres) {
    throw new Error("PostgreSQL is not installed. On Debian or Ubuntu: sudo apt-get install -y postgresql");
  }
  const user = unprivilegedUser();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  if (user) {
    chownTree(options.dataDir, user.uid, user.gid);
    if (spawnSync("test", ["-w", options.dataDir], user).status !== 0) {
      throw new Error(
        `PostgreSQL runs as the postgres user (this process is root) and cannot reach ${options.dataDir}: ` +
          "a parent folder is closed to other users. Use a data folder outside it, or run as a normal user.",
      );
    }
  }
  if (!existsSync(join(options.dataDir, "PG_VERSION"))) {
    execFileSync(
      initdb,
      ["-D", options.dataDir, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-instructions"],
      {
        ...as,
        stdio: "pipe",
      },
    );
  }
  const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: "", ...options.settings };
  const args = ["-D", options.dataDir, "-p", String(options.port)];
  for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);
  const proc = startProcess(postgres, args, as);
  const serverUrl = `postgres://${USER}@127.0.0.1:${options.port}`;
  await waitUntil("postgres", proc, async () => {
    const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  });
  return {
    serverUrl,
    port: options.port,
    process: proc,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
      await client.connect();
      try {
        const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } finally {
        await client.end();
      }
      return `${serverUrl}/${name}`;
    },
    // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and checkpoints.
    stop: () => proc.stop("SIGINT", 20_000),
  };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}
