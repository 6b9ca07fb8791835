import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { releaseNetworks } from "../../service/adapters/drivers/local-netns.js";

// The CNI protocol as the driver speaks it, with plugins that record what they were given; the
// real plugins and buildkitd run in test/integration/prewarm.test.ts.
const work = mkdtempSync(join(tmpdir(), "rb-netns-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A plugin that appends its environment and stdin to `calls`, or fails as a CNI plugin does. */
function plugin(dir: string, type: string, calls: string, fail = false): void {
  const body = fail
    ? `echo '{"cniVersion":"1.0.0","code":11,"msg":"no such bridge"}'; exit 1`
    : `printf '%s %s %s %s %s ' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_PATH" >> ${calls}; cat >> ${calls}; echo >> ${calls}`;
  writeFileSync(join(dir, type), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, type), 0o755);
}

/** A root with one left-over namespace file, and libcni's cache entry for it. */
function leftover(name: string, plugins: string[]) {
  const base = join(work, name);
  const root = join(base, "root");
  const cache = join(base, "cache");
  const bin = join(base, "bin");
  for (const dir of [join(root, "net", "cni"), join(cache, "results"), bin])
    mkdirSync(dir, { recursive: true });
  const id = "0kkvy1jup0jrw8vpox9lgpekb";
  writeFileSync(join(root, "net", "cni", id), "");
  const config = { cniVersion: "1.0.0", name: "remote-builder", plugins: plugins.map((type) => ({ type })) };
  const result = { cniVersion: "1.0.0", ips: [{ address: "10.213.3.17/16" }] };
  const entry = join(cache, "results", `remote-builder-${id}-eth1`);
  writeFileSync(
    entry,
    JSON.stringify({
      kind: "cniCacheV1",
      containerId: id,
      config: Buffer.from(JSON.stringify(config)).toString("base64"),
      ifName: "eth1",
      networkName: "remote-builder",
      result,
    }),
  );
  return { root, cache, bin, id, entry, netns: join(root, "net", "cni", id), calls: join(base, "calls") };
}

describe("releasing the network namespaces buildkitd leaves in its root", () => {
  it("runs CNI DEL through the plugins in reverse, with the cached result, then removes the entry and the namespace", async () => {
    const l = leftover("released", ["bridge", "firewall"]);
    plugin(l.bin, "bridge", l.calls);
    plugin(l.bin, "firewall", l.calls);
    expect(await releaseNetworks(l.root, l.bin, l.cache)).toEqual({ released: 1, failures: [] });
    const calls = readFileSync(l.calls, "utf8").trim().split("\n");
    expect(calls.map((c) => c.split(" ").slice(0, 5))).toEqual([
      ["DEL", l.id, l.netns, "eth1", l.bin],
      ["DEL", l.id, l.netns, "eth1", l.bin],
    ]);
    const configs = calls.map((c) => JSON.parse(c.split(" ").slice(5).join(" ")) as Record<string, unknown>);
    expect(configs.map((c) => c.type)).toEqual(["firewall", "bridge"]);
    expect(configs[0]).toMatchObject({
      cniVersion: "1.0.0",
      name: "remote-builder",
      prevResult: { ips: [{ address: "10.213.3.17/16" }] },
    });
    expect(existsSync(l.entry)).toBe(false);
    expect(existsSync(l.netns)).toBe(false);
  });

  it("says what a plugin refused, in its words, and keeps the namespace and the cache entry for a later try", async () => {
    const l = leftover("refused", ["bridge"]);
    plugin(l.bin, "bridge", l.calls, true);
    const { released, failures } = await releaseNetworks(l.root, l.bin, l.cache);
    expect(released).toBe(0);
    expect(failures).toEqual([
      expect.stringMatching(/^CNI DEL bridge for remote-builder in .*"no such bridge"/),
    ]);
    expect(existsSync(l.entry)).toBe(true);
    expect(existsSync(l.netns)).toBe(true);
  });

  it("has nothing to do in a root where buildkitd made no namespace", async () => {
    const root = join(work, "none");
    mkdirSync(root);
    expect(await releaseNetworks(root, join(work, "bin"), join(work, "cache"))).toEqual({
      released: 0,
      failures: [],
    });
  });
});
