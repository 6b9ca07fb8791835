import * as core from "@actions/core";
import type { SessionState } from "../service/client/session.js";

/**
 * What main leaves for post, one `core.saveState` key per value, saved as main goes so that post
 * undoes whatever main got as far as making. No secret is ever kept here.
 */
export interface SavedState extends SessionState {
  /** The detached heartbeat process, for post to stop. */
  keeperPid: number | null;
}

const KEYS = {
  buildId: "build-id",
  name: "builder-name",
  keyDir: "key-dir",
  builderCreated: "builder-created",
  startedAt: "started-at",
  readySeconds: "ready-seconds",
  keeperPid: "keeper-pid",
} as const satisfies Record<keyof SavedState, string>;

const IS_POST = "is-post";

/** The runner gives post main's saved state: main saves this first, so that post knows it is post. */
export const isPost = (): boolean => core.getState(IS_POST) === "true";
export const saveIsPost = (): void => core.saveState(IS_POST, "true");

/** Saves every value; null as "" (the runner's value for a key never saved). */
export function saveState(state: SavedState, save = core.saveState): void {
  for (const [field, key] of Object.entries(KEYS) as Array<[keyof SavedState, string]>) {
    save(key, String(state[field] ?? ""));
  }
}

/**
 * Main's state, checked, or null when main made nothing to undo: it failed before the key
 * folder, the first thing it makes. Throws, naming the key, for a value main would not save.
 */
export function readState(get = core.getState): SavedState | null {
  const keyDir = get(KEYS.keyDir);
  if (!keyDir) return null;
  const number = (key: string, what: string, check: (n: number) => boolean): number | null => {
    const value = get(key);
    if (value === "") return null;
    if (!check(Number(value))) throw new Error(`the saved state's ${key} is "${value}", not ${what}`);
    return Number(value);
  };
  const builderCreated = get(KEYS.builderCreated);
  if (builderCreated !== "true" && builderCreated !== "false") {
    throw new Error(`the saved state's ${KEYS.builderCreated} is "${builderCreated}", not true or false`);
  }
  const name = get(KEYS.name);
  if (builderCreated === "true" && !name) {
    throw new Error(`the saved state has a buildx builder but no ${KEYS.name}`);
  }
  const startedAt = number(KEYS.startedAt, "a time in milliseconds", Number.isSafeInteger);
  if (startedAt === null) throw new Error(`the saved state has no ${KEYS.startedAt}`);
  return {
    buildId: get(KEYS.buildId) || null,
    name,
    keyDir,
    builderCreated: builderCreated === "true",
    startedAt,
    readySeconds: number(KEYS.readySeconds, "seconds", (n) => Number.isFinite(n) && n >= 0),
    keeperPid: number(KEYS.keeperPid, "a process id", (n) => Number.isSafeInteger(n) && n > 0),
  };
}
