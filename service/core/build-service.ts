import { randomUUID } from "node:crypto";
import { confinedRun, mayActOn, type Principal } from "./accounts.js";
import { admit, monthStart } from "./admission.js";
import type { Build, BuilderTier, BuildPatch, CacheRequest, JobResult } from "./build.js";
import { BuildEvents } from "./build-events.js";
import type { ShapeCatalog } from "./catalog.js";
import { billedEnd, buildEntry, hourStart, storageEntries } from "./ledger.js";
import {
  type BuildEvent,
  type BuildState,
  type Timeouts,
  dueTimeout,
  IllegalTransitionError,
  isActive,
  isTerminal,
  transition,
} from "./lifecycle.js";
import type {
  AccountStore,
  BuildStore,
  Builder,
  BuilderDriver,
  ClaimScope,
  ClaimStore,
  Clock,
  LedgerStore,
  Telemetry,
  VolumeStore,
  CertificateIssuer,
  RevocationBus,
} from "./ports.js";
import { Problem } from "./problems.js";

export interface BuildServiceConfig {
  catalog: ShapeCatalog;
  defaultShape: string;
  /** The name of each account's build-cache volume. */
  cacheVolume: string;
  claimLeaseMs: number;
  buildDeadlineMs: number;
  timeouts: Timeouts;
  /** A builder older than this with no unfinished build is an orphan. */
  orphanGraceMs: number;
  concurrencyRetryAfterSeconds: number;
}

export interface BuildServiceDeps {
  accounts: AccountStore;
  builds: BuildStore;
  ledger: LedgerStore;
  volumes: VolumeStore;
  certificates: CertificateIssuer;
  revocations: RevocationBus;
  claims: ClaimStore;
  driver: BuilderDriver;
  clock: Clock;
  telemetry: Telemetry;
  config: BuildServiceConfig;
  /** Reports failures of background work (boots, cleanup) that no request is waiting on. */
  onBackgroundError?: (message: string, err: unknown) => void;
}

export interface CreateBuildRequest {
  shape?: string | undefined;
  profile?: string | undefined;
  cache: CacheRequest;
  waitSeconds: number;
  labels: Record<string, string>;
  /** The client's public key (PEM) or certificate request, to sign its client certificate. */
  publicKey?: string | undefined;
  csr?: string | undefined;
}

/** Where a queued build stands: what it waits for and how many are ahead of it. */
export interface QueueStatus {
  waitingFor: "concurrency" | "cache";
  position: number;
}

export interface BuildView {
  build: Build;
  queue: QueueStatus | null;
}

type ClaimOutcome =
  | { ok: true; patch: BuildPatch }
  | { ok: false; patch: BuildPatch; refusal?: Problem; waitingFor?: QueueStatus["waitingFor"] };

const concurrencyScope = (accountId: string): ClaimScope => ({ kind: "concurrency", accountId });
const LIMITS_TTL_MS = 5_000;
/** Why a long poll stops listening: given, because `abort()` with none builds a DOMException and its stack. */
const STOPPED = Symbol("the long poll is over");

type AccountLimits = { concurrencyLimit: number; cacheVolumeGiB: number };

/** Admission, the build lifecycle and its claims, orchestrated over the ports. */
export class BuildService {
  readonly events = new BuildEvents();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Queue members with no unfinished build, by when this process first saw them so. */
  private readonly unrecordedSince = new Map<string, number>();
  private readonly limits = new Map<string, { at: number; limits: AccountLimits }>();
  /** The hour storage was last accrued for, by this process (null: not yet since start). */
  private accruedHour: number | null = null;

  constructor(private readonly deps: BuildServiceDeps) {}

