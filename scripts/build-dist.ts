/**
 * Bundles the GitHub Action into dist/index.js (main, post and the heartbeat process in one
 * file): `npm run build`. The file is committed, and CI fails when it differs from the source.
 */
import { build } from "esbuild";

await build({
  entryPoints: ["action/index.ts"],
  outfile: "dist/index.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Some dependencies are CommonJS and call require(); an ES module has none of its own.
  banner: {
    js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
  },
  legalComments: "eof",
  logLevel: "warning",
});
console.log("wrote dist/index.js");
