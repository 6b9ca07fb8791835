import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { writeSummary } from "../../action/summary.js";
import type { Build } from "../../service/client/api-client.js";
import { insightsLine, stepName } from "../../service/client/insights-line.js";
import { loadsInputs } from "../../service/core/build-insights.js";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import { http, type TestService } from "../harness/context.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { CliJob } from "../cli/cli-job.js";
import { startLocalService } from "../drivers/support.js";
import { buildContext, buildxBuild, describeReal, succeeded, tools } from "./support.js";

/**
 * Build insights from BuildKit's own history: two identical CI jobs on the local driver with real
 * buildkitd, each a `docker buildx build` through the broker; once each build ends, the service
 * reads its builder's history (ListenBuildHistory, and the solve's trace from the content store)
 * over mTLS with the broker's identity, and keeps the counts with the build.
 */
describeReal("build insights from real buildkitd's build history", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-insights-"));
  let base: OciImage;
  let docker: Record<string, string>;
  let service: TestService;
  let account: { id: string; token: string };
  const jobs: CliJob[] = [];

  const dockerfile = [
    "FROM base",
    "COPY src.txt /src.txt",
    "RUN sleep 1.5 && wc -c /src.txt > /size",
    "RUN echo second > /second",
    "RUN cat /size /second > /both",
    "",
  ].join("\n");
  let context: string;

  beforeAll(async () => {
    base = busyboxImage(work);
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    context = buildContext(join(work, "context"), { Dockerfile: dockerfile, "src.txt": "insights" });
    service = await startLocalService(join(work, "local"), {
      RB_BUILDKITD: tools().buildkitd,
      RB_WARM_POOL: '{"small":1}',
      RB_BUILDER_IDLE_TTL_SECONDS: "600",
    });
    account = await service.account();
  });
  afterAll(async () => {
    for (const job of jobs) job.cleanUp();
    await service?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** One CI job: setup, the build through the broker, finish; the build as the API then shows it. */
  async function ciJob(): Promise<{ build: Build; finished: string }> {
    const job = new CliJob({ RB_SERVER_URL: service.url, RB_TOKEN: account.token, ...docker });
    jobs.push(job);
    const setup = await job.run(["setup"]);
    if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
    const { buildId: id } = JSON.parse(setup.stdout) as { buildId: string };
    const built = await buildxBuild(docker, "remote-builder", context, [
      "--build-context",
      `base=${base.context}`,
    ]);
    succeeded("docker buildx build", built.result);
    const finish = await job.run(["finish", "--result", "success"]);
    if (finish.code !== 0) throw new Error(`finish failed: ${finish.stderr}`);
    const view = await http<Build>(service.url, "GET", `/api/v1/builds/${id}`, { token: account.token });
    expect(view.status).toBe(200);
    return { build: view.body, finished: finish.stdout };
  }

  it("the second of two identical builds has every step cached, and its job summary says so", async () => {
    const first = await ciJob();
    const one = first.build.insights!;
    expect(one).toMatchObject({ status: "read", reason: null, solves: 1, errors: [] });
    expect(one).toMatchObject({ steps: 4, cachedSteps: 0, cacheHitRatio: 0 });
    // The trace names the steps that ran, with their time: the sleep was the slowest.
    expect(stepName(one.slowest[0]!.name)).toBe("RUN sleep 1.5 && wc -c /src.txt > /size");
    expect(one.slowest[0]!.seconds).toBeGreaterThanOrEqual(1.5);
    expect(first.finished).toMatch(
      /^steps\s+4 steps, 0 cached \(0%\); slowest: RUN sleep 1\.5 && wc -c \/src\.txt > \/size 1\.\d s/m,
    );

    const second = await ciJob();
    const two = second.build.insights!;
    expect(two).toMatchObject({ status: "read", solves: 1, errors: [], cachedSteps: 4, cacheHitRatio: 1 });
    expect(two.steps).toBe(4); // COPY and three RUNs
    expect(two.buildkitSteps).toBeGreaterThan(two.steps);
    // Only BuildKit's loading of the build's inputs ran, as it does on every build.
    expect(two.slowest.map((s) => s.name).filter((name) => !loadsInputs(name))).toEqual([]);
    const line = insightsLine(two);
    expect(line).toMatch(/^4 steps, 4 cached \(100%\)(;|$)/);

    // The Action's job summary, from the same view.
    const summaryFile = join(work, "step-summary.md");
    writeFileSync(summaryFile, "");
    process.env.GITHUB_STEP_SUMMARY = summaryFile;
    try {
      await writeSummary(
        second.build,
        null,
        {
          buildId: second.build.id,
          name: "remote-builder",
          keyDir: work,
          builderCreated: true,
          startedAt: 0,
          readySeconds: 1,
        },
        [],
      );
    } finally {
      delete process.env.GITHUB_STEP_SUMMARY;
    }
    expect(readFileSync(summaryFile, "utf8")).toContain(`<td>Build steps</td><td>${line}</td>`);
    expect(line).toContain("4 steps, 4 cached (100%)");
  }, 300_000);
});
