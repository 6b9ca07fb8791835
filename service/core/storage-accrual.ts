import { hourStart, storageEntries } from "./ledger.js";
import type { LedgerStore, VolumeStore } from "./ports.js";

/** Storage billing: every live cache volume owes one ledger row per whole hour it exists. */
export class StorageAccrual {
  /** The hour storage was last accrued for, by this process (null: not yet since start). */
  private accruedHour: number | null = null;

  constructor(private readonly deps: { ledger: LedgerStore; volumes: Pick<VolumeStore, "listLive"> }) {}

  /**
   * Appends every whole storage hour each live volume owes, backfilling hours missed while the
   * service was down; idempotency keys make a repeat (or another replica's run) a no-op.
   */
  async accrue(now: number): Promise<number> {
    const { ledger, volumes } = this.deps;
    let appended = 0;
    for (const volume of await volumes.listLive()) {
      appended += await ledger.append(storageEntries(volume, await ledger.lastStorageHour(volume.id), now));
    }
    return appended;
  }

  /** Accrues once per hour of the clock: the reconcile pass calls this every few seconds. */
  async accrueOncePerHour(now: number): Promise<void> {
    if (hourStart(now) === this.accruedHour) return;
    await this.accrue(now);
    this.accruedHour = hourStart(now);
  }
}
