import { readFileSync } from "node:fs";
import { expect, it } from "@jest/globals";
import { bundle, BUNDLES, distPath } from "../../scripts/build-dist.js";

it.each(Object.keys(BUNDLES) as Array<keyof typeof BUNDLES>)(
  "%s is exactly what its source bundles to (npm run build, then commit dist/)",
  async (outfile) => {
    const bundled = await bundle(outfile);
    if (readFileSync(distPath(outfile), "utf8") !== bundled) {
      throw new Error(`${outfile} is stale: run \`npm run build\` and commit dist/`);
    }
    expect(bundled).toContain("keep-alive");
  },
);

it("leaves out @actions/http-client and the npm undici it imports, which every step would load", async () => {
  for (const outfile of Object.keys(BUNDLES) as Array<keyof typeof BUNDLES>) {
    const bundled = await bundle(outfile);
    expect(bundled).not.toMatch(/node_modules\/(undici|@actions\/http-client)\//);
    expect(bundled.length).toBeLessThan(200_000);
  }
});
