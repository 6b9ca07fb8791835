import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { Clock } from "../../../core/ports.js";
import type { Cluster } from "./cluster.js";
import { kube } from "./retry.js";

export interface LeaseElectorOptions {
  cluster: Cluster;
  namespace: string;
  name: string;
  identity: string;
  clock: Clock;
  /** How long a lease lives unrenewed before another replica may take it. */
  leaseDurationMs?: number;
  renewEveryMs?: number;
  onChange?: (leading: boolean) => void;
}

/**
 * Leader election over a coordination.k8s.io Lease, as client-go does it: every write is a
 * compare-and-set on the Lease's resourceVersion, a follower takes over only after seeing the
 * same record unchanged for a whole lease duration (its own clock, so clock skew does not
 * matter), and a leader that could not renew within two thirds of that stops leading first.
 */
export class LeaseElector {
  private readonly durationMs: number;
  private readonly renewEveryMs: number;
  private lastRenewAt = -Infinity;
  private observed: { record: string; at: number } | null = null;
  private leading = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly o: LeaseElectorOptions) {
    this.durationMs = o.leaseDurationMs ?? 15_000;
    this.renewEveryMs = o.renewEveryMs ?? Math.max(100, Math.floor(this.durationMs / 5));
  }

  isLeader(): boolean {
    const held = this.leading && this.o.clock.now() - this.lastRenewAt < (this.durationMs * 2) / 3;
    if (!held && this.leading) this.setLeading(false);
    return held;
  }

  start(): void {
    const tick = () => {
      this.running ??= this.tryAcquireOrRenew()
        .then(() => undefined)
        .catch(() => this.isLeader())
        .then(() => undefined)
        .finally(() => (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, this.renewEveryMs);
    this.timer.unref();
  }

  /** Stops campaigning; a leader gives the lease up so the next one need not wait it out. */
  async stop(release = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    if (release && this.leading) {
      this.setLeading(false);
      await this.write((lease) => ({
        ...lease,
        spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined },
      })).catch(() => undefined);
    }
  }

  /** One round: take the lease if it is free or expired, renew it if it is ours. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { cluster, namespace, name, identity, clock } = this.o;
    const now = clock.now();
    const lease = await kube(
      `read lease ${name}`,
      () => cluster.coordination.readNamespacedLease({ name, namespace }),
      { ignore: [404], attempts: 1, timeoutMs: this.renewEveryMs * 2 },
    );
    if (!lease) {
      const created = await kube(
        `create lease ${name}`,
        () =>
          cluster.coordination.createNamespacedLease({
            namespace,
            body: {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name, namespace },
              spec: this.spec(now, now, 0),
            },
          }),
        { ignore: [409], attempts: 1, timeoutMs: this.renewEveryMs * 2 },
      );
      return this.settle(created !== null, now);
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, String(spec.renewTime), spec.leaseTransitions]);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    const mine = spec.holderIdentity === identity;
    const free = !spec.holderIdentity || now - this.observed.at >= this.durationMs;
    if (!mine && !free) {
      if (this.leading) this.setLeading(false);
      return false;
    }
    const transitions = (spec.leaseTransitions ?? 0) + (mine ? 0 : 1);
    const acquiredAt = mine && spec.acquireTime ? new Date(spec.acquireTime).getTime() : now;
    const replaced = await this.write(
      (current) => ({ ...current, spec: this.spec(acquiredAt, now, transitions) }),
      lease,
    );
    return this.settle(replaced, now);
  }

  private spec(acquiredAt: number, now: number, transitions: number): V1Lease["spec"] {
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
      acquireTime: new V1MicroTime(acquiredAt),
      renewTime: new V1MicroTime(now),
      leaseTransitions: transitions,
    };
  }

  /** Replaces the lease only if it is still the version read: 409 means someone else wrote first. */
  private async write(change: (lease: V1Lease) => V1Lease, seen?: V1Lease): Promise<boolean> {
    const { cluster, namespace, name } = this.o;
    const lease = seen ?? (await cluster.coordination.readNamespacedLease({ name, namespace }));
    const replaced = await kube(
      `renew lease ${name}`,
      () => cluster.coordination.replaceNamespacedLease({ name, namespace, body: change(lease) }),
      { ignore: [409], attempts: 1, timeoutMs: this.renewEveryMs * 2 },
    );
    return replaced !== null;
  }

  private settle(won: boolean, at: number): boolean {
    if (won) {
      this.lastRenewAt = at;
      this.observed = null;
      if (!this.leading) this.setLeading(true);
    } else this.isLeader();
    return won;
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.o.onChange?.(leading);
  }
}
