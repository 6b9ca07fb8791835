/**
 * One CI job, three ways, each timed by phase (setup, build, finish):
 * - the product: `remote-builder setup` (the bundled CLI other CIs run), `docker buildx build`
 *   through the broker, `remote-builder finish`;
 * - bare buildkitd: `docker buildx create --driver remote` straight at a daemon of the same
 *   configuration, `inspect --bootstrap`, the build, `buildx rm`: what setup and finish do, minus
 *   the product;
 * - the status quo: the same on a daemon with an empty root, importing the registry cache.
 * Every job makes a new buildx builder, as a CI job does.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { buildxCreateArgsFor, type Daemon } from "../../test/harness/buildkitd-daemon.js";

export interface Phases {
  setup: number;
  build: number;
  /** A second build of the same context on the same builder: all cached, the per-build floor. */
  noop: number;
  finish: number;
  total: number;
  /** How many files the build's make compiled (through ccache): 1 for a warm edit, all for a fresh checkout. */
  compiled: number;
}

export interface Step {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; throws with its own words when it fails. */
export function timed(file: string, args: string[], env: Record<string, string>): Promise<Step> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (error, stdout, stderr) => {
      const ms = performance.now() - started;
      if (error)
        reject(new Error(`${file} ${args.slice(0, 3).join(" ")} failed: ${stderr || error.message}`));
      else resolve({ ms, stdout, stderr });
    });
  });
}

/** `docker buildx build` of `context` on `builder`, with the base image from an OCI layout. */
export function buildArgs(builder: string, context: string, base: string, extra: string[] = []): string[] {
  return [
    "buildx",
    "build",
    "--builder",
    builder,
    "--progress=plain",
    "--build-context",
    `base=${base}`,
    ...extra,
    context,
  ];
}

/** The product's job: setup, build (and a no-op rebuild), finish. */
export async function productJob(o: {
  cli: string;
  env: Record<string, string>;
  context: string;
  base: string;
}): Promise<Phases> {
  const env = { ...o.env, RB_STATE_DIR: mkdtempSync(join(tmpdir(), "rb-headline-state-")) };
  const started = performance.now();
  const setup = await timed(process.execPath, [o.cli, "setup"], env);
  const build = await timed("docker", buildArgs("remote-builder", o.context, o.base), env);
  const noop = await timed("docker", buildArgs("remote-builder", o.context, o.base), env);
  const finish = await timed(process.execPath, [o.cli, "finish", "--result", "success"], env);
  return phases(setup, build, noop, finish, started);
}

let bareBuilders = 0;

/** The bare job: a new buildx builder straight at `daemon`, the build (and a no-op rebuild), its removal. */
export async function bareJob(o: {
  daemon: Daemon;
  env: Record<string, string>;
  context: string;
  base: string;
  extra?: string[];
}): Promise<Phases> {
  const name = `bare-${process.pid}-${bareBuilders++}`;
  const started = performance.now();
  const create = await timed("docker", buildxCreateArgsFor(name, o.daemon), o.env);
  const bootstrap = await timed("docker", ["buildx", "inspect", "--bootstrap", name], o.env);
  const setup = { ...bootstrap, ms: create.ms + bootstrap.ms };
  const build = await timed("docker", buildArgs(name, o.context, o.base, o.extra), o.env);
  const noop = await timed("docker", buildArgs(name, o.context, o.base), o.env);
  const finish = await timed("docker", ["buildx", "rm", name], o.env);
  return phases(setup, build, noop, finish, started);
}

function phases(setup: Step, build: Step, noop: Step, finish: Step, started: number): Phases {
  return {
    setup: setup.ms,
    build: build.ms,
    noop: noop.ms,
    finish: finish.ms,
    // The job as CI sees it: what it waits for, the no-op rebuild (a measurement of ours) left out.
    total: performance.now() - started - noop.ms,
    compiled: compiled(build.stderr),
  };
}

/** How many compiler runs make started, from buildx's plain progress: a check on what was measured. */
function compiled(stderr: string): number {
  return (stderr.match(/\bccache gcc -O2\b/g) ?? []).length;
}
