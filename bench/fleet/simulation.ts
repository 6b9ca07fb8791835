/**
 * A discrete-event simulation of the builder fleet: every build is placed by the service's own
 * rule (choosePlacement) on the simulated cluster, the warm pool is kept by its own refill rule
 * (warmDeficit), and with pre-warming each queued job is judged by its own decidePrewarm. Pure and
 * deterministic: the same workload and configuration give the same result.
 */
import type { BuilderTier } from "../../service/core/build.js";
import { choosePlacement, warmDeficit } from "../../service/core/placement.js";
import { decidePrewarm, type PrewarmSettings } from "../../service/core/prewarm-policy.js";
import { Cluster, isPrewarmed, type Node, type Pod, type PodTime } from "./cluster.js";
import { EventQueue } from "./events.js";
import { BuildHistory } from "./history.js";
import type { JobQueued } from "./jobs.js";
import { type FleetModel, type PoolConfig, type ShapeName } from "./model.js";
import { type Random, stream } from "./random.js";
import { type BuildRequest, coldStartS, VOLUME, type Workload } from "./workload.js";

/**
 * What came of a queued job: the account's builder started on its volume (`started`), a fresh warm
 * builder of the shape started (`started-warm`: the job's builds run cold, or its ref may not write
 * the cache), or why not. `declined`: decidePrewarm said no (too few builds of the workflow);
 * `volume-busy`: a build holds the volume (one writer); `already-warm`: an idle or pre-warmed
 * builder holds it, and is kept up until at least the event + the TTL; `cap`: the account has
 * maxPerAccount pre-warmed builders waiting, of either kind; `no-room`: the volume's node (any
 * node, for a warm one or an account with no volume) has no free vCPU; a pre-warm preempts nothing.
 */
export type PrewarmOutcome =
  "started" | "started-warm" | "declined" | "volume-busy" | "already-warm" | "cap" | "no-room";

export interface PrewarmStats {
  /** Queued events inside the measured window, by outcome. */
  outcomes: Record<PrewarmOutcome, number>;
  /** Builds inside the window that took a pre-warmed builder, and those of them it was still booting for. */
  served: number;
  servedBooting: number;
  /** Of the served, builds that took a warm one; and of those, builds other than its job's. */
  servedWarm: number;
  servedWarmOther: number;
  /**
   * Pre-warmed builders that reached their TTL inside the window, by their (latest) job: it never
   * asked for a builder (`noBuild`), its build came in time but took another builder or could use
   * none of this kind (a volume one's build held no volume; a warm one's held the volume or took an
   * older warm builder: `tookOther`), or its build came after the TTL (`late`).
   */
  expired: { noBuild: number; tookOther: number; late: number };
}

export interface FleetResult {
  config: PoolConfig;
  /** Builds that arrived inside the measured window. */
  builds: number;
  /** Their times from arrival to a ready builder, ascending. */
  readyS: number[];
  /**
   * Each of them, in the order they were placed. `volume`: it held the account's volume;
   * `prewarmed`: its builder was started for a queued job; `job`: what came of its own queued event
   * (null without pre-warming).
   */
  placements: Array<{
    build: number;
    tier: BuilderTier;
    readyS: number;
    volume: boolean;
    prewarmed: boolean;
    job: PrewarmOutcome | null;
  }>;
  tiers: Record<BuilderTier, number>;
  /** Per shape: builds a warm pod could serve (no volume wanted, or none yet), and those it did. */
  warmEligible: Record<ShapeName, { builds: number; served: number }>;
  /** Cold builds that waited for room on a node (their volume's, or any). */
  queued: number;
  /** Builds whose node was lost under them. */
  lostBuilds: number;
  /**
   * Per simulated day. prewarmWasted: pre-warmed builders no build took, from their start to their
   * stop (TTL, preemption, node loss, or the window's end); prewarmUsed: the time the taken ones
   * waited (or booted) before their build came: not wasted, it stood in for the build's boot.
   */
  podHours: Record<PodTime, number>;
  vcpuHours: Record<PodTime, number>;
  prewarm: PrewarmStats;
  counters: Cluster["counters"];
}

