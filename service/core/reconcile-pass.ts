import type { Build } from "./build.js";
import { concurrencyScope } from "./build-claims.js";
import type { BuildEnds } from "./build-ends.js";
import type { BuildStarts } from "./build-starts.js";
import { dueTimeout, isActive, type Timeouts } from "./lifecycle.js";
import { failLostBuilders, terminateOrphans } from "./lost-builders.js";
import type { BuildStore, BuilderDriver, ClaimStore, Clock } from "./ports.js";
import type { UnrecordedWaiters } from "./queue-repair.js";
import type { StorageAccrual } from "./storage-accrual.js";

/** The most unfinished builds one pass looks at; the next pass sees the rest. */
const UNFINISHED_PER_PASS = 10_000;

export interface ReconcileSettings {
  timeouts: Timeouts;
  /** A builder older than this with no unfinished build is an orphan; a build's lost builder too. */
  orphanGraceMs: number;
}

/** What the pass reads and repairs. */
export interface ReconcilePorts {
  builds: BuildStore;
  claims: ClaimStore;
  driver: BuilderDriver;
  clock: Clock;
}

/** The steps of the pass that live in rooms of their own. */
export interface ReconcileSteps {
  starts: Pick<BuildStarts, "advance">;
  ends: Pick<BuildEnds, "endQuietly">;
  waiters: UnrecordedWaiters;
  storage: StorageAccrual;
}

/**
 * One level-triggered pass: timeouts, lost leases, queued builds that may start now, expired
 * claims, orphaned and lost builders, unrecorded waiters, the hour's storage. Safe to run on
 * several replicas at once: every transition is a compare-and-set on the build's state.
 */
export class ReconcilePass {
  constructor(
    private readonly ports: ReconcilePorts,
    private readonly steps: ReconcileSteps,
    private readonly settings: ReconcileSettings,
  ) {}

  async run(): Promise<{ unfinished: number; active: number }> {
    const { builds, claims, clock, driver } = this.ports;
    const { settings } = this;
    const { ends, waiters, storage } = this.steps;
    const now = clock.now();
    const scopes = await claims.scopes();
    for (const scope of scopes) await claims.reclaim(scope, now);
    const unfinished = await builds.listUnfinished(UNFINISHED_PER_PASS);
    const active = await this.sweep(unfinished, now);
    const live = new Set(unfinished.map((b) => b.id));
    const builders = await driver.list();
    await terminateOrphans(driver, builders, live, now, settings.orphanGraceMs);
    await failLostBuilders(ends, unfinished, builders, now, settings.orphanGraceMs);
    await waiters.drop(scopes, live, now);
    await storage.accrueOncePerHour(now);
    return { unfinished: unfinished.length, active };
  }

  /**
   * Ends builds whose time ran out or whose client stopped heartbeating, and tries to start the
   * queued ones; returns how many are still active.
   */
  private async sweep(unfinished: Build[], now: number): Promise<number> {
    const { claims } = this.ports;
    const { starts, ends } = this.steps;
    const { settings } = this;
    const holdersByAccount = new Map<string, Map<string, number>>();
    let active = 0;
    for (const build of unfinished) {
      const verdict = dueTimeout(build, now, settings.timeouts);
      if (verdict) {
        await ends.endQuietly(build, verdict.event, verdict.reason);
        continue;
      }
      if (isActive(build.state)) {
        let holders = holdersByAccount.get(build.accountId);
        if (!holders) {
          holders = await claims.holders(concurrencyScope(build.accountId), now);
          holdersByAccount.set(build.accountId, holders);
        }
        if (!holders.has(build.id)) {
          await ends.endQuietly(build, "reap", "lease-expired: the client stopped sending heartbeats");
          continue;
        }
        active++;
      } else if (build.state === "queued") {
        await starts.advance(build.id);
      }
    }
    return active;
  }
}
