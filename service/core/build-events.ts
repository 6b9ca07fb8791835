import { EventEmitter } from "node:events";

/** The event every change is also emitted under (a symbol: no build id can collide with it). */
const ANY = Symbol("any build");

/**
 * Wakes long polls in this process when a build changes. Other replicas' changes are seen by the
 * poll's periodic re-read (and the dashboard's periodic refresh), so this is a latency optimisation, never the source of truth.
 */
export class BuildEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** `accountId`, when the caller has it, lets watchers skip other accounts' builds unread. */
  changed(buildId: string, accountId?: string): void {
    this.emitter.emit(buildId);
    this.emitter.emit(ANY, buildId, accountId);
  }

  /**
   * Calls `listener` with the id (and, when known, the account) of every build that changes in
   * this process; returns how to stop.
   */
  watch(listener: (buildId: string, accountId: string | undefined) => void): () => void {
    this.emitter.on(ANY, listener);
    return () => this.emitter.off(ANY, listener);
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
