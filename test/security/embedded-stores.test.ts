import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
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
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { type EmbeddedPostgres, startPostgres } from "../../service/embedded/postgres.js";
import {
  findExecutable,
  freePort,
  postgresBinDirs,
  startProcess,
  unprivilegedUser,
  waitUntil,
} from "../../service/embedded/process.js";
import { type EmbeddedRedis, startRedis } from "../../service/embedded/redis.js";
import { restartablePort } from "../harness/ports.js";

/**
 * The embedded Redis and PostgreSQL that `npm run dev`, the tests and the benches start. A build's
 * RUN step (or any local user) once reached both on loopback with no password: PostgreSQL ran with
 * trust authentication, Redis with none, and the AOF was world-readable. Now each data folder has
 * its own random password (scram-sha-256; requirepass) in a 0600 file, and a folder made before
 * that gets one on its first start, keeping its data.
 */

const USER = "remote_builder";
const asRoot = process.getuid?.() === 0 && findExecutable("runuser") ? it : it.skip;

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "rb-embedded-stores-"));
  // Open like a home folder or /tmp: what keeps other users out must be the stores' own modes.
  chmodSync(root, 0o755);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The first line Redis answers to `command`, spoken over a bare socket with no client logic. */
function redisSays(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      answer += chunk.toString();
      if (answer.includes("\r\n")) {
        socket.destroy();
        resolve(answer.split("\r\n")[0]!);
      }
    });
    socket.on("error", reject);
  });
}

/**
 * What PostgreSQL answers to a startup message for `USER` over TCP, before any password is sent:
 * `ok` (trust: in without a password), `sasl` (it asks for scram-sha-256), or what else it said.
 */
function postgresGreets(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const params = Buffer.from(`user\0${USER}\0database\0postgres\0\0`);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4); // protocol 3.0
    params.copy(startup, 8);
    const socket = connect(port, "127.0.0.1");
    let answer = Buffer.alloc(0);
    socket.on("connect", () => socket.write(startup));
    socket.on("data", (chunk) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length < 9) return;
      socket.destroy();
      const code = answer.readInt32BE(5);
      if (answer[0] === 0x52 /* R */ && code === 0) resolve("ok");
      else if (answer[0] === 0x52 && code === 10) resolve("sasl");
      else resolve(`${String.fromCharCode(answer[0]!)} ${answer.subarray(5).toString("latin1")}`);
    });
    socket.on("error", reject);
  });
}

