import { describe, expect, it } from "@jest/globals";
import type { Build } from "../../service/client/api-client.js";
import { insightsLine, stepName } from "../../service/client/insights-line.js";
import { type Insights, insightsPending } from "../../service/client/insights.js";

/** Insights as the API shows them, with `over` changed. */
function insights(over: Partial<Insights> = {}): Insights {
  return {
    status: "read",
    reason: null,
    solves: 1,
    steps: 43,
    cachedSteps: 41,
    cacheHitRatio: 41 / 43,
    buildkitSteps: 47,
    slowest: [
      { name: "[builder 5/9] RUN make -j8", seconds: 12.43, cached: false },
      { name: "[builder 4/9] RUN apt-get install -y gcc", seconds: 3.2, cached: false },
    ],
    errors: [],
    readAt: "2030-01-01T00:10:00.000Z",
    ...over,
  };
}

describe("the insights line of the job summary and the CLI", () => {
  it("says how many steps, how many cached with the ratio, and the slowest steps without their stage labels", () => {
    expect(insightsLine(insights({ slowest: insights().slowest.slice(0, 1) }))).toBe(
      "43 steps, 41 cached (95%); slowest: RUN make -j8 12.4 s",
    );
    expect(insightsLine(insights())).toBe(
      "43 steps, 41 cached (95%); slowest: RUN make -j8 12.4 s, RUN apt-get install -y gcc 3.2 s",
    );
  });

  it("shows an all-cached build as 100% with nothing slow", () => {
    expect(insightsLine(insights({ steps: 4, cachedSteps: 4, cacheHitRatio: 1, slowest: [] }))).toBe(
      "4 steps, 4 cached (100%)",
    );
  });

  it("never rounds a build that ran a step up to 100%", () => {
    expect(insightsLine(insights({ steps: 1000, cachedSteps: 999, cacheHitRatio: 0.999, slowest: [] }))).toBe(
      "1000 steps, 999 cached (99%)",
    );
  });

  it("leaves out steps too short to matter, and names only the three slowest", () => {
    const slowest = [90.5, 20, 10, 5].map((seconds, i) => ({ name: `RUN step${i}`, seconds, cached: false }));
    slowest.push({ name: "[internal] load .dockerignore", seconds: 0.02, cached: false });
    expect(insightsLine(insights({ slowest }))).toBe(
      "43 steps, 41 cached (95%); slowest: RUN step0 1 min 31 s, RUN step1 20.0 s, RUN step2 10.0 s",
    );
    expect(
      insightsLine(
        insights({ slowest: [{ name: "[internal] load .dockerignore", seconds: 0.02, cached: false }] }),
      ),
    ).toBe("43 steps, 41 cached (95%)");
  });

  it("counts several builds and names the first error", () => {
    expect(
      insightsLine(
        insights({
          solves: 3,
          slowest: [],
          errors: ['process "/bin/sh -c make" did not complete successfully: exit code: 2', "other"],
        }),
      ),
    ).toBe(
      '43 steps, 41 cached (95%); 3 builds; 2 errors: process "/bin/sh -c make" did not complete successfully: exit code: 2',
    );
  });

  it("says when no build ran, when there were no steps, and when the history could not be read", () => {
    expect(
      insightsLine(insights({ solves: 0, steps: 0, cachedSteps: 0, cacheHitRatio: null, slowest: [] })),
    ).toBe("no builds ran");
    expect(insightsLine(insights({ steps: 0, cachedSteps: 0, cacheHitRatio: null, slowest: [] }))).toBe(
      "0 steps, 0 cached",
    );
    expect(insightsLine(insights({ status: "unavailable", reason: "no answer within 8000 ms" }))).toBe(
      "not available (no answer within 8000 ms)",
    );
  });

  it("strips BuildKit's stage labels, and keeps its internal steps' names", () => {
    expect(stepName("[2/3] RUN make")).toBe("RUN make");
    expect(stepName("[stage-1 2/3] COPY --from=build /out /")).toBe("COPY --from=build /out /");
    expect(stepName("[internal] load build context")).toBe("[internal] load build context");
  });

  it("is pending only for an ended build whose builder came up and whose insights are not read yet", () => {
    const view = (over: Partial<Build>) =>
      ({
        insights: null,
        endedAt: "2030-01-01T00:10:00.000Z",
        readyAt: "2030-01-01T00:00:04.000Z",
        ...over,
      }) as Build;
    expect(insightsPending(view({}))).toBe(true);
    expect(insightsPending(view({ endedAt: null }))).toBe(false);
    expect(insightsPending(view({ readyAt: null }))).toBe(false);
    expect(insightsPending(view({ insights: insights() }))).toBe(false);
  });
});
