/**
 * The fleet's rules that do not depend on where builders run: when a node counts as lost, when an
 * idle builder goes, and which cache volumes are evicted.
 */

export interface NodeHealth {
  /** The Node object still exists. */
  exists: boolean;
  ready: boolean;
  /** Since when it has been gone or not Ready (ms), as far as anyone saw. */
  downSince: number | null;
}

/** A node gone or NotReady past the grace period: the local volumes on it are given up. */
export function nodeLost(node: NodeHealth, now: number, graceMs: number): boolean {
  if (node.exists && node.ready) return false;
  return node.downSince !== null && now - node.downSince >= graceMs;
}

export function idleExpired(idleSince: number, now: number, idleTtlMs: number): boolean {
  return now - idleSince >= idleTtlMs;
}

export interface EvictionCandidate {
  accountId: string;
  name: string;
  node: string | null;
  sizeGiB: number;
  busy: boolean;
  lastUsedAt: number;
}

export interface Eviction {
  accountId: string;
  name: string;
  reason: string;
}

/**
 * Volumes to delete: those unused for the retention period, then, on each node whose volumes
 * exceed its budget, the least recently used until it fits. A volume a build holds is never
 * evicted; its node stays over budget until it is free.
 */
export function chooseEvictions(
  volumes: EvictionCandidate[],
  o: { retentionMs: number; nodeBudgetGiB: number; now: number },
): Eviction[] {
  const evictions: Eviction[] = [];
  const kept: EvictionCandidate[] = [];
  const days = Math.round(o.retentionMs / 86_400_000);
  for (const v of volumes) {
    if (!v.busy && o.now - v.lastUsedAt >= o.retentionMs) {
      evictions.push({ accountId: v.accountId, name: v.name, reason: `evicted: unused for ${days} days` });
    } else kept.push(v);
  }
  const byNode = new Map<string, EvictionCandidate[]>();
  for (const v of kept) {
    if (v.node === null) continue;
    byNode.set(v.node, [...(byNode.get(v.node) ?? []), v]);
  }
  for (const [node, list] of byNode) {
    let used = list.reduce((sum, v) => sum + v.sizeGiB, 0);
    const lru = list.filter((v) => !v.busy).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const v of lru) {
      if (used <= o.nodeBudgetGiB) break;
      evictions.push({
        accountId: v.accountId,
        name: v.name,
        reason: `evicted: node ${node} ran out of cache space and it was the least recently used`,
      });
      used -= v.sizeGiB;
    }
  }
  return evictions;
}

/**
 * Warm builders of a shape that keep failing to start (a flag the image's buildkitd lacks, a
 * missing runtime) are retried after 1 s, 2 s, 4 s … up to a minute: said each time by the driver,
 * never crash-looped. A warm builder that comes up resets its shape.
 */
export class WarmRetries {
  private readonly failures = new Map<string, { count: number; retryAt: number }>();

  constructor(private readonly maxDelayMs = 60_000) {}

  /** Records a failure; returns how many in a row, and how long the shape now waits. */
  failed(shape: string, now: number): { count: number; delayMs: number } {
    const count = (this.failures.get(shape)?.count ?? 0) + 1;
    const delayMs = Math.min(this.maxDelayMs, 1_000 * 2 ** (count - 1));
    this.failures.set(shape, { count, retryAt: now + delayMs });
    return { count, delayMs };
  }

  succeeded(shape: string): void {
    this.failures.delete(shape);
  }

  mayStart(shape: string, now: number): boolean {
    return now >= (this.failures.get(shape)?.retryAt ?? 0);
  }
}
