import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, expect, it } from "@jest/globals";
import {
  builderConfig,
  builderPod,
  builderSecret,
} from "../../service/adapters/drivers/kubernetes/objects.js";
import { keepStorageBytes } from "../../service/core/placement.js";
import { freePort } from "../../service/embedded/process.js";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { podBuildkitd } from "../harness/pod-buildkitd.js";
import {
  buildContext,
  buildctl,
  buildxBuild,
  buildxCreate,
  type Daemon,
  daemonCertificates,
  describeReal,
  gcPolicy,
  run,
  startBuildkitd,
  startDaemon,
  stopProcess,
  succeeded,
  tools,
} from "./support.js";

/**
 * The configuration both drivers give buildkitd, run by upstream buildkitd v0.11.6 (the oldest
 * release supported): it starts, it listens with mTLS for the broker's identity only, it applies
 * the GC budget in bytes and the step limit, and a cache within budget survives GC.
 */
describeReal("the drivers' buildkitd configuration, on real buildkitd", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-buildkitd-config-"));
  const daemons: Daemon[] = [];
  let base: OciImage;
  let env: Record<string, string>;

  beforeAll(() => {
    base = busyboxImage(work);
    env = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
  });
  afterEach(async () => {
    await Promise.all(daemons.splice(0).map((d) => d.stop()));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  async function daemon(
    name: string,
    settings: Parameters<typeof startDaemon>[1],
    edit?: (t: string) => string,
  ) {
    const started = await startDaemon(join(work, name), settings, edit);
    daemons.push(started);
    return started;
  }

  it("starts from the local driver's file: GC keeps 80% of the volume in bytes, and only the broker's identity gets in", async () => {
    const d = await daemon("local", {
      root: join(work, "local", "root"),
      maxParallelism: 2,
      keepBytes: keepStorageBytes(20),
      traceSocket: join(work, "local", "otel.sock"),
    });
    const rules = await gcPolicy(d);
    // BuildKit's default rules around our budget: 17,179,869,184 bytes, where the unit error kept 17,179.
    expect(rules.slice(1).map((r) => r.keepBytes)).toEqual([17_179_869_184, 17_179_869_184, 17_179_869_184]);

    const stranger = await daemonCertificates(join(work, "stranger"));
    const refused = await buildctl(d, ["debug", "workers"], { ...stranger.client, ca: d.client.ca });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/certificate|tls|handshake|connection/i);
  });

  it("starts from a Kubernetes builder pod's spec and Secret, as its container would see them", async () => {
    const dir = join(work, "pod");
    const { server, client } = await daemonCertificates(join(dir, "issued"));
    const { readFileSync } = await import("node:fs");
    const tls = {
      caPem: readFileSync(server.ca, "utf8"),
      certPem: readFileSync(server.cert, "utf8"),
      keyPem: readFileSync(server.key, "utf8"),
      serverName: client.serverName,
    };
    const shape = { cpu: 4, memoryGiB: 8 };
    const settings = {
      namespace: "builders",
      runtimeClassName: "kata-fc",
      buildkitImage: `moby/buildkit:v0.11.6@sha256:${"a".repeat(64)}`,
      formatImage: null,
      storageClassName: "local",
      volumeMode: "Filesystem" as const,
      nodeSelector: {},
      tolerations: [],
    };
    const pod = builderPod(settings, {
      builderId: "rb-integration",
      shapeName: "medium",
      shape,
      role: "warm",
      accountId: null,
      buildId: null,
      claim: { name: "cache", volume: null },
      volumeSizeGiB: 50,
      now: Date.now(),
    });
    const secret = builderSecret(
      settings,
      "rb-integration",
      "medium",
      tls,
      builderConfig({ shape, volumeSizeGiB: 50 }),
    );
    const seen = podBuildkitd(pod, secret);
    // The container's filesystem, under `dir`: the Secret's files where they are mounted, the volume at its path.
    for (const [path, content] of seen.files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content, { mode: 0o600 });
    }
    const port = await freePort();
    const address = `tcp://127.0.0.1:${port}`;
    expect(seen.key("address")).toBe("tcp://0.0.0.0:1234");
    const toml = seen.toml.replace(/"\//g, `"${dir}/`).replace(`tcp://0.0.0.0:1234`, address);
    writeFileSync(join(dir, seen.configPath), toml);
    const child = await startBuildkitd(join(dir, seen.configPath), address);
    try {
      const rules = await gcPolicy({ address, client });
      expect(rules.slice(1).map((r) => r.keepBytes)).toEqual(Array(3).fill(keepStorageBytes(50)));
    } finally {
      await stopProcess(child);
    }
  });

  it("keeps a cache within its budget through GC, which a budget in the wrong unit empties", async () => {
    const budget = keepStorageBytes(1);
    const settings = (name: string) => ({
      root: join(work, name, "root"),
      maxParallelism: 2,
      keepBytes: budget,
    });
    const right = await daemon("gc-right", settings("gc-right"));
    // The unit error this test exists for: the MB figure (858) written where bytes are read.
    const wrong = await daemon("gc-wrong", settings("gc-wrong"), (t) =>
      t.replace(`gckeepstorage = ${budget}`, `gckeepstorage = ${Math.floor(budget / 1e6)}`),
    );
    const context = buildContext(join(work, "gc-context"), {
      Dockerfile: "FROM base\nRUN head -c 65536 /dev/urandom > /blob\nRUN wc -c /blob > /size\n",
    });
    const build = async (d: Daemon, name: string) => {
      await buildxCreate(env, name, d);
      try {
        return await buildxBuild(env, name, context, ["--build-context", `base=${base.context}`]);
      } finally {
        await run("docker", ["buildx", "rm", name], { env });
      }
    };
    for (const [d, name] of [
      [right, "gc-right"],
      [wrong, "gc-wrong"],
    ] as const) {
      const first = await build(d, `${name}-1`);
      succeeded("the first build", first.result);
      expect(first.steps.filter((s) => s.cached)).toEqual([]);
    }

    // buildkitd runs its GC a second after it starts: restart both, and wait until the wrong one has pruned.
    const restarted: Daemon[] = [];
    for (const d of [right, wrong]) {
      await d.stop();
      const again = await startBuildkitd(d.configPath, d.address);
      restarted.push({ ...d, stop: () => stopProcess(again) });
    }
    daemons.push(...restarted);
    const [rightAgain, wrongAgain] = restarted as [Daemon, Daemon];
    const records = async (d: Daemon) =>
      (succeeded("buildctl du", await buildctl(d, ["du"])).stdout.match(/^[a-z0-9]{25}\*?\s/gm) ?? []).length;
    const deadline = Date.now() + 20_000;
    while ((await records(wrongAgain)) > 0 && Date.now() < deadline) await sleep(250);
    expect(await records(wrongAgain)).toBe(0);
    await sleep(1_000);

    const kept = await build(rightAgain, "gc-right-2");
    succeeded("the build after GC", kept.result);
    expect(kept.steps.map((s) => [s.name, s.cached])).toEqual([
      ["RUN head -c 65536 /dev/urandom > /blob", true],
      ["RUN wc -c /blob > /size", true],
    ]);
    const lost = await build(wrongAgain, "gc-wrong-2");
    succeeded("the build after GC", lost.result);
    expect(lost.steps.filter((s) => s.cached)).toEqual([]);
  });

  it("runs no more build steps at once than the shape has CPUs", async () => {
    // Two stages with nothing in common, each holding a step for a second, uptime before and after.
    // Each daemon is new, so nothing is cached.
    const context = buildContext(join(work, "parallel"), {
      Dockerfile: [
        "FROM base AS a",
        "RUN cut -d' ' -f1 /proc/uptime > /t && sleep 1 && cut -d' ' -f1 /proc/uptime >> /t # a",
        "FROM base AS b",
        "RUN cut -d' ' -f1 /proc/uptime > /t && sleep 1 && cut -d' ' -f1 /proc/uptime >> /t # b",
        "FROM base",
        "COPY --from=a /t /a",
        "COPY --from=b /t /b",
        "RUN cat /a /b",
        "",
      ].join("\n"),
    });
    const overlap = async (maxParallelism: number) => {
      const d = await daemon(`parallel-${maxParallelism}`, {
        root: join(work, `parallel-${maxParallelism}`, "root"),
        maxParallelism,
        keepBytes: keepStorageBytes(1),
      });
      const name = `parallel-${maxParallelism}`;
      await buildxCreate(env, name, d);
      const built = await buildxBuild(env, name, context, ["--build-context", `base=${base.context}`]);
      await run("docker", ["buildx", "rm", name], { env });
      succeeded("the build", built.result);
      const [aStart, aEnd, bStart, bEnd] = built.printed.map(Number) as [number, number, number, number];
      return Math.min(aEnd, bEnd) - Math.max(aStart, bStart);
    };
    expect(await overlap(1)).toBeLessThanOrEqual(0);
    expect(await overlap(2)).toBeGreaterThan(0.5);
  });
});
