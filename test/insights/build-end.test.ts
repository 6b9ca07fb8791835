import { afterEach, describe, expect, it } from "@jest/globals";
import type { Build } from "../../service/client/api-client.js";
import type { SolveRecord } from "../../service/core/build-insights.js";
import type { BuildInsightsReader } from "../../service/core/ports.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { eventually } from "../harness/wait.js";

/**
 * Reading a build's BuildKit history as it ends: the build's end never waits for it, a reader
 * that hangs or fails leaves `unavailable` (within the timeout) and the builder still goes back,
 * and the solves kept are those of the build's own time on its builder.
 */
describe("build insights as a build ends", () => {
  let service: TestService | null = null;
  afterEach(async () => {
    await service?.stop();
    service = null;
  });

  /** A build admitted, ready, then completed; how long completing took. */
  async function buildAndComplete(
    s: TestService,
  ): Promise<{ id: string; token: string; completeMs: number }> {
    const { token } = await s.account();
    const created = await http<Build>(s.url, "POST", "/api/v1/builds", { token, body: { shape: "small" } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const ready = await http<Build>(s.url, "GET", `/api/v1/builds/${id}?wait=5`, { token });
    expect(ready.body.state).toBe("ready");
    const started = Date.now();
    const done = await http<Build>(s.url, "POST", `/api/v1/builds/${id}/complete`, {
      token,
      body: { result: "success" },
    });
    expect(done.body).toMatchObject({ state: "completed", insights: null });
    return { id, token, completeMs: Date.now() - started };
  }

  async function insightsOf(s: TestService, id: string, token: string) {
    return eventually(
      "the build's insights",
      async () => (await http<Build>(s.url, "GET", `/api/v1/builds/${id}`, { token })).body.insights,
    );
  }

  it("keeps the solves of the build's own time on its builder, counted", async () => {
    const asked: Array<{ builderId: string; endpoint: string; from: number; to: number }> = [];
    const reader: BuildInsightsReader = {
      async read(builder, window) {
        asked.push({ ...builder, ...window });
        const solve = (ref: string, createdAt: number, over: Partial<SolveRecord> = {}): SolveRecord => ({
          ref,
          createdAt,
          completedAt: createdAt + 1,
          error: null,
          totalSteps: 10,
          cachedSteps: 8,
          completedSteps: 10,
          steps: null,
          ...over,
        });
        // One of another build on the same builder an hour before, and this build's two.
        return [
          solve("earlier", window.from - 3_600_000),
          solve("a", window.from),
          solve("b", window.to, { error: "exit code: 1", cachedSteps: 2 }),
        ];
      },
    };
    service = await startTestService({}, { insights: { reader, timeoutMs: 2_000 } });
    const { id, token } = await buildAndComplete(service);
    const insights = await insightsOf(service, id, token);
    expect(insights).toMatchObject({
      status: "read",
      solves: 2,
      steps: 20,
      cachedSteps: 10,
      cacheHitRatio: 0.5,
      errors: ["exit code: 1"],
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]!.endpoint).not.toBe("");
  });

  it("does not hold up the end of a build whose builder never answers, and keeps `unavailable` after the timeout", async () => {
    const reader: BuildInsightsReader = { read: () => new Promise<never>(() => {}) };
    service = await startTestService({}, { insights: { reader, timeoutMs: 500 } });
    const { id, token, completeMs } = await buildAndComplete(service);
    expect(completeMs).toBeLessThan(400);
    const insights = await insightsOf(service, id, token);
    expect(insights).toMatchObject({ status: "unavailable", reason: "no answer within 500 ms", steps: 0 });
    // And the builder still went back.
    await eventually("the builder's end", async () =>
      (await service!.driver.list()).every((b) => b.buildId !== id),
    );
  });

  it("says why when the history cannot be read", async () => {
    const reader: BuildInsightsReader = {
      read: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:1234")),
    };
    service = await startTestService({}, { insights: { reader, timeoutMs: 2_000 } });
    const { id, token } = await buildAndComplete(service);
    expect(await insightsOf(service, id, token)).toMatchObject({
      status: "unavailable",
      reason: "connect ECONNREFUSED 127.0.0.1:1234",
    });
  });

  it("says that builders of a driver with no BuildKit keep no history, so clients need not wait", async () => {
    service = await startTestService();
    const { id, token } = await buildAndComplete(service);
    expect(await insightsOf(service, id, token)).toMatchObject({
      status: "unavailable",
      reason: "the memory driver's builders keep no BuildKit history",
    });
  });
});
