import { describe, expect, it } from "@jest/globals";
import type { BuildRow } from "../../service/core/dashboard-rows.js";
import { BUILD_COLUMNS, buildCells } from "../../service/dashboard/format.js";

const row = (more: Partial<BuildRow> = {}): BuildRow => ({
  id: "0123456789abcdef",
  state: "completed",
  shape: "small",
  tier: "idle",
  prewarmed: false,
  createdAt: Date.UTC(2026, 11, 4),
  timeToReadyMs: 120,
  queueWaitMs: 0,
  durationMs: 60_000,
  brokerBytes: null,
  result: "success",
  endReason: null,
  repository: null,
  ref: null,
  insights: null,
  ...more,
});
const tierCell = (r: BuildRow) => buildCells(r)[BUILD_COLUMNS.indexOf("tier")];

describe("the dashboard's build cells", () => {
  it("say which tier served the build, and when its idle builder was pre-warmed", () => {
    expect(tierCell(row())).toBe("idle");
    expect(tierCell(row({ prewarmed: true }))).toBe("idle, prewarmed");
    expect(tierCell(row({ tier: null }))).toBe("—");
    expect(buildCells(row())).toHaveLength(BUILD_COLUMNS.length);
  });
});