  async create(principal: Principal, request: CreateBuildRequest): Promise<BuildView> {
    const { builds, clock, config, telemetry } = this.deps;
    const { account } = principal;
    const now = clock.now();
    let shape;
    try {
      const used = await builds.usedSeconds(account.id, monthStart(now), now);
      shape = admit({
        account,
        request,
        catalog: config.catalog,
        defaultShape: config.defaultShape,
        usedSecondsThisMonth: used,
        now,
      });
    } catch (err) {
      if (err instanceof Problem) telemetry.admission(err.kind);
      throw err;
    }
    const draft: Build = {
      id: randomUUID(),
      accountId: account.id,
      tokenId: principal.tokenId,
      shape: shape.shape,
      profile: shape.profile,
      state: "queued",
      cacheRequest: request.cache,
      cacheVolume: config.cacheVolume,
      cacheMode: null,
      cacheReason: null,
      labels: request.labels,
      builderId: null,
      tier: null,
      endpoint: null,
      claimFence: null,
      volumeFence: null,
      createdAt: now,
      startedAt: null,
      readyAt: null,
      endedAt: null,
      lastActivityAt: null,
      lastSeenAt: now,
      deadlineAt: now + config.buildDeadlineMs,
      waitDeadlineAt: request.waitSeconds > 0 ? now + request.waitSeconds * 1000 : null,
      endReason: null,
      result: null,
      clientCertificate: null,
      bytesIn: 0,
      bytesOut: 0,
      repository: principal.ci?.repository ?? null,
      ref: principal.ci?.ref ?? null,
      workflow: principal.ci?.workflow ?? null,
      run: principal.ci?.run ?? null,
      runKey: confinedRun(principal) ?? null,
      cacheWrite: principal.cacheWrite ?? true,
    };
    if (request.publicKey !== undefined || request.csr !== undefined) {
      draft.clientCertificate = await this.deps.certificates.issueClientCertificate(
        request,
        { accountId: account.id, buildId: draft.id },
        draft.deadlineAt,
      );
    }
    const claimed = await this.claim(draft, principal.account.concurrencyLimit, now);
    if (!claimed.ok && claimed.refusal) {
      telemetry.admission(claimed.refusal.kind);
      throw claimed.refusal;
    }
    let build: Build = { ...draft, ...claimed.patch };
    try {
      if (claimed.ok) {
        const placed = await this.createBuilder(build, account.cacheVolumeGiB);
        build = { ...build, ...placed, state: "pending", startedAt: now };
        await builds.insert(build);
      } else {
        await builds.insert(build);
      }
    } catch (err) {
      // Nothing was recorded, so nothing may stay held: give the claims (and builder) back now
      // rather than at the lease's end.
      this.track(this.cleanUp(build));
      throw err;
    }
    telemetry.admission(claimed.ok ? "admitted" : "queued");
    if (claimed.ok) this.track(this.boot(build));
    return this.view(build);
  }

  async get(principal: Principal, id: string): Promise<BuildView> {
    return this.view(await this.owned(principal, id));
  }

  /** Long poll: returns once the build is ready, building or ended, or when `waitMs` runs out. */
  async waitFor(principal: Principal, id: string, waitMs: number, signal?: AbortSignal): Promise<BuildView> {
    const until = this.deps.clock.now() + waitMs;
    for (;;) {
      // Listen before reading: a change that lands between the read and the wait must wake it,
      // not leave it asleep until the next periodic re-read.
      const stop = new AbortController();
      const left = until - this.deps.clock.now();
      const changed = left > 0 ? this.events.next(id, Math.min(left, 500), signal, stop.signal) : null;
      let build: Build;
      try {
        build = await this.owned(principal, id);
      } catch (err) {
        stop.abort(STOPPED);
        throw err;
      }
      if (changed === null || settled(build.state) || signal?.aborted) {
        stop.abort(STOPPED);
        return this.view(build);
      }
      await changed;
    }
  }

  async list(principal: Principal, states: BuildState[] | null, limit: number): Promise<Build[]> {
    return this.deps.builds.list(principal.account.id, states, limit, confinedRun(principal));
  }

  /** The client is alive: extend the build's claims. A build that lost them is reaped. */
  async heartbeat(principal: Principal, id: string): Promise<BuildView> {
    const { claims, clock, config } = this.deps;
    const build = await this.owned(principal, id);
    if (isTerminal(build.state)) {
      throw new Problem("illegal-transition", `The build is ${build.state}; start a new one.`, {
        state: build.state,
      });
    }
    if (!isActive(build.state)) return this.view(build);
    const opts = { leaseMs: config.claimLeaseMs, now: clock.now() };
    const leases: Array<[ClaimScope, number | null]> = [
      [concurrencyScope(build.accountId), build.claimFence],
    ];
    if (build.cacheMode === "persistent") leases.push([this.volumeScope(build), build.volumeFence]);
    for (const [scope, fence] of leases) {
      const outcome = fence === null ? "not-held" : await claims.heartbeat(scope, build.id, fence, opts);
      if (outcome !== "ok") {
        await this.finish(build, "reap", `lease-lost: ${scope.kind} ${outcome}`);
        throw new Problem(
          "claim-lost",
          `The build's ${scope.kind} claim was lost (${outcome}), so it was reaped. ` +
            `Heartbeat at least every ${Math.floor(config.claimLeaseMs / 3000)} s and start a new build.`,
          { scope: scope.kind, reason: outcome },
        );
      }
    }
    const seen = await this.deps.builds.patch(build.id, build.state, { lastSeenAt: opts.now });
    return this.view(seen ?? build);
  }

