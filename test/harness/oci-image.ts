/**
 * Base images without a registry: a root filesystem made on this machine, written as an OCI
 * image layout that a build takes with `--build-context NAME=oci-layout://DIR:TAG`. The layer is
 * reproducible (sorted, owner 0, mtime 0), so the same rootfs is the same image digest in every
 * run and BuildKit's cache keys do not move between the runs a test or benchmark compares.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface OciImage {
  layout: string;
  tag: string;
  /** The manifest's digest. */
  digest: string;
  /** What `--build-context base=…` takes. */
  context: string;
}

const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
};

/** Writes `rootfs` as a one-layer linux/amd64 image into the OCI layout folder `layout`. */
export function ociImage(rootfs: string, layout: string, tag = "latest", env: string[] = []): OciImage {
  rmSync(layout, { recursive: true, force: true });
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer) => {
    const hex = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const tar = execFileSync(
    "tar",
    ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", rootfs, "-cf", "-", "."],
    { maxBuffer: 4 * 1024 ** 3 },
  );
  const layer = put(tar);
  const config = put(
    json({
      architecture: "amd64",
      os: "linux",
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env],
        Cmd: ["sh"],
      },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
  );
  const manifest = put(
    json({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, ...config },
      layers: [{ mediaType: MEDIA.layer, ...layer }],
    }),
  );
  writeFileSync(
    join(layout, "index.json"),
    json({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        { mediaType: MEDIA.manifest, ...manifest, annotations: { "org.opencontainers.image.ref.name": tag } },
      ],
    }),
  );
  writeFileSync(join(layout, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  return { layout, tag, digest: manifest.digest, context: `oci-layout://${layout}:${tag}` };
}

/**
 * The smallest base with a shell: Debian's static busybox and a link per applet
 * (`apt-get install busybox-static`; scripts/setup.sh installs it where the real tools are).
 */
export function busyboxImage(dir: string): OciImage {
  const rootfs = join(dir, "busybox-rootfs");
  busyboxRootfs(rootfs);
  const image = ociImage(rootfs, join(dir, "busybox-layout"));
  rmSync(rootfs, { recursive: true, force: true });
  return image;
}

/** Makes `rootfs` afresh with busybox as /bin, root in /etc/passwd and a /tmp for everyone. */
export function busyboxRootfs(rootfs: string): void {
  const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) throw new Error("busybox is not installed (apt-get install busybox-static)");
  rmSync(rootfs, { recursive: true, force: true });
  for (const sub of ["bin", "tmp", "etc", "root"]) mkdirSync(join(rootfs, sub), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  copyFileSync(busybox, join(rootfs, "bin", "busybox"));
  chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  const applets = execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const applet of applets) {
    if (applet !== "busybox") symlinkSync("busybox", join(rootfs, "bin", applet));
  }
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(rootfs, "etc", "group"), "root:x:0:\n");
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
