import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { readState, type SavedState, saveState } from "../../action/state.js";
import { parseFileCommand } from "../harness/action-job.js";

const ready: SavedState = {
  buildId: "8def39af-1023-42ec-ab11-d92f8b6a1b70",
  name: "remote-builder-8def39af",
  keyDir: "/runner/temp/remote-builder-WkZryT",
  builderCreated: true,
  startedAt: 1_796_361_162_000,
  readySeconds: 0.4,
  keeperPid: 4242,
};

/** Main's first save: the key folder exists, nothing else yet. */
const early: SavedState = {
  buildId: null,
  name: "",
  keyDir: "/runner/temp/remote-builder-WkZryT",
  builderCreated: false,
  startedAt: 1_796_361_162_000,
  readySeconds: null,
  keeperPid: null,
};

describe("the state main saves for post", () => {
  let dir: string;
  const env = process.env;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rb-state-"));
    process.env = { ...env, GITHUB_STATE: join(dir, "state") };
    writeFileSync(process.env.GITHUB_STATE!, "");
  });

  afterEach(() => {
    process.env = env;
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the runner does between the steps: main's GITHUB_STATE file becomes post's STATE_*. */
  function handToPost(): void {
    const saved = parseFileCommand(process.env.GITHUB_STATE!);
    for (const [key, value] of Object.entries(saved)) process.env[`STATE_${key}`] = value;
  }

  it.each([
    ["a builder in use", ready],
    ["main stopped right after the key folder", early],
  ])("comes back the same through the runner's state file: %s", (_, state) => {
    saveState(state);
    handToPost();
    expect(readState()).toEqual(state);
  });

  it("is one key per value, none of them a JSON blob", () => {
    saveState(ready);
    expect(parseFileCommand(process.env.GITHUB_STATE!)).toEqual({
      "build-id": ready.buildId,
      "builder-name": ready.name,
      "key-dir": ready.keyDir,
      "builder-created": "true",
      "started-at": "1796361162000",
      "ready-seconds": "0.4",
      "keeper-pid": "4242",
    });
  });

  it("is the last value saved for each key, as main saves again while it goes", () => {
    saveState(early);
    saveState(ready);
    handToPost();
    expect(readState()).toEqual(ready);
  });

  it("is null when main saved nothing to undo (it failed before making the key folder)", () => {
    expect(readState()).toBeNull();
    expect(readState(() => "")).toBeNull();
  });

  it.each([
    ["builder-created", "maybe", `the saved state's builder-created is "maybe", not true or false`],
    ["started-at", "", "the saved state has no started-at"],
    ["started-at", "yesterday", `the saved state's started-at is "yesterday", not a time in milliseconds`],
    ["ready-seconds", "-1", `the saved state's ready-seconds is "-1", not seconds`],
    ["keeper-pid", "0", `the saved state's keeper-pid is "0", not a process id`],
    ["keeper-pid", "12.5", `the saved state's keeper-pid is "12.5", not a process id`],
    ["builder-name", "", "the saved state has a buildx builder but no builder-name"],
  ])("refuses %s = %j, naming the key", (key, value, message) => {
    const saved = new Map<string, string>();
    saveState(ready, (k: string, v: string) => saved.set(k, v));
    saved.set(key, value);
    expect(() => readState((k) => saved.get(k) ?? "")).toThrow(message);
  });
});
