/**
 * Compiles the service and its CLI into build/cli/ (`npm run build:service`): what
 * bin/remote-builder.js and the image run, so production never type-strips or transforms
 * TypeScript at start-up. npm runs it after every install (`prepare`), the image's build stage
 * runs it, and the test harness runs it once per test run, so tests exercise the compiled code.
 *
 * Dependencies stay in node_modules (they are not bundled): the image installs them with
 * `npm ci --omit=dev`, and a dependency's own files (pino's workers, @kubernetes/client-node's
 * generated models) keep working as their authors ship them. The server side is loaded with
 * `import()` only by the commands that run it, and code splitting keeps it in chunks of its own,
 * so a CI job's `remote-builder setup` loads none of it.
 */
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const SERVICE_BUILD = join(ROOT, "build/cli");

/**
 * Modules that read a folder beside themselves (`new URL("./scripts/", import.meta.url)`): the
 * folder is copied beside whichever compiled file holds the module.
 */
const FOLDERS_BESIDE: Record<string, string> = {
  "service/adapters/redis/scripts.ts": "scripts",
  "service/adapters/postgres/migrate.ts": "migrations",
  "service/adapters/insights/buildkit-history.ts": "proto",
};

export async function buildService(outdir = SERVICE_BUILD): Promise<string[]> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { main: "service/cli/main.ts" },
    outdir,
    write: false,
    bundle: true,
    splitting: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node24",
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  const written = result.outputFiles.map((file) => {
    mkdirSync(dirname(file.path), { recursive: true });
    // Renamed into place, so a CLI that another process is starting never reads half a file.
    writeFileSync(`${file.path}.tmp`, file.contents);
    renameSync(`${file.path}.tmp`, file.path);
    return file.path;
  });
  for (const [output, { inputs }] of Object.entries(result.metafile.outputs)) {
    for (const [module, folder] of Object.entries(FOLDERS_BESIDE)) {
      if (module in inputs)
        written.push(...copyFolder(join(dirname(module), folder), join(dirname(output), folder)));
    }
    if (DASHBOARD_MODULE in inputs) written.push(await buildDashboardScript(join(ROOT, dirname(output))));
  }
  removeStale(outdir, new Set(written));
  return written.map((path) => relative(ROOT, path));
}

/**
 * The module that serves the dashboard's script, which it reads from a folder beside itself, and
 * the script's bundle (as that module bundles it when run from source: DASHBOARD_BUNDLE there).
 */
const DASHBOARD_MODULE = "service/http/dashboard/assets.ts";
const DASHBOARD_SCRIPT_ENTRY = "service/dashboard/client/main.ts";

/**
 * The dashboard page's script (its island and chart.js, for the browser), beside the compiled
 * module that serves it: the service makes no third-party requests and bundles nothing at run time.
 */
async function buildDashboardScript(besideDir: string): Promise<string> {
  // The folder and esbuild's options from the module that serves the script (loaded by path: this
  // script runs under Node's type stripping, which needs the source's own `.ts` name).
  const { DASHBOARD_ASSETS_FOLDER, DASHBOARD_BUNDLE } = (await import(
    pathToFileURL(join(ROOT, DASHBOARD_MODULE)).href
  )) as typeof import("../service/http/dashboard/assets.js");
  const outfile = join(besideDir, DASHBOARD_ASSETS_FOLDER, "app.js");
  await build({ ...DASHBOARD_BUNDLE, absWorkingDir: ROOT, entryPoints: [DASHBOARD_SCRIPT_ENTRY], outfile });
  return outfile;
}

/**
 * Copies a folder of the source into the build; returns the copied files' paths. Listed from the
 * source, so a file renamed or deleted there is stale in the build and removed (a Lua script left
 * under its old name would be loaded beside the new one).
 */
function copyFolder(from: string, to: string): string[] {
  cpSync(join(ROOT, from), join(ROOT, to), { recursive: true });
  // Files at any depth (the vendored protos are nested by import path), not their folders.
  return readdirSync(join(ROOT, from), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(ROOT, to, relative(join(ROOT, from), entry.parentPath), entry.name));
}

/** Chunks from an earlier build: their names carry a content hash, so they are never reused. */
function removeStale(dir: string, keep: Set<string>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && !keep.has(path)) rmSync(path, { force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`wrote build/cli (${(await buildService()).length} files)`);
}
