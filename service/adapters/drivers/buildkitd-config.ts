/**
 * buildkitd's configuration, for both drivers: one TOML file, and a command line that only names
 * it. Flags come and go between BuildKit releases (`--oci-max-parallelism` is not in v0.11, and an
 * unknown flag stops buildkitd), and the one flag whose unit differs from its TOML key
 * (`--oci-worker-gc-keepstorage` is MB, `gckeepstorage` bytes) is how a unit error once emptied
 * every cache a minute after each build. Every key written here is read by every release from
 * v0.11 to current, with the same meaning and unit (docs/buildkit.md lists them).
 */
export interface BuildkitdSettings {
  /** The cache: BuildKit's state directory, the account's volume. */
  root: string;
  /** Where it listens, `tcp://host:port`, with mTLS. */
  address: string;
  /** PEM files: the CA that signs the only client allowed in (the broker), its own certificate and key. */
  tls: { ca: string; cert: string; key: string };
  /** At most this many build steps at once: the shape's CPUs (a fraction rounds down, to 1 at least). Null: no limit. */
  maxParallelism: number | null;
  /** GC keeps the cache under this many bytes. Null: buildkitd's own default (a share of the disk). */
  keepBytes: number | null;
  /**
   * RUN steps in network namespaces of their own (BuildKit's CNI mode): a conflist, the folder of
   * the plugins, and how many namespaces to keep made ahead. Absent: the host's network.
   */
  cni?: { configPath: string; binaryDir: string; poolSize: number };
  /**
   * The trace socket buildkitd serves. Newer releases put it at one fixed path and refuse to start
   * when another buildkitd holds it, so builders that share a machine need one each.
   */
  traceSocket?: string;
}

export const BUILDKITD_CONFIG_FILE = "buildkitd.toml";

/** The command line: everything else is in the file, so no flag can be missing from a release. */
export function buildkitdArgs(configPath: string): string[] {
  return ["--config", configPath];
}

export function buildkitdToml(s: BuildkitdSettings): string {
  const lines = [
    `root = ${str(s.root)}`,
    "",
    "[grpc]",
    `  address = [${str(s.address)}]`,
    "",
    "[grpc.tls]",
    `  ca = ${str(s.tls.ca)}`,
    `  cert = ${str(s.tls.cert)}`,
    `  key = ${str(s.tls.key)}`,
    "",
    "[worker.oci]",
    "  gc = true",
    // Bytes, in every release: v0.17 and later read it as `reservedSpace`, which GC also prunes down to.
    ...(s.keepBytes !== null ? [`  gckeepstorage = ${int(s.keepBytes)}`] : []),
    ...(s.cni
      ? [
          `  networkMode = "cni"`,
          `  cniConfigPath = ${str(s.cni.configPath)}`,
          `  cniBinaryPath = ${str(s.cni.binaryDir)}`,
          `  cniPoolSize = ${int(s.cni.poolSize)}`,
        ]
      : []),
    ...(s.maxParallelism !== null
      ? [`  max-parallelism = ${int(Math.max(1, Math.floor(s.maxParallelism)))}`]
      : []),
    "",
    // No containerd on a builder: without this, every start warns that its socket is missing.
    "[worker.containerd]",
    "  enabled = false",
    "",
  ];
  if (s.traceSocket) lines.push("[otel]", `  socketPath = ${str(s.traceSocket)}`, "");
  return lines.join("\n");
}

/** A TOML basic string: JSON's escapes are TOML's for everything a path holds. */
function str(value: string): string {
  return JSON.stringify(value);
}

function int(value: number): string {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`not a positive whole number: ${value}`);
  return String(value);
}

/** The oldest BuildKit whose configuration keys and behaviour this service relies on. */
export const OLDEST_BUILDKIT = [0, 11] as const;

/**
 * The release in `buildkitd --version` ("buildkitd github.com/moby/buildkit v0.11.6 <commit>"), or
 * null when it names none (a build from a branch).
 */
export function parseBuildkitVersion(output: string): [number, number, number] | null {
  const match = /\bv(\d+)\.(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

/** Whether a release is older than the oldest this service supports. */
export function tooOld(version: readonly [number, number, number]): boolean {
  const [major, minor] = version;
  return major < OLDEST_BUILDKIT[0] || (major === OLDEST_BUILDKIT[0] && minor < OLDEST_BUILDKIT[1]);
}
