import * as core from "@actions/core";
import type { Build, CacheVolume } from "../service/client/api-client.js";
import { insightsLine } from "../service/client/insights-line.js";
import { tierLine } from "../service/client/tier.js";
import type { SessionState } from "../service/client/session.js";
import { bytes, seconds } from "../service/client/units.js";

/** The job summary: what the builder did for this job, in one table. */
export async function writeSummary(
  build: Build,
  volume: CacheVolume | null,
  session: SessionState,
  warnings: string[],
): Promise<void> {
  const at = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const created = at(build.createdAt)!;
  const admitted = at(build.admittedAt);
  const ended = at(build.endedAt);
  const rows: Array<[string, string]> = [
    ["Build", `\`${build.id}\``],
    [
      "Result",
      `${build.state}${build.result ? ` (${build.result})` : ""}${build.endReason ? `: ${build.endReason}` : ""}`,
    ],
    ["Shape", build.shape],
    ["Tier", tierLine(build) ?? "—"],
    ["Time to ready", session.readySeconds === null ? "—" : seconds(session.readySeconds)],
    ["Queue wait", admitted === null ? "—" : seconds((admitted - created) / 1000)],
    ["Duration", ended === null ? "—" : seconds((ended - created) / 1000)],
    ["Through the broker", `${bytes(build.bytesIn)} sent, ${bytes(build.bytesOut)} received`],
    ["Cache", cache(build, volume)],
  ];
  // Step names are the job's own text (RUN lines): escaped, as the table is HTML.
  if (build.insights) rows.push(["Build steps", escapeHtml(insightsLine(build.insights))]);
  let summary = core.summary.addHeading("Remote builder", 3).addTable([
    [
      { data: "", header: true },
      { data: "", header: true },
    ],
    ...rows.map(([k, v]) => [k, v]),
  ]);
  if (warnings.length > 0) summary = summary.addList(warnings.map((w) => `⚠️ ${w}`));
  await summary.write();
}

function cache(build: Build, volume: CacheVolume | null): string {
  if (build.cache.mode === "cold") return `cold builder: ${build.cache.reason ?? "no warm cache"}`;
  // A persistent volume with a reason started empty (its node was lost, or it was evicted).
  const why = build.cache.reason ? ` (${build.cache.reason})` : "";
  if (volume) return `volume \`${volume.name}\`, ${volume.sizeGiB} GiB${why}`;
  return `volume \`${build.cache.volume}\`${why}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