  async complete(principal: Principal, id: string, result: JobResult): Promise<BuildView> {
    const build = await this.owned(principal, id);
    if (build.state === "completed") return this.view(build);
    try {
      return this.view(await this.finish(build, "complete", "completed", result));
    } catch (err) {
      if (err instanceof IllegalTransitionError) {
        const current = await this.owned(principal, id);
        // A retry that raced the first complete: that one ended it, so this one succeeds too.
        if (current.state === "completed") return this.view(current);
        throw new Problem(
          "illegal-transition",
          `The build already ended as ${current.state} (${current.endReason ?? "no reason"}).`,
          { state: current.state, endReason: current.endReason },
        );
      }
      throw err;
    }
  }

  /** A broker connection opened or closed: `building` while one is open, else `ready`. */
  async recordActivity(buildId: string, event: "connect" | "disconnect"): Promise<Build | null> {
    const build = await this.deps.builds.get(buildId);
    if (build === null || isTerminal(build.state)) return null;
    const from: BuildState = event === "connect" ? "ready" : "building";
    const patch = { lastActivityAt: this.deps.clock.now() };
    const moved =
      build.state === from
        ? await this.deps.builds.transition(buildId, from, transition(from, event), patch)
        : await this.deps.builds.patch(buildId, build.state, patch);
    if (moved) this.events.changed(buildId);
    return moved;
  }

  /**
   * One level-triggered pass: timeouts, lost leases, queued builds that may start now, expired
   * claims, orphaned builders. Safe to run on several replicas at once: every transition is a
   * compare-and-set on the build's state.
   */
  async reconcile(): Promise<{ unfinished: number; active: number }> {
    const { builds, claims, clock, config, driver } = this.deps;
    const now = clock.now();
    const scopes = await claims.scopes();
    for (const scope of scopes) await claims.reclaim(scope, now);
    const unfinished = await builds.listUnfinished(10_000);
    const holdersByAccount = new Map<string, Map<string, number>>();
    let active = 0;
    for (const build of unfinished) {
      const verdict = dueTimeout(build, now, config.timeouts);
      if (verdict) {
        await this.finishQuietly(build, verdict.event, verdict.reason);
        continue;
      }
      if (isActive(build.state)) {
        let holders = holdersByAccount.get(build.accountId);
        if (!holders) {
          holders = await claims.holders(concurrencyScope(build.accountId), now);
          holdersByAccount.set(build.accountId, holders);
        }
        if (!holders.has(build.id)) {
          await this.finishQuietly(build, "reap", "lease-expired: the client stopped sending heartbeats");
          continue;
        }
        active++;
      } else if (build.state === "queued") {
        await this.advance(build.id);
      }
    }
    const live = new Set(unfinished.map((b) => b.id));
    const builders = await driver.list();
    for (const builder of builders) {
      if (!live.has(builder.buildId) && now - builder.createdAt >= config.orphanGraceMs) {
        await driver.terminate(builder.builderId, builder.buildId);
      }
    }
    // A pending build's boot owns its outcome (and has the driver's reason for a failure).
    const lost = unfinished.filter((b) => isActive(b.state) && b.state !== "pending" && b.builderId !== null);
    if (lost.length > 0) await this.failLostBuilders(lost, builders, now);
    await this.dropUnrecordedWaiters(scopes, live, now);
    if (hourStart(now) !== this.accruedHour) {
      await this.accrueStorage(now);
      this.accruedHour = hourStart(now);
    }
    return { unfinished: unfinished.length, active };
  }

  /**
   * Appends every whole storage hour each live volume owes, backfilling hours missed while the
   * service was down; idempotency keys make a repeat (or another replica's run) a no-op.
   */
  async accrueStorage(now: number): Promise<number> {
    const { ledger, volumes } = this.deps;
    let appended = 0;
    for (const volume of await volumes.listLive()) {
      appended += await ledger.append(storageEntries(volume, await ledger.lastStorageHour(volume.id), now));
    }
    return appended;
  }

