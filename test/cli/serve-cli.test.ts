import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { ROOT } from "../harness/action-job.js";
import type { Run } from "./cli-job.js";

/** The compiled `remote-builder serve`, with only `env` (and PATH): it must refuse before connecting. */
function serve(env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/remote-builder.js"), "serve"],
      { cwd: ROOT, timeout: 30_000, env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

// Nothing listens here: a serve that got past its configuration would fail on these instead.
const ENV = {
  RB_DATABASE_URL: "postgres://remote_builder@127.0.0.1:9/remote_builder",
  RB_REDIS_URL: "redis://127.0.0.1:9",
  RB_ADMIN_TOKEN: "x".repeat(32),
};

describe("remote-builder serve", () => {
  it("refuses to start without RB_DRIVER, naming the drivers and how to set one", async () => {
    const run = await serve(ENV);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("fix these environment variables");
    expect(run.stderr).toContain("RB_DRIVER: missing; set RB_DRIVER=local or RB_DRIVER=kubernetes");
    expect(run.stderr.trim().split("\n")).toHaveLength(2);
  });

  it("refuses the tests' memory driver, which builds nothing", async () => {
    const run = await serve({ ...ENV, RB_DRIVER: "memory" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("RB_DRIVER: memory is the tests' driver and builds nothing");
  });
});
