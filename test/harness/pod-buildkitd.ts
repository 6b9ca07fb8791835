/**
 * What a builder pod's buildkitd sees, read the way the kubelet and buildkitd would: its
 * `--config` argument, the Secret mounted where that file lives, and the TLS files the config
 * names. The fake kubelet starts its stand-in from this, and the real-buildkitd test runs real
 * buildkitd on it, so both start from the pod spec and Secret the driver wrote, not from a copy.
 */
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import { dirname } from "node:path";

export interface PodBuildkitd {
  configPath: string;
  toml: string;
  /** Every file of the mounted Secret, by its path inside the container. */
  files: Map<string, string>;
  /** A string key of the config (`root`, `ca`, `address`'s first entry, …). */
  key(name: string): string;
  /** The content of the file a string key of the config names. */
  file(name: string): string;
}

/** The config file buildkitd is started with, where it is mounted, and the Secret mounted there. */
export function configMount(pod: V1Pod): { configPath: string; mountPath: string; secretName: string } {
  const container = pod.spec!.containers.find((c) => c.name === "buildkitd")!;
  const args = container.args ?? [];
  const configPath = args[args.indexOf("--config") + 1]!;
  const mount = container.volumeMounts!.find((m) => m.mountPath === dirname(configPath));
  if (!mount) throw new Error(`nothing is mounted where ${configPath} should be`);
  const secretName = pod.spec!.volumes!.find((v) => v.name === mount.name)?.secret?.secretName;
  if (!secretName) throw new Error(`${mount.mountPath} holds no Secret`);
  return { configPath, mountPath: mount.mountPath, secretName };
}

export function podBuildkitd(pod: V1Pod, secret: V1Secret): PodBuildkitd {
  const { configPath, mountPath, secretName } = configMount(pod);
  if (secretName !== secret.metadata!.name) {
    throw new Error(`${mountPath} holds the Secret ${secretName}, not ${secret.metadata!.name}`);
  }
  const files = new Map(
    Object.entries(secret.data ?? {}).map(([name, b64]) => [
      `${mountPath}/${name}`,
      Buffer.from(b64, "base64").toString(),
    ]),
  );
  const toml = files.get(configPath);
  if (toml === undefined) throw new Error(`the Secret has no ${configPath}`);
  const key = (name: string) => tomlString(toml, name);
  return {
    configPath,
    toml,
    files,
    key,
    file(name) {
      const path = key(name);
      const content = files.get(path);
      if (content === undefined) throw new Error(`the config's ${name} (${path}) is not in the Secret`);
      return content;
    },
  };
}

/** A `key = "string"` (or `key = ["string", …]`, its first) of the TOML the drivers write. */
function tomlString(toml: string, name: string): string {
  const match = new RegExp(`^\\s*${name} = \\[?("(?:[^"\\\\]|\\\\.)*")`, "m").exec(toml);
  if (!match) throw new Error(`the config has no ${name}`);
  return JSON.parse(match[1]!) as string;
}
