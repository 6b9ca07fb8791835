import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import {
  addHook,
  CapturedLog,
  deliver,
  deliverGitHub,
  githubSignature,
  startHookService,
  workflowJobBody,
} from "./support.js";

const delivery = (service: TestService, secret = "rbh_any") =>
  deliver(service, "/api/v1/hooks/github", "{}", {
    "x-github-event": "ping",
    "x-github-delivery": "1",
    "x-hub-signature-256": githubSignature(secret, "{}"),
  });

describe("hooks without RB_HOOK_SECRET_KEY", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it("are off: deliveries and new installations get a 503 that says how to turn them on", async () => {
    const hooksOff = /no RB_HOOK_SECRET_KEY\. Set it to 32 random bytes in hex \(`openssl rand -hex 32`\)/;
    expectProblem(await delivery(service), 503, "unavailable", hooksOff);
    const gitlab = await deliver(service, "/api/v1/hooks/gitlab", "{}", { "x-gitlab-token": "rbh_any" });
    expectProblem(gitlab, 503, "unavailable", hooksOff);
    const add = await http(service.url, "POST", "/api/v1/admin/hooks", {
      token: ADMIN_TOKEN,
      body: { provider: "github", ownerId: "1" },
    });
    expectProblem(add, 503, "unavailable", hooksOff);
    expect(add.body.reason).toBe("hooks-off");
    // What exists can still be seen and removed.
    const list = await http(service.url, "GET", "/api/v1/admin/hooks", { token: ADMIN_TOKEN });
    expect(list).toMatchObject({ status: 200, body: { installations: [] } });
  });
});

describe("hooks on a service whose driver cannot pre-warm", () => {
  let service: TestService;
  const log = new CapturedLog();
  beforeAll(async () => {
    // The memory driver starts no builder ahead of a build: the job is received, and skipped.
    service = await startHookService({ log });
  });
  afterAll(async () => {
    await service.stop();
  });

  it("take the delivery and say why nothing started", async () => {
    const account = await service.account();
    const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "github", ownerId: "1" },
    });
    expect(trusted.status).toBe(201);
    const hook = await addHook(service, { provider: "github", ownerId: "1" });
    const res = await deliverGitHub(service, hook.secret, workflowJobBody(1, 2));
    // The CI is told only that nothing started; the log says why, for this account.
    expect(res).toMatchObject({ status: 200, body: { received: true, prewarm: "skipped" } });
    expect(log.text).toContain(account.id);
    expect(log.text).toContain("the memory driver does not pre-warm builders");
  });
});

describe("RB_HOOK_SECRET_KEY", () => {
  it("must be at least 32 bytes in hex", async () => {
    await expect(startHookService({ env: { RB_HOOK_SECRET_KEY: "ab".repeat(31) } })).rejects.toThrow(
      /RB_HOOK_SECRET_KEY: must be at least 32 bytes in hex/,
    );
    await expect(startHookService({ env: { RB_HOOK_SECRET_KEY: "zz".repeat(32) } })).rejects.toThrow(
      /RB_HOOK_SECRET_KEY: must be at least 32 bytes in hex/,
    );
  });
});
