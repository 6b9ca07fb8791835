/**
 * The simulated cluster's state: nodes with CPU and local disk, pods, and the accounts' volumes,
 * with the bookkeeping the Kubernetes driver would leave to the scheduler and the volume reaper:
 * node choice, preemption of idle and warm pods, LRU eviction and retention of volumes, node loss.
 * It decides no tier; simulation.ts does, through choosePlacement.
 */
import type { FleetModel, ShapeName } from "./model.js";
import type { InitialVolume } from "./workload.js";

export interface Node {
  index: number;
  up: boolean;
  cpuFree: number;
  diskUsedGiB: number;
  pods: Set<Pod>;
  volumes: Set<Volume>;
}

export interface Volume {
  account: number;
  node: Node;
  lastUsed: number;
}

/**
 * booting-warm and warm pods hold a fresh volume; idle ones the account's, attached; prewarm ones
 * too, started for a queued job, booting until `readyAt`; prewarm-warm ones, started for a queued
 * job whose builds run cold, a fresh volume like a warm pod's, outside the pool's target.
 */
export type PodRole = "booting-warm" | "warm" | "serving" | "idle" | "prewarm" | "prewarm-warm";

/** Pre-warmed and waiting for a build: counted against the asking account's cap, either kind. */
export const isPrewarmed = (role: PodRole) => role === "prewarm" || role === "prewarm-warm";

/** Pod time is counted by role; a pre-warmed builder's by whether a build took it. */
export type PodTime = "idle" | "warm" | "serving" | "prewarmUsed" | "prewarmWasted";

export interface Pod {
  node: Node;
  shape: ShapeName;
  cpu: number;
  role: PodRole;
  /** The account whose build or idle builder it is, or that asked for its pre-warm; null for a warm pod. */
  account: number | null;
  /** When it was started: a build takes the oldest warm builder, as the local driver does. */
  startedAt: number;
  /** Since when the pod has had its role: pod-hours are counted per role. */
  since: number;
  /** When an idle or pre-warmed pod stops if no build takes it (a queued job may put it off). */
  expiresAt: number;
  /** When it is booted; a build that takes it earlier waits for the rest. */
  readyAt: number;
  /** Holds a volume that is no account's: a warm pod's fresh one, or a throw-away build's. */
  scratch: boolean;
  gone: boolean;
}

export interface AccountState {
  volume: Volume | null;
  /** The builder holding the volume between builds: idle after one, or pre-warmed for one. */
  idle: Pod | null;
  /** Pre-warmed builders waiting (booting or booted) for a build. */
  prewarmed: number;
  /** A build holds the account's volume claim (single writer), whether or not the volume exists yet. */
  claimed: boolean;
}

export interface Counters {
  boots: number;
  preemptions: number;
  evictions: number;
  expiredVolumes: number;
  lostVolumes: number;
  nodeLosses: number;
  /** A new volume found no evictable one to make room for it, and went over the node's budget. */
  overcommits: number;
  /** The most vCPU requested at once, by pods of every role (idle and warm ones included). */
  peakCpu: number;
}

const DAY = 86_400;

function noTime(): Record<PodTime, number> {
  return { idle: 0, warm: 0, serving: 0, prewarmUsed: 0, prewarmWasted: 0 };
}

export class Cluster {
  readonly nodes: Node[];
  readonly accounts: AccountState[];
  /** Ready warm pods per shape, oldest first. */
  readonly warm: Record<ShapeName, Pod[]> = { small: [], medium: [], large: [] };
  /** Pre-warmed warm pods per shape (booting or booted), oldest first: any warm-eligible build's. */
  readonly prewarmedWarm: Record<ShapeName, Pod[]> = { small: [], medium: [], large: [] };
  /** Pod-seconds and vCPU-seconds per role, inside the measured window. */
  readonly podS: Record<PodTime, number> = noTime();
  readonly cpuS: Record<PodTime, number> = noTime();
  readonly counters: Counters = {
    boots: 0,
    preemptions: 0,
    evictions: 0,
    expiredVolumes: 0,
    lostVolumes: 0,
    nodeLosses: 0,
    overcommits: 0,
    peakCpu: 0,
  };