  /** Waits for background work (boots, cleanups) started by this process. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Tries to move a queued build to `pending`; a no-op for any other state. */
  async advance(buildId: string): Promise<void> {
    const { builds, clock } = this.deps;
    const build = await builds.get(buildId);
    // Past its deadline it is the reconciler's to expire, not to start.
    if (build === null || build.state !== "queued" || clock.now() >= build.deadlineAt) return;
    const account = await this.limitsOf(build.accountId);
    const now = clock.now();
    const claimed = await this.claim(build, account.concurrencyLimit, now);
    if (!claimed.ok) {
      if (Object.keys(claimed.patch).length > 0) await builds.patch(build.id, "queued", claimed.patch);
      return;
    }
    const placed = await this.createBuilder({ ...build, ...claimed.patch }, account.cacheVolumeGiB);
    const { builderId } = placed;
    const started = await builds.transition(build.id, "queued", "pending", {
      ...claimed.patch,
      ...placed,
      startedAt: now,
    });
    if (started === null) {
      // Someone else moved it: either another pass started it (and shares our fences), or it
      // ended meanwhile, in which case the claims we just took are ours to give back. A driver
      // may have handed both passes the same builder (taking a pool builder is idempotent per
      // build): that one is the build's now, not ours to stop.
      const current = await builds.get(build.id);
      if (current?.builderId !== builderId) await this.deps.driver.terminate(builderId, build.id);
      if (current && isTerminal(current.state))
        await this.cleanUp({ ...current, ...claimed.patch, builderId: null });
      return;
    }
    this.deps.telemetry.claimWait((now - build.createdAt) / 1000);
    this.events.changed(build.id);
    this.track(this.boot(started));
  }

  async view(build: Build): Promise<BuildView> {
    if (build.state !== "queued") return { build, queue: null };
    const waitingFor = build.claimFence === null ? "concurrency" : "cache";
    const scope = waitingFor === "concurrency" ? concurrencyScope(build.accountId) : this.volumeScope(build);
    const position = await this.deps.claims.position(scope, build.id);
    return { build, queue: position === null ? null : { waitingFor, position } };
  }

  private async owned(principal: Principal, id: string): Promise<Build> {
    const build = await this.deps.builds.get(id);
    // A build the caller may not see is "not found", never "forbidden", with the same words whether
    // it exists or not: ids are not an oracle.
    if (build === null || !mayActOn(principal, build)) {
      throw new Problem(
        "not-found",
        confinedRun(principal) === undefined
          ? `There is no build ${id} in this account.`
          : `There is no build ${id} of this CI run: a credential from the OIDC exchange sees only the builds its own run created (an agent token sees every build of the account).`,
      );
    }
    return build;
  }

  private volumeScope(build: Build): ClaimScope {
    return { kind: "volume", accountId: build.accountId, volume: build.cacheVolume };
  }

  /**
   * Takes the concurrency slot, then the cache volume, in that order (so no two builds can each
   * hold what the other waits for).
   */
  private async claim(build: Build, limit: number, now: number): Promise<ClaimOutcome> {
    const { claims, config } = this.deps;
    const opts = { leaseMs: config.claimLeaseMs, now, waitDeadline: build.waitDeadlineAt };
    const slot = await claims.acquire(concurrencyScope(build.accountId), build.id, {
      ...opts,
      capacity: limit,
    });
    if (slot.outcome === "busy") {
      return {
        ok: false,
        patch: {},
        refusal: new Problem(
          "concurrency-limit",
          `The account already runs ${slot.holders} of ${limit} concurrent builds. ` +
            `Retry later, or pass waitSeconds to queue for a slot.`,
          { limit, current: slot.holders },
          config.concurrencyRetryAfterSeconds,
        ),
      };
    }
    if (slot.outcome === "queued") return { ok: false, patch: {}, waitingFor: "concurrency" };
    const patch: BuildPatch = { claimFence: slot.fence };
    if (build.cacheRequest === "cold") {
      return {
        ok: true,
        patch: { ...patch, cacheMode: "cold", cacheReason: "the client asked for a cold builder" },
      };
    }
    if (!build.cacheWrite) {
      // The credential's trust relationship does not let this ref write the warm cache (a pull
      // request, say): it must not poison what the default branch's builds read.
      return {
        ok: true,
        patch: {
          ...patch,
          cacheMode: "cold",
          cacheReason: `${build.ref ?? "this ref"} may not write the account's warm cache (its trust relationship's cache policy), so this build runs cold`,
        },
      };
    }
    const volume = await claims.acquire(this.volumeScope(build), build.id, { ...opts, capacity: 1 });
    switch (volume.outcome) {
      case "granted":
        return {
          ok: true,
          patch: { ...patch, volumeFence: volume.fence, cacheMode: "persistent", cacheReason: null },
        };
      case "queued":
        return { ok: false, patch, waitingFor: "cache" };
      case "busy":
        return {
          ok: true,
          patch: {
            ...patch,
            cacheMode: "cold",
            cacheReason:
              "the account's cache volume is in use by another build and waitSeconds was 0, so this build runs cold",
          },
        };
    }
  }

