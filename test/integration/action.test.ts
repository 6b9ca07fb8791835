import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { ActionJob, FakeActionsTokenEndpoint } from "../harness/action-job.js";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import { ADMIN_TOKEN, http, type TestService } from "../harness/context.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { startLocalService } from "../drivers/support.js";
import { AUDIENCE, githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { buildContext, buildxBuild, describeReal, run, tools } from "./support.js";

/**
 * The committed Action (dist/index.js) as a GitHub job runs it, with the real docker CLI and
 * buildx instead of the recording fake: main's `buildx create --driver remote` and bootstrap
 * through the broker, the job's own build on the builder main put in use, and post's removal.
 */
describeReal("the Action with real buildx and buildkitd", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-action-real-"));
  let base: OciImage;
  let docker: Record<string, string>;
  let service: TestService;
  let issuer: TestIssuer;
  let tokens: FakeActionsTokenEndpoint;

  beforeAll(async () => {
    base = busyboxImage(work);
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    issuer = await TestIssuer.start();
    tokens = await FakeActionsTokenEndpoint.start((audience) =>
      issuer.token(githubClaims({ aud: audience })),
    );
    service = await startLocalService(join(work, "local"), {
      RB_BUILDKITD: tools().buildkitd,
      RB_WARM_POOL: '{"small":1}',
      ...oidcEnv([{ name: "github", kind: "github", issuer }], null),
    });
    const account = await service.account();
    const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { ownerId: "1001", cacheWriteRefs: ["refs/heads/main"] },
    });
    expect(trusted.status).toBe(201);
  });
  afterAll(async () => {
    await service?.stop();
    await tokens?.stop();
    await issuer?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("main sets up a buildx builder the job's build runs on, through the broker; post removes it", async () => {
    const job = new ActionJob(
      { "server-url": service.url, audience: AUDIENCE, "job-status": "success" },
      { ...tokens.env, ...docker },
      "dist",
    );
    try {
      const main = await job.main();
      expect(main.commands.filter((c) => c.command === "error")).toEqual([]);
      expect(main.code).toBe(0);
      const name = main.outputs.name!;
      expect(main.exported.BUILDX_BUILDER).toBe(name);

      const listed = await run("docker", ["buildx", "ls"], { env: docker });
      expect(listed.stdout).toMatch(new RegExp(`^${name}\\s.*remote`, "m"));
      const context = buildContext(join(work, "context"), {
        Dockerfile: "FROM base\nRUN echo built on $(uname -n) > /where && cat /where\n",
      });
      const built = await buildxBuild(docker, name, context, ["--build-context", `base=${base.context}`]);
      expect(built.result.code).toBe(0);
      expect(built.printed.some((line) => line.startsWith("built on "))).toBe(true);

      const post = await job.post();
      expect(post.code).toBe(0);
      expect(post.commands.filter((c) => c.command === "warning")).toEqual([]);
      const after = await run("docker", ["buildx", "ls"], { env: docker });
      expect(after.stdout).not.toContain(name);
      expect(job.summary).toMatch(/warm|cold|idle/);
      // Post waited for the service to read the builder's BuildKit history: the build's one step ran.
      expect(job.summary).toContain("<td>Build steps</td><td>1 step, 0 cached (0%)");
    } finally {
      job.cleanUp();
    }
  }, 120_000);
});
