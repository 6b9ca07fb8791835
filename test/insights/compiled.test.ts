import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "@jest/globals";

const ROOT = resolve(import.meta.dirname, "../..");
const SOURCE = join(ROOT, "service/adapters/insights/proto");
const BUILD = join(ROOT, "build/cli");

/** Files under `dir`, at any depth, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe("the compiled service (build/cli, as the image and bin/ run it)", () => {
  it("has BuildKit's protos, nested by import path, beside the chunk that loads them", () => {
    const chunk = files(BUILD).find(
      (file) =>
        file.endsWith(".js") && readFileSync(join(BUILD, file), "utf8").includes("moby.buildkit.v1.Control"),
    );
    expect(chunk).toBeDefined();
    const beside = join(BUILD, dirname(chunk!), "proto");
    expect(files(beside)).toEqual(files(SOURCE));
    expect(files(SOURCE)).toContain("github.com/moby/buildkit/api/services/control/control.proto");
  });
});
