import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { ActionJob, FAKE_BIN, FakeActionsTokenEndpoint } from "../harness/action-job.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { AUDIENCE, githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { logGroups, masks, printed } from "./fixtures.js";

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
        prewarmed: "false",
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

      const keyDir = main.state["key-dir"]!;
      expect(statSync(keyDir).mode & 0o777).toBe(0o700);

      // The log as GitHub shows it: a group per stage, docker's commands as the runner prints
      // them, and each secret (the tokens, the private key's lines) only where it is masked.
      const name = main.outputs.name!;
      const groups = logGroups(main);
      expect(groups.map((g) => g.name)).toEqual([
        "Getting a credential",
        "Waiting for a builder",
        "Setting up docker buildx",
      ]);
      expect(groups[1]!.lines).toContain(`Build ${buildId} admitted (shape small, cache volume "buildkit")`);
      expect(groups[2]!.lines.filter((line) => line.startsWith("[command]"))).toEqual([
        `[command]${FAKE_BIN}/docker ${create!.argv.join(" ")}`,
        `[command]${FAKE_BIN}/docker buildx inspect --bootstrap ${name}`,
      ]);
      expect(groups[2]!.lines.at(-1)).toBe(`docker buildx builder "${name}" is ready and in use`);
      const privateKey = readFileSync(join(keyDir, "key.pem"), "utf8")
        .split("\n")
        .filter((line) => line.length > 20 && !line.startsWith("-----"));
      expect(privateKey).toHaveLength(3);
      expect(masks(main)).toEqual(expect.arrayContaining(privateKey));
      for (const secret of masks(main)) expect(printed(main, secret)).toBe(1);

      const post = await job.post();
      expect(post.code).toBe(0);
      expect(post.commands.filter((c) => c.command === "warning")).toEqual([]);
      expect(job.dockerCalls().at(-1)!.argv).toEqual(["buildx", "rm", name]);
      expect(() => statSync(keyDir)).toThrow();
      expect(logGroups(post)).toEqual([
        {
          name: "Handing the builder back and removing it",
          lines: expect.arrayContaining([
            `[command]${FAKE_BIN}/docker buildx rm ${name}`,
            `Build ${buildId} completed as success`,
            `Removed docker buildx builder "${name}"`,
          ]),
        },
      ]);
      for (const secret of masks(post)) expect(printed(post, secret)).toBe(1);
      for (const line of privateKey) expect(printed(post, line)).toBe(0);
      const build = await http(service.url, "GET", `/api/v1/builds/${buildId}`, { token: account.token });
      expect(build.body).toMatchObject({ state: "completed", result: "success" });
      expect(job.summary).toContain(buildId);
      expect(job.summary).toMatch(/Through the broker/);
    } finally {
      job.cleanUp();
    }
  });
});
