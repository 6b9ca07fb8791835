import type { Logger } from "pino";
import type { ReconcilePass } from "./core/reconcile-pass.js";
import type { VolumeService } from "./core/volume-service.js";
import type { Metrics } from "./http/metrics.js";

/** Who may reconcile: with a Kubernetes Lease, one replica at a time; without one, every replica. */
export interface Leadership {
  isLeader(): boolean;
}

/**
 * Runs the reconcile pass on a timer, and soon after the fleet changes, one pass at a time: the
 * builds' timeouts, leases and queue (ReconcilePass), then the fleet's pools and volumes. Only the
 * leader passes, so no two replicas start the same warm builder; the build transitions would be
 * safe on every replica anyway, since each is a compare-and-set.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly buildPass: ReconcilePass,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly fleet: { volumes: VolumeService; leadership: Leadership | null } | null = null,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.run(), this.intervalMs);
  }

  /** Level-triggered: a change only says "look again soon"; what to do is read from the state. */
  poke(): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.run();
    }, 50);
    this.soon.unref();
  }

  async pass(): Promise<void> {
    if (this.fleet?.leadership && !this.fleet.leadership.isLeader()) return;
    try {
      const { active } = await this.buildPass.run();
      this.metrics.activeBuilds.set(active);
    } catch (err) {
      this.logger.warn({ err }, "reconcile pass failed; the next one retries");
    }
    if (!this.fleet) return;
    try {
      const { lost, evicted } = await this.fleet.volumes.maintain();
      if (lost > 0 || evicted > 0) this.logger.info({ lost, evicted }, "cache volumes given up");
    } catch (err) {
      this.logger.warn({ err }, "fleet pass failed; the next one retries");
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = null;
    await this.running;
  }

  private run(): void {
    if (this.running || this.stopped) return;
    this.running = this.pass().finally(() => {
      this.running = null;
    });
  }
}
