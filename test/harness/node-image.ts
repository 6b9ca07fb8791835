/**
 * A stand-in for the Dockerfile's `node:24…-slim` base, assembled from this machine (there is no
 * registry here): busybox for the shell, the Node.js 24 binary of the npm package `node` with the
 * shared libraries it links, the machine's npm, and a `node` user (uid 1000) as the official
 * image has. It also carries this machine's CA bundle and names it to npm (NPM_CONFIG_CAFILE): the npm
 * registry is reached through this network's TLS proxy; the official image needs neither.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, cpSync, mkdirSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { busyboxRootfs, type OciImage, ociImage } from "./oci-image.js";
import { ROOT } from "./buildkit-tools.js";

const NODE = join(ROOT, "node_modules/node/bin/node");
const NPM = "/usr/lib/node_modules/npm";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export function nodeStandInImage(dir: string, tag: string): OciImage {
  const rootfs = join(dir, "node-rootfs");
  busyboxRootfs(rootfs);
  const put = (from: string, to = from) => {
    mkdirSync(dirname(join(rootfs, to)), { recursive: true });
    copyFileSync(realpathSync(from), join(rootfs, to));
  };
  put(NODE, "/usr/local/bin/node");
  for (const library of sharedLibraries(NODE)) put(library);
  cpSync(NPM, join(rootfs, "usr/local/lib/node_modules/npm"), { recursive: true, dereference: true });
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(rootfs, "usr/local/bin/npm"));
  mkdirSync(join(rootfs, "usr/bin"), { recursive: true });
  symlinkSync("/bin/busybox", join(rootfs, "usr/bin/env")); // npm's `#!/usr/bin/env node`
  put(CA_BUNDLE);
  appendFileSync(join(rootfs, "etc/passwd"), "node:x:1000:1000::/home/node:/bin/sh\n");
  appendFileSync(join(rootfs, "etc/group"), "node:x:1000:\n");
  const image = ociImage(rootfs, join(dir, "node-layout"), tag, [
    "NODE_VERSION=24",
    `NPM_CONFIG_CAFILE=${CA_BUNDLE}`, // every npm run, whatever its --prefix
    "NPM_CONFIG_UPDATE_NOTIFIER=false",
  ]);
  rmSync(rootfs, { recursive: true, force: true });
  return image;
}

/** The files `ldd` says a binary loads, the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const listed = execFileSync("ldd", [binary], { encoding: "utf8" });
  return [...listed.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}