type Event =
  | { kind: "arrive"; build: BuildRequest }
  | { kind: "end"; pod: Pod; account: number; persistent: boolean }
  | { kind: "idle-expire"; pod: Pod }
  | { kind: "queued"; job: JobQueued }
  | { kind: "prewarm-expire"; pod: Pod }
  | { kind: "warm-ready"; pod: Pod }
  | { kind: "node-lost"; node: number }
  | { kind: "node-back"; node: number }
  | { kind: "sweep" };

/** A cold build waiting for room: on its volume's node, or (node null) on any. */
interface Pending {
  build: BuildRequest;
  persistent: boolean;
  node: Node | null;
}

const HOUR = 3600;
const DAY = 86_400;

export function simulate(
  model: FleetModel,
  workload: Workload,
  config: PoolConfig,
  seed: number,
): FleetResult {
  return new Simulation(model, workload, config, stream(seed, "refills")).run();
}

class Simulation {
  private readonly events = new EventQueue<Event>();
  private readonly cluster: Cluster;
  private readonly end: number;
  private readonly nodeQueues: Pending[][];
  private globalQueue: Pending[] = [];
  private readonly placements: FleetResult["placements"] = [];
  private readonly tiers: Record<BuilderTier, number> = { idle: 0, warm: 0, cold: 0 };
  private readonly warmEligible: FleetResult["warmEligible"] = {
    small: { builds: 0, served: 0 },
    medium: { builds: 0, served: 0 },
    large: { builds: 0, served: 0 },
  };
  private queued = 0;
  private lostBuilds = 0;
  private readonly history: BuildHistory | null;
  private readonly prewarm: PrewarmStats = {
    outcomes: {
      started: 0,
      "started-warm": 0,
      declined: 0,
      "volume-busy": 0,
      "already-warm": 0,
      cap: 0,
      "no-room": 0,
    },
    served: 0,
    servedBooting: 0,
    servedWarm: 0,
    servedWarmOther: 0,
    expired: { noBuild: 0, tookOther: 0, late: 0 },
  };
  private readonly jobOutcomes = new Map<number, PrewarmOutcome>();
  /** The queued job each pre-warmed pod was started (or last kept up) for. */
  private readonly prewarmJobs = new Map<Pod, JobQueued>();

  constructor(
    private readonly model: FleetModel,
    private readonly workload: Workload,
    private readonly config: PoolConfig,
    private readonly refillRandom: Random,
  ) {
    this.end = model.days * DAY;
    this.cluster = new Cluster(model, workload.accounts.length, workload.volumes, { from: 0, to: this.end });
    this.nodeQueues = this.cluster.nodes.map(() => []);
    this.history = config.prewarm ? new BuildHistory(workload.history) : null;
  }

  run(): FleetResult {
    const start = -this.model.warmupS;
    for (const build of this.workload.builds) this.events.push(build.at, { kind: "arrive", build });
    if (this.config.prewarm)
      for (const job of this.workload.jobs) this.events.push(job.at, { kind: "queued", job });
    for (const loss of this.workload.nodeLosses)
      this.events.push(loss.at, { kind: "node-lost", node: loss.node });
    this.events.push(start, { kind: "sweep" });
    this.refill(start);
    for (let e = this.events.pop(); e; e = this.events.pop()) this.handle(e.at, e.event);
    this.cluster.close();
    const perDay = (time: Record<PodTime, number>) =>
      Object.fromEntries(Object.entries(time).map(([k, s]) => [k, s / HOUR / this.model.days])) as Record<
        PodTime,
        number
      >;
    const { podS, cpuS } = this.cluster;
    return {
      config: this.config,
      builds: this.placements.length,
      readyS: this.placements.map((p) => p.readyS).sort((a, b) => a - b),
      placements: this.placements,
      tiers: this.tiers,
      warmEligible: this.warmEligible,
      queued: this.queued,
      lostBuilds: this.lostBuilds,
      podHours: perDay(podS),
      vcpuHours: perDay(cpuS),
      prewarm: this.prewarm,
      counters: this.cluster.counters,
    };
  }