  constructor(
    private readonly model: FleetModel,
    accountCount: number,
    initial: InitialVolume[],
    private readonly window: { from: number; to: number },
  ) {
    this.nodes = Array.from({ length: model.nodes }, (_, index) => ({
      index,
      up: true,
      cpuFree: model.nodeCpu,
      diskUsedGiB: 0,
      pods: new Set<Pod>(),
      volumes: new Set<Volume>(),
    }));
    this.accounts = Array.from({ length: accountCount }, () => ({
      volume: null,
      idle: null,
      prewarmed: 0,
      claimed: false,
    }));
    // Most recent first, so a node over its budget keeps the volumes LRU eviction would keep.
    for (const v of [...initial].sort((a, b) => b.lastUsed - a.lastUsed || a.account - b.account)) {
      const node = this.nodes[v.node]!;
      if (node.diskUsedGiB + model.volumeGiB <= model.nodeDiskGiB)
        this.addVolume(v.account, node, v.lastUsed);
    }
  }

  startPod(node: Node, shape: ShapeName, role: PodRole, scratch: boolean, now: number): Pod {
    const cpu = this.model.shapes[shape].cpu;
    const pod: Pod = {
      node,
      shape,
      cpu,
      role,
      account: null,
      startedAt: now,
      since: now,
      expiresAt: Infinity,
      readyAt: now,
      scratch,
      gone: false,
    };
    node.cpuFree -= pod.cpu;
    if (scratch) node.diskUsedGiB += this.model.volumeGiB;
    node.pods.add(pod);
    if (role === "prewarm-warm") this.prewarmedWarm[shape].push(pod);
    this.counters.boots++;
    if (now >= this.window.from) {
      const used = this.nodes.reduce((sum, n) => sum + this.model.nodeCpu - n.cpuFree, 0);
      this.counters.peakCpu = Math.max(this.counters.peakCpu, used);
    }
    return pod;
  }

  setRole(pod: Pod, role: PodRole, now: number): void {
    this.leaveRole(pod, now, role === "serving" ? "prewarmUsed" : "prewarmWasted");
    if (isPrewarmed(pod.role)) this.accounts[pod.account!]!.prewarmed--;
    pod.role = role;
    pod.since = now;
    pod.expiresAt = Infinity;
    if (role === "warm") this.warm[pod.shape].push(pod);
    if (role === "prewarm-warm") this.prewarmedWarm[pod.shape].push(pod);
  }

  terminate(pod: Pod, now: number): void {
    if (pod.gone) return;
    this.leaveRole(pod, now, "prewarmWasted");
    if (pod.role === "idle" || pod.role === "prewarm") this.releaseIdle(pod);
    if (isPrewarmed(pod.role)) this.accounts[pod.account!]!.prewarmed--;
    pod.gone = true;
    pod.node.pods.delete(pod);
    pod.node.cpuFree += pod.cpu;
    if (pod.scratch) pod.node.diskUsedGiB -= this.model.volumeGiB;
  }

  /** The pod's fresh volume becomes the account's: same disk, now kept after the pod. */
  adoptVolume(pod: Pod, account: number, now: number): void {
    pod.scratch = false;
    pod.node.diskUsedGiB -= this.model.volumeGiB;
    this.addVolume(account, pod.node, now);
  }

  addVolume(account: number, node: Node, now: number): Volume {
    const volume: Volume = { account, node, lastUsed: now };
    node.volumes.add(volume);
    node.diskUsedGiB += this.model.volumeGiB;
    this.accounts[account]!.volume = volume;
    return volume;
  }

  /** Makes room for one more volume on the node by deleting the least recently used free ones. */
  reserveDisk(node: Node): void {
    while (node.diskUsedGiB + this.model.volumeGiB > this.model.nodeDiskGiB) {
      let lru: Volume | undefined;
      for (const v of node.volumes) {
        if (this.evictable(v) && (lru === undefined || v.lastUsed < lru.lastUsed)) lru = v;
      }
      if (lru === undefined) {
        this.counters.overcommits++;
        return;
      }
      this.deleteVolume(lru);
      this.counters.evictions++;
    }
  }

  sweepRetention(now: number): void {
    const before = now - this.model.retentionDays * DAY;
    for (const node of this.nodes) {
      for (const v of node.volumes) {
        if (v.lastUsed < before && this.evictable(v)) {
          this.deleteVolume(v);
          this.counters.expiredVolumes++;
        }
      }
    }
  }

