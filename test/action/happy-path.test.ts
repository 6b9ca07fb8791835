import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../../service/adapters/drivers/memory.js";
import { ActionJob, FakeActionsTokenEndpoint } from "../harness/action-job.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { AUDIENCE, githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

describe("the Action, main then post, against a real service", () => {
  let service: TestService;
  let issuer: TestIssuer;
  let tokens: FakeActionsTokenEndpoint;
  let account: { handle: string; id: string; token: string };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    tokens = await FakeActionsTokenEndpoint.start((audience) =>
      issuer.token(githubClaims({ aud: audience })),
    );
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null), {
      driver: (context) => new MemoryDriver({ ...context, serve: startEchoBuilder }),
    });
    account = await service.account();
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
  });

  it("exchanges the job's OIDC token, sets up a builder through the broker, and hands it back in post", async () => {
    const job = new ActionJob(
      { "server-url": service.url, audience: AUDIENCE, "job-status": "success" },
      tokens.env,
      "dist",
    );
    try {
      const main = await job.main();
      expect(main.commands.filter((c) => c.command === "error")).toEqual([]);
      expect(main.code).toBe(0);
      const buildId = main.outputs["build-id"]!;
      expect(main.outputs).toMatchObject({
        name: `remote-builder-${buildId.slice(0, 8)}`,
        endpoint: service.brokerInfo.endpoint,
        tier: "cold",
        "cache-volume": "buildkit",
      });
      expect(main.exported.BUILDX_BUILDER).toBe(main.outputs.name);
      expect(main.stdout).toMatch(/Builder ready in \d+\.\d s/);

      const [create, inspect] = job.dockerCalls();
      expect(create!.argv.slice(0, 7)).toEqual([
        "buildx",
        "create",
        "--name",
        main.outputs.name,
        "--driver",
        "remote",
        "--driver-opt",
      ]);
      expect(create!.argv.slice(8)).toEqual(["--use", service.brokerInfo.endpoint]);
      expect(create!.files).toEqual({ cacert: "600", cert: "600", key: "600" });
      expect(inspect).toMatchObject({
        argv: ["buildx", "inspect", "--bootstrap", main.outputs.name],
        bootstrapped: true,
      });

      const keyDir = JSON.parse(main.state.session!).keyDir as string;
      expect(statSync(keyDir).mode & 0o777).toBe(0o700);

      const post = await job.post();
      expect(post.code).toBe(0);
      expect(post.commands.filter((c) => c.command === "warning")).toEqual([]);
      expect(job.dockerCalls().at(-1)!.argv).toEqual(["buildx", "rm", main.outputs.name]);
      expect(() => statSync(keyDir)).toThrow();
      const build = await http(service.url, "GET", `/api/v1/builds/${buildId}`, { token: account.token });
      expect(build.body).toMatchObject({ state: "completed", result: "success" });
      expect(job.summary).toContain(buildId);
      expect(job.summary).toMatch(/Through the broker/);
    } finally {
      job.cleanUp();
    }
  });
});
