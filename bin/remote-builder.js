#!/usr/bin/env node
// The package's command: the CLI as compiled into build/cli/ by `npm run build:service`, which
// npm runs after every install (prepare) and the image's build stage runs.
import { existsSync } from "node:fs";
import module from "node:module";
import { URL } from "node:url";

if (Number(process.versions.node.split(".")[0]) < 24) {
  process.stderr.write(`remote-builder: needs Node.js 24 or newer; this is ${process.version}.\n`);
  process.exit(1);
}
const main = new URL("../build/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    "remote-builder: the CLI is not compiled yet (build/cli/main.js is missing); run `npm run build:service`.\n",
  );
  process.exit(1);
}
// Compiled code is cached across runs (in the OS's temporary folder): a job's every CLI step
// starts in less time than its first.
module.enableCompileCache?.();
process.setSourceMapsEnabled(true);
await import(main.href);
