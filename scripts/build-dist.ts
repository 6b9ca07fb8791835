/**
 * Bundles what runs without an install into dist/ (`npm run build`): the GitHub Action
 * (dist/index.js: main, post and the heartbeat process) and the CI job's CLI for other CI
 * systems (dist/remote-builder.mjs, runnable alone with Node.js). Both are committed;
 * test/action/dist.test.ts and the check-dist workflow fail when they differ from the source.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export const BUNDLES = {
  "dist/index.js": "action/index.ts",
  "dist/remote-builder.mjs": "service/cli/job-main.ts",
} as const;

/**
 * @actions/http-client is reached only through @actions/core's `getIDToken`, which the Action does
 * not call (service/client/github-id-token.ts asks the runner itself). Its top-level import of the
 * npm undici is 0.77 MB that every Action step would load; marked free of side effects, it is left
 * out with everything it imports when nothing uses it.
 */
const httpClientUnlessUsed: Plugin = {
  name: "http-client-unless-used",
  setup(b) {
    b.onResolve(
      { filter: /^@actions\/http-client$/ },
      async ({ path, kind, resolveDir, importer, pluginData }) => {
        if (pluginData === "resolving") return undefined;
        const resolved = await b.resolve(path, { kind, resolveDir, importer, pluginData: "resolving" });
        return { path: resolved.path, sideEffects: false };
      },
    );
  },
};

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
    plugins: [httpClientUnlessUsed],
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
