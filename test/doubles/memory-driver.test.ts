import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "@jest/globals";
import { ROOT } from "../harness/action-job.js";

describe("the memory driver", () => {
  // The compiled `remote-builder dev` (bin/remote-builder.js, no tsx) falls back to this file
  // where buildkitd is missing, with Node's type stripping: a parameter property, an enum or a
  // runtime import of another .ts file would break that fallback, and only on such machines.
  it("loads and boots a builder under plain Node, as the compiled `dev` loads it", async () => {
    const file = join(ROOT, "test/doubles/memory-driver.ts");
    const script = `
      const { memoryDriver } = await import(${JSON.stringify(file)});
      const driver = memoryDriver()({ clock: { now: () => 0 }, credentials: undefined });
      const { builderId } = await driver.create({ buildId: "b", accountId: "a" });
      console.log((await driver.awaitReady(builderId, 1000)).endpoint);`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
    });
    expect(stdout.trim()).toMatch(/^memory:\/\/mem-/);
  });
});