  /** Idle and warm pods run at a lower priority: the CPU a pod could get by preempting them. */
  preemptible(node: Node): number {
    let cpu = 0;
    for (const p of node.pods) if (p.role !== "serving") cpu += p.cpu;
    return cpu;
  }

  /**
   * Warm pods go first (another node can host the refill), then idle ones, longest idle first,
   * then pre-warmed ones (either kind): a build is on its way to those.
   */
  preempt(node: Node, cpu: number, now: number): void {
    const rank = (p: Pod) => (isPrewarmed(p.role) ? 2 : p.role === "idle" ? 1 : 0);
    const victims = [...node.pods]
      .filter((p) => p.role !== "serving")
      .sort((a, b) => rank(a) - rank(b) || a.since - b.since);
    for (const pod of victims) {
      if (node.cpuFree >= cpu) return;
      this.terminate(pod, now);
      this.counters.preemptions++;
    }
  }

  /** The up node with the most free CPU that fits `cpu`, as the default scheduler spreads pods. */
  pickNode(cpu: number, mayPreempt: boolean): { node: Node; preempt: boolean } | undefined {
    let best: Node | undefined;
    for (const n of this.nodes) if (n.up && n.cpuFree >= cpu && (!best || n.cpuFree > best.cpuFree)) best = n;
    if (best) return { node: best, preempt: false };
    if (!mayPreempt) return undefined;
    let room = 0;
    for (const n of this.nodes) {
      const r = n.up ? n.cpuFree + this.preemptible(n) : 0;
      if (r >= cpu && r > room) [best, room] = [n, r];
    }
    return best && { node: best, preempt: true };
  }

  /** Pods (booting and ready) counted against each shape's warm target. */
  warmCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) {
      for (const p of n.pods)
        if (p.role === "warm" || p.role === "booting-warm") counts[p.shape] = (counts[p.shape] ?? 0) + 1;
    }
    return counts;
  }

  /** Everything on the node is gone; returns the pods that were serving builds. */
  loseNode(node: Node, now: number): Pod[] {
    const serving = [...node.pods].filter((p) => p.role === "serving");
    for (const pod of [...node.pods]) this.terminate(pod, now);
    this.counters.lostVolumes += node.volumes.size;
    this.counters.nodeLosses++;
    for (const v of [...node.volumes]) this.deleteVolume(v);
    node.up = false;
    return serving;
  }

  /** Counts every live pod's current span up to the window's end; a waiting pre-warm as wasted. */
  close(): void {
    for (const n of this.nodes) for (const p of n.pods) this.count(p, this.window.to, "prewarmWasted");
  }

  private releaseIdle(pod: Pod): void {
    const owner = pod.account === null ? undefined : this.accounts[pod.account];
    if (owner?.idle === pod) owner.idle = null;
  }

  private leaveRole(pod: Pod, now: number, prewarm: PodTime): void {
    this.count(pod, now, prewarm);
    if (pod.role === "warm") this.warm[pod.shape] = this.warm[pod.shape].filter((p) => p !== pod);
    if (pod.role === "prewarm-warm")
      this.prewarmedWarm[pod.shape] = this.prewarmedWarm[pod.shape].filter((p) => p !== pod);
  }

  private evictable(v: Volume): boolean {
    const a = this.accounts[v.account]!;
    return !a.claimed && a.idle === null;
  }

  private deleteVolume(v: Volume): void {
    v.node.volumes.delete(v);
    v.node.diskUsedGiB -= this.model.volumeGiB;
    const a = this.accounts[v.account]!;
    if (a.volume === v) a.volume = null;
  }

  /** `prewarm`: how a pre-warmed pod's span counts, by what ends it. */
  private count(pod: Pod, now: number, prewarm: PodTime): void {
    const span = Math.min(now, this.window.to) - Math.max(pod.since, this.window.from);
    if (span <= 0) return;
    const kind = pod.role === "booting-warm" ? "warm" : isPrewarmed(pod.role) ? prewarm : pod.role;
    this.podS[kind] += span;
    this.cpuS[kind] += span * pod.cpu;
  }
}
