export interface StopSignals {
  first: Promise<NodeJS.Signals>;
  received(): boolean;
  dispose(): void;
}

/**
 * SIGINT and SIGTERM, listened for until `dispose`. Only the first one counts: npm forwards the
 * Ctrl-C the terminal already sent to the whole process group, and a second signal must not kill
 * this process (Node's default) while it stops what it started.
 */
export function stopSignals(): StopSignals {
  let received: NodeJS.Signals | null = null;
  let resolveFirst: (signal: NodeJS.Signals) => void = () => {};
  const first = new Promise<NodeJS.Signals>((done) => (resolveFirst = done));
  const on = (signal: NodeJS.Signals) => {
    if (received) return;
    received = signal;
    resolveFirst(signal);
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    first,
    received: () => received !== null,
    dispose() {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}
