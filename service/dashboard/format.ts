/**
 * How the dashboard writes a build's row, shared by the server's first render and the page's
 * script (which re-renders a row when the build changes). No DOM, no Node: plain strings.
 */
import { insightsLine } from "../client/insights-line.js";
import { bytes as formatSize } from "../client/units.js";
import type { BuildRow } from "../core/dashboard-rows.js";

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatBytes(bytes: number | null): string {
  return bytes === null ? "—" : formatSize(bytes);
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** Insights as the job summary writes them, once the service has read them. */
export function formatInsights(insights: BuildRow["insights"]): string {
  return insights === null ? "—" : insightsLine(insights);
}

/** The cells of a build's row, in the table's column order. */
export function buildCells(row: BuildRow): string[] {
  return [
    `<code title="${escapeHtml(row.id)}">${escapeHtml(row.id.slice(0, 8))}</code>`,
    `<span class="state state-${escapeHtml(row.state)}">${escapeHtml(row.state)}</span>`,
    escapeHtml(row.shape),
    escapeHtml(row.tier === null ? "—" : row.prewarmed ? `${row.tier}, prewarmed` : row.tier),
    escapeHtml(formatMs(row.queueWaitMs)),
    escapeHtml(formatMs(row.timeToReadyMs)),
    escapeHtml(formatMs(row.durationMs)),
    escapeHtml(formatBytes(row.brokerBytes)),
    escapeHtml(row.result ?? (row.endReason ? row.endReason : "—")),
    escapeHtml(formatInsights(row.insights)),
    escapeHtml(formatTime(row.createdAt)),
  ];
}

export const BUILD_COLUMNS = [
  "build",
  "state",
  "shape",
  "tier",
  "queue wait",
  "time to ready",
  "duration",
  "through broker",
  "result",
  "insights",
  "created",
];

/** A build's `<tr>`, with its id, so the live list can replace it. */
export function buildRowHtml(row: BuildRow): string {
  return `<tr id="build-${escapeHtml(row.id)}" data-state="${escapeHtml(row.state)}">${buildCells(row)
    .map((c) => `<td>${c}</td>`)
    .join("")}</tr>`;
}
