import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

/**
 * Removes a folder that builders ran in. buildkitd v0.11 leaves its CNI pool's network namespaces
 * mounted in its root (`net/cni/…`) when it stops: they are unmounted first, or the folder cannot go.
 */
export function removeTree(root: string): void {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((path) => path.startsWith(`${root}/`));
  for (const path of mounts.reverse()) {
    try {
      execFileSync("umount", [path], { stdio: "ignore" });
    } catch {
      // Not ours to unmount (no privilege): the rm below says what is left.
    }
  }
  rmSync(root, { recursive: true, force: true });
}
