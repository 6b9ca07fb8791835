import { describe, expect, it } from "@jest/globals";
import { decidePrewarm, type PastBuild } from "../../service/core/prewarm-policy.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 4, 12);
const SETTINGS = { historyDays: 14, minBuilds: 2 };

const past = (daysAgo: number, more: Partial<PastBuild> = {}): PastBuild => ({
  createdAt: NOW - daysAgo * DAY,
  workflow: "CI",
  ref: "refs/heads/main",
  shape: "small",
  cacheVolume: "buildkit",
  cacheMode: "persistent",
  ...more,
});
const main = { workflow: "CI", ref: "refs/heads/main" };

describe("decidePrewarm: does the account's history say this queued job will ask for a builder?", () => {
  it("needs minBuilds builds of the workflow within the window", () => {
    expect(decidePrewarm(main, [past(1)], NOW, SETTINGS)).toEqual({
      prewarm: false,
      reason: '1 build(s) of the workflow "CI" in the last 14 days; pre-warming takes 2',
    });
    // One of the two is older than the window.
    expect(decidePrewarm(main, [past(1), past(14.01)], NOW, SETTINGS).prewarm).toBe(false);
    expect(decidePrewarm(main, [past(1), past(13.99)], NOW, SETTINGS)).toEqual({
      prewarm: "volume",
      shape: "small",
      volume: "buildkit",
    });
    // Another workflow's builds do not count.
    expect(decidePrewarm(main, [past(1), past(2, { workflow: "Docs" })], NOW, SETTINGS).prewarm).toBe(false);
    // A hook that names no workflow counts the repository's builds.
    expect(
      decidePrewarm({ workflow: null, ref: null }, [past(1), past(2, { workflow: "Docs" })], NOW, SETTINGS),
    ).toMatchObject({ prewarm: "volume" });
  });

  it("takes the shape and volume of the latest build that held the volume", () => {
    const history = [past(3, { shape: "large" }), past(1, { shape: "medium", cacheVolume: "v2" }), past(2)];
    expect(decidePrewarm(main, history, NOW, SETTINGS)).toEqual({
      prewarm: "volume",
      shape: "medium",
      volume: "v2",
    });
  });

  it("gives a workflow whose builds mostly ran cold a fresh builder of the latest build's shape", () => {
    const cold = (d: number, shape = "small") => past(d, { cacheMode: "cold", shape });
    expect(decidePrewarm(main, [past(2), cold(1, "large")], NOW, SETTINGS)).toEqual({
      prewarm: "warm",
      shape: "large",
    });
    expect(decidePrewarm(main, [past(1), past(2), cold(3)], NOW, SETTINGS).prewarm).toBe("volume");
  });

  it("judges by the job's own ref when it has enough builds there, by the workflow's otherwise", () => {
    // Pull requests' builds of the workflow run cold; the main branch's hold the volume.
    const pr = (d: number) => past(d, { ref: "refs/pull/1/merge", cacheMode: "cold" });
    const history = [pr(1), pr(2), pr(3), past(4), past(5)];
    expect(decidePrewarm(main, history, NOW, SETTINGS).prewarm).toBe("volume");
    // A branch with no builds of its own is judged by the workflow, mostly cold here.
    expect(decidePrewarm({ workflow: "CI", ref: "refs/heads/new" }, history, NOW, SETTINGS).prewarm).toBe(
      "warm",
    );
  });
});
