import type { Logger } from "pino";
import type { BuildService } from "./core/build-service.js";
import type { Metrics } from "./http/metrics.js";

/**
 * Runs the build service's reconcile pass on a timer, one pass at a time. (Leader election over
 * a Kubernetes Lease comes with the Kubernetes driver; until then every replica reconciles, which
 * is safe because every transition is a compare-and-set.)
 */
export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly builds: BuildService,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    }, this.intervalMs);
  }

  async pass(): Promise<void> {
    try {
      const { active } = await this.builds.reconcile();
      this.metrics.activeBuilds.set(active);
    } catch (err) {
      this.logger.warn({ err }, "reconcile pass failed; the next one retries");
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
