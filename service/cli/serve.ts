import { loadConfig } from "../config.js";
import { startService } from "../server.js";
import { stopSignals } from "./signals.js";

/** Runs until SIGINT or SIGTERM, then stops cleanly (a second signal does not cut that short). */
export async function serveCommand(): Promise<number> {
  const signals = stopSignals();
  try {
    const service = await startService(loadConfig());
    await signals.first;
    service.logger.info("stopping");
    await service.stop();
    return 0;
  } finally {
    // Also when the start failed: a signal must then end the process as it would any other.
    signals.dispose();
  }
}
