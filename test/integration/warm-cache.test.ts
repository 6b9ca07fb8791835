import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import type { TestService } from "../harness/context.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { CliJob } from "../cli/cli-job.js";
import { startLocalService, volumeIndex } from "../drivers/support.js";
import { buildContext, buildxBuild, describeReal, type Step, succeeded, tools } from "./support.js";

/**
 * The product's one job, as the README's newcomer meets it: the service on the local driver with
 * real buildkitd, `remote-builder setup`, a real `docker buildx build` through the broker,
 * `finish`; then the next job, after BuildKit's GC has run, finds everything cached.
 */
describeReal("the warm cache, with real buildkitd and buildx through the broker", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-warm-cache-"));
  const dataDir = join(work, "local");
  let base: OciImage;
  let docker: Record<string, string>;
  let service: TestService;
  let first: TestService | null = null;
  let a: { id: string; token: string };
  const jobs: CliJob[] = [];

  // The cache mount keeps a file per source it saw, and says what it holds.
  const dockerfile = [
    "FROM base",
    "COPY src.txt /src.txt",
    "RUN head -c 65536 /dev/urandom > /noise && wc -c /src.txt > /size",
    "RUN --mount=type=cache,target=/cache cp /src.txt /cache/seen-$(cat /src.txt) && echo CACHE: $(ls /cache)",
    "",
  ].join("\n");
  const contexts = Object.fromEntries(
    ["one", "two", "three"].map((word) => [
      word,
      buildContext(join(work, `context-${word}`), { Dockerfile: dockerfile, "src.txt": word }),
    ]),
  );

  beforeAll(async () => {
    base = busyboxImage(work);
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    service = await startService();
    a = await service.account();
  });
  afterAll(async () => {
    for (const job of jobs) job.cleanUp();
    await first?.stop();
    await service?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  function startService(env: Record<string, string> = {}): Promise<TestService> {
    return startLocalService(dataDir, {
      RB_BUILDKITD: tools().buildkitd,
      RB_WARM_POOL: '{"small":1}',
      RB_BUILDER_IDLE_TTL_SECONDS: "600",
      ...env,
    });
  }

  /** One CI job: setup, builds of the given contexts through the broker, finish. */
  async function ciJob(account: { token: string }, words: string[], settle = 0) {
    const job = new CliJob({ RB_SERVER_URL: service.url, RB_TOKEN: account.token, ...docker });
    jobs.push(job);
    const setup = await job.run(["setup"]);
    if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
    const { tier } = JSON.parse(setup.stdout) as { tier: string };
    await sleep(settle);
    const builds: Array<{ steps: Step[]; cache: string }> = [];
    for (const word of words) {
      const built = await buildxBuild(docker, "remote-builder", contexts[word]!, [
        "--build-context",
        `base=${base.context}`,
      ]);
      succeeded(`docker buildx build (${word})`, built.result);
      const cache =
        built.printed.find((line) => line.startsWith("CACHE:")) ?? "(step cached: printed nothing)";
      builds.push({ steps: built.steps, cache });
    }
    const finish = await job.run(["finish", "--result", "success"]);
    if (finish.code !== 0) throw new Error(`finish failed: ${finish.stderr}`);
    return { tier, builds };
  }

  // Cached steps are reported in no fixed order.
  const cachedAll = (steps: Step[]) => steps.map((s) => [s.name.slice(0, 16), s.cached]).sort();
  const allCached = [
    ["COPY src.txt /sr", true],
    ["RUN --mount=type", true],
    ["RUN head -c 6553", true],
  ];

  it("a second job after BuildKit's GC is all cached on the idle builder, cache mount included; after a restart, too (cold, same volume)", async () => {
    const job1 = await ciJob(a, ["one"]);
    expect(job1.tier).toBe("warm");
    expect(job1.builds[0]!.steps.filter((s) => s.cached)).toEqual([]);
    expect(job1.builds[0]!.cache).toBe("CACHE: seen-one");
    const ended = Date.now();

    // buildkitd's GC runs a second after it starts, then at most once a minute, the next turn
    // after a build: wait for the first turn after this job's build.
    await sleep(untilNextGc(dataDir, ended) + 5_000);

    const job2 = await ciJob(a, ["one", "two"]);
    expect(job2.tier).toBe("idle");
    expect(cachedAll(job2.builds[0]!.steps)).toEqual(allCached);
    // A new source: the cache mount still holds what the first job left in it.
    expect(job2.builds[1]!.cache).toBe("CACHE: seen-one seen-two");

    // A restart stops every builder; the account's next one is cold, on the same directory.
    const volumes = volumeIndex(dataDir);
    first = service;
    await first.stop();
    first = null;
    service = await startService({
      RB_DATABASE_URL: service.config.databaseUrl,
      RB_REDIS_PREFIX: service.config.redisPrefix,
    });
    // A second on, buildkitd's start-up GC has run over the volume before the build.
    const job3 = await ciJob(a, ["one", "three"], 2_000);
    expect(job3.tier).toBe("cold");
    expect(volumeIndex(dataDir)).toEqual(volumes);
    expect(cachedAll(job3.builds[0]!.steps)).toEqual(allCached);
    expect(job3.builds[1]!.cache).toBe("CACHE: seen-one seen-three seen-two");
  }, 300_000);

  it("another account's build, on its own volume, sees none of the first account's cache", async () => {
    const b = await service.account();
    const job = await ciJob(b, ["one"]);
    expect(job.builds[0]!.steps.filter((s) => s.cached)).toEqual([]);
    expect(job.builds[0]!.cache).toBe("CACHE: seen-one");
    const volumes = volumeIndex(dataDir);
    expect(volumes[`${b.id}/buildkit`]).toBeDefined();
    expect(volumes[`${b.id}/buildkit`]).not.toBe(volumes[`${a.id}/buildkit`]);
  }, 120_000);
});

/**
 * Milliseconds until buildkitd's GC next runs after `after` (epoch ms): it runs a second after
 * the daemon starts, then no more than once a minute (BuildKit's control.Controller throttle),
 * so the turns fall at 1 s, 61 s, 121 s … of the daemon's life. The daemon is the one serving
 * builds: the only buildkitd under `dataDir` right now.
 */
function untilNextGc(dataDir: string, after: number): number {
  const runs = join(dataDir, "run");
  const pids = readdirSync(runs).map((id) => Number(readFileSync(join(runs, id, "pid"), "utf8")));
  const startedAt = Math.min(
    ...pids.map(
      (pid) =>
        Date.now() -
        1000 * Number(execFileSync("ps", ["-o", "etimes=", "-p", String(pid)], { encoding: "utf8" }).trim()),
    ),
  );
  const sinceStart = after + 1_000 - startedAt;
  const turn = startedAt + 1_000 + 60_000 * Math.max(0, Math.ceil((sinceStart - 1_000) / 60_000));
  return Math.max(0, turn - Date.now());
}
