/**
 * Bundles what runs without an install into dist/ (`npm run build`): the GitHub Action
 * (dist/index.js: main, post and the heartbeat process) and the CI job's CLI for other CI
 * systems (dist/remote-builder.mjs, runnable alone with Node.js). Both are committed;
 * test/action/dist.test.ts and the check-dist workflow fail when they differ from the source.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export const BUNDLES = {
  "dist/index.js": "action/index.ts",
  "dist/remote-builder.mjs": "service/cli/job-main.ts",
} as const;

export async function bundle(outfile: keyof typeof BUNDLES): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [BUNDLES[outfile]],
    outfile,
    write: false,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    // Some dependencies are CommonJS and call require(); an ES module has none of its own.
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
    legalComments: "eof",
    logLevel: "warning",
  });
  return result.outputFiles[0]!.text;
}

export const distPath = (outfile: keyof typeof BUNDLES) => join(ROOT, outfile);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const outfile of Object.keys(BUNDLES) as Array<keyof typeof BUNDLES>) {
    writeFileSync(distPath(outfile), await bundle(outfile));
    console.log(`wrote ${outfile}`);
  }
}
