import { describe, expect, it } from "@jest/globals";
import type { Build } from "../../service/core/build.js";
import { billedEnd, buildEntry, HOUR_MS, storageEntries } from "../../service/core/ledger.js";
import { usageReport } from "../../service/core/usage.js";

const T = Date.UTC(2026, 10, 28, 10, 0, 0);
const build = {
  id: "b1",
  accountId: "a1",
  shape: "small",
  readyAt: T,
  lastActivityAt: T + 60_000,
  lastSeenAt: T + 90_000,
  deadlineAt: T + 3_600_000,
} as Build;

describe("ledger rules", () => {
  it("bills a build from ready to its end, in seconds, under the key build:<id>", () => {
    expect(buildEntry(build, T + 125_500, "completed")).toMatchObject({
      key: "build:b1",
      kind: "build",
      startedAt: T,
      endedAt: T + 125_500,
      quantity: 125.5,
      unit: "seconds",
      endReason: "completed",
    });
  });

  it("bills nothing for a build that never became ready", () => {
    expect(buildEntry({ ...build, readyAt: null }, T + 1000, "failed")).toBeNull();
  });

  it("ends a completed build when it ends, an expired one at its deadline, a reaped one when it was last heard from", () => {
    expect(billedEnd(build, "complete", T + 600_000)).toBe(T + 600_000);
    expect(billedEnd(build, "expire", T + 3_600_000)).toBe(T + 3_600_000);
    expect(billedEnd(build, "expire", T + 5_000_000)).toBe(T + 3_600_000);
    expect(billedEnd(build, "reap", T + 600_000)).toBe(T + 90_000);
    expect(billedEnd({ ...build, lastActivityAt: T + 120_000 }, "reap", T + 600_000)).toBe(T + 120_000);
  });

  it("owes one storage row per whole hour since the volume was made, and only whole hours", () => {
    const volume = {
      id: "v1",
      accountId: "a1",
      name: "buildkit",
      sizeGiB: 50,
      createdAt: T + 30 * 60_000,
      lastUsedAt: T + 30 * 60_000,
      deletedAt: null,
      lostNote: null,
    };
    const rows = storageEntries(volume, null, T + 3 * HOUR_MS + 59 * 60_000);
    expect(rows.map((r) => r.key)).toEqual([
      `storage:v1:${new Date(T).toISOString()}`,
      `storage:v1:${new Date(T + HOUR_MS).toISOString()}`,
      `storage:v1:${new Date(T + 2 * HOUR_MS).toISOString()}`,
    ]);
    expect(rows.every((r) => r.quantity === 50 && r.unit === "gib-hours")).toBe(true);
  });

  it("backfills exactly the hours after the last one billed", () => {
    const volume = {
      id: "v1",
      accountId: "a1",
      name: "buildkit",
      sizeGiB: 10,
      createdAt: T,
      lastUsedAt: T,
      deletedAt: null,
      lostNote: null,
    };
    const rows = storageEntries(volume, T + HOUR_MS, T + 7 * HOUR_MS);
    expect(rows.map((r) => r.startedAt)).toEqual([2, 3, 4, 5, 6].map((h) => T + h * HOUR_MS));
    expect(storageEntries(volume, T + 6 * HOUR_MS, T + 7 * HOUR_MS + 1)).toEqual([]);
  });

  it("stops billing a deleted volume after the hour it was deleted in", () => {
    const volume = {
      id: "v1",
      accountId: "a1",
      name: "buildkit",
      sizeGiB: 10,
      createdAt: T,
      lastUsedAt: T,
      deletedAt: T + HOUR_MS + 5,
      lostNote: null,
    };
    expect(storageEntries(volume, null, T + 10 * HOUR_MS)).toHaveLength(2);
  });
});

describe("usage reports", () => {
  it("turns seconds into minutes per shape, and prices them when prices are set", () => {
    const usage = { buildSecondsByShape: { small: 90, large: 600 }, storageGiBHours: 100 };
    expect(usageReport(usage, null)).toEqual({
      buildMinutesByShape: { small: 1.5, large: 10 },
      buildMinutes: 11.5,
      storageGiBHours: 100,
      costs: null,
    });
    const priced = usageReport(usage, {
      currency: "EUR",
      buildMinute: { small: 0.01, large: 0.04 },
      storageGiBHour: 0.001,
    });
    expect(priced.costs?.lines.map((l) => l.amount)).toEqual([0.015, 0.4, 0.1]);
    expect(priced.costs?.total).toBe(0.515);
  });
});
