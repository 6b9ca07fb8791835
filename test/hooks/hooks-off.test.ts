import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { addHook, deliver, githubSignature, startHookService } from "./support.js";

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

describe("hooks without a prewarmer", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startHookService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it("refuse deliveries with 503: pre-warming is not configured", async () => {
    const hook = await addHook(service, { provider: "github", ownerId: "1" });
    const res = await delivery(service, hook.secret);
    expectProblem(res, 503, "unavailable", /Pre-warming is not configured/);
    expect(res.body.reason).toBe("prewarm-off");
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
