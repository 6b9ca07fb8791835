/**
 * Failure injection for the fake apiserver. Faults are decided before the request takes effect
 * (the call fails and nothing changed), except `afterEffect`: the write happens but the client
 * sees a 504 or a reset connection — what a real apiserver does when etcd is slow, and the case
 * that catches drivers which "retry the create" and end up with two of something.
 */
export interface FaultSettings {
  /** Probability that a matching request is answered with one of `statuses` (and has no effect). */
  errorRate?: number;
  /** Codes to answer with; default 500, 503, 429. */
  statuses?: number[];
  /** Probability that a matching request is never answered (the socket is closed after `hangMs`). */
  hangRate?: number;
  /** How long a hung request stays open; default 30 s. */
  hangMs?: number;
  /** Probability that a matching mutation takes effect but is answered 504 or with a reset. */
  afterEffectRate?: number;
  /** Seed of the random choices, for reproducible runs; default 1. */
  seed?: number;
  /** Only these verbs (get, list, watch, create, update, patch, delete, deletecollection). */
  verbs?: string[];
  /** Only these resources (`pods`, `pods/status`, `leases`, …). */
  resources?: string[];
  /** Also fault the harness's own clients (the fake kubelet); default false. */
  includeHarness?: boolean;
}

export type FaultAction =
  | { kind: "none" }
  | { kind: "error"; status: number }
  | { kind: "hang"; ms: number }
  | { kind: "afterEffect"; how: "timeout" | "reset" };

export interface OneFault {
  verb?: string;
  resource?: string;
  includeHarness?: boolean;
  /** An HTTP status, or "hang", or "afterEffect" (the write happens, the answer is a 504). */
  fault: number | "hang" | "afterEffect" | "reset";
}

const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** mulberry32: small, seedable, good enough to spread faults. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Faults {
  private settings: FaultSettings | null = null;
  private random = rng(1);
  private queue: OneFault[] = [];
  /** How many faults were injected, by kind: lets a test check the rate really applied. */
  readonly injected = { error: 0, hang: 0, afterEffect: 0 };

  set(settings: FaultSettings): void {
    this.settings = settings;
    this.random = rng(settings.seed ?? 1);
  }

  /** Fails the next request that matches, once (queued in order). */
  once(fault: OneFault): void {
    this.queue.push(fault);
  }

  clear(): void {
    this.settings = null;
    this.queue = [];
  }

  decide(verb: string, resource: string, harness: boolean): FaultAction {
    const i = this.queue.findIndex(
      (f) =>
        (!f.verb || f.verb === verb) &&
        (!f.resource || f.resource === resource) &&
        (!harness || !!f.includeHarness),
    );
    if (i >= 0) {
      const [f] = this.queue.splice(i, 1);
      return this.count(this.actionOf(f as OneFault));
    }
    const s = this.settings;
    if (!s || (harness && !s.includeHarness)) return { kind: "none" };
    if (s.verbs && !s.verbs.includes(verb)) return { kind: "none" };
    if (s.resources && !s.resources.includes(resource)) return { kind: "none" };
    const r = this.random();
    const hang = s.hangRate ?? 0;
    const error = s.errorRate ?? 0;
    const after = MUTATING.has(verb) ? (s.afterEffectRate ?? 0) : 0;
    if (r < hang) return this.count({ kind: "hang", ms: s.hangMs ?? 30_000 });
    if (r < hang + error) {
      const statuses = s.statuses?.length ? s.statuses : [500, 503, 429];
      return this.count({
        kind: "error",
        status: statuses[Math.floor(this.random() * statuses.length)] as number,
      });
    }
    if (r < hang + error + after)
      return this.count({ kind: "afterEffect", how: this.random() < 0.5 ? "timeout" : "reset" });
    return { kind: "none" };
  }

  private actionOf(f: OneFault): FaultAction {
    if (f.fault === "hang") return { kind: "hang", ms: this.settings?.hangMs ?? 30_000 };
    if (f.fault === "afterEffect") return { kind: "afterEffect", how: "timeout" };
    if (f.fault === "reset") return { kind: "afterEffect", how: "reset" };
    return { kind: "error", status: f.fault };
  }

  private count(a: FaultAction): FaultAction {
    if (a.kind !== "none") this.injected[a.kind]++;
    return a;
  }
}
