/**
 * The real BuildKit daemon and client for the tests and benchmarks that need them: upstream
 * buildkitd, buildctl and the buildx plugin from ../shared/tools/buildkit (unpacked once into the
 * ignored .cache/buildkit), else a buildkitd and buildx the machine has on PATH; with runc and the
 * machine's own docker CLI. Where the shared folder is absent and nothing is on PATH, the tests
 * skip and say why; where it is present, anything else missing is an error, never a skip.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { findExecutable } from "../../service/embedded/process.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const SHARED_BUILDKIT = resolve(ROOT, "../shared/tools/buildkit");
const CACHE = join(ROOT, ".cache/buildkit");
const FAKE_BIN = join(ROOT, "test/harness/bin");

export interface BuildkitTools {
  buildkitd: string;
  buildctl: string;
  /** The buildx plugin binary (`docker-buildx`). */
  buildx: string;
  /** The machine's docker CLI, which runs buildx as its plugin. */
  docker: string;
  runc: string;
  /** The folder holding buildkitd and buildctl: first on a service's PATH. */
  bin: string;
}

export type ToolsLookup = { tools: BuildkitTools; skip: null } | { tools: null; skip: string };

/**
 * The tools, where they must be there: as jest's global setup found them (RB_TEST_BUILDKIT, so
 * that workers never unpack the archive at once), else looked for now.
 */
export function buildkitTools(): BuildkitTools {
  if (process.env.RB_TEST_BUILDKIT) return JSON.parse(process.env.RB_TEST_BUILDKIT) as BuildkitTools;
  const { tools, skip } = findBuildkitTools();
  if (!tools) throw new Error(`no real BuildKit: ${skip}`);
  return tools;
}

/** Where the tools are, unpacking the shared archive the first time. */
export function findBuildkitTools(): ToolsLookup {
  if (existsSync(SHARED_BUILDKIT)) return { tools: sharedTools(), skip: null };
  const onPath = (name: string) => findExecutable(name, [], withoutFakes());
  const buildkitd = onPath("buildkitd");
  const buildctl = onPath("buildctl");
  const buildx = onPath("docker-buildx") ?? pluginInstalled() ?? onPath("buildx");
  const docker = onPath("docker");
  const runc = findExecutable("runc", ["/usr/sbin", "/sbin"], withoutFakes());
  const missing = Object.entries({ buildkitd, buildctl, "docker-buildx": buildx, docker, runc })
    .filter(([, path]) => !path)
    .map(([name]) => name);
  if (missing.length > 0) {
    return {
      tools: null,
      skip: `${SHARED_BUILDKIT} is absent and ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not on PATH`,
    };
  }
  return {
    tools: {
      buildkitd: buildkitd!,
      buildctl: buildctl!,
      buildx: buildx!,
      docker: docker!,
      runc: runc!,
      bin: resolve(buildkitd!, ".."),
    },
    skip: null,
  };
}

/** The shared archive's binaries; the machine's runc and docker, which must be there. */
function sharedTools(): BuildkitTools {
  const bin = execFileSync(join(SHARED_BUILDKIT, "extract"), [CACHE], { encoding: "utf8" }).trim();
  const runc = findExecutable("runc", ["/usr/sbin", "/sbin"], withoutFakes());
  if (!runc) throw new Error("runc is not installed (apt-get install runc; scripts/setup.sh does it)");
  const docker = findExecutable("docker", [], withoutFakes());
  if (!docker) throw new Error("the docker CLI is not on PATH: real buildx runs as its plugin");
  return {
    buildkitd: join(bin, "buildkitd"),
    buildctl: join(bin, "buildctl"),
    buildx: join(bin, "docker-buildx"),
    docker,
    runc,
    bin,
  };
}

/** PATH without the tests' recording fakes. */
function withoutFakes(): string {
  return (process.env.PATH ?? "")
    .split(":")
    .filter((dir) => dir && resolve(dir) !== FAKE_BIN)
    .join(":");
}

function pluginInstalled(): string | null {
  const dirs = [
    join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "cli-plugins"),
    "/usr/local/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
  ];
  return dirs.map((dir) => join(dir, "docker-buildx")).find((path) => existsSync(path)) ?? null;
}

/**
 * A DOCKER_CONFIG folder of its own, with buildx as its plugin: builders a test creates live
 * there, never in the user's ~/.docker.
 */
export function dockerConfig(dir: string, tools: BuildkitTools): string {
  mkdirSync(join(dir, "cli-plugins"), { recursive: true });
  const plugin = join(dir, "cli-plugins", "docker-buildx");
  if (!existsSync(plugin)) symlinkSync(tools.buildx, plugin);
  return dir;
}

/** The environment a real `docker buildx` (or the CLI that runs it) needs: the real docker first on PATH. */
export function realDockerEnv(tools: BuildkitTools, configDir: string): Record<string, string> {
  return {
    DOCKER_CONFIG: configDir,
    PATH: [resolve(tools.docker, ".."), tools.bin, withoutFakes()].join(":"),
  };
}
