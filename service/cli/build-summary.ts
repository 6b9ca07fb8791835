import type { Build } from "../client/api-client.js";
import { insightsLine } from "../client/insights-line.js";
import { tierLine } from "../client/tier.js";
import { duration, fields, secondsBetween } from "./format.js";

/**
 * A build as `status` and `finish` print it for people: what a job's log needs, and none of the
 * certificates the API's view carries (`--json` prints that view whole).
 */
export function buildSummary(build: Build, now = Date.now()): string {
  return fields([
    ["build", build.id],
    ["state", build.state],
    ["result", build.result],
    ["ended", build.endReason],
    ["shape", build.shape],
    ["tier", tierLine(build) ?? "not placed yet"],
    ["ready in", timeToReady(build)],
    ["cache", cacheLine(build)],
    [
      "duration",
      `${duration(secondsBetween(build.createdAt, build.endedAt, now))}${build.endedAt ? "" : " so far"}`,
    ],
    ["steps", build.insights && insightsLine(build.insights)],
  ]);
}

/** From the request to a ready builder, and how much of that the build spent queued. */
function timeToReady(build: Build): string | null {
  if (!build.readyAt) return null;
  const total = duration(secondsBetween(build.createdAt, build.readyAt));
  const queued = build.admittedAt ? secondsBetween(build.createdAt, build.admittedAt) : 0;
  return queued >= 1 ? `${total} (${duration(queued)} of it queued)` : total;
}

function cacheLine({ cache }: Build): string {
  const mode = cache.mode ?? `${cache.requested} asked, not attached yet`;
  return `${cache.volume}, ${mode}${cache.reason ? ` (${cache.reason})` : ""}`;
}
