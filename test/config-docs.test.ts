import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { CONFIG_DOC_PATH, configReference } from "../scripts/config-docs.js";
import { VARIABLES } from "../service/config.js";

describe("docs/configuration.md", () => {
  const committed = readFileSync(CONFIG_DOC_PATH, "utf8");

  it("is what `npm run docs:config` makes of the declared variables (run it after adding one)", async () => {
    expect(await configReference(committed)).toBe(committed);
  });

  it("has a row for every variable the service reads, with what it means", () => {
    for (const v of VARIABLES) {
      const row = committed.split("\n").find((line) => line.startsWith(`| \`${v.name}\` `));
      expect([v.name, row]).toEqual([v.name, expect.stringContaining(v.description.slice(0, 30))]);
    }
  });
});
