import { describe, expect, it, jest } from "@jest/globals";
import { type ApiClient, ApiError, type Build } from "../../service/client/api-client.js";
import { progressLine, waitUntilReady } from "../../service/client/wait.js";

/** What the client waits on, as the service would send it, with `over` changed. */
function build(over: Partial<Build> = {}): Build {
  return {
    id: "00000000-0000-4000-8000-00000000000b",
    accountId: "a1",
    state: "pending",
    shape: "small",
    profile: null,
    cache: { requested: "wait", volume: "buildkit", mode: "persistent", reason: null },
    queue: null,
    tier: "cold",
    prewarmed: false,
    labels: {},
    heartbeatIntervalSeconds: 20,
    createdAt: "2030-01-01T00:00:00.000Z",
    admittedAt: "2030-01-01T00:00:00.000Z",
    readyAt: null,
    endedAt: null,
    deadlineAt: "2030-01-01T02:00:00.000Z",
    endReason: null,
    result: null,
    certificate: null,
    broker: { endpoint: "tcp://127.0.0.1:1", serverName: "localhost", caCertificate: "" },
    bytesIn: 0,
    bytesOut: 0,
    ci: null,
    insights: null,
    ...over,
  };
}

/** A client whose getBuild answers with `answers`, one per call, and records its arguments. */
function clientAnswering(...answers: Build[]) {
  const getBuild = jest.fn(async (_id: string, _wait?: number) => {
    const next = answers.shift();
    if (!next) throw new Error("getBuild was called more often than the test expected");
    return next;
  });
  return { client: { getBuild } as unknown as ApiClient, getBuild };
}

describe("progressLine", () => {
  it.each([
    [
      "queued for a concurrency slot, third in line",
      build({
        state: "queued",
        tier: null,
        admittedAt: null,
        queue: { waitingFor: "concurrency", position: 3 },
      }),
      12,
      "Queued: the account runs as many builds as its plan allows; 2 build(s) ahead of this one (12 s)",
    ],
    [
      "queued for the cache volume, first in line",
      build({ state: "queued", tier: null, admittedAt: null, queue: { waitingFor: "cache", position: 1 } }),
      4.6,
      'Queued: another build holds the cache volume "buildkit"; 0 build(s) ahead (5 s)',
    ],
    ["queued with no place known", build({ state: "queued", tier: null, queue: null }), 0, "Queued (0 s)"],
    [
      "booting a cold builder",
      build({ state: "pending", tier: "cold" }),
      3,
      "Booting a cold builder (shape small) (3 s)",
    ],
    [
      "booting a builder of no tier yet",
      build({ state: "pending", tier: null, shape: "large" }),
      3,
      "Booting a new builder (shape large) (3 s)",
    ],
    ["ready", build({ state: "ready" }), 61, "Build ready (61 s)"],
  ])("says where a build stands: %s", (_, b, elapsed, line) => {
    expect(progressLine(b, elapsed)).toBe(line);
  });
});

