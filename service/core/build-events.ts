import { EventEmitter } from "node:events";

/**
 * Wakes long polls in this process when a build changes. Other replicas' changes are seen by the
 * poll's periodic re-read, so this is a latency optimisation, never the source of truth.
 */
export class BuildEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  changed(buildId: string): void {
    this.emitter.emit(buildId);
  }

  /** Resolves on the next change of `buildId`, or after `ms`, or when any of `signals` aborts. */
  next(buildId: string, ms: number, ...signals: Array<AbortSignal | undefined>): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(buildId, done);
        for (const signal of signals) signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.once(buildId, done);
      for (const signal of signals) signal?.addEventListener("abort", done, { once: true });
    });
  }
}
