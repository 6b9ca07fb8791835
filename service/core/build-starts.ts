import type { AccountLimitsCache } from "./account-limits.js";
import type { BackgroundWork } from "./background-work.js";
import type { Build, BuilderTier, BuildPatch } from "./build.js";
import { type ClaimOutcome, type ClaimSettings, claimFor } from "./build-claims.js";
import type { BuildEnds } from "./build-ends.js";
import { applyEvent, type TransitionDeps } from "./build-transitions.js";
import type { ShapeCatalog } from "./catalog.js";
import { isTerminal } from "./lifecycle.js";
import type { BuilderDriver, ClaimStore, Clock, Telemetry } from "./ports.js";
import { Problem } from "./problems.js";
import type { VolumeService } from "./volume-service.js";

/** What a `unavailable` refusal tells the client to wait before retrying, when no builder starts. */
const DRIVER_RETRY_AFTER_SECONDS = 15;

export interface StartSettings extends ClaimSettings {
  catalog: ShapeCatalog;
  /** How long a builder may take to boot. */
  bootMs: number;
}

export interface BuildStartsDeps extends TransitionDeps {
  claims: ClaimStore;
  driver: BuilderDriver;
  volumes: Pick<VolumeService, "attach">;
  limits: AccountLimitsCache;
  background: BackgroundWork;
  telemetry: Telemetry;
  clock: Clock;
  settings: StartSettings;
  ends: BuildEnds;
}

/** Where a build's builder was placed: the build's fields that say so. */
export interface Placement {
  builderId: string;
  tier: BuilderTier;
  prewarmed: boolean;
  cacheReason?: string;
}

/** Starting builds: claims, a builder (with the account's volume attached), its boot to `ready`. */
export class BuildStarts {
  constructor(private readonly deps: BuildStartsDeps) {}

  /** Takes what the build needs to start: see claimFor. */
  claim(build: Build, limit: number, now: number): Promise<ClaimOutcome> {
    return claimFor(this.deps.claims, this.deps.settings, build, limit, now);
  }

  /** Asks the driver for a builder, attaching the account's volume when the build holds it. */
  async place(build: Build, cacheVolumeGiB: number): Promise<Placement> {
    const { driver, settings, volumes, telemetry, clock } = this.deps;
    const shape = settings.catalog[build.shape];
    if (!shape) throw new Error(`shape ${build.shape} vanished from the catalog`);
    const persistent = build.cacheMode === "persistent";
    const create = () =>
      driver
        .create({
          buildId: build.id,
          accountId: build.accountId,
          shapeName: build.shape,
          shape,
          volume: persistent ? { name: build.cacheVolume, sizeGiB: cacheVolumeGiB } : null,
        })
        .then(({ builderId, tier, prewarmedAt }): Placement => {
          if (prewarmedAt !== undefined) telemetry.prewarmUsed((clock.now() - prewarmedAt) / 1000);
          return { builderId, tier, prewarmed: prewarmedAt !== undefined };
        })
        .catch((err: Error) => {
          // Where builders run is down or refuses them: the client's request was fine; it may retry.
          throw new Problem(
            "unavailable",
            `No builder could be started (${err.message}); retry shortly.`,
            {},
            DRIVER_RETRY_AFTER_SECONDS,
          );
        });
    if (!persistent) return create();
    const { mounted, lostNote } = await volumes.attach(
      build.accountId,
      build.cacheVolume,
      cacheVolumeGiB,
      create,
    );
    if (lostNote === null) return mounted;
    return { ...mounted, cacheReason: `cache lost: ${lostNote}; this build starts with an empty cache` };
  }

  /** Tries to start a queued build; a no-op for any other state. */
  async advance(buildId: string): Promise<void> {
    const { builds, clock, limits } = this.deps;
    const build = await builds.get(buildId);
    // Past its deadline it is the reconciler's to expire, not to start.
    if (build === null || build.state !== "queued" || clock.now() >= build.deadlineAt) return;
    const account = await limits.of(build.accountId);
    const now = clock.now();
    const claimed = await this.claim(build, account.concurrencyLimit, now);
    if (!claimed.ok) {
      if (Object.keys(claimed.patch).length > 0) await builds.patch(build.id, "queued", claimed.patch);
      return;
    }
    const placed = await this.place({ ...build, ...claimed.patch }, account.cacheVolumeGiB);
    const started = await applyEvent(this.deps, build, "start", {
      ...claimed.patch,
      ...placed,
      startedAt: now,
    });
    if (started === null) {
      await this.lostRace(build, claimed.patch, placed.builderId);
      return;
    }
    this.deps.telemetry.claimWait((now - build.createdAt) / 1000);
    this.bootInBackground(started);
  }

  /** Waits for a started build's builder, then makes it `ready` (or fails it), in the background. */
  bootInBackground(build: Build): void {
    this.deps.background.track(this.boot(build));
  }

  /**
   * Someone else moved a build this pass was starting: either another pass started it (and shares
   * our fences), or it ended meanwhile, in which case the claims we just took are ours to give
   * back. A driver may have handed both passes the same builder (taking a pool builder is
   * idempotent per build): that one is the build's now, not ours to stop.
   */
  private async lostRace(build: Build, claimed: BuildPatch, builderId: string): Promise<void> {
    const current = await this.deps.builds.get(build.id);
    if (current?.builderId !== builderId) await this.deps.driver.terminate(builderId, build.id);
    if (current && isTerminal(current.state)) {
      await this.deps.ends.release({ ...current, ...claimed, builderId: null });
    }
  }

  private async boot(build: Build): Promise<void> {
    const { builds, driver, clock, settings } = this.deps;
    if (build.builderId === null) return;
    try {
      const { endpoint } = await driver.awaitReady(build.builderId, settings.bootMs);
      const now = clock.now();
      // Booted past its deadline, it is the reconciler's to expire: never ready (nor billed).
      if (now >= build.deadlineAt) return;
      await applyEvent(this.deps, build, "builder-ready", { endpoint, readyAt: now, lastActivityAt: now });
    } catch (err) {
      const current = await builds.get(build.id);
      if (current && current.state === "pending") {
        await this.deps.ends.endQuietly(current, "fail", `boot-failed: ${(err as Error).message}`);
      }
    }
  }
}
