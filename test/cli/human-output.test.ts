import { describe, expect, it } from "@jest/globals";
import { buildSummary } from "../../service/cli/build-summary.js";
import { duration, fields, table } from "../../service/cli/format.js";
import type { Build } from "../../service/client/api-client.js";
import { progressLine } from "../../service/client/wait.js";

const CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** A build as the API shows it, with `over` changed. */
function build(over: Partial<Build> = {}): Build {
  return {
    id: "00000000-0000-4000-8000-00000000000b",
    accountId: "a1",
    state: "ready",
    shape: "small",
    profile: null,
    cache: { requested: "wait", volume: "buildkit", mode: "persistent", reason: null },
    queue: null,
    tier: "warm",
    prewarmed: false,
    labels: {},
    heartbeatIntervalSeconds: 20,
    createdAt: "2030-01-01T00:00:00.000Z",
    admittedAt: "2030-01-01T00:00:00.000Z",
    readyAt: "2030-01-01T00:00:04.200Z",
    endedAt: null,
    deadlineAt: "2030-01-01T02:00:00.000Z",
    endReason: null,
    result: null,
    certificate: CERTIFICATE,
    broker: { endpoint: "tcp://127.0.0.1:1", serverName: "localhost", caCertificate: CERTIFICATE },
    bytesIn: 0,
    bytesOut: 0,
    ci: null,
    insights: null,
    ...over,
  };
}

const NOW = Date.parse("2030-01-01T00:01:12.000Z");

describe("the build summary status and finish print", () => {
  it("shows a ready build's id, state, tier, time to ready, cache and time so far, and no certificate", () => {
    expect(buildSummary(build(), NOW)).toBe(
      [
        "build     00000000-0000-4000-8000-00000000000b",
        "state     ready",
        "shape     small",
        "tier      warm",
        "ready in  4.2 s",
        "cache     buildkit, persistent",
        "duration  1m 12s so far",
      ].join("\n"),
    );
    expect(buildSummary(build(), NOW)).not.toContain("CERTIFICATE");
  });

  it("shows a finished build's result and how long it ran", () => {
    const summary = buildSummary(
      build({ state: "completed", result: "success", endedAt: "2030-01-01T01:02:03.000Z" }),
      NOW,
    );
    expect(summary).toMatch(/^build +\S+\nstate +completed\nresult +success\n/);
    expect(summary).toMatch(/\nduration +1h 02m$/);
  });

  it("says why a build ended, how long it queued and why its cache is cold", () => {
    const summary = buildSummary(
      build({
        state: "failed",
        endReason: "boot-timeout",
        admittedAt: "2030-01-01T00:00:30.000Z",
        readyAt: "2030-01-01T00:00:35.000Z",
        endedAt: "2030-01-01T00:00:40.000Z",
        cache: {
          requested: "wait",
          volume: "buildkit",
          mode: "cold",
          reason: "a pull_request build runs a proposed change",
        },
      }),
      NOW,
    );
    expect(summary).toContain("\nended     boot-timeout\n");
    expect(summary).toContain("\nready in  35.0 s (30.0 s of it queued)\n");
    expect(summary).toContain("\ncache     buildkit, cold (a pull_request build runs a proposed change)\n");
  });

  it("shows a queued build with no tier and no cache yet", () => {
    const summary = buildSummary(
      build({
        state: "queued",
        tier: null,
        admittedAt: null,
        readyAt: null,
        cache: { requested: "cold", volume: "buildkit", mode: null, reason: null },
      }),
      NOW,
    );
    expect(summary).toContain("\ntier      not placed yet\n");
    expect(summary).not.toContain("ready in");
    expect(summary).toContain("\ncache     buildkit, cold asked, not attached yet\n");
  });

  it("says when the idle builder was pre-warmed for the build", () => {
    const summary = buildSummary(build({ tier: "idle", prewarmed: true }), NOW);
    expect(summary).toContain("\ntier      idle, prewarmed (started when the CI queued the job)\n");
  });
});

describe("the human output's pieces", () => {
  it.each([
    [0.04, "0.0 s"],
    [59.94, "59.9 s"],
    [60, "1m 00s"],
    [725, "12m 05s"],
    [3600, "1h 00m"],
    [3725, "1h 02m"],
  ])("writes %p seconds as %p", (seconds, written) => {
    expect(duration(seconds)).toBe(written);
  });

  it("lines up a table's columns and leaves no trailing spaces", () => {
    expect(
      table(
        ["VOLUME", "SIZE", "LAST USED"],
        [
          ["buildkit", "10 GiB", "-"],
          ["go", "5 GiB", "2030-01-01 00:00 UTC"],
        ],
      ),
    ).toBe(
      ["VOLUME    SIZE    LAST USED", "buildkit  10 GiB  -", "go        5 GiB   2030-01-01 00:00 UTC"].join(
        "\n",
      ),
    );
  });

  it("leaves out fields without a value", () => {
    expect(
      fields([
        ["state", "ready"],
        ["result", null],
        ["ended", undefined],
        ["tier", "cold"],
      ]),
    ).toBe("state  ready\ntier   cold");
  });

  it("boots an idle builder, with the article English wants", () => {
    expect(progressLine(build({ state: "pending", tier: "idle" }), 2)).toBe(
      "Booting an idle builder (shape small) (2 s)",
    );
    expect(progressLine(build({ state: "pending", tier: "warm" }), 2)).toBe(
      "Booting a warm builder (shape small) (2 s)",
    );
  });
});
