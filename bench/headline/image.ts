/**
 * The compiler image, made on this machine (no registry is reachable): Debian bookworm minbase with
 * gcc, make and ccache, by debootstrap, as a reproducible OCI layout (test/harness/oci-image.ts).
 * Both are kept in .cache/headline/ and made once.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ociImage, type OciImage } from "../../test/harness/oci-image.js";

const MIRROR = process.env.BENCH_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";

export function compilerImage(cacheDir: string, log: (line: string) => void): OciImage {
  const rootfs = join(cacheDir, "rootfs");
  const layout = join(cacheDir, "layout");
  const stamp = join(layout, "digest");
  if (existsSync(stamp)) {
    const digest = readFileSync(stamp, "utf8").trim();
    return { layout, tag: "gcc", digest, context: `oci-layout://${layout}:gcc` };
  }
  if (!existsSync(rootfs)) {
    log(`making the compiler image with debootstrap from ${MIRROR} (once; a few minutes)…`);
    const tmp = `${rootfs}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    execFileSync(
      "debootstrap",
      ["--variant=minbase", "--include=gcc,make,ccache,libc6-dev", "bookworm", tmp, MIRROR],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    // apt's caches and logs are no part of a compiler; they would only make the layer bigger.
    for (const path of ["var/cache/apt/archives", "var/lib/apt/lists", "var/log"]) {
      rmSync(join(tmp, path), { recursive: true, force: true });
    }
    renameSync(tmp, rootfs);
  }
  const image = ociImage(rootfs, layout, "gcc", ["CCACHE_DIR=/cache/ccache"]);
  writeFileSync(stamp, `${image.digest}\n`);
  return image;
}
