/**
 * A build's insights (what BuildKit's history says of its solves) in one line, as the Action's
 * job summary and `remote-builder status` show them:
 * "43 steps, 41 cached (95%); slowest: RUN make -j8 12.4 s".
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiClient, Build } from "./api-client.js";

export type Insights = NonNullable<Build["insights"]>;

/** How many of the slowest steps the line names. */
const SLOWEST_SHOWN = 3;

export function insightsLine(insights: Insights): string {
  if (insights.status === "unavailable") return `not available (${insights.reason ?? "unknown"})`;
  if (insights.solves === 0) return "no builds ran";
  const parts = [`${count(insights.steps, "step")}, ${insights.cachedSteps} cached${ratio(insights)}`];
  // Steps of a few hundredths of a second are not worth a reader's time.
  const slowest = insights.slowest
    .filter((s) => s.seconds >= 0.1)
    .slice(0, SLOWEST_SHOWN)
    .map((s) => `${stepName(s.name)} ${seconds(s.seconds)}`);
  if (slowest.length > 0) parts.push(`slowest: ${slowest.join(", ")}`);
  if (insights.solves > 1) parts.push(`${insights.solves} builds`);
  if (insights.errors.length > 0)
    parts.push(`${count(insights.errors.length, "error")}: ${insights.errors[0]}`);
  return parts.join("; ");
}

/** The step without BuildKit's stage label: "[stage-1 2/3] RUN make" is "RUN make". */
export function stepName(name: string): string {
  return name.replace(/^\[[^\]]*\d+\/\d+\]\s+/, "");
}

function ratio({ cacheHitRatio }: Insights): string {
  if (cacheHitRatio === null) return "";
  // Floored, so that 99.6% is never shown as all cached.
  return ` (${Math.floor(cacheHitRatio * 100)}%)`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function seconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** The service reads them once the build ended, if its builder came up: not yet, here. */
export function insightsPending(build: Build): boolean {
  return build.insights === null && build.endedAt !== null && build.readyAt !== null;
}

/**
 * The build again once its insights are read, or as it is when they do not come within
 * `timeoutMs` (the service gives up on a builder's history sooner, and says so in them).
 */
export async function withInsights(
  client: Pick<ApiClient, "getBuild">,
  build: Build,
  timeoutMs = 12_000,
  pollMs = 500,
): Promise<Build> {
  const deadline = Date.now() + timeoutMs;
  let current = build;
  while (insightsPending(current) && Date.now() < deadline) {
    await sleep(pollMs);
    current = await client.getBuild(build.id).catch(() => current);
  }
  return current;
}
