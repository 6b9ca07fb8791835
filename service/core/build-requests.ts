import { randomUUID } from "node:crypto";
import { confinedRun, mayActOn, type Principal } from "./accounts.js";
import { admit, monthStart } from "./admission.js";
import type { BackgroundWork } from "./background-work.js";
import type { Build, JobResult } from "./build.js";
import { concurrencyScope, volumeScope, type WaitingFor } from "./build-claims.js";
import { type CreateBuildRequest, draftBuild, type DraftSettings } from "./build-draft.js";
import type { BuildEnds } from "./build-ends.js";
import type { BuildEvents } from "./build-events.js";
import type { BuildStarts } from "./build-starts.js";
import { applyEvent } from "./build-transitions.js";
import type { ResolvedShape, ShapeCatalog } from "./catalog.js";
import {
  accepts,
  type BuildState,
  IllegalTransitionError,
  isActive,
  isTerminal,
  transition,
} from "./lifecycle.js";
import type { BuildStore, CertificateIssuer, ClaimScope, ClaimStore, Clock, Telemetry } from "./ports.js";
import { Problem } from "./problems.js";

export type { CreateBuildRequest } from "./build-draft.js";

/** Where a queued build stands: what it waits for and how many are ahead of it. */
export interface QueueStatus {
  waitingFor: WaitingFor;
  position: number;
}

export interface BuildView {
  build: Build;
  queue: QueueStatus | null;
}

export interface RequestSettings extends DraftSettings {
  catalog: ShapeCatalog;
  defaultShape: string;
  claimLeaseMs: number;
}

export interface BuildRequestsDeps {
  builds: BuildStore;
  events: BuildEvents;
  certificates: CertificateIssuer;
  claims: ClaimStore;
  clock: Clock;
  telemetry: Telemetry;
  settings: RequestSettings;
  starts: BuildStarts;
  ends: BuildEnds;
  background: BackgroundWork;
}

/** How often a long poll re-reads the build, for changes made on other replicas. */
const POLL_REREAD_MS = 500;
/** Why a long poll stops listening: given, because `abort()` with none builds a DOMException and its stack. */
const STOPPED = Symbol("the long poll is over");

/**
 * What clients ask of their builds (admit, read, long-poll, heartbeat, complete) and what their
 * broker connections say (activity): each caller sees only the builds its principal may act on.
 */
export class BuildRequests {
  constructor(private readonly deps: BuildRequestsDeps) {}

  /** Admits a build: policy, a client certificate, claims; starts it or queues it. */
  async create(principal: Principal, request: CreateBuildRequest): Promise<BuildView> {
    const { clock, settings, telemetry, starts, certificates } = this.deps;
    const now = clock.now();
    const shape = await this.admitted(principal, request, now);
    const draft = draftBuild(randomUUID(), principal, request, shape, settings, now);
    if (request.publicKey !== undefined || request.csr !== undefined) {
      draft.clientCertificate = await certificates.issueClientCertificate(
        request,
        { accountId: draft.accountId, buildId: draft.id },
        draft.deadlineAt,
      );
    }
    const claimed = await starts.claim(draft, principal.account.concurrencyLimit, now);
    if (!claimed.ok && claimed.refusal) {
      telemetry.admission(claimed.refusal.kind);
      throw claimed.refusal;
    }
    const build = await this.record(
      { ...draft, ...claimed.patch },
      claimed.ok,
      principal.account.cacheVolumeGiB,
      now,
    );
    telemetry.admission(claimed.ok ? "admitted" : "queued");
    this.deps.events.changed(build.id, build.accountId);
    if (claimed.ok) starts.bootInBackground(build);
    return this.view(build);
  }

  async get(principal: Principal, id: string): Promise<BuildView> {
    return this.view(await this.owned(principal, id));
  }

