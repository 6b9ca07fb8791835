/**
 * The build lifecycle (DESIGN.md "Build lifecycle"), as one pure transition function.
 *
 * `queued` is ours: admitted by policy but waiting, in FIFO order, for a concurrency slot or for the
 * account's cache volume. Everything else is the design's states.
 */
export const BUILD_STATES = [
  "queued",
  "pending",
  "ready",
  "building",
  "completed",
  "failed",
  "expired",
  "reaped",
] as const;
export type BuildState = (typeof BUILD_STATES)[number];

export const TERMINAL_STATES: readonly BuildState[] = ["completed", "failed", "expired", "reaped"];
export const ACTIVE_STATES: readonly BuildState[] = ["pending", "ready", "building"];

export const BUILD_EVENTS = [
  "start",
  "builder-ready",
  "connect",
  "disconnect",
  "complete",
  "fail",
  "expire",
  "reap",
] as const;
export type BuildEvent = (typeof BUILD_EVENTS)[number];

const TABLE: Record<BuildState, Partial<Record<BuildEvent, BuildState>>> = {
  queued: { start: "pending", complete: "completed", fail: "failed", expire: "expired", reap: "reaped" },
  pending: {
    "builder-ready": "ready",
    complete: "completed",
    fail: "failed",
    expire: "expired",
    reap: "reaped",
  },
  ready: { connect: "building", complete: "completed", fail: "failed", expire: "expired", reap: "reaped" },
  building: { disconnect: "ready", complete: "completed", fail: "failed", expire: "expired", reap: "reaped" },
  completed: {},
  failed: {},
  expired: {},
  reaped: {},
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: BuildState,
    readonly event: BuildEvent,
  ) {
    super(`a ${from} build cannot take the event "${event}"`);
    this.name = "IllegalTransitionError";
  }
}

/** The state `event` moves a build in `from` to; throws on an illegal transition, never a no-op. */
export function transition(from: BuildState, event: BuildEvent): BuildState {
  const to = TABLE[from][event];
  if (to === undefined) throw new IllegalTransitionError(from, event);
  return to;
}

/**
 * One move through the table: the state a build was read in, the event, and where the table sends
 * it. The build store takes only these, so no caller can name a target state of its own.
 */
export interface StateChange {
  readonly from: BuildState;
  readonly event: BuildEvent;
  readonly to: BuildState;
}

/** Whether a build in `from` can take `event` at all. */
export function accepts(from: BuildState, event: BuildEvent): boolean {
  return TABLE[from][event] !== undefined;
}

/** The move `event` makes from `from`; throws an IllegalTransitionError like `transition`. */
export function changeOf(from: BuildState, event: BuildEvent): StateChange {
  return { from, event, to: transition(from, event) };
}

export function isTerminal(state: BuildState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** Whether a build in this state holds its concurrency slot and (maybe) a builder. */
export function isActive(state: BuildState): boolean {
  return ACTIVE_STATES.includes(state);
}

export interface Timeouts {
  /** How long a builder may take from `pending` to `ready`. */
  bootMs: number;
  /** How long a `ready` build may go without any activity before it is reaped. */
  idleMs: number;
}

export interface TimedBuild {
  state: BuildState;
  deadlineAt: number;
  waitDeadlineAt: number | null;
  startedAt: number | null;
  lastActivityAt: number | null;
}

export type TimeoutVerdict = { event: BuildEvent; reason: string } | null;

/**
 * Which timeout, if any, has run out for a build at `now`. The deadline wins over everything;
 * a `building` build is never idle, since a connection is open.
 */
export function dueTimeout(build: TimedBuild, now: number, timeouts: Timeouts): TimeoutVerdict {
  if (isTerminal(build.state)) return null;
  if (now >= build.deadlineAt) return { event: "expire", reason: "deadline" };
  switch (build.state) {
    case "queued":
      return build.waitDeadlineAt !== null && now >= build.waitDeadlineAt
        ? { event: "fail", reason: "wait-timeout" }
        : null;
    case "pending":
      return build.startedAt !== null && now - build.startedAt >= timeouts.bootMs
        ? { event: "fail", reason: "boot-timeout" }
        : null;
    case "ready":
      return build.lastActivityAt !== null && now - build.lastActivityAt >= timeouts.idleMs
        ? { event: "reap", reason: "idle" }
        : null;
    default:
      return null;
  }
}