  private handle(now: number, e: Event): void {
    switch (e.kind) {
      case "arrive":
        return this.arrive(e.build, now);
      case "end":
        return this.finish(e, now);
      case "idle-expire":
        // A queued job may have put it off: a later event stops it then.
        if (e.pod.gone || e.pod.role !== "idle" || now < e.pod.expiresAt) return;
        this.cluster.terminate(e.pod, now);
        return this.settle(now);
      case "queued":
        return this.jobQueued(e.job, this.config.prewarm!, now);
      case "prewarm-expire":
        if (e.pod.gone || !isPrewarmed(e.pod.role) || now < e.pod.expiresAt) return;
        if (now >= 0 && now < this.end) this.prewarm.expired[this.whyUnused(e.pod, now)]++;
        this.cluster.terminate(e.pod, now);
        return this.settle(now);
      case "warm-ready":
        if (!e.pod.gone) this.cluster.setRole(e.pod, "warm", now);
        return;
      case "node-lost":
        return this.loseNode(this.cluster.nodes[e.node]!, now);
      case "node-back":
        this.cluster.nodes[e.node]!.up = true;
        return this.settle(now);
      case "sweep":
        this.cluster.sweepRetention(now);
        if (now < this.end) this.events.push(now + HOUR, e);
        return;
    }
  }

  private arrive(build: BuildRequest, now: number): void {
    const account = this.cluster.accounts[build.account]!;
    const shape = this.shapeOf(build);
    // A volume has one writer: a build that finds it claimed runs on a throw-away one at once
    // (the API's default, waitSeconds 0), as does a credential that may not write the cache.
    const wantsVolume = build.cacheWrite && !account.claimed;
    const warm = this.oldestWarm(shape);
    const tier = choosePlacement({
      idleBuilder: account.idle !== null,
      warmBuilder: warm !== undefined,
      wantsVolume,
      volumeExists: account.volume !== null,
    });
    if (wantsVolume) account.claimed = true;
    this.history?.add(build.account, build.repository, {
      createdAt: build.at * 1000,
      workflow: build.workflow,
      ref: build.ref,
      shape,
      cacheVolume: VOLUME,
      cacheMode: wantsVolume ? "persistent" : "cold",
    });
    if (build.at >= 0 && (!wantsVolume || account.volume === null)) {
      this.warmEligible[shape].builds++;
      if (tier === "warm") this.warmEligible[shape].served++;
    }
    if (tier === "idle" || tier === "warm") {
      const pod = tier === "idle" ? account.idle! : warm!;
      if (tier === "idle") account.idle = null;
      const prewarmed = isPrewarmed(pod.role);
      if (prewarmed && build.at >= 0) {
        this.prewarm.served++;
        if (pod.readyAt > now) this.prewarm.servedBooting++;
        if (pod.role === "prewarm-warm") {
          this.prewarm.servedWarm++;
          if (this.prewarmJobs.get(pod)?.build !== build.id) this.prewarm.servedWarmOther++;
        }
      }
      this.cluster.setRole(pod, "serving", now);
      pod.account = build.account;
      if (tier === "warm" && wantsVolume) this.cluster.adoptVolume(pod, build.account, now);
      // A pre-warmed builder (either kind) still booting is taken as it is: the build waits the rest of its boot.
      const handover = tier === "idle" ? this.model.idleReadyS : this.model.warmReadyS;
      const ready = Math.max(now, pod.readyAt) + handover;
      this.serve(build, tier, pod, wantsVolume, ready, prewarmed);
      if (tier === "warm") this.refill(now);
      return;
    }
    const pending: Pending = {
      build,
      persistent: wantsVolume,
      node: wantsVolume ? (account.volume?.node ?? null) : null,
    };
    if (this.tryStart(pending, now)) return;
    this.queued += build.at >= 0 ? 1 : 0;
    if (pending.node) this.nodeQueues[pending.node.index]!.push(pending);
    else this.globalQueue.push(pending);
  }

  /**
   * The warm builder a build would take: the oldest of the pool's ready pods and the pre-warmed
   * warm ones (booting or not), as the local driver takes the first warm builder of the shape.
   */
  private oldestWarm(shape: ShapeName): Pod | undefined {
    const pool = this.cluster.warm[shape][0];
    const prewarmed = this.cluster.prewarmedWarm[shape][0];
    if (!pool || !prewarmed) return pool ?? prewarmed;
    return prewarmed.startedAt < pool.startedAt ? prewarmed : pool;
  }

