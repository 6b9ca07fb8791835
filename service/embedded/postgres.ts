import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import pg from "pg";
import {
  type Owner,
  PASSWORD_FILE,
  randomPassword,
  readOrCreatePassword,
  writePassword,
} from "./password.js";
import {
  findExecutable,
  type ManagedProcess,
  postgresBinDirs,
  startProcess,
  unprivilegedUser,
  waitUntil,
} from "./process.js";

export interface EmbeddedPostgres {
  /**
   * The server, with no database named: append `/<database>`. It carries the password:
   * `postgres://remote_builder:<password>@127.0.0.1:<port>`.
   */
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
 *
 * Every connection needs the password (scram-sha-256), made on first start and kept in
 * `dataDir/password` (0600). A cluster made before there was a password (trust authentication)
 * gets one on its first start here, before it listens, and keeps its data.
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
  const passwordPath = join(options.dataDir, PASSWORD_FILE);
  if (!existsSync(join(options.dataDir, "PG_VERSION"))) {
    writePassword(passwordPath, initCluster(initdb, options.dataDir, user), user);
  }
  const { password, created } = readOrCreatePassword(passwordPath, user);
  const hbaPath = join(options.dataDir, "pg_hba.conf");
  const hba = readFileSync(hbaPath, "utf8");
  if (created || trusts(hba)) {
    // A cluster from before the password (or whose password file was lost): set the password in
    // single-user mode, which opens no socket, then ask for it on every connection.
    setPassword(postgres, options.dataDir, password, user);
    writeFileSync(hbaPath, requirePasswords(hba));
  }
  const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: "", ...options.settings };
  const args = ["-D", options.dataDir, "-p", String(options.port)];
  for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);
  const proc = startProcess(postgres, args, as);
  const serverUrl = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
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

/**
 * initdb with scram-sha-256 for every connection and a new password for `USER`, which it returns.
 * initdb wants an empty folder and reads --pwfile as the user it runs as, so the password is
 * handed over in a private folder beside `dataDir` (reachable by that user, as `dataDir` is).
 */
function initCluster(initdb: string, dataDir: string, user: Owner): string {
  const password = randomPassword();
  const handover = mkdtempSync(join(dirname(dataDir), `.${basename(dataDir)}-initdb-`));
  try {
    chmodSync(handover, 0o700);
    if (user) chownSync(handover, user.uid, user.gid);
    const pwfile = join(handover, PASSWORD_FILE);
    writePassword(pwfile, password, user);
    execFileSync(
      initdb,
      [
        "-D",
        dataDir,
        "-U",
        USER,
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "-E",
        "UTF8",
        "--no-instructions",
      ],
      { ...(user ?? {}), stdio: "pipe" },
    );
  } finally {
    rmSync(handover, { recursive: true, force: true });
  }
  return password;
}

/** Sets `USER`'s password with the server stopped (single-user mode; the SQL goes in on stdin). */
function setPassword(postgres: string, dataDir: string, password: string, user: Owner): void {
  const sql = `SET password_encryption = 'scram-sha-256';\nALTER ROLE ${USER} PASSWORD '${password}';\n`;
  const result = spawnSync(postgres, ["--single", "-D", dataDir, "postgres"], {
    ...(user ?? {}),
    input: sql,
    encoding: "utf8",
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0 || /\b(ERROR|FATAL|PANIC):/.test(output)) {
    throw new Error(
      `setting the PostgreSQL password in ${dataDir} failed (${result.error?.message ?? `exit ${result.status}`}):\n` +
        output.replaceAll(password, "<password>"),
    );
  }
}

/** Whether an active line of pg_hba.conf lets a connection in without a password. */
function trusts(hba: string): boolean {
  return hba.split("\n").some((line) => TRUST_LINE.test(line));
}

/** pg_hba.conf with every `trust` method made `scram-sha-256`; comments are left as they are. */
function requirePasswords(hba: string): string {
  return hba
    .split("\n")
    .map((line) => (TRUST_LINE.test(line) ? line.replace(/(\s)trust(?=\s|$)/, "$1scram-sha-256") : line))
    .join("\n");
}

/** A pg_hba.conf record (local or host*) whose method is trust. */
const TRUST_LINE = /^\s*(local|host\w*)\s.*\strust(\s|$)/;
