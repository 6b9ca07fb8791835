import { lookup } from "node:dns/promises";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { freePort } from "../../service/embedded/process.js";
import { dockerConfig, realDockerEnv, ROOT } from "../harness/buildkit-tools.js";
import { testEnv } from "../harness/context.js";
import { nodeStandInImage } from "../harness/node-image.js";
import { runImage, unpackOciArchive } from "../harness/oci-run.js";
import { eventually } from "../harness/wait.js";
import { buildxBuild, buildxCreate, type Daemon, describeReal, startDaemon, tools } from "./support.js";

/** The base the Dockerfile names (its `ARG NODE_IMAGE=` default), which the stand-in answers for. */
const NODE_IMAGE = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))![1]!;

/**
 * The service's image, built from the Dockerfile as it is by real buildkitd and buildx: the
 * dependencies stage's `npm ci` against the npm registry, the build stage's esbuild, and the final
 * stage; then run from its own entrypoint, user and working directory, it answers /healthz.
 */
describeReal("the service's image builds from the Dockerfile and serves", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-image-"));
  let daemon: Daemon;
  let docker: Record<string, string>;

  beforeAll(async () => {
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    daemon = await startDaemon(join(work, "daemon"), {
      root: join(work, "daemon", "root"),
      maxParallelism: 2,
      keepBytes: null,
      traceSocket: join(work, "daemon", "otel.sock"),
    });
    await buildxCreate(docker, "image", daemon);
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(work, { recursive: true, force: true, maxRetries: 10 });
  });

  it("every stage builds, and the image's own command serves /healthz as the unprivileged user", async () => {
    const [name, tag] = NODE_IMAGE.split(":") as [string, string];
    const base = nodeStandInImage(join(work, "base"), tag);
    // No DNS here: the registry's address as this machine knows it, as the build's hosts entry.
    const registry = await lookup("registry.npmjs.org");
    const archive = join(work, "image.tar");
    const built = await buildxBuild(docker, "image", ROOT, [
      "--build-context",
      `${name}:${tag}=${base.context}`,
      "--add-host",
      `registry.npmjs.org:${registry.address}`,
      "--output",
      `type=oci,dest=${archive}`,
    ]);
    if (built.result.code !== 0)
      throw new Error(`the image did not build:\n${built.result.stderr.slice(-6000)}`);
    expect(built.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/npm ci --omit=dev/),
        "RUN node scripts/build-service.ts",
      ]),
    );

    const image = unpackOciArchive(archive, join(work, "unpacked"));
    expect(image.config.User).toBe("node");
    expect(readFileSync(join(image.rootfs, "app/package.json"), "utf8")).toContain(
      '"name": "remote-builder"',
    );
    // Compiled: no TypeScript in the image, and no tsx to run it with.
    expect(existsSync(join(image.rootfs, "app/build/cli/main.js"))).toBe(true);
    expect(existsSync(join(image.rootfs, "app/service"))).toBe(false);
    expect(existsSync(join(image.rootfs, "app/node_modules/tsx"))).toBe(false);

    const port = await freePort();
    const started = Date.now();
    // serve needs a driver: the local one, on the fake buildkitd and runc of test/harness/bin (it
    // only asks buildkitd its version; no warm pool, so no builder starts and none is needed).
    const imagePath = image.config.Env?.find((e) => e.startsWith("PATH="))?.slice("PATH=".length);
    const container = runImage(
      image,
      join(work, "bundle"),
      `rb-image-${process.pid}`,
      {
        ...(await testEnv({ RB_PORT: String(port), RB_BROKER_PORT: String(await freePort()) })),
        RB_DRIVER: "local",
        RB_LOCAL_DIR: "/tmp/local",
        PATH: `/opt/fake-bin:${imagePath ?? "/usr/local/bin:/usr/bin:/bin"}`,
      },
      { "/opt/fake-bin": join(ROOT, "test/harness/bin") },
    );
    let output = "";
    container.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    container.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      const healthy = await eventually(
        "/healthz",
        async () => {
          if (container.exitCode !== null) throw new Error("the container exited");
          return fetch(`http://127.0.0.1:${port}/healthz`).then(
            (res) => res.ok,
            () => false,
          );
        },
        30_000,
      ).then(
        () => true,
        () => false,
      );
      expect({ healthy, output }).toEqual({ healthy: true, output: expect.any(String) });
      const seconds = (Date.now() - started) / 1000;
      const serviceLayers = image.layerBytes.slice(-4).reduce((a, b) => a + b, 0);
      console.log(
        `service image: ${(serviceLayers / 1e6).toFixed(1)} MB over the base (layers ${image.layerBytes
          .map((b) => (b / 1e6).toFixed(1))
          .join(" + ")} MB); /healthz answered ${seconds.toFixed(2)} s after runc run`,
      );
    } finally {
      container.stop();
    }
  }, 900_000); // a cold npm ci of both stages, on a machine that may be busy
});
