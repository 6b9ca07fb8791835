/**
 * The CLI as a user gets it: the package packed (`npm pack`, which compiles it through `prepare`)
 * and installed into a folder of its own with its production dependencies, then its command run
 * as `remote-builder --version`, timed from spawn to exit beside `node -e 0` in turns.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

/** Packs the package in `root` and installs it under `prefix`; returns the path of its command. */
export function installCli(root: string, prefix: string): string {
  mkdirSync(prefix, { recursive: true });
  const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", prefix], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop()!;
  execFileSync(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--omit=dev",
      join(prefix, packed),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  return join(prefix, "bin", "remote-builder");
}

/** Wall time of one run of `command` to its exit, in ms; throws when it fails. */
export function timeRun(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`${command} ${args.join(" ")}: exit ${code}: ${stderr}`)),
    );
  });
}