  private async createBuilder(
    build: Build,
    cacheVolumeGiB: number,
  ): Promise<{ builderId: string; tier: BuilderTier; cacheReason?: string }> {
    const { driver, config, volumes, clock } = this.deps;
    const shape = config.catalog[build.shape];
    if (!shape) throw new Error(`shape ${build.shape} vanished from the catalog`);
    let lost: { volumeId: string; note: string } | null = null;
    if (build.cacheMode === "persistent") {
      // Every attach: a volume reset a moment ago (on any replica) must get its new record now.
      const volume = await volumes.ensure(build.accountId, build.cacheVolume, cacheVolumeGiB, clock.now());
      if (volume.lostNote !== null) lost = { volumeId: volume.id, note: volume.lostNote };
    }
    const placed = await driver
      .create({
        buildId: build.id,
        accountId: build.accountId,
        shapeName: build.shape,
        shape,
        volume:
          build.cacheMode === "persistent" ? { name: build.cacheVolume, sizeGiB: cacheVolumeGiB } : null,
      })
      .catch((err: Error) => {
        // Where builders run is down or refuses them: the client's request was fine; it may retry.
        throw new Problem(
          "unavailable",
          `No builder could be started (${err.message}); retry shortly.`,
          {},
          15,
        );
      });
    if (lost === null) return placed;
    // Told once: the build that starts on the fresh volume says why its cache is empty.
    await volumes.clearLostNote(lost.volumeId);
    return { ...placed, cacheReason: `cache lost: ${lost.note}; this build starts with an empty cache` };
  }

