import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * The page's script: chart.js and the island, bundled by esbuild. `npm run build:service` writes it
 * beside the compiled module that holds this one (`dashboard-assets/app.js`); run from source
 * (tests, `npm run dev`), it is bundled once, on first request, and kept.
 */
export const DASHBOARD_ASSETS_FOLDER = "dashboard-assets";

let script: Promise<Buffer> | null = null;

export function dashboardScript(): Promise<Buffer> {
  script ??= readFile(new URL(`./${DASHBOARD_ASSETS_FOLDER}/app.js`, import.meta.url)).catch(
    bundleFromSource,
  );
  // A failed bundle is not kept: the next request tries again.
  script.catch(() => (script = null));
  return script;
}

/** esbuild's options for the script; scripts/build-service.ts reads these too, so both bundle alike. */
export const DASHBOARD_BUNDLE = {
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
} as const;

async function bundleFromSource(): Promise<Buffer> {
  const { build } = await import("esbuild");
  const entry = fileURLToPath(new URL("../../dashboard/client/main.ts", import.meta.url));
  const result = await build({ ...DASHBOARD_BUNDLE, entryPoints: [entry], write: false });
  return Buffer.from(result.outputFiles[0]!.contents);
}
