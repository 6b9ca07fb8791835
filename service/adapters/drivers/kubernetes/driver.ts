import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  type Informer,
  makeInformer,
  type ObjectCache,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from "@kubernetes/client-node";
import { BUILDER_MAX_REUSE_AGE_MS } from "../../../core/builder-credentials.js";
import type { Volume } from "../../../core/ledger.js";
import { WarmRetries } from "../../../core/fleet-policy.js";
import { choosePlacement } from "../../../core/placement.js";
import type {
  Builder,
  BuilderDriver,
  BuilderSpec,
  CreatedBuilder,
  FleetReport,
  PrewarmSpec,
  PrewarmStart,
} from "../../../core/ports.js";
import { type BuilderPodView, isIdleBuilderOf, isPrewarmed, viewBuilderPod } from "./builder-pod.js";
import { isAccountClaimOf, viewCacheClaim } from "./cache-claim.js";
import { type BuilderRole, MANAGED } from "./labels.js";
import { maintainFleet } from "./maintenance.js";
import { BUILDKIT_PORT, builderConfig, builderPod, builderSecret, cacheVolumeClaim } from "./objects.js";
import type { KubernetesDriverOptions } from "./options.js";
import { created, podFailure, podReady } from "./pod-status.js";
import { ClusterWriter } from "./writer.js";

/**
 * Builders as kata-fc microVM pods, each with a per-builder TLS Secret and the account's cache
 * volume (a PVC on one node's local disk). State lives on the objects (labels, annotations), read
 * through informers, so every replica serves builds and the elected leader alone keeps the pools.
 */
