/**
 * Work started for a request that no request waits on (a builder's boot, a released builder's
 * end): failures are reported, never thrown, and shutting down waits for all of it.
 */
export class BackgroundWork {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly onError?: (message: string, err: unknown) => void) {}

  track(work: Promise<unknown>): void {
    const tracked = work.catch((err) => this.onError?.("background work failed", err));
    this.inFlight.add(tracked);
    // `tracked` cannot reject (its failure went to onError above), so neither can this.
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** Waits for everything tracked so far, and for what that work tracks in turn. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Reports a failure of work that is best-effort (cleanup after the request has its answer). */
  report(message: string, err: unknown): void {
    this.onError?.(message, err);
  }
}
