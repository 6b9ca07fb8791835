import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { builderEndpoint, http } from "../harness/context.js";
import { type BuildBody, Scenario } from "./scenario.js";

const BOOT_MS = 300;

/** Real time here: a long poll measures its wait on the service's clock. */
describe("the long poll on a build", () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({}, { realClock: true, bootMs: BOOT_MS });
  });
  afterAll(() => s.stop());

  const poll = (token: string, id: string, wait: string) =>
    http<BuildBody>(s.service.url, "GET", `/api/v1/builds/${id}?wait=${wait}`, { token });

  it("returns as soon as the builder is up, not when the wait runs out", async () => {
    const { token } = await s.account();
    const admitting = Date.now();
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.body.state).toBe("pending");

    const polling = Date.now();
    const ready = await poll(token, created.body.id, "5");
    const done = Date.now();
    expect(ready.status).toBe(200);
    expect(ready.body.state).toBe("ready");
    expect(await builderEndpoint(s.service, ready.body.id)).toMatch(/^memory:\/\//);
    // The poll began before the builder was up and held on until it was...
    const readyAt = Date.parse(ready.body.readyAt!);
    expect(readyAt - Date.parse(ready.body.createdAt)).toBeGreaterThanOrEqual(BOOT_MS - 5);
    expect(done - admitting).toBeGreaterThanOrEqual(BOOT_MS - 5);
    // ...and answered promptly once it was, long before the 5 s ran out.
    expect(done - polling).toBeLessThan(2500);
  });

  it("returns a ready build at once", async () => {
    const { token } = await s.account();
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    await s.settle();
    const started = Date.now();
    const again = await poll(token, created.body.id, "5s");
    expect(again.body.state).toBe("ready");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("returns the unchanged build once the wait runs out when nothing happens", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    await http(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    const queued = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", {
      token,
      body: { waitSeconds: 60 },
    });
    expect(queued.body.state).toBe("queued");

    const started = Date.now();
    const same = await poll(token, queued.body.id, "1");
    const took = Date.now() - started;
    expect(same.status).toBe(200);
    expect(same.body).toEqual(queued.body);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(3000);
  });

  it("returns as soon as the build ends while waiting", async () => {
    const { token } = await s.account();
    s.driver.failNextBoot("kernel panic");
    const created = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    const started = Date.now();
    const ended = await poll(token, created.body.id, "10");
    expect(ended.body).toMatchObject({ state: "failed", endReason: "boot-failed: kernel panic" });
    expect(ended.body.endedAt).not.toBeNull();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("returns the queued build as soon as a freed slot starts it", async () => {
    const { token } = await s.account({ concurrencyLimit: 1 });
    const first = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", { token, body: {} });
    await s.settle();
    const queued = await http<BuildBody>(s.service.url, "POST", "/api/v1/builds", {
      token,
      body: { waitSeconds: 60 },
    });
    const polling = poll(token, queued.body.id, "10");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await http(s.service.url, "POST", `/api/v1/builds/${first.body.id}/complete`, {
      token,
      body: { result: "success" },
    });
    const ready = await polling;
    expect(ready.body.state).toBe("ready");
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