export class KubernetesDriver implements BuilderDriver {
  readonly name = "kubernetes";
  private readonly pods: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly claims: Informer<V1PersistentVolumeClaim> & ObjectCache<V1PersistentVolumeClaim>;
  private readonly changes = new EventEmitter();
  private readonly writer: ClusterWriter;
  private readonly missingSince = new Map<string, number>();
  private readonly warmRetries = new WarmRetries();
  private started: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: KubernetesDriverOptions) {
    const { cluster, settings } = o;
    const ns = settings.namespace;
    this.writer = new ClusterWriter(cluster, ns, o.requestTimeoutMs);
    this.pods = makeInformer(
      cluster.config,
      `/api/v1/namespaces/${ns}/pods`,
      () => cluster.core.listNamespacedPod({ namespace: ns, labelSelector: MANAGED }),
      MANAGED,
    );
    this.claims = makeInformer(
      cluster.config,
      `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
      () => cluster.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: MANAGED }),
      MANAGED,
    );
    this.changes.setMaxListeners(0);
    for (const informer of [this.pods, this.claims] as Array<Informer<V1Pod | V1PersistentVolumeClaim>>) {
      for (const verb of ["add", "update", "delete"] as const) {
        informer.on(verb, () => this.changes.emit("change"));
      }
      // An informer stops on a watch error; it restarts (relisting) after a pause.
      informer.on("error", (err) => {
        this.emit("warn", "watch failed; restarting", { err: String((err as Error)?.message ?? err) });
        if (!this.closed) setTimeout(() => void informer.start().catch(() => {}), 1_000).unref();
      });
    }
  }

  /** Lists and starts watching; create() waits for it, so nothing is decided on an empty cache. */
  start(): Promise<void> {
    this.started ??= Promise.all([this.pods.start(), this.claims.start()]).then(() => undefined);
    return this.started;
  }

  onChange(listener: () => void): void {
    this.changes.on("change", listener);
  }

  async create(spec: BuilderSpec): Promise<CreatedBuilder> {
    await this.start();
    const now = this.o.clock.now();
    const volume = spec.volume;
    const accountClaim = volume ? this.accountClaim(spec.accountId, volume.name) : undefined;
    const idle = volume ? this.candidates((b) => isIdleBuilderOf(b, spec.accountId, volume.name), now) : [];
    const warm = this.candidates((b) => b.role === "warm" && b.shape === spec.shapeName, now);
    const tier = choosePlacement({
      idleBuilder: idle.length > 0,
      warmBuilder: warm.length > 0,
      wantsVolume: volume !== null,
      volumeExists: accountClaim !== undefined,
    });
    if (tier !== "cold") {
      // Another replica may take the same pod: the patch carries its resourceVersion, so one wins.
      for (const pod of tier === "idle" ? idle : warm) {
        const taken = await this.take(pod, spec, tier, now);
        if (taken) return taken;
      }
    }
    if (volume) {
      const placed = await this.placeOnVolume(spec, volume.name, now);
      if (placed) return placed;
    }
    return { builderId: await this.coldStart(spec, now), tier: "cold" };
  }

  /**
   * The account's volume before a cold start, read from the API server: the cache may not show
   * yet what another replica or pass did there. Two passes may place one queued build at once
   * (the volume's release and the reconciler both advance it): a builder the other took or
   * cold-started for it is the build's, and is returned. A pre-warm another replica started a
   * moment ago is taken. Any other idle builder goes (ReadWriteOncePod), deleted only as read.
   */
  private async placeOnVolume(
    spec: BuilderSpec,
    volume: string,
    now: number,
  ): Promise<CreatedBuilder | null> {
    const prewarmId = prewarmBuilderId(spec.accountId, volume);
    for (let attempt = 0; attempt < 3; attempt++) {
      const pods = (await this.writer.volumePods(spec.accountId, volume)).map(viewBuilderPod);
      const live = pods.filter((b) => !b.deleting);
      const mine = live.find((b) => b.role === "serving" && b.buildId === spec.buildId);
      if (mine) return { builderId: mine.name, tier: mine.placedAs ?? "cold" };
      const prewarmed = live.find(
        (b) => b.name === prewarmId && isIdleBuilderOf(b, spec.accountId, volume) && this.takeable(b, now),
      );
      const taken = prewarmed && (await this.take(prewarmed.pod, spec, "idle", now));
      if (taken) return taken;
      let movedOn = false;
      for (const b of live.filter((b) => isIdleBuilderOf(b, spec.accountId, volume))) {
        if (!(await this.writer.deleteBuilder(b.name, { seen: b.pod }))) movedOn = true;
      }
      if (!movedOn) return null;
    }
    return null;
  }

  /**
   * Starts the account's builder on its volume's claim as an idle one that no build holds yet,
   * for a build a CI said is coming (`PrewarmService`); the leader's pass stops it at
   * `spec.ttlMs` unless a build takes it first, booting or ready. It takes no warm-pool pod and
   * no concurrency slot: it is the cold start that build would make, made early.
   *
   * Its pod's name is a function of the account and volume (prewarmBuilderId), so the create is a
   * condition any replica can meet: two pre-warms of one volume at once, on one replica or two,
   * start one pod, and the second gets 409 (already warm). A lock (a Lease, an annotation on the
   * claim set by compare-and-set) would do the same with a second object to keep and clean up;
   * the name is also what lets a build on another replica find the pod before its cache does.
   *
   * An idle builder already on the volume is kept up for the job instead: its prewarm-expires-at
   * moves to the pre-warm's TTL if it would stop sooner, and the reaper keeps it until the later
   * of that and its idle TTL. Without a volume (the job's builds run cold), it starts a warm pod
   * as the pool does, fresh volume and all, but outside the pool's target and pre-warmed: labelled
   * with the account that asked (its cap counts both kinds) and stopped at its expiry unless a
   * build takes it from the warm tier.
   */
  async prewarm(spec: PrewarmSpec): Promise<PrewarmStart> {
    await this.start();
    const { accountId } = spec;
    const now = this.o.clock.now();
    if (spec.volume === null) {
      const capped = this.capped(spec);
      if (capped) return capped;
      const builderId = await this.startWarm(spec.shapeName, { accountId, now, ttlMs: spec.ttlMs });
      this.emit("info", "builder pre-warmed", { builderId, accountId, role: "warm", ttlMs: spec.ttlMs });
      return { outcome: "started", builderId };
    }
    const volume = spec.volume.name;
    const onVolume = this.builders().filter(
      (b) => !b.deleting && b.accountId === accountId && b.volume === volume,
    );
    // Single writer (ReadWriteOncePod): the build's builder keeps the volume, and idles after it.
    if (onVolume.some((b) => b.role === "serving")) return skipped(VOLUME_BUSY);
    const idle = onVolume.filter((b) => isIdleBuilderOf(b, accountId, volume));
    const up = idle.find((b) => this.takeable(b, now));
    if (up) {
      // The job's build is coming: its idle builder stays up for it, as a pre-warmed one would.
      const until = now + spec.ttlMs;
      if (this.stopsAt(up) >= until || (await this.writer.keepUp(up.pod, until))) return KEPT_UP;
      return skipped("the account's idle builder on this volume was taken or stopped meanwhile");
    }
    const capped = this.capped(spec);
    if (capped) return capped;
    const claim = (await this.writer.accountClaims(accountId, volume))
      .map(viewCacheClaim)
      .find((c) => isAccountClaimOf(c, accountId, volume));
    // Its first build takes a warm pool builder, whose fresh volume becomes the account's.
    if (!claim) return skipped("no cache volume yet");
    // An idle builder that can no longer serve (failed, too old) holds the volume: it goes first,
    // unless a build took it since the cache was read.
    for (const b of idle) {
      if (!(await this.writer.deleteBuilder(b.name, { seen: b.pod }))) return skipped(VOLUME_BUSY);
    }
    const builderId = prewarmBuilderId(accountId, volume);
    const pod = await this.podWithSecret({
      builderId,
      role: "idle",
      shapeName: spec.shapeName,
      accountId,
      buildId: null,
      claim: { name: claim.name, volume },
      sizeGiB: spec.volume.sizeGiB,
      now,
      prewarmExpiresAt: now + spec.ttlMs,
    });
    if (!(await this.writer.createPod(pod))) {
      // Another pre-warm's pod (or this one's, its answer lost and the create retried), or the
      // last one of that name still stopping: a volume holds one builder at a time.
      const existing = await this.writer.readPod(builderId);
      return existing?.metadata?.deletionTimestamp
        ? skipped("the volume's last builder is still stopping")
        : ALREADY_WARM;
    }
    // A build on another replica may have cold-started on the volume while this one created its
    // pod: each side looks again after its own create (coldStart too), so at least one sees the
    // other, and the pre-warmed pod is the one that goes.
    const current = (await this.writer.volumePods(accountId, volume)).map(viewBuilderPod);
    const mine = current.find((b) => b.name === builderId);
    if (mine && isPrewarmed(mine) && current.some((b) => b.role === "serving" && !b.deleting)) {
      if (await this.writer.deleteBuilder(builderId, { seen: mine.pod })) return skipped(VOLUME_BUSY);
    }
    this.emit("info", "builder pre-warmed", { builderId, accountId, volume, ttlMs: spec.ttlMs });
    return { outcome: "started", builderId };
  }

  /** Skipped when the account has its cap of pre-warmed builders waiting, of either kind. */
  private capped(spec: PrewarmSpec): PrewarmStart | null {
    const waiting = this.builders().filter(
      (b) => !b.deleting && isPrewarmed(b) && b.accountId === spec.accountId,
    );
    if (waiting.length < spec.maxPerAccount) return null;
    return skipped(`${waiting.length} pre-warmed builder(s) already wait for this account`);
  }

  /** When the leader's pass stops an idle builder no build takes (it is idle, as read). */
  private stopsAt(b: BuilderPodView): number {
    if (isPrewarmed(b)) return b.prewarmExpiresAt ?? 0;
    return Math.max((b.idleSince ?? 0) + this.o.idleTtlMs, b.prewarmExpiresAt ?? 0);
  }

  async awaitReady(builderId: string, timeoutMs: number): Promise<{ endpoint: string }> {
    await this.start();
    const deadline = this.o.clock.now() + timeoutMs;
    let seen = false;
    for (;;) {
      // The informer is the fast path; a direct read keeps a stalled watch from stalling the boot.
      const pod =
        this.pods.get(builderId, this.o.settings.namespace) ?? (await this.writer.readPod(builderId));
      if (pod) {
        seen = true;
        const failure = podFailure(pod);
        if (failure) throw new Error(failure);
        if (podReady(pod)) return { endpoint: `tcp://${pod.status!.podIP!}:${BUILDKIT_PORT}` };
      } else if (seen) {
        throw new Error("the builder's pod was deleted while it booted");
      }
      if (this.o.clock.now() >= deadline) {
        throw new Error(
          `the builder's pod was not ready within ${Math.round(timeoutMs / 1000)} s${pending(pod)}`,
        );
      }
      await this.changed(500);
    }
  }

  /**
   * The build is done with its builder. A healthy one holding the account's volume stays up,
   * idle, for the account's next build; anything else goes, with its Secret.
   */
  async terminate(builderId: string, buildId?: string): Promise<void> {
    // Every write is conditional on the version read, so a write retried after its answer was lost
    // cannot undo what a later build did to the pod (take it from the idle pool, say).
    for (let attempt = 0; attempt < 3; attempt++) {
      // Read afresh: the cache may not show yet that a later build took the builder.
      const pod = await this.writer.readPod(builderId);
      if (!pod) {
        await this.writer.deleteBuilder(builderId);
        return;
      }
      const builder = viewBuilderPod(pod);
      if (buildId !== undefined && builder.buildId !== buildId) return;
      const now = this.o.clock.now();
      const keep =
        builder.role === "serving" &&
        builder.volume !== undefined &&
        podReady(pod) &&
        this.o.idleTtlMs > 0 &&
        reusable(pod, now);
      const done = keep
        ? await this.writer.release(pod, now)
        : await this.writer.deleteBuilder(builderId, { seen: pod });
      if (done) return;
    }
  }

  async list(): Promise<Builder[]> {
    await this.start();
    return this.builders()
      .filter((b) => b.role === "serving" && b.buildId)
      .map((b) => ({
        builderId: b.name,
        buildId: b.buildId!,
        accountId: b.accountId ?? "",
        state: podFailure(b.pod) ? "failed" : podReady(b.pod) ? "ready" : "booting",
        createdAt: b.assignedAt ?? created(b.pod),
      }));
  }

  async dropVolume(accountId: string, name: string): Promise<void> {
    await this.start();
    for (const b of this.builders()) {
      if (isIdleBuilderOf(b, accountId, name)) await this.writer.deleteBuilder(b.name);
    }
    for (const claim of await this.writer.accountClaims(accountId, name)) {
      await this.writer.deleteClaim(claim.metadata!.name!);
    }
  }

  maintain(live: Volume[]): Promise<FleetReport> {
    return maintainFleet({
      options: this.o,
      writer: this.writer,
      pods: this.pods.list(this.o.settings.namespace),
      claims: this.claims.list(this.o.settings.namespace),
      live,
      missingSince: this.missingSince,
      startWarm: (shapeName) => this.startWarm(shapeName),
      warmRetries: this.warmRetries,
      warmFailed: (shape, why, { count, delayMs }) =>
        this.emit("warn", `a warm builder failed to start: ${why}`, {
          shape,
          failuresInARow: count,
          retryInSeconds: delayMs / 1000,
          image: this.o.settings.buildkitImage,
        }),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.pods.stop(), this.claims.stop()]);
    this.changes.removeAllListeners();
  }

  /** The builder pods in the informer's cache. */
  private builders(): BuilderPodView[] {
    return this.pods.list(this.o.settings.namespace).map(viewBuilderPod);
  }

  /**
   * Builders that `match` and can take a build, the ready ones first, then the pre-warmed ones (a
   * job asked for them, and taking the pool's instead would leave the pool to refill and the
   * pre-warm to expire for nothing), then youngest first (their certificates live longest).
   */
  private candidates(match: (b: BuilderPodView) => boolean, now: number): V1Pod[] {
    const first = (yes: boolean) => (yes ? 0 : 1);
    return this.builders()
      .filter((b) => match(b) && this.takeable(b, now))
      .sort(
        (a, b) =>
          first(podReady(a.pod)) - first(podReady(b.pod)) ||
          first(isPrewarmed(a)) - first(isPrewarmed(b)) ||
          created(b.pod) - created(a.pod),
      )
      .map((b) => b.pod);
  }

  /**
   * Ready, or a pre-warmed builder still booting: the build that takes it waits out the rest of
   * its boot in awaitReady, where a cold start would boot another pod beside it (on an idle one's
   * claim, after deleting it). A pool's warm or idle pod that is not ready is either booting for
   * no one's build or broken: neither is waited for.
   */
  private takeable(b: BuilderPodView, now: number): boolean {
    if (b.deleting || !reusable(b.pod, now)) return false;
    return podReady(b.pod) || (isPrewarmed(b) && podFailure(b.pod) === null);
  }

  /** Takes a pool pod for the build if it is still what was seen. */
  private async take(
    pod: V1Pod,
    spec: BuilderSpec,
    tier: "idle" | "warm",
    now: number,
  ): Promise<CreatedBuilder | null> {
    const taken = await this.writer.assign(pod, spec, tier, now);
    if (!taken) return null;
    const { builderId, prewarmedAt } = taken;
    if (tier === "warm" && spec.volume) await this.writer.adoptClaim(pod, spec.accountId, spec.volume.name);
    this.emit("info", "builder assigned", {
      builderId,
      buildId: spec.buildId,
      tier,
      prewarmed: prewarmedAt !== undefined,
    });
    return { builderId, tier, ...(prewarmedAt !== undefined ? { prewarmedAt } : {}) };
  }

  private accountClaim(accountId: string, name: string): V1PersistentVolumeClaim | undefined {
    return this.claims
      .list(this.o.settings.namespace)
      .find((c) => isAccountClaimOf(viewCacheClaim(c), accountId, name));
  }

  private async coldStart(spec: BuilderSpec, now: number): Promise<string> {
    const { settings } = this.o;
    let claim: { name: string; volume: string } | null = null;
    if (spec.volume) {
      const name = await this.claimNameFor(spec.accountId, spec.volume.name);
      // A create repeated after a lost answer meets itself (409), which is what it wanted.
      await this.writer.ensure(
        "persistentvolumeclaim",
        cacheVolumeClaim(settings, {
          name,
          role: "account",
          accountId: spec.accountId,
          volume: spec.volume.name,
          shapeName: null,
          sizeGiB: spec.volume.sizeGiB,
        }),
      );
      claim = { name, volume: spec.volume.name };
    }
    const builderId = await this.launch({
      role: "serving",
      shapeName: spec.shapeName,
      accountId: spec.accountId,
      buildId: spec.buildId,
      claim,
      sizeGiB: spec.volume?.sizeGiB ?? this.o.warmVolumeGiB,
      now,
    });
    if (spec.volume) {
      // A pre-warm on another replica may have created its pod on the claim meanwhile (prewarm()
      // looks again after its create too): the build's pod keeps the volume, the pre-warmed goes.
      const prewarmed = await this.writer.readPod(prewarmBuilderId(spec.accountId, spec.volume.name));
      if (prewarmed && isPrewarmed(viewBuilderPod(prewarmed))) {
        await this.writer.deleteBuilder(prewarmed.metadata!.name!, { seen: prewarmed });
      }
    }
    return builderId;
  }

  /**
   * The claim that holds the account's volume, read from the API server (a claim made a moment ago
   * may not be cached yet, and two claims for one volume would split its cache). A new one is
   * named after the volume; if a claim of that name is still being deleted (a reset, a lost
   * node), the new one gets a suffix, since a pod on a terminating claim would never start.
   */
  private async claimNameFor(accountId: string, volume: string): Promise<string> {
    const claims = (await this.writer.accountClaims(accountId, volume)).map(viewCacheClaim);
    const live = claims.find((c) => !c.deleting && c.role === "account");
    if (live) return live.name;
    const base = accountClaimName(accountId, volume);
    return claims.some((c) => c.name === base) ? `${base}-${randomBytes(3).toString("hex")}` : base;
  }

  /**
   * A pre-booted builder of the shape, holding a fresh volume that an account will adopt. With
   * `prewarm`, one a job's pre-warm asked for (volume null): outside the pool's target, labelled
   * with the account that asked (its cap), and stopped `ttlMs` after `now` unless a build takes it.
   */
  private async startWarm(
    shapeName: string,
    prewarm?: { accountId: string; now: number; ttlMs: number },
  ): Promise<string> {
    const builderId = newBuilderId();
    const claimName = `cache-${builderId}`;
    await this.writer.ensure(
      "persistentvolumeclaim",
      cacheVolumeClaim(this.o.settings, {
        name: claimName,
        role: "warm",
        accountId: null,
        volume: null,
        shapeName,
        sizeGiB: this.o.warmVolumeGiB,
      }),
    );
    return this.launch({
      builderId,
      role: "warm",
      shapeName,
      accountId: prewarm?.accountId ?? null,
      buildId: null,
      claim: { name: claimName, volume: null },
      sizeGiB: this.o.warmVolumeGiB,
      now: prewarm?.now ?? this.o.clock.now(),
      ...(prewarm ? { prewarmExpiresAt: prewarm.now + prewarm.ttlMs } : {}),
    });
  }

  private async launch(i: LaunchInput): Promise<string> {
    const pod = await this.podWithSecret(i);
    await this.writer.ensure("pod", pod);
    const builderId = pod.metadata!.name!;
    this.emit("info", "builder pod created", { builderId, role: i.role, shape: i.shapeName });
    return builderId;
  }

  /** Issues the builder's credentials and creates its Secret; returns its pod, to be created. */
  private async podWithSecret(i: LaunchInput): Promise<V1Pod> {
    const { settings, shapes, credentials } = this.o;
    const shape = shapes[i.shapeName];
    if (!shape) throw new Error(`shape ${i.shapeName} is not in the catalog`);
    const builderId = i.builderId ?? newBuilderId();
    const tls = await credentials.issue(builderId);
    // The Secret first: a pod whose Secret is missing would sit in ContainerCreating.
    const config = builderConfig({ shape, volumeSizeGiB: i.sizeGiB });
    await this.writer.ensure("secret", builderSecret(settings, builderId, i.shapeName, tls, config));
    return builderPod(settings, {
      builderId,
      shapeName: i.shapeName,
      shape,
      role: i.role,
      accountId: i.accountId,
      buildId: i.buildId,
      claim: i.claim,
      volumeSizeGiB: i.sizeGiB,
      now: i.now,
      ...(i.prewarmExpiresAt !== undefined ? { prewarmExpiresAt: i.prewarmExpiresAt } : {}),
    });
  }

  /** Resolves on the next change to the fleet, or after `ms`. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off("change", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.changes.on("change", done);
    });
  }

  private emit(level: "info" | "warn", message: string, fields: Record<string, unknown>): void {
    this.o.onEvent?.(level, message, fields);
  }
}

interface LaunchInput {
  builderId?: string;
  role: BuilderRole;
  shapeName: string;
  accountId: string | null;
  buildId: string | null;
  claim: { name: string; volume: string | null } | null;
  sizeGiB: number;
  now: number;
  prewarmExpiresAt?: number;
}

const VOLUME_BUSY = "a build's builder holds the cache volume";
const ALREADY_WARM: PrewarmStart = {
  outcome: "already-warm",
  reason: "the account's builder on this volume is up or starting",
};
const KEPT_UP: PrewarmStart = {
  outcome: "already-warm",
  reason: "the account's idle builder on this volume is kept up for the job",
};

function skipped(reason: string): PrewarmStart {
  return { outcome: "skipped", reason };
}

export function newBuilderId(): string {
  return `rb-${randomBytes(6).toString("hex")}`;
}

/**
 * The pod a pre-warm starts on an account's volume: a function of the volume, so that a second
 * pre-warm meets the first (409) and a build finds it by name. The same form as any builder's id.
 */
export function prewarmBuilderId(accountId: string, volume: string): string {
  return `rb-${createHash("sha256").update(`prewarm/${accountId}/${volume}`).digest("hex").slice(0, 12)}`;
}

/** The account volume's claim name: a function of the volume, so creating it twice is harmless. */
export function accountClaimName(accountId: string, name: string): string {
  return `cache-${createHash("sha256").update(`${accountId}/${name}`).digest("hex").slice(0, 20)}`;
}

/** Whether a builder booted recently enough that its certificate outlives any build it takes. */
function reusable(pod: V1Pod, now: number): boolean {
  return now - created(pod) < BUILDER_MAX_REUSE_AGE_MS;
}

/** Why a pod is still pending, for a boot that timed out. */
function pending(pod: V1Pod | null | undefined): string {
  const scheduled = pod?.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.message) return `: ${scheduled.message}`;
  return "";
}
