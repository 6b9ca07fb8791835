/**
 * Runs an image the way a container runtime does, without a Docker engine: the OCI archive a build
 * exported is unpacked layer by layer into a root filesystem, and runc starts the image's own
 * entrypoint, command, user, working directory and environment on it, read-only, on the host's
 * network (so that it reaches the test's Redis and PostgreSQL on loopback).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildkitTools } from "./buildkit-tools.js";

export interface UnpackedImage {
  rootfs: string;
  config: { Entrypoint?: string[]; Cmd?: string[]; User?: string; WorkingDir?: string; Env?: string[] };
  /** Each layer's size as the archive holds it, base first. */
  layerBytes: number[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

/** Unpacks `archive` (an OCI image layout as a tar, `--output type=oci`) into `dir`. */
export function unpackOciArchive(archive: string, dir: string): UnpackedImage {
  const layout = join(dir, "layout");
  const rootfs = join(dir, "rootfs");
  mkdirSync(layout, { recursive: true });
  mkdirSync(rootfs, { recursive: true });
  execFileSync("tar", ["-xf", archive, "-C", layout]);
  const blob = (d: Descriptor) => join(layout, "blobs", ...d.digest.split(":"));
  const read = <T>(d: Descriptor): T => JSON.parse(readFileSync(blob(d), "utf8")) as T;
  let manifest = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0] as Descriptor;
  // buildx adds provenance: an index of the image and its attestation, told apart by platform.
  while (manifest.mediaType.endsWith("index.v1+json")) {
    manifest = read<{ manifests: Descriptor[] }>(manifest).manifests.find((m) => m.platform?.os === "linux")!;
  }
  const { config, layers } = read<{ config: Descriptor; layers: Descriptor[] }>(manifest);
  for (const layer of layers) execFileSync("tar", ["-xf", blob(layer), "-C", rootfs]);
  return {
    rootfs,
    config: read<{ config: UnpackedImage["config"] }>(config).config,
    layerBytes: layers.map((l) => l.size),
  };
}

/**
 * Starts the image's process under runc; `env` is added to the image's own environment (a name
 * in both takes `env`'s value), and `binds` mounts host folders read-only (container path → host path).
 */
export function runImage(
  image: UnpackedImage,
  bundle: string,
  name: string,
  env: Record<string, string>,
  binds: Record<string, string> = {},
): ChildProcess & { stop(): void } {
  mkdirSync(bundle, { recursive: true });
  const state = join(bundle, "runc-state");
  execFileSync(buildkitTools().runc, ["spec", "--bundle", bundle]);
  const spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8"));
  const [uid, gid] = userIds(image);
  spec.process.terminal = false;
  spec.process.args = [...(image.config.Entrypoint ?? []), ...(image.config.Cmd ?? [])];
  spec.process.cwd = image.config.WorkingDir || "/";
  spec.process.user = { uid, gid };
  const imageEnv = (image.config.Env ?? []).filter((e) => !(e.slice(0, e.indexOf("=")) in env));
  spec.process.env = [...imageEnv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  spec.root = { path: image.rootfs, readonly: true };
  spec.mounts.push({
    destination: "/tmp",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "nodev", "mode=1777"],
  });
  for (const [destination, source] of Object.entries(binds)) {
    spec.mounts.push({ destination, type: "bind", source, options: ["rbind", "ro"] });
  }
  spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== "network");
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const child = spawn(buildkitTools().runc, ["--root", state, "run", "--bundle", bundle, name], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stop = () => {
    spawn(buildkitTools().runc, ["--root", state, "delete", "--force", name], { stdio: "ignore" });
  };
  return Object.assign(child, { stop });
}

/** The image's USER as numbers, looked up in its own /etc/passwd when it is a name. */
function userIds(image: UnpackedImage): [number, number] {
  const user = image.config.User || "0";
  if (/^\d+(:\d+)?$/.test(user)) {
    const [uid, gid = uid] = user.split(":").map(Number);
    return [uid!, gid!];
  }
  const passwd = readFileSync(join(image.rootfs, "etc/passwd"), "utf8");
  const entry = passwd.split("\n").find((line) => line.startsWith(`${user}:`));
  if (!entry) throw new Error(`the image's user "${user}" is not in its /etc/passwd`);
  const [, , uid, gid] = entry.split(":");
  return [Number(uid), Number(gid)];
}
