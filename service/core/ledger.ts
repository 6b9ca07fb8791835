/**
 * Ledger rules: what a finished build and a cache volume's hours are billed as. Pure; the store
 * appends what these return, and each entry's idempotency key makes a retry a no-op.
 */
import type { Build } from "./build.js";
import type { BuildEvent } from "./lifecycle.js";

export const HOUR_MS = 3_600_000;

export type LedgerEntry =
  | {
      key: string;
      kind: "build";
      accountId: string;
      buildId: string;
      shape: string;
      startedAt: number;
      endedAt: number;
      quantity: number;
      unit: "seconds";
      endReason: string;
    }
  | {
      key: string;
      kind: "storage";
      accountId: string;
      volumeId: string;
      startedAt: number;
      endedAt: number;
      quantity: number;
      unit: "gib-hours";
    };

export interface Volume {
  id: string;
  accountId: string;
  name: string;
  sizeGiB: number;
  createdAt: number;
  lastUsedAt: number;
  deletedAt: number | null;
  /** Why the volume before this one by that name was lost, until a build has said so. */
  lostNote: string | null;
}

/**
 * When billing stops for a build that ends now. A build reaped because its client vanished or sat
 * idle is billed until it was last active or heard from, and an expired one until its deadline:
 * never until the reaper happened to notice.
 */
export function billedEnd(build: Build, event: BuildEvent, now: number): number {
  if (event === "expire") return Math.min(now, build.deadlineAt);
  if (event !== "reap") return now;
  const last = Math.max(build.lastActivityAt ?? 0, build.lastSeenAt ?? 0, build.readyAt ?? 0);
  return Math.min(now, last);
}

/** The build's one ledger row: from ready to its end. A build that never became ready costs nothing. */
export function buildEntry(build: Build, endedAt: number, reason: string): LedgerEntry | null {
  if (build.readyAt === null) return null;
  const end = Math.max(endedAt, build.readyAt);
  return {
    key: `build:${build.id}`,
    kind: "build",
    accountId: build.accountId,
    buildId: build.id,
    shape: build.shape,
    startedAt: build.readyAt,
    endedAt: end,
    quantity: (end - build.readyAt) / 1000,
    unit: "seconds",
    endReason: reason,
  };
}

export function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/**
 * The storage rows a volume owes up to `now`: one per whole hour from the hour it was created,
 * while it existed, after the last hour already billed. Backfills every hour missed while the
 * service was down.
 */
export function storageEntries(volume: Volume, lastBilledHour: number | null, now: number): LedgerEntry[] {
  const first = lastBilledHour === null ? hourStart(volume.createdAt) : lastBilledHour + HOUR_MS;
  const end = Math.min(
    hourStart(now),
    volume.deletedAt === null ? Infinity : hourStart(volume.deletedAt) + HOUR_MS,
  );
  const entries: LedgerEntry[] = [];
  for (let hour = first; hour + HOUR_MS <= end; hour += HOUR_MS) {
    entries.push({
      key: `storage:${volume.id}:${new Date(hour).toISOString()}`,
      kind: "storage",
      accountId: volume.accountId,
      volumeId: volume.id,
      startedAt: hour,
      endedAt: hour + HOUR_MS,
      quantity: volume.sizeGiB,
      unit: "gib-hours",
    });
  }
  return entries;
}