describe("waitUntilReady", () => {
  it("returns a build that is ready (or building) at once, without asking the service", async () => {
    for (const state of ["ready", "building"] as const) {
      const { client, getBuild } = clientAnswering();
      const log = jest.fn();
      const b = build({ state });
      expect(await waitUntilReady(client, b, 60, log)).toBe(b);
      expect(getBuild).not.toHaveBeenCalled();
      expect(log).not.toHaveBeenCalled();
    }
  });

  it("long-polls at most 10 s at a time, and says each time where the build stands when that changes", async () => {
    const queued = build({ state: "queued", tier: null, queue: { waitingFor: "cache", position: 2 } });
    const ready = build({ state: "ready" });
    const { client, getBuild } = clientAnswering(
      { ...queued, queue: { waitingFor: "cache", position: 2 } },
      { ...queued, queue: { waitingFor: "cache", position: 1 } },
      build({ state: "pending" }),
      ready,
    );
    const lines: string[] = [];
    expect(await waitUntilReady(client, queued, 300, (l) => lines.push(l))).toBe(ready);
    expect(getBuild.mock.calls).toEqual([
      [queued.id, 10],
      [queued.id, 10],
      [queued.id, 10],
      [queued.id, 10],
    ]);
    // Position 2 twice in a row is said once.
    expect(lines.map((l) => l.replace(/ \(\d+ s\)$/, ""))).toEqual([
      'Queued: another build holds the cache volume "buildkit"; 1 build(s) ahead',
      'Queued: another build holds the cache volume "buildkit"; 0 build(s) ahead',
      "Booting a cold builder (shape small)",
    ]);
  });

  it("asks for no more than the time left", async () => {
    const pending = build({ state: "pending" });
    const { client, getBuild } = clientAnswering(build({ state: "ready" }));
    await waitUntilReady(client, pending, 10, () => {}, Date.now() - 6_500);
    expect(getBuild).toHaveBeenCalledWith(pending.id, 4);
  });

  it.each([
    ["failed", "boot-failed: the builder did not start"],
    ["reaped", "lease-expired: the client stopped sending heartbeats"],
    ["expired", "deadline"],
    ["completed", "completed"],
  ] as const)(
    "throws, with the end reason, for a build that %s before it was ready",
    async (state, reason) => {
      const { client } = clientAnswering(
        build({ state, endReason: reason, endedAt: "2030-01-01T00:01:00.000Z" }),
      );
      const error = await waitUntilReady(client, build({ state: "pending" }), 60, () => {}).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ kind: "build-ended", status: 0 });
      expect((error as ApiError).message).toBe(
        `the build ${build().id} ${state} before it was ready: ${reason}`,
      );
    },
  );

  it("says so when an ended build gives no reason", async () => {
    const { client } = clientAnswering();
    const error = await waitUntilReady(
      client,
      build({ state: "failed", endReason: null }),
      60,
      () => {},
    ).catch((e: unknown) => e);
    expect((error as ApiError).message).toMatch(/failed before it was ready: no reason given$/);
  });

  it("throws wait-timeout once the time is up, naming the queue position", async () => {
    const queued = build({ state: "queued", tier: null, queue: { waitingFor: "concurrency", position: 4 } });
    const { client, getBuild } = clientAnswering();
    const lines: string[] = [];
    const error = await waitUntilReady(client, queued, 5, (l) => lines.push(l), Date.now() - 5_000).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: "wait-timeout", status: 0 });
    expect((error as ApiError).message).toBe(
      "the builder was not ready within 5 s (the build is queued, position 4 in the queue); raise the wait timeout",
    );
    expect(getBuild).not.toHaveBeenCalled();
    // Where it stood was said before giving up.
    expect(lines).toEqual([expect.stringMatching(/^Queued: the account runs as many builds/)]);
  });

  it("times out after a long poll that did not see it ready", async () => {
    const pending = build({ state: "pending" });
    // The service holds a long poll for the time asked, and the build is still pending after it.
    const getBuild = jest.fn(async (_id: string, wait: number) => {
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      return pending;
    });
    const client = { getBuild } as unknown as ApiClient;
    const error = await waitUntilReady(client, pending, 1, () => {}, Date.now() - 300).catch(
      (e: unknown) => e,
    );
    expect(getBuild.mock.calls).toEqual([[pending.id, 1]]);
    expect(error).toMatchObject({ kind: "wait-timeout" });
    expect((error as ApiError).message).toMatch(
      /^the builder was not ready within 1 s \(the build is pending\); raise the wait timeout$/,
    );
  });

  it("says a build the service ended at its wait deadline timed out, with where it last stood", async () => {
    const queued = build({ state: "queued", tier: null, queue: { waitingFor: "cache", position: 2 } });
    const ended = build({ state: "failed", endReason: "wait-timeout", queue: null });
    const client = { getBuild: async () => ended } as unknown as ApiClient;
    const error = await waitUntilReady(client, queued, 60, () => {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: "wait-timeout" });
    expect((error as ApiError).message).toBe(
      "the builder was not ready within 60 s (the build is queued, position 2 in the queue); raise the wait " +
        "timeout, or ask for a cold cache (cache: cold, --cache cold) rather than wait for the volume",
    );
  });

  it("passes on an error from the service", async () => {
    const refused = new ApiError("404 Not found: gone", 404, "not-found");
    const client = { getBuild: async () => Promise.reject(refused) } as unknown as ApiClient;
    await expect(waitUntilReady(client, build({ state: "pending" }), 60, () => {})).rejects.toBe(refused);
  });
});