  /** Starts a cold pod if a node has room, preempting idle and warm pods if that makes room. */
  private tryStart(p: Pending, now: number): boolean {
    const cpu = this.model.shapes[this.shapeOf(p.build)].cpu;
    let choice: { node: Node; preempt: boolean } | undefined;
    if (p.node) {
      if (p.node.cpuFree >= cpu) choice = { node: p.node, preempt: false };
      else if (p.node.cpuFree + this.cluster.preemptible(p.node) >= cpu)
        choice = { node: p.node, preempt: true };
    } else choice = this.cluster.pickNode(cpu, true);
    if (!choice) return false;
    const { node, preempt } = choice;
    if (preempt) this.cluster.preempt(node, cpu, now);
    const fresh = p.node === null;
    if (fresh) this.cluster.reserveDisk(node);
    const pod = this.cluster.startPod(node, this.shapeOf(p.build), "serving", fresh && !p.persistent, now);
    pod.account = p.build.account;
    if (fresh && p.persistent) this.cluster.addVolume(p.build.account, node, now);
    const ready =
      now +
      (preempt ? this.model.preemptS : 0) +
      this.model.scheduleS +
      p.build.coldS +
      (fresh ? this.model.formatS : 0);
    this.serve(p.build, "cold", pod, p.persistent, ready);
    return true;
  }

  private serve(
    build: BuildRequest,
    tier: BuilderTier,
    pod: Pod,
    persistent: boolean,
    ready: number,
    prewarmed = false,
  ): void {
    if (build.at >= 0) {
      const job = this.jobOutcomes.get(build.id) ?? null;
      const placement = { build: build.id, tier, readyS: ready - build.at, volume: persistent };
      this.placements.push({ ...placement, prewarmed, job });
      this.tiers[tier]++;
    }
    this.events.push(ready + build.durationS, { kind: "end", pod, account: build.account, persistent });
  }

  private finish(e: Extract<Event, { kind: "end" }>, now: number): void {
    if (e.pod.gone) return; // its node was lost; loseNode released the claim
    const account = this.cluster.accounts[e.account]!;
    if (e.persistent) {
      account.claimed = false;
      account.volume!.lastUsed = now;
    }
    if (e.persistent && this.config.idleTtlS > 0) {
      this.cluster.setRole(e.pod, "idle", now);
      account.idle = e.pod;
      e.pod.expiresAt = now + this.config.idleTtlS;
      this.events.push(e.pod.expiresAt, { kind: "idle-expire", pod: e.pod });
    } else this.cluster.terminate(e.pod, now);
    this.settle(now);
  }

  /**
   * A CI queued a job: the service's decision from the account's history of the repository, then
   * what the prewarmer and the driver check before they start a builder. The builder takes no
   * concurrency slot and stops `ttlMs` after its start (the service's TTL) unless a build took it:
   * on the volume, the job's build takes it as its idle builder, booted or not; a warm one, any
   * build a warm pod could serve (of any account) takes it, as the pool's.
   */
  private jobQueued(job: JobQueued, settings: PrewarmSettings, now: number): void {
    const outcome = this.startPrewarm(job, settings, now);
    if (now >= 0 && now < this.end) this.prewarm.outcomes[outcome]++;
    if (job.build !== null) this.jobOutcomes.set(job.build, outcome);
  }