/** Connects and runs one query; the error's SQLSTATE (28P01: bad password) when it fails. */
async function query(url: string, sql: string): Promise<{ rows?: Record<string, unknown>[]; code?: string }> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  try {
    await client.connect();
    return { rows: (await client.query(sql)).rows };
  } catch (err) {
    return { code: (err as { code?: string }).code ?? (err as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString().replace(/\/$/, "");
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Every folder and file under `dir`, the folder included. */
function tree(dir: string): string[] {
  return [dir, ...readdirSync(dir, { recursive: true, encoding: "utf8" }).map((entry) => join(dir, entry))];
}

/** What `nobody` gets from `cat path`: the text, or the error cat printed. */
function readAsNobody(path: string): { status: number | null; output: string } {
  const result = spawnSync("runuser", ["-u", "nobody", "--", "cat", path], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The checks every data folder must pass, fresh or upgraded. */
function describeLockedStores(
  what: string,
  stores: () => { redis: EmbeddedRedis; postgres: EmbeddedPostgres; redisDir: string; postgresDir: string },
) {
  describe(what, () => {
    it("Redis refuses commands without the password (NOAUTH) and with a wrong one (WRONGPASS)", async () => {
      const { redis } = stores();
      expect(await redisSays(redis.port, "PING")).toMatch(/^-NOAUTH/);
      expect(await redisSays(redis.port, "GET kept")).toMatch(/^-NOAUTH/);
      expect(await redisSays(redis.port, "AUTH not-the-password")).toMatch(/^-WRONGPASS/);
      expect(await redisSays(redis.port, "AUTH default not-the-password")).toMatch(/^-WRONGPASS/);
    });

    it("Redis answers with the URL the helper returns", async () => {
      const { redis } = stores();
      expect(new URL(redis.url).password).not.toBe("");
      const client = new Redis(redis.url);
      try {
        expect(await client.ping()).toBe("PONG");
        expect(await client.config("GET", "protected-mode")).toEqual(["protected-mode", "yes"]);
        expect(await client.config("GET", "bind")).toEqual(["bind", "127.0.0.1"]);
      } finally {
        client.disconnect();
      }
    });

    it("PostgreSQL over TCP on 127.0.0.1 asks the right user for a password and refuses a wrong one", async () => {
      const { postgres } = stores();
      expect(await postgresGreets(postgres.port)).toBe("sasl");
      const server = new URL(postgres.serverUrl);
      expect(server.username).toBe(USER);
      expect(server.password).not.toBe("");
      for (const password of ["not-the-password", "x"]) {
        const url = `${withPassword(postgres.serverUrl, password)}/postgres`;
        expect(await query(url, "SELECT 1")).toEqual({ code: "28P01" });
      }
    });

    it("PostgreSQL answers with serverUrl and with the URL createDatabase returns", async () => {
      const { postgres } = stores();
      expect(await query(`${postgres.serverUrl}/postgres`, "SELECT 1 AS one")).toEqual({
        rows: [{ one: 1 }],
      });
      const url = await postgres.createDatabase("embedded_stores");
      expect(await query(url, "SELECT current_database() AS db")).toEqual({
        rows: [{ db: "embedded_stores" }],
      });
      expect(
        await query(
          url,
          "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = current_user",
        ),
      ).toEqual({ rows: [{ scram: true }] });
    });

    it("keeps each password in a 0600 file of its data folder, and the Redis folder and its AOF closed (0700, 0600)", () => {
      const { redis, postgres, redisDir, postgresDir } = stores();
      const redisPassword = join(redisDir, "password");
      const postgresPassword = join(postgresDir, "password");
      expect(readFileSync(redisPassword, "utf8").trim()).toBe(
        decodeURIComponent(new URL(redis.url).password),
      );
      expect(readFileSync(postgresPassword, "utf8").trim()).toBe(
        decodeURIComponent(new URL(postgres.serverUrl).password),
      );
      expect(mode(redisPassword)).toBe(0o600);
      expect(mode(postgresPassword)).toBe(0o600);
      expect(mode(postgresDir)).toBe(0o700);
      const files = tree(redisDir);
      expect(files.some((path) => path.endsWith(".aof"))).toBe(true);
      for (const path of files) {
        expect([path, mode(path)]).toEqual([path, statSync(path).isDirectory() ? 0o700 : 0o600]);
      }
      const user = unprivilegedUser();
      if (user) expect(statSync(postgresPassword).uid).toBe(user.uid);
      expect(readFileSync(join(postgresDir, "pg_hba.conf"), "utf8")).not.toMatch(
        /^\s*(local|host)\S*\s.*\strust\b/m,
      );
    });

    asRoot("another local user cannot read the AOF or either password file", () => {
      const { redisDir, postgresDir } = stores();
      const aof = tree(redisDir).filter((path) => path.endsWith(".aof"));
      const secrets = [...aof, join(redisDir, "password"), join(postgresDir, "password")];
      for (const path of secrets) {
        expect(existsSync(path)).toBe(true);
        const { status, output } = readAsNobody(path);
        expect([path, status, output]).toEqual([path, 1, expect.stringContaining("Permission denied")]);
      }
    });
  });
}

/** Both stores stopped and started again on the same folders and ports. */
async function restart(
  redis: EmbeddedRedis,
  postgres: EmbeddedPostgres,
  redisDir: string,
  postgresDir: string,
): Promise<[EmbeddedRedis, EmbeddedPostgres]> {
  await Promise.all([redis.stop(), postgres.stop()]);
  return Promise.all([
    startRedis({ dataDir: redisDir, port: redis.port }),
    startPostgres({ dataDir: postgresDir, port: postgres.port }),
  ]);
}

describe("embedded stores on a fresh data folder", () => {
  let redis: EmbeddedRedis;
  let postgres: EmbeddedPostgres;
  const redisDir = () => join(root, "fresh", "redis");
  const postgresDir = () => join(root, "fresh", "postgres");

  beforeAll(async () => {
    mkdirSync(join(root, "fresh"), { mode: 0o755 });
    [redis, postgres] = await Promise.all([
      startRedis({ dataDir: redisDir(), port: await restartablePort() }),
      startPostgres({ dataDir: postgresDir(), port: await restartablePort() }),
    ]);
    const client = new Redis(redis.url);
    await client.set("kept", "yes"); // so that there is an AOF with something in it
    client.disconnect();
  });

  afterAll(async () => {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  describeLockedStores("fresh", () => ({
    redis,
    postgres,
    redisDir: redisDir(),
    postgresDir: postgresDir(),
  }));

  it("started again on the same folders, reuses both passwords", async () => {
    const before = { redis: redis.url, postgres: postgres.serverUrl };
    [redis, postgres] = await restart(redis, postgres, redisDir(), postgresDir());
    expect({ redis: redis.url, postgres: postgres.serverUrl }).toEqual(before);
    const client = new Redis(redis.url);
    expect(await client.get("kept")).toBe("yes");
    client.disconnect();
  });
});

/**
 * A data folder as the code before passwords made it, by the same commands: initdb with trust
 * authentication, a redis-server with no requirepass under the default umask (AOF 0644, folder
 * 0755). Each gets a row or key that must survive the upgrade.
 */
async function makeOldStyleFolders(redisDir: string, postgresDir: string): Promise<void> {
  const redisServer = findExecutable("redis-server", ["/usr/sbin", "/usr/local/bin"])!;
  mkdirSync(redisDir, { mode: 0o755 });
  const redisPort = await freePort();
  const oldRedis = startProcess(redisServer, [
    ...["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", redisDir],
    ...["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", ""],
  ]);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  await waitUntil("old redis-server", oldRedis, async () => {
    const probe = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on("error", () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === "PONG";
    } finally {
      probe.disconnect();
    }
  });
  const client = new Redis(redisUrl);
  await client.set("kept", "from-before");
  client.disconnect();
  await oldRedis.stop("SIGTERM");

  const user = unprivilegedUser();
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  mkdirSync(postgresDir, { mode: 0o700 });
  if (user) chownSync(postgresDir, user.uid, user.gid);
  const [initdb, postgres] = ["initdb", "postgres"].map((name) => findExecutable(name, postgresBinDirs())!);
  execFileSync(initdb!, ["-D", postgresDir, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-instructions"], {
    ...as,
    stdio: "pipe",
  });
  const port = await freePort();
  const oldPostgres = startProcess(
    postgres!,
    [
      "-D",
      postgresDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
    ],
    as,
  );
  const url = `postgres://${USER}@127.0.0.1:${port}/postgres`;
  await waitUntil("old postgres", oldPostgres, async () => (await query(url, "SELECT 1")).rows !== undefined);
  expect(await postgresGreets(port)).toBe("ok"); // it really is the old, open kind
  await query(url, "CREATE TABLE kept AS SELECT 'from-before'::text AS v");
  await oldPostgres.stop("SIGINT", 20_000);
}

describe("embedded stores on a data folder made before the passwords (trust, no requirepass)", () => {
  let redis: EmbeddedRedis;
  let postgres: EmbeddedPostgres;
  const redisDir = () => join(root, "old", "redis");
  const postgresDir = () => join(root, "old", "postgres");

  beforeAll(async () => {
    mkdirSync(join(root, "old"), { mode: 0o755 });
    await makeOldStyleFolders(redisDir(), postgresDir());
    expect(mode(redisDir())).toBe(0o755);
    expect(tree(redisDir()).some((path) => path.endsWith(".aof") && (mode(path) & 0o004) !== 0)).toBe(true);
    [redis, postgres] = await Promise.all([
      startRedis({ dataDir: redisDir(), port: await restartablePort() }),
      startPostgres({ dataDir: postgresDir(), port: await restartablePort() }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  it("keeps the Redis key and the PostgreSQL row written before", async () => {
    const client = new Redis(redis.url);
    try {
      expect(await client.get("kept")).toBe("from-before");
    } finally {
      client.disconnect();
    }
    expect(await query(`${postgres.serverUrl}/postgres`, "SELECT v FROM kept")).toEqual({
      rows: [{ v: "from-before" }],
    });
  });

  describeLockedStores("upgraded", () => ({
    redis,
    postgres,
    redisDir: redisDir(),
    postgresDir: postgresDir(),
  }));

  it("started again, keeps the password it set and the data", async () => {
    const before = { redis: redis.url, postgres: postgres.serverUrl };
    [redis, postgres] = await restart(redis, postgres, redisDir(), postgresDir());
    expect({ redis: redis.url, postgres: postgres.serverUrl }).toEqual(before);
    expect(await postgresGreets(postgres.port)).toBe("sasl");
    expect(await query(`${postgres.serverUrl}/postgres`, "SELECT v FROM kept")).toEqual({
      rows: [{ v: "from-before" }],
    });
  });
});
