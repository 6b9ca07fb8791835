/**
 * What the tests against the real buildkitd and buildx share: the tools (found once by the
 * global setup), buildkitd processes of their own (test/harness/buildkitd-daemon.ts), and
 * `docker buildx build` runs whose steps are read back from buildx's plain progress.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe } from "@jest/globals";
import { type Run, run } from "../harness/buildkitd-daemon.js";

export * from "../harness/buildkitd-daemon.js";
export { buildkitTools as tools } from "../harness/buildkit-tools.js";

const FOUND = process.env.RB_TEST_BUILDKIT;
const SKIP = process.env.RB_TEST_BUILDKIT_SKIP ?? "the global setup did not look for BuildKit";

/** What titles a describe of real-BuildKit tests, for the run's count (test/harness/summary-reporter.js). */
export const REAL_MARK = "real BuildKit:";

/** A describe that runs where the real tools are, and is skipped, saying why, where they are not. */
export function describeReal(name: string, fn: () => void): void {
  if (FOUND) describe(`${REAL_MARK} ${name}`, fn);
  else describe.skip(`${REAL_MARK} ${name} (skipped: ${SKIP})`, fn);
}

/** A build step as buildx's plain progress shows it. */
export interface Step {
  /** The instruction, without buildx's "[stage n/m]" label: "RUN make". */
  name: string;
  cached: boolean;
}

/** The Dockerfile's own steps (`[1/3] RUN …`, `[stage 2/2] COPY …`) in buildx's plain progress, in order. */
export function dockerfileSteps(progress: string): Step[] {
  const byId = new Map<string, Step>();
  for (const line of progress.split("\n")) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, id, rest] = match as unknown as [string, string, string];
    const step = byId.get(id);
    const label = /^\[[^\]]*\d+\/\d+\] (.*)$/.exec(rest);
    if (!step && label) byId.set(id, { name: label[1]!, cached: false });
    else if (step && rest === "CACHED") step.cached = true;
  }
  return [...byId.values()];
}

/**
 * What the build's RUN steps printed, in order. buildx v0.10's plain progress does not always
 * tell which step a line is from (it may print them as "#0"), so they are read as one stream.
 */
export function printed(progress: string): string[] {
  return [...progress.matchAll(/^#\d+ \d+\.\d+ (.*)$/gm)].map((m) => m[1]!);
}

/** `docker buildx build` of `context` on `builder`, with its plain progress on stderr. */
export async function buildxBuild(
  env: Record<string, string>,
  builder: string,
  context: string,
  extra: string[] = [],
): Promise<{ result: Run; steps: Step[]; printed: string[] }> {
  const result = await run(
    "docker",
    ["buildx", "build", "--builder", builder, "--progress=plain", ...extra, context],
    { env, timeoutMs: 300_000 },
  );
  return { result, steps: dockerfileSteps(result.stderr), printed: printed(result.stderr) };
}

/** A folder holding a Dockerfile (and any other files given). */
export function buildContext(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