  private async boot(build: Build): Promise<void> {
    const { builds, driver, clock, config } = this.deps;
    if (build.builderId === null) return;
    try {
      const { endpoint } = await driver.awaitReady(build.builderId, config.timeouts.bootMs);
      const now = clock.now();
      // Booted past its deadline, it is the reconciler's to expire: never ready (nor billed).
      if (now >= build.deadlineAt) return;
      const ready = await builds.transition(build.id, "pending", "ready", {
        endpoint,
        readyAt: now,
        lastActivityAt: now,
      });
      if (ready) this.events.changed(build.id);
    } catch (err) {
      const current = await builds.get(build.id);
      if (current && current.state === "pending") {
        await this.finishQuietly(current, "fail", `boot-failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Ends a build: one compare-and-set in the store, then its claims go back and its builder is
   * terminated. Retries when a concurrent writer moved the build first.
   */
  private async finish(build: Build, event: BuildEvent, reason: string, result?: JobResult): Promise<Build> {
    const { builds, clock, telemetry } = this.deps;
    let current: Build | null = build;
    for (let attempt = 0; current !== null && attempt < 5; attempt++) {
      const to = transition(current.state, event);
      const endedAt = billedEnd(current, event, clock.now());
      const patch = { endedAt, endReason: reason, result: result ?? null };
      const ended = await builds.finish(
        current.id,
        current.state,
        to,
        patch,
        buildEntry(current, endedAt, reason),
      );
      if (ended) {
        telemetry.buildEnded(to, reason.split(":")[0] ?? reason);
        this.events.changed(ended.id);
        await this.cleanUp(ended).catch((err) =>
          this.deps.onBackgroundError?.("releasing a build's claims failed", err),
        );
        return ended;
      }
      current = await builds.get(build.id);
    }
    throw new Error(`build ${build.id} kept changing while it was being ended`);
  }

  private async finishQuietly(build: Build, event: BuildEvent, reason: string): Promise<void> {
    try {
      await this.finish(build, event, reason);
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
    }
  }

  /**
   * Gives back what an ended build held. Its connections close and its concurrency slot is free
   * before this returns, so a client that completes and at once starts again is admitted; the
   * builder's end, and then the cache volume (single writer: not before its builder is gone), follow
   * in the background.
   */
  private async cleanUp(build: Build): Promise<void> {
    const limit = (await this.limitsOf(build.accountId)).concurrencyLimit;
    // Sent together, so they share one round trip; the revocation goes first.
    const [, slot] = await Promise.all([
      this.deps.revocations.publish(build.id),
      this.deps.claims.release(concurrencyScope(build.accountId), build.id, {
        fence: build.claimFence,
        capacity: limit,
        now: this.deps.clock.now(),
      }),
    ]);
    this.track(this.releaseBuilder(build, slot.waiting));
  }

  private async releaseBuilder(build: Build, waiting: string[]): Promise<void> {
    if (build.builderId !== null) await this.deps.driver.terminate(build.builderId, build.id);
    // A build that never held the volume and never waited for it (it had no wait deadline to
    // queue with) has nothing there to give back.
    const touchedVolume = build.volumeFence !== null || build.waitDeadlineAt !== null;
    const volume = touchedVolume
      ? await this.deps.claims.release(this.volumeScope(build), build.id, {
          fence: build.volumeFence,
          capacity: 1,
          now: this.deps.clock.now(),
        })
      : { waiting: [] };
    for (const next of new Set([...waiting, ...volume.waiting])) await this.advance(next);
  }

  /**
   * A process that dies between queueing a build in Redis and recording it in PostgreSQL leaves a
   * waiter with no build behind it, standing ahead of every later build until its wait deadline
   * (up to RB_MAX_WAIT_SECONDS). One still unrecorded a whole lease after it was first seen is
   * dropped; the grace covers a `create` between its acquire and its insert.
   */
  private async dropUnrecordedWaiters(
    scopes: ClaimScope[],
    recorded: Set<string>,
    now: number,
  ): Promise<void> {
    const { claims, config } = this.deps;
    const seen = new Set<string>();
    for (const scope of scopes) {
      for (const member of await claims.waiters(scope)) {
        if (recorded.has(member)) continue;
        seen.add(member);
        const since = this.unrecordedSince.get(member) ?? now;
        this.unrecordedSince.set(member, since);
        if (now - since < config.claimLeaseMs) continue;
        const capacity =
          scope.kind === "concurrency" ? (await this.limitsOf(scope.accountId)).concurrencyLimit : 1;
        const { waiting } = await claims.release(scope, member, { fence: null, capacity, now });
        for (const next of waiting) await this.advance(next);
      }
    }
    for (const member of this.unrecordedSince.keys()) {
      if (!seen.has(member)) this.unrecordedSince.delete(member);
    }
  }

  /**
   * A builder the driver says crashed fails its build at once; one the driver no longer lists
   * does after a grace (a driver's list may lag a builder it just made).
   */
  private async failLostBuilders(builds: Build[], builders: Builder[], now: number): Promise<void> {
    const byId = new Map(builders.map((b) => [b.builderId, b]));
    for (const build of builds) {
      const builder = byId.get(build.builderId!);
      if (builder?.state === "failed") {
        await this.finishQuietly(build, "fail", "builder-crashed: the builder stopped running");
      } else if (!builder && now - (build.startedAt ?? now) >= this.deps.config.orphanGraceMs) {
        await this.finishQuietly(build, "fail", "builder-lost: the builder stopped running");
      }
    }
  }

  /**
   * The build's limits, read at most every few seconds per account (a limit raised a moment ago
   * may start a waiter a moment later). A deleted account still lets its builds drain.
   */
  private async limitsOf(accountId: string): Promise<AccountLimits> {
    const now = this.deps.clock.now();
    const cached = this.limits.get(accountId);
    if (cached && now - cached.at < LIMITS_TTL_MS) return cached.limits;
    const account = await this.deps.accounts.find(accountId);
    const limits = account ?? { concurrencyLimit: 1, cacheVolumeGiB: 1 };
    this.limits.set(accountId, { at: now, limits });
    return limits;
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((err) => this.deps.onBackgroundError?.("background work failed", err));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}

/** States a long poll returns on: the client can act (ready/building) or must stop (ended). */
function settled(state: BuildState): boolean {
  return state === "ready" || state === "building" || isTerminal(state);
}
