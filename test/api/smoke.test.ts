import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { http, startTestService, type TestService } from "../harness/context.js";

describe("a build from admission to completion", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it("is admitted, becomes ready on a long poll, and completes", async () => {
    const { token } = await service.account({ plan: "team" });
    const created = await http(service.url, "POST", "/api/v1/builds", { token, body: { shape: "small" } });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe("pending");
    const id = created.body.id as string;
    const ready = await http(service.url, "GET", `/api/v1/builds/${id}?wait=5`, { token });
    expect(ready.body.state).toBe("ready");
    const done = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: "completed", result: "success", endReason: "completed" });
  });
});
