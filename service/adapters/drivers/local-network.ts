import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findExecutable } from "../../embedded/process.js";
import type { BuildkitdSettings } from "./buildkitd-config.js";

/**
 * The network a local builder's RUN steps get: a network namespace of their own on a bridge
 * (BuildKit's CNI mode), so a step reaches the internet through NAT but not this machine's
 * loopback, where the service, its Redis and PostgreSQL, and every other builder listen. What it
 * does not stop: a step reaching a service this machine listens with on another address
 * (0.0.0.0 included), or another build's step on the same bridge (docs/buildkit.md).
 */
const BUILD_BRIDGE = "rb-build0";
export const BUILD_SUBNET = "10.213.0.0/16";
const PLUGINS = ["bridge", "host-local", "firewall", "loopback"];
const PLUGIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni"];

const NETWORK_HELP =
  "install Debian's containernetworking-plugins and iptables (apt install containernetworking-plugins iptables)";

export type BuildNetwork =
  { cni: NonNullable<BuildkitdSettings["cni"]>; warning: null } | { cni: null; warning: string };

/** CNI for builds where the plugins and iptables are here; else the host's network, and why. */
export function buildNetwork(dataDir: string): BuildNetwork {
  const binaryDir = PLUGIN_DIRS.find((dir) => PLUGINS.every((p) => existsSync(join(dir, p))));
  const iptables = findExecutable("iptables", ["/usr/sbin", "/sbin"]);
  if (!binaryDir || !iptables) {
    const missing = [
      binaryDir ? null : `the CNI plugins (${PLUGINS.join(", ")})`,
      iptables ? null : "iptables",
    ];
    return {
      cni: null,
      warning:
        `${missing.filter(Boolean).join(" and ")} not found: RUN steps share this machine's network, ` +
        `its loopback included (the service's Redis and PostgreSQL, other builders); ${NETWORK_HELP}`,
    };
  }
  const dir = join(dataDir, "cni");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, "remote-builder.conflist");
  writeFileSync(configPath, JSON.stringify(conflist(), null, 2));
  return { cni: { configPath, binaryDir, poolSize: 2 }, warning: null };
}

function conflist() {
  return {
    cniVersion: "1.0.0",
    name: "remote-builder",
    plugins: [
      {
        type: "bridge",
        bridge: BUILD_BRIDGE,
        isGateway: true,
        ipMasq: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: BUILD_SUBNET }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "firewall" },
    ],
  };
}
