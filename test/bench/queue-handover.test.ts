import { describe, expect, it } from "@jest/globals";
import { fifoInversions, handOverTimes } from "../../bench/queue-handover.js";

/** A build that took a slot at `at`, after waiting in the queue or directly. */
const queued = (at: number) => ({ at, queued: true });
const direct = (at: number) => ({ at, queued: false });

describe("queue hand-over times", () => {
  it("times each queued build from the release that freed its slot", () => {
    // Two slots, taken at once; two builds queued behind them get a slot as each is released.
    const takes = [direct(0), direct(1), queued(15), queued(24)];
    expect(handOverTimes(2, [10, 20], takes)).toEqual([5, 4]);
  });

  it("pairs releases and takes in time order, the earliest freed slot first", () => {
    const takes = [direct(0), direct(0), queued(30), queued(31)];
    expect(handOverTimes(2, [10, 20], takes)).toEqual([20, 11]);
  });

  it("lets a direct admission use up a freed slot without counting it as a hand-over", () => {
    const takes = [
      direct(0),
      direct(12), // the queue was empty: a new build took the freed slot at once
      queued(25),
    ];
    expect(handOverTimes(1, [10, 20], takes)).toEqual([5]);
  });

  it("does not count a queued build that found a slot free from the start", () => {
    expect(handOverTimes(1, [], [queued(3)])).toEqual([]);
  });

  it("puts a release before a take at the same instant", () => {
    const takes = [direct(0), queued(10)];
    expect(handOverTimes(1, [10], takes)).toEqual([0]);
  });
});

describe("FIFO inversions", () => {
  it("counts a build admitted ahead of one whose POST was answered before it was recorded", () => {
    const first = { createdAt: 0, answeredAt: 5, admittedAt: 50 };
    const jumped = { createdAt: 10, answeredAt: 12, admittedAt: 40 };
    expect(fifoInversions([first, jumped])).toBe(1);
  });

  it("does not count builds that arrived together, whichever joined the queue first", () => {
    const a = { createdAt: 0, answeredAt: 20, admittedAt: 50 };
    const b = { createdAt: 10, answeredAt: 25, admittedAt: 40 };
    expect(fifoInversions([a, b])).toBe(0);
  });

  it("counts nothing when builds are admitted in the order they were queued", () => {
    const builds = [0, 10, 20].map((t) => ({ createdAt: t, answeredAt: t + 2, admittedAt: t + 100 }));
    expect(fifoInversions(builds)).toBe(0);
  });
});
