import { describe, expect, it } from "@jest/globals";
import {
  accepts,
  BUILD_EVENTS,
  BUILD_STATES,
  type BuildEvent,
  type BuildState,
  changeOf,
  dueTimeout,
  IllegalTransitionError,
  isTerminal,
  transition,
} from "../../service/core/lifecycle.js";

/** The lifecycle as DESIGN.md draws it, written out independently of the implementation's table. */
const LEGAL: Array<[BuildState, BuildEvent, BuildState]> = [
  ["queued", "start", "pending"],
  ["pending", "builder-ready", "ready"],
  ["ready", "connect", "building"],
  ["building", "disconnect", "ready"],
  ...(["queued", "pending", "ready", "building"] as const).flatMap((from) => [
    [from, "complete", "completed"] as [BuildState, BuildEvent, BuildState],
    [from, "fail", "failed"] as [BuildState, BuildEvent, BuildState],
    [from, "expire", "expired"] as [BuildState, BuildEvent, BuildState],
    [from, "reap", "reaped"] as [BuildState, BuildEvent, BuildState],
  ]),
];
const legal = new Map(LEGAL.map(([from, event, to]) => [`${from}/${event}`, to]));
const ALL = BUILD_STATES.flatMap((state) => BUILD_EVENTS.map((event) => [state, event] as const));

describe("the build lifecycle", () => {
  it.each(LEGAL)("moves a %s build on %s to %s", (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  it.each(ALL.filter(([s, e]) => !legal.has(`${s}/${e}`)))(
    "refuses %s on %s as an error, never a no-op",
    (from, event) => {
      expect(() => transition(from, event)).toThrow(IllegalTransitionError);
      expect(() => transition(from, event)).toThrow(`a ${from} build cannot take the event "${event}"`);
    },
  );

  it.each(LEGAL)("names %s on %s as one change, to %s, for the build store", (from, event, to) => {
    expect(changeOf(from, event)).toEqual({ from, event, to });
  });

  it("accepts exactly the legal events, and changeOf refuses the rest", () => {
    for (const [from, event] of ALL) {
      expect(accepts(from, event)).toBe(legal.has(`${from}/${event}`));
      if (!legal.has(`${from}/${event}`)) expect(() => changeOf(from, event)).toThrow(IllegalTransitionError);
    }
  });

  it("lets nothing leave a terminal state", () => {
    for (const state of BUILD_STATES.filter(isTerminal)) {
      for (const event of BUILD_EVENTS)
        expect(() => transition(state, event)).toThrow(IllegalTransitionError);
    }
  });
});

describe("timeouts", () => {
  const timeouts = { bootMs: 1000, idleMs: 5000 };
  const base = { deadlineAt: 100_000, waitDeadlineAt: null, startedAt: null, lastActivityAt: null };

  it("expires any unfinished build at its deadline, before any other timeout", () => {
    for (const state of ["queued", "pending", "ready", "building"] as const) {
      expect(
        dueTimeout({ ...base, state, startedAt: 0, lastActivityAt: 0, waitDeadlineAt: 0 }, 100_000, timeouts),
      ).toEqual({
        event: "expire",
        reason: "deadline",
      });
    }
  });

  it("fails a queued build whose wait ran out, and only then", () => {
    const build = { ...base, state: "queued" as const, waitDeadlineAt: 2000 };
    expect(dueTimeout(build, 1999, timeouts)).toBeNull();
    expect(dueTimeout(build, 2000, timeouts)).toEqual({ event: "fail", reason: "wait-timeout" });
  });

  it("fails a pending build whose builder did not boot in time", () => {
    const build = { ...base, state: "pending" as const, startedAt: 500 };
    expect(dueTimeout(build, 1499, timeouts)).toBeNull();
    expect(dueTimeout(build, 1500, timeouts)).toEqual({ event: "fail", reason: "boot-timeout" });
  });

  it("reaps a ready build with no activity for the idle timeout", () => {
    const build = { ...base, state: "ready" as const, lastActivityAt: 1000 };
    expect(dueTimeout(build, 5999, timeouts)).toBeNull();
    expect(dueTimeout(build, 6000, timeouts)).toEqual({ event: "reap", reason: "idle" });
  });

  it("never idles a building build, since a connection is open", () => {
    expect(dueTimeout({ ...base, state: "building", lastActivityAt: 0 }, 99_999, timeouts)).toBeNull();
  });

  it("has nothing to say about an ended build", () => {
    expect(dueTimeout({ ...base, state: "completed" }, 1e12, timeouts)).toBeNull();
  });
});
