import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** What releaseNetworks did. */
export interface NetnsRelease {
  released: number;
  /** What could not be undone, in its own words: the caller says it, and carries on. */
  failures: string[];
}

/** libcni's cache entry for one network of one namespace (`<cacheDir>/results/<network>-<id>-<ifname>`). */
interface CachedNetwork {
  containerId: string;
  config: string;
  ifName: string;
  networkName: string;
  result?: unknown;
}

interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Array<{ type: string } & Record<string, unknown>>;
}

export const CNI_CACHE_DIR = "/var/lib/cni";

/**
 * buildkitd v0.11 keeps a pool of network namespaces for RUN steps (CNI mode) and does not release
 * it when it stops on SIGTERM: each stays mounted in its root (`net/cni/<id>`) with a veth on the
 * bridge, an address of the build subnet and its firewall rules. buildkitd releases what an earlier
 * run left at its next start on the same root, but a throw-away root never has one, and an account
 * may not build again for weeks. So once a builder has stopped, the driver releases them as
 * buildkitd would have: a CNI DEL of each network, from the result cached when it was set up
 * (libcni's cache, which names the plugins and holds the addresses they gave), then the mount and
 * the file go.
 */
export async function releaseNetworks(
  root: string,
  binaryDir: string,
  cacheDir = CNI_CACHE_DIR,
): Promise<NetnsRelease> {
  const nsDir = join(root, "net", "cni");
  if (!existsSync(nsDir)) return { released: 0, failures: [] };
  const failures: string[] = [];
  let released = 0;
  const results = join(cacheDir, "results");
  const cache = existsSync(results) ? readdirSync(results) : [];
  for (const id of readdirSync(nsDir)) {
    const netns = join(nsDir, id);
    const before = failures.length;
    for (const cached of cachedNetworks(results, cache, id)) {
      failures.push(...(await deleteNetwork(cached.entry, netns, binaryDir)));
      if (failures.length === before) rmSync(cached.path, { force: true });
    }
    // Not released: kept as it is, for buildkitd's next start on the root (or the operator) to retry.
    if (failures.length > before) continue;
    failures.push(...(await unmount(netns)));
    if (failures.length === before) released++;
  }
  return { released, failures };
}

/** The networks set up in namespace `id`: its cache entries (the bridge's, and the loopback's). */
function cachedNetworks(
  results: string,
  names: string[],
  id: string,
): Array<{ path: string; entry: CachedNetwork }> {
  return names
    .filter((name) => name.includes(`-${id}-`))
    .map((name) => {
      const path = join(results, name);
      return { path, entry: JSON.parse(readFileSync(path, "utf8")) as CachedNetwork };
    })
    .filter(({ entry }) => entry.containerId === id);
}

/** CNI DEL of a network list, as libcni runs it: its plugins in reverse, each told the cached result. */
async function deleteNetwork(cached: CachedNetwork, netns: string, binaryDir: string): Promise<string[]> {
  const list = JSON.parse(Buffer.from(cached.config, "base64").toString("utf8")) as ConfList;
  const failures: string[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    const config = { ...plugin, cniVersion: list.cniVersion, name: list.name, prevResult: cached.result };
    try {
      const child = run(join(binaryDir, plugin.type), [], {
        env: {
          CNI_COMMAND: "DEL",
          CNI_CONTAINERID: cached.containerId,
          CNI_NETNS: netns,
          CNI_IFNAME: cached.ifName,
          CNI_PATH: binaryDir,
          PATH: process.env.PATH,
        },
      });
      // A plugin that fails before reading its config closes stdin (EPIPE): its exit says why.
      child.child.stdin?.on("error", () => {});
      child.child.stdin?.end(JSON.stringify(config));
      await child;
    } catch (err) {
      // A plugin says why on stdout, as a CNI error object.
      const out = (err as { stdout?: string }).stdout?.trim();
      failures.push(
        `CNI DEL ${plugin.type} for ${cached.networkName} in ${netns}: ${out || (err as Error).message}`,
      );
    }
  }
  return failures;
}

async function unmount(netns: string): Promise<string[]> {
  const mounted = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[1] === netns);
  try {
    if (mounted) await run("umount", [netns]);
    rmSync(netns, { force: true });
    return [];
  } catch (err) {
    return [`unmount ${netns}: ${(err as Error).message}`];
  }
}