  private startPrewarm(job: JobQueued, settings: PrewarmSettings, now: number): PrewarmOutcome {
    const history = this.history!.of(job.account, job.repository, now * 1000, settings.historyDays);
    const decision = decidePrewarm({ workflow: job.workflow, ref: job.ref }, history, now * 1000, settings);
    if (!decision.prewarm) return "declined";
    const account = this.cluster.accounts[job.account]!;
    const ttlS = settings.ttlMs / 1000;
    // A ref that may not write the cache runs cold, whatever its workflow's other builds did.
    const onVolume = decision.prewarm === "volume" && job.cacheWrite;
    if (onVolume && account.claimed) return "volume-busy";
    if (onVolume && account.idle !== null) {
      // The job's build is coming: the idle (or pre-warmed) builder stays up for it.
      const pod = account.idle;
      if (pod.expiresAt < now + ttlS) {
        pod.expiresAt = now + ttlS;
        this.events.push(pod.expiresAt, {
          kind: pod.role === "idle" ? "idle-expire" : "prewarm-expire",
          pod,
        });
      }
      if (pod.role === "prewarm") this.prewarmJobs.set(pod, job);
      return "already-warm";
    }
    if (account.prewarmed >= settings.maxPerAccount) return "cap";
    const shape = decision.shape as ShapeName;
    const cpu = this.model.shapes[shape].cpu;
    if (!onVolume) {
      // A fresh builder of the shape outside the pool's target, on a fresh volume as a warm pod's.
      const choice = this.cluster.pickNode(cpu, false);
      if (!choice) return "no-room";
      this.cluster.reserveDisk(choice.node);
      const pod = this.cluster.startPod(choice.node, shape, "prewarm-warm", true, now);
      this.waitForBuild(pod, job, now + this.model.scheduleS + job.coldS + this.model.formatS, ttlS, now);
      return "started-warm";
    }
    const volume = account.volume;
    const node = volume
      ? volume.node.cpuFree >= cpu
        ? volume.node
        : undefined
      : this.cluster.pickNode(cpu, false)?.node;
    if (!node) return "no-room";
    if (!volume) {
      // An account whose volume is gone (evicted, lost) gets a fresh one, as its build would.
      this.cluster.reserveDisk(node);
      this.cluster.addVolume(job.account, node, now);
    }
    const pod = this.cluster.startPod(node, shape, "prewarm", false, now);
    account.idle = pod;
    this.waitForBuild(
      pod,
      job,
      now + this.model.scheduleS + job.coldS + (volume ? 0 : this.model.formatS),
      ttlS,
      now,
    );
    return "started";
  }

  /** A pre-warmed pod counts against its job's account's cap until a build takes it or it stops. */
  private waitForBuild(pod: Pod, job: JobQueued, readyAt: number, ttlS: number, now: number): void {
    pod.account = job.account;
    pod.readyAt = readyAt;
    pod.expiresAt = now + ttlS;
    this.cluster.accounts[job.account]!.prewarmed++;
    this.prewarmJobs.set(pod, job);
    this.events.push(pod.expiresAt, { kind: "prewarm-expire", pod });
  }

  /** Why a pre-warmed pod reached its TTL untaken, by the job it was (last) kept for. */
  private whyUnused(pod: Pod, now: number): keyof PrewarmStats["expired"] {
    const job = this.prewarmJobs.get(pod)!;
    if (job.build === null) return "noBuild";
    return this.workload.builds[job.build]!.at > now ? "late" : "tookOther";
  }

  private loseNode(node: Node, now: number): void {
    if (!node.up) return; // already down, and being replaced
    for (const pod of this.cluster.loseNode(node, now)) {
      this.lostBuilds++;
      // A throw-away build never held the claim; the account's own build did, on this node.
      if (pod.account !== null && !pod.scratch) this.cluster.accounts[pod.account]!.claimed = false;
    }
    // Builds waiting for a volume that is gone now start on a fresh one, anywhere.
    for (const p of this.nodeQueues[node.index]!.splice(0)) this.globalQueue.push({ ...p, node: null });
    this.events.push(now + this.model.nodeReplaceS, { kind: "node-back", node: node.index });
    this.settle(now);
  }

  /** Room may have freed: waiting builds first, then the warm pool. */
  private settle(now: number): void {
    for (const queue of this.nodeQueues) this.drain(queue, now);
    this.globalQueue = this.drain(this.globalQueue, now);
    this.refill(now);
  }

  private drain(queue: Pending[], now: number): Pending[] {
    if (queue.length === 0) return queue;
    const waiting = queue.filter((p) => !this.tryStart(p, now));
    queue.splice(0, queue.length, ...waiting);
    return queue;
  }

  private refill(now: number): void {
    if (now >= this.end) return;
    for (const { shape, missing } of warmDeficit(this.config.warmPool, this.cluster.warmCounts())) {
      for (let i = 0; i < missing; i++) {
        const choice = this.cluster.pickNode(this.model.shapes[shape as ShapeName].cpu, false);
        if (!choice) break;
        this.cluster.reserveDisk(choice.node);
        const pod = this.cluster.startPod(choice.node, shape as ShapeName, "booting-warm", true, now);
        const ready =
          now + this.model.scheduleS + coldStartS(this.model, this.refillRandom) + this.model.formatS;
        this.events.push(ready, { kind: "warm-ready", pod });
      }
    }
  }

  private shapeOf(build: BuildRequest): ShapeName {
    return this.workload.accounts[build.account]!.shape;
  }
}