  /** Long poll: returns once the build is ready, building or ended, or when `waitMs` runs out. */
  async waitFor(principal: Principal, id: string, waitMs: number, signal?: AbortSignal): Promise<BuildView> {
    const { clock, events } = this.deps;
    const until = clock.now() + waitMs;
    for (;;) {
      // Listen before reading: a change that lands between the read and the wait must wake it,
      // not leave it asleep until the next periodic re-read.
      const stop = new AbortController();
      const left = until - clock.now();
      const changed = left > 0 ? events.next(id, Math.min(left, POLL_REREAD_MS), signal, stop.signal) : null;
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
    const { claims, clock, settings } = this.deps;
    const build = await this.owned(principal, id);
    if (isTerminal(build.state)) {
      throw new Problem("illegal-transition", `The build is ${build.state}; start a new one.`, {
        state: build.state,
      });
    }
    if (!isActive(build.state)) return this.view(build);
    const opts = { leaseMs: settings.claimLeaseMs, now: clock.now() };
    const leases: Array<[ClaimScope, number | null]> = [
      [concurrencyScope(build.accountId), build.claimFence],
    ];
    if (build.cacheMode === "persistent") leases.push([volumeScope(build), build.volumeFence]);
    for (const [scope, fence] of leases) {
      const outcome = fence === null ? "not-held" : await claims.heartbeat(scope, build.id, fence, opts);
      if (outcome !== "ok") await this.reapForLostLease(build, scope, outcome);
    }
    const seen = await this.deps.builds.patch(build.id, build.state, { lastSeenAt: opts.now });
    return this.view(seen ?? build);
  }

  async complete(principal: Principal, id: string, result: JobResult): Promise<BuildView> {
    const build = await this.owned(principal, id);
    if (build.state === "completed") return this.view(build);
    try {
      return this.view(await this.deps.ends.end(build, "complete", "completed", result));
    } catch (err) {
      if (!(err instanceof IllegalTransitionError)) throw err;
      const current = await this.owned(principal, id);
      // A retry that raced the first complete: that one ended it, so this one succeeds too.
      if (current.state === "completed") return this.view(current);
      throw new Problem(
        "illegal-transition",
        `The build already ended as ${current.state} (${current.endReason ?? "no reason"}).`,
        { state: current.state, endReason: current.endReason },
      );
    }
  }

  /** A broker connection opened or closed: `building` while one is open, else `ready`. */
  async recordActivity(buildId: string, event: "connect" | "disconnect"): Promise<Build | null> {
    const { builds, clock, events } = this.deps;
    const build = await builds.get(buildId);
    if (build === null || isTerminal(build.state)) return null;
    const patch = { lastActivityAt: clock.now() };
    // A connect to a building build (a second connection) or one while still pending only counts
    // as activity.
    if (accepts(build.state, event)) return applyEvent(this.deps, build, event, patch);
    const touched = await builds.patch(buildId, build.state, patch);
    if (touched) events.changed(buildId, touched.accountId);
    return touched;
  }

  /** The build, with its place in the queue while it waits. */
  async view(build: Build): Promise<BuildView> {
    if (build.state !== "queued") return { build, queue: null };
    const waitingFor = build.claimFence === null ? "concurrency" : "cache";
    const scope = waitingFor === "concurrency" ? concurrencyScope(build.accountId) : volumeScope(build);
    const position = await this.deps.claims.position(scope, build.id);
    return { build, queue: position === null ? null : { waitingFor, position } };
  }

  /** The policy half of admission, against this month's use; refusals are counted. */
  private async admitted(
    principal: Principal,
    request: CreateBuildRequest,
    now: number,
  ): Promise<ResolvedShape> {
    const { builds, settings, telemetry } = this.deps;
    try {
      const used = await builds.usedSeconds(principal.account.id, monthStart(now), now);
      return admit({
        account: principal.account,
        request,
        catalog: settings.catalog,
        defaultShape: settings.defaultShape,
        usedSecondsThisMonth: used,
        now,
      });
    } catch (err) {
      if (err instanceof Problem) telemetry.admission(err.kind);
      throw err;
    }
  }

  /**
   * Records an admitted build: started at once (born `queued`, moved by `start` before anyone can
   * see it) when it holds its claims, else queued.
   */
  private async record(build: Build, start: boolean, cacheVolumeGiB: number, now: number): Promise<Build> {
    const { builds, starts, ends, background } = this.deps;
    let recorded = build;
    try {
      if (start) {
        const placed = await starts.place(build, cacheVolumeGiB);
        recorded = { ...build, ...placed, state: transition(build.state, "start"), startedAt: now };
      }
      await builds.insert(recorded);
      return recorded;
    } catch (err) {
      // Nothing was recorded, so nothing may stay held: give the claims (and builder) back now
      // rather than at the lease's end.
      background.track(ends.release(recorded));
      throw err;
    }
  }

  private async reapForLostLease(build: Build, scope: ClaimScope, outcome: string): Promise<never> {
    const { claimLeaseMs } = this.deps.settings;
    await this.deps.ends.end(build, "reap", `lease-lost: ${scope.kind} ${outcome}`);
    throw new Problem(
      "claim-lost",
      `The build's ${scope.kind} claim was lost (${outcome}), so it was reaped. ` +
        `Heartbeat at least every ${Math.floor(claimLeaseMs / 3000)} s and start a new build.`,
      { scope: scope.kind, reason: outcome },
    );
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
}

/** States a long poll returns on: the client can act (ready/building) or must stop (ended). */
function settled(state: BuildState): boolean {
  return state === "ready" || state === "building" || isTerminal(state);
}
