import type { AccountLimitsCache } from "./account-limits.js";
import type { BackgroundWork } from "./background-work.js";
import type { Build, JobResult } from "./build.js";
import { concurrencyScope, volumeScope } from "./build-claims.js";
import { applyEvent, type TransitionDeps } from "./build-transitions.js";
import { billedEnd, buildEntry } from "./ledger.js";
import { type BuildEvent, IllegalTransitionError } from "./lifecycle.js";
import { solvesOfBuild, summarizeSolves, unavailableInsights, type BuildInsights } from "./build-insights.js";
import type {
  BuildInsightsReader,
  BuilderDriver,
  ClaimStore,
  Clock,
  RevocationBus,
  Telemetry,
} from "./ports.js";

/** How often an ending is retried when concurrent writers keep moving the build first. */
const END_ATTEMPTS = 5;

export interface BuildEndsDeps extends TransitionDeps {
  claims: ClaimStore;
  driver: BuilderDriver;
  revocations: RevocationBus;
  limits: AccountLimitsCache;
  background: BackgroundWork;
  telemetry: Telemetry;
  clock: Clock;
  /** Starts a queued build that a released claim lets through. */
  advance: (buildId: string) => Promise<void>;
  /**
   * Reads the build's BuildKit history before its builder goes back, within `timeoutMs`; absent
   * where builders are not BuildKit (the in-memory driver). `onUnavailable` hears why it failed.
   */
  insights?: {
    reader: BuildInsightsReader;
    timeoutMs: number;
    onUnavailable: (buildId: string, err: unknown) => void;
  };
}

/**
 * Ending builds: one move into a terminal state, billed in the same statement, then what the
 * build held goes back (its connections, claims, builder and volume) and the next waiter starts.
 */
export class BuildEnds {
  constructor(private readonly deps: BuildEndsDeps) {}

  /** Ends a build; retries when a concurrent writer moved it first. */
  async end(build: Build, event: BuildEvent, reason: string, result?: JobResult): Promise<Build> {
    const { builds, clock, telemetry } = this.deps;
    let current: Build | null = build;
    for (let attempt = 0; current !== null && attempt < END_ATTEMPTS; attempt++) {
      const endedAt = billedEnd(current, event, clock.now());
      const patch = { endedAt, endReason: reason, result: result ?? null };
      const ended = await applyEvent(this.deps, current, event, patch, buildEntry(current, endedAt, reason));
      if (ended) {
        telemetry.buildEnded(ended.state, reason.split(":")[0] ?? reason);
        await this.release(ended).catch((err) =>
          this.deps.background.report("releasing a build's claims failed", err),
        );
        return ended;
      }
      current = await builds.get(build.id);
    }
    throw new Error(`build ${build.id} kept changing while it was being ended`);
  }

  /** Ends a build unless it already ended: for passes that find builds which others may end too. */
  async endQuietly(build: Build, event: BuildEvent, reason: string): Promise<void> {
    try {
      await this.end(build, event, reason);
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
    }
  }

  /**
   * Gives back what an ended (or never recorded) build held. Its connections close and its
   * concurrency slot is free before this returns, so a client that completes and at once starts
   * again is admitted; the builder's end, and then the cache volume (single writer: not before its
   * builder is gone), follow in the background.
   */
  async release(build: Build): Promise<void> {
    const { revocations, claims, clock, limits } = this.deps;
    const limit = (await limits.of(build.accountId)).concurrencyLimit;
    // Sent together, so they share one round trip; the revocation goes first.
    const [, slot] = await Promise.all([
      revocations.publish(build.id),
      claims.release(concurrencyScope(build.accountId), build.id, {
        fence: build.claimFence,
        capacity: limit,
        now: clock.now(),
      }),
    ]);
    this.deps.background.track(this.releaseBuilder(build, slot.waiting));
  }

  /**
   * Reads what BuildKit recorded of the build's solves and keeps it with the build. Never throws
   * and never takes longer than the timeout: a failure is kept as `unavailable`, and reported.
   */
  private async recordInsights(build: Build, builderId: string): Promise<void> {
    const { insights, clock, builds, driver } = this.deps;
    // Only a build whose builder came up made solves; clients wait for insights of these alone.
    // A build released again (by a later pass) keeps what was read the first time.
    if (build.endpoint === null || build.readyAt === null || build.insights !== null) return;
    // Until now, not the billed end (a vanished client's is its last heartbeat): the builder is
    // still the build's until it goes back, below.
    const window = { from: build.readyAt, to: clock.now() };
    const result = insights
      ? await this.readInsights(insights, { builderId, endpoint: build.endpoint }, window, build.id)
      : unavailableInsights(`the ${driver.name} driver's builders keep no BuildKit history`, clock.now());
    await builds
      .patch(build.id, build.state, { insights: result })
      .catch((err) => this.deps.background.report("storing a build's insights failed", err));
  }

  private async readInsights(
    insights: NonNullable<BuildEndsDeps["insights"]>,
    builder: { builderId: string; endpoint: string },
    window: { from: number; to: number },
    buildId: string,
  ): Promise<BuildInsights> {
    const { clock } = this.deps;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${insights.timeoutMs} ms`)),
        insights.timeoutMs,
      );
    });
    try {
      const records = await Promise.race([
        // The reader's own limit comes first, so that it can give back what it has.
        insights.reader.read(builder, window, insights.timeoutMs * 0.8),
        timeout,
      ]);
      return summarizeSolves(solvesOfBuild(records, window), clock.now());
    } catch (err) {
      insights.onUnavailable(buildId, err);
      return unavailableInsights(err instanceof Error ? err.message : String(err), clock.now());
    } finally {
      clearTimeout(timer);
    }
  }

  private async releaseBuilder(build: Build, waiting: string[]): Promise<void> {
    const { driver, claims, clock } = this.deps;
    if (build.builderId !== null) {
      // Before the builder goes: a cold one takes its history with it.
      await this.recordInsights(build, build.builderId);
      await driver.terminate(build.builderId, build.id);
    }
    // A build that never held the volume and never waited for it (it had no wait deadline to
    // queue with) has nothing there to give back.
    const touchedVolume = build.volumeFence !== null || build.waitDeadlineAt !== null;
    const volume = touchedVolume
      ? await claims.release(volumeScope(build), build.id, {
          fence: build.volumeFence,
          capacity: 1,
          now: clock.now(),
        })
      : { waiting: [] };
    for (const next of new Set([...waiting, ...volume.waiting])) await this.deps.advance(next);
  }
}
