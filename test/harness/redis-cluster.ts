import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, type ClusterOptions } from "ioredis";
import {
  findExecutable,
  freePort,
  type ManagedProcess,
  startProcess,
  waitUntil,
} from "../../service/embedded/process.js";

const run = promisify(execFile);
const SBIN = ["/usr/sbin", "/usr/local/bin"];

export interface RedisCluster {
  /** Each master's client port on 127.0.0.1. */
  ports: number[];
  /**
   * A client over the whole cluster, auto-pipelining as the service's client does unless told
   * otherwise; `stop` closes every client made with it.
   */
  connect(options?: ClusterOptions): Cluster;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters and no replicas on loopback, each redis-server in a folder
 * of its own under one temp folder, the 16384 slots spread by `redis-cli --cluster create`.
 *
 * No password: the nodes listen on 127.0.0.1 only, hold nothing but test keys, and are gone with
 * the test (the service's own Redis, which keeps real claims, has one).
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const server = findExecutable("redis-server", SBIN);
  const cli = findExecutable("redis-cli", SBIN);
  if (!server || !cli) {
    throw new Error(
      "redis-server and redis-cli are needed for the Redis Cluster tests " +
        "(Debian: apt-get install redis-server redis-tools; scripts/setup.sh does it)",
    );
  }
  const root = mkdtempSync(join(tmpdir(), "rb-redis-cluster-"));
  const nodes: Array<{ port: number; process: ManagedProcess }> = [];
  const clients: Cluster[] = [];
  const stop = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(nodes.map((node) => node.process.stop("SIGTERM")));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      // The cluster bus is port + 10000 unless told otherwise, which may be taken or past 65535.
      const busPort = await freePort();
      const dir = join(root, `node-${i}`);
      mkdirSync(dir);
      // The folder's own config file: the nodes.conf that cluster mode keeps lives beside it.
      const conf = join(dir, "redis.conf");
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `cluster-port ${busPort}`,
          "bind 127.0.0.1",
          "cluster-enabled yes",
          "cluster-config-file nodes.conf",
          `dir ${dir}`,
          "appendonly no",
          'save ""',
          'logfile ""',
        ].join("\n"),
      );
      const proc = startProcess(server, [conf]);
      nodes.push({ port, process: proc });
      await waitUntil(
        `redis-server (cluster node ${i})`,
        proc,
        async () => (await redisCli(cli, port, "ping")).trim() === "PONG",
      );
    }
    const ports = nodes.map((node) => node.port);
    await run(cli, [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    // `create` returns once the slots are assigned; every node must also have heard of the others.
    for (const node of nodes) {
      await waitUntil(`cluster_state:ok on port ${node.port}`, node.process, async () =>
        (await redisCli(cli, node.port, "cluster", "info")).includes("cluster_state:ok"),
      );
    }
    return {
      ports,
      connect(options = {}) {
        const client = new Cluster(
          ports.map((port) => ({ host: "127.0.0.1", port })),
          { enableAutoPipelining: true, ...options },
        );
        client.on("error", () => {}); // a command that fails says why; this is the connection's chatter
        clients.push(client);
        return client;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function redisCli(cli: string, port: number, ...command: string[]): Promise<string> {
  const { stdout } = await run(cli, ["-h", "127.0.0.1", "-p", String(port), ...command]);
  return stdout;
}
