import { describe, expect, it } from "@jest/globals";
import { jsonValues, stepsOfTrace } from "../../service/adapters/insights/buildkit-history.js";
import {
  loadsInputs,
  type SolveRecord,
  solvesOfBuild,
  summarizeSolves,
  unavailableInsights,
} from "../../service/core/build-insights.js";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");

/** A span as BuildKit v0.11 writes it into a solve's trace (Go's tracetest.SpanStub as JSON). */
function span(name: string, startMs: number, endMs: number, vertex: string | null) {
  return {
    Name: name,
    SpanContext: { TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331" },
    StartTime: new Date(T0 + startMs).toISOString(),
    EndTime: new Date(T0 + endMs).toISOString(),
    Attributes: vertex === null ? [] : [{ Key: "vertex", Value: { Type: "STRING", Value: vertex } }],
  };
}

/** Several spans the way Go's json.Encoder with an indent writes them: one document after another. */
const encode = (spans: unknown[]) => spans.map((s) => `${JSON.stringify(s, null, 2)}\n`).join("");

function record(over: Partial<SolveRecord> = {}): SolveRecord {
  return {
    ref: "r1",
    createdAt: T0,
    completedAt: T0 + 5_000,
    error: null,
    totalSteps: 9,
    cachedSteps: 0,
    completedSteps: 9,
    steps: null,
    ...over,
  };
}

describe("a solve's steps from its BuildKit trace", () => {
  it("reads concatenated JSON documents, braces inside strings included", () => {
    expect(jsonValues('{"a":"}{"}\n{\n  "b": {"c": "\\"}"}\n}\n')).toEqual([{ a: "}{" }, { b: { c: '"}' } }]);
  });

  it("takes the vertices that ran with their durations, loads from the cache as cached, and skips the rest", () => {
    const trace = encode([
      span("moby.buildkit.v1.Control/Solve", 0, 9_000, null),
      span("cache request: [2/3] RUN make -j8", 0, 10, "sha256:b"),
      span("[internal] load build context", 100, 350, "sha256:a"),
      span("[2/3] RUN make -j8", 400, 12_800, "sha256:b"),
      span("load cache: [1/3] COPY . /src", 300, 320, "sha256:c"),
    ]);
    expect(stepsOfTrace(Buffer.from(trace))).toEqual([
      { name: "[internal] load build context", seconds: 0.25, cached: false },
      { name: "[2/3] RUN make -j8", seconds: 12.4, cached: false },
      { name: "[1/3] COPY . /src", seconds: 0.02, cached: true },
    ]);
  });

  it("counts a vertex that both loaded from the cache and ran as run", () => {
    const trace = encode([
      span("load cache: [2/3] RUN make", 0, 10, "sha256:b"),
      span("[2/3] RUN make", 10, 2_010, "sha256:b"),
    ]);
    expect(stepsOfTrace(trace)).toEqual([{ name: "[2/3] RUN make", seconds: 2, cached: false }]);
  });
});

describe("a build's insights from its solves", () => {
  it("are the solves its builder started between ready and end, give or take a second of clock skew", () => {
    const records = [-5_000, -500, 1_000, 60_000, 61_500].map((at, i) =>
      record({ ref: `r${i}`, createdAt: T0 + at }),
    );
    expect(solvesOfBuild(records, { from: T0, to: T0 + 60_000 }).map((r) => r.ref)).toEqual([
      "r1",
      "r2",
      "r3",
    ]);
  });

  it("count the build's own steps: BuildKit's cached ones and those the trace shows running, not input loading", () => {
    // An all-cached Dockerfile build: BuildKit counts 9 steps, 4 cached; the 5 others load inputs.
    const allCached = record({
      cachedSteps: 4,
      steps: [
        { name: "[internal] load build definition from Dockerfile", seconds: 0.03, cached: false },
        { name: "[internal] load build context", seconds: 0.01, cached: false },
        { name: "[4/5] RUN cat /a", seconds: 0, cached: true },
      ],
    });
    expect(summarizeSolves([allCached], T0)).toMatchObject({
      status: "read",
      solves: 1,
      steps: 4,
      cachedSteps: 4,
      cacheHitRatio: 1,
      buildkitSteps: 9,
    });
    const cold = record({
      steps: [
        { name: "[internal] load build context", seconds: 0.02, cached: false },
        { name: "[context base] OCI load from client", seconds: 0.3, cached: false },
        { name: "[1/2] COPY . /", seconds: 0.1, cached: false },
        { name: "[2/2] RUN make", seconds: 12.4, cached: false },
      ],
      totalSteps: 6,
    });
    expect(summarizeSolves([cold], T0)).toMatchObject({ steps: 2, cachedSteps: 0, cacheHitRatio: 0 });
  });

  it("fall back to BuildKit's own count for a solve without a trace", () => {
    expect(summarizeSolves([record({ totalSteps: 43, cachedSteps: 41 })], T0)).toMatchObject({
      steps: 43,
      cachedSteps: 41,
      cacheHitRatio: 41 / 43,
    });
  });

  it("add up every solve, list the slowest steps that ran across them, and keep the errors", () => {
    const insights = summarizeSolves(
      [
        record({
          ref: "a",
          totalSteps: 3,
          cachedSteps: 1,
          steps: [
            { name: "[1/2] RUN a", seconds: 1, cached: false },
            { name: "[2/2] RUN b", seconds: 0, cached: true },
          ],
        }),
        record({
          ref: "b",
          totalSteps: 2,
          cachedSteps: 0,
          error: "exit code: 2",
          steps: [{ name: "[1/1] RUN c", seconds: 7, cached: false }],
        }),
      ],
      T0,
    );
    expect(insights).toMatchObject({ solves: 2, steps: 3, cachedSteps: 1, errors: ["exit code: 2"] });
    expect(insights.slowest.map((s) => s.name)).toEqual(["[1/1] RUN c", "[1/2] RUN a"]);
    expect(summarizeSolves([], T0)).toMatchObject({ solves: 0, steps: 0, cacheHitRatio: null });
  });

  it("when the history cannot be read, say why and count nothing", () => {
    expect(unavailableInsights("connect ECONNREFUSED", T0)).toMatchObject({
      status: "unavailable",
      reason: "connect ECONNREFUSED",
      steps: 0,
      slowest: [],
    });
  });

  it("tell BuildKit's input loading from the build's own steps by its labels", () => {
    expect(loadsInputs("[internal] load .dockerignore")).toBe(true);
    expect(loadsInputs("[context base] OCI load from client")).toBe(true);
    expect(loadsInputs("[stage-1 2/3] RUN make")).toBe(false);
    expect(loadsInputs("[2/3] RUN make")).toBe(false);
  });
});
