/**
 * A discrete-event simulation of the builder fleet: every build is placed by the service's own
 * rule (choosePlacement) on the simulated cluster, and the warm pool is kept by its own refill rule
 * (warmDeficit). Pure and deterministic: the same workload and configuration give the same result.
 */
import type { BuilderTier } from "../../service/core/build.js";
import { choosePlacement, warmDeficit } from "../../service/core/placement.js";
import { Cluster, type Node, type Pod } from "./cluster.js";
import { EventQueue } from "./events.js";
import { type FleetModel, type PoolConfig, type ShapeName } from "./model.js";
import { type Random, stream } from "./random.js";
import { type BuildRequest, coldStartS, type Workload } from "./workload.js";

export interface FleetResult {
  config: PoolConfig;
  /** Builds that arrived inside the measured window. */
  builds: number;
  /** Their times from arrival to a ready builder, ascending. */
  readyS: number[];
  /** Each of them, in the order they were placed. */
  placements: Array<{ build: number; tier: BuilderTier; readyS: number }>;
  tiers: Record<BuilderTier, number>;
  /** Per shape: builds a warm pod could serve (no volume wanted, or none yet), and those it did. */
  warmEligible: Record<ShapeName, { builds: number; served: number }>;
  /** Cold builds that waited for room on a node (their volume's, or any). */
  queued: number;
  /** Builds whose node was lost under them. */
  lostBuilds: number;
  /** Per simulated day. */
  podHours: { idle: number; warm: number; serving: number };
  vcpuHours: { idle: number; warm: number; serving: number };
  counters: Cluster["counters"];
}

type Event =
  | { kind: "arrive"; build: BuildRequest }
  | { kind: "end"; pod: Pod; account: number; persistent: boolean }
  | { kind: "idle-expire"; pod: Pod; since: number }
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

  constructor(
    private readonly model: FleetModel,
    private readonly workload: Workload,
    private readonly config: PoolConfig,
    private readonly refillRandom: Random,
  ) {
    this.end = model.days * DAY;
    this.cluster = new Cluster(model, workload.accounts.length, workload.volumes, { from: 0, to: this.end });
    this.nodeQueues = this.cluster.nodes.map(() => []);
  }

  run(): FleetResult {
    const start = -this.model.warmupS;
    for (const build of this.workload.builds) this.events.push(build.at, { kind: "arrive", build });
    for (const loss of this.workload.nodeLosses)
      this.events.push(loss.at, { kind: "node-lost", node: loss.node });
    this.events.push(start, { kind: "sweep" });
    this.refill(start);
    for (let e = this.events.pop(); e; e = this.events.pop()) this.handle(e.at, e.event);
    this.cluster.close();
    const perDay = (s: number) => s / HOUR / this.model.days;
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
      podHours: { idle: perDay(podS.idle), warm: perDay(podS.warm), serving: perDay(podS.serving) },
      vcpuHours: { idle: perDay(cpuS.idle), warm: perDay(cpuS.warm), serving: perDay(cpuS.serving) },
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
        if (e.pod.gone || e.pod.role !== "idle" || e.pod.since !== e.since) return;
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
    const warm = this.cluster.warm[shape][0];
    const tier = choosePlacement({
      idleBuilder: account.idle !== null,
      warmBuilder: warm !== undefined,
      wantsVolume,
      volumeExists: account.volume !== null,
    });
    if (wantsVolume) account.claimed = true;
    if (build.at >= 0 && (!wantsVolume || account.volume === null)) {
      this.warmEligible[shape].builds++;
      if (tier === "warm") this.warmEligible[shape].served++;
    }
    if (tier === "idle" || tier === "warm") {
      const pod = tier === "idle" ? account.idle! : warm!;
      if (tier === "idle") account.idle = null;
      this.cluster.setRole(pod, "serving", now);
      pod.account = build.account;
      if (tier === "warm" && wantsVolume) this.cluster.adoptVolume(pod, build.account, now);
      const ready = now + (tier === "idle" ? this.model.idleReadyS : this.model.warmReadyS);
      this.serve(build, tier, pod, wantsVolume, ready);
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

  private serve(build: BuildRequest, tier: BuilderTier, pod: Pod, persistent: boolean, ready: number): void {
    if (build.at >= 0) {
      this.placements.push({ build: build.id, tier, readyS: ready - build.at });
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
      this.events.push(now + this.config.idleTtlS, { kind: "idle-expire", pod: e.pod, since: now });
    } else this.cluster.terminate(e.pod, now);
    this.settle(now);
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
