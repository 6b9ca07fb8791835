/**
 * A build's insights (what BuildKit's history says of its solves) in one line, as the Action's
 * job summary, `remote-builder status` and the dashboard show them:
 * "43 steps, 41 cached (95%); slowest: RUN make -j8 12.4 s". No Node and no DOM: the dashboard's
 * page script uses it too.
 */
import { seconds } from "./units.js";

/**
 * What the line reads of a build's insights: the API's view (client/insights.ts `Insights`) and
 * the service's own record (core/build-insights.ts) both have it. Written out rather than taken
 * from the API client's types, so that the page script's browser-only type check stays free of Node.
 */
export interface Counts {
  status: "read" | "unavailable";
  reason: string | null;
  solves: number;
  steps: number;
  cachedSteps: number;
  cacheHitRatio: number | null;
  slowest: Array<{ name: string; seconds: number }>;
  errors: string[];
}

/** How many of the slowest steps the line names. */
const SLOWEST_SHOWN = 3;

export function insightsLine(insights: Counts): string {
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

function ratio({ cacheHitRatio }: Counts): string {
  if (cacheHitRatio === null) return "";
  // Floored, so that 99.6% is never shown as all cached.
  return ` (${Math.floor(cacheHitRatio * 100)}%)`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
