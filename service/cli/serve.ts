import { loadConfig } from "../config.js";
import { type ServiceOverrides, startService } from "../server.js";
import { stopSignals } from "./signals.js";

/**
 * Runs until SIGINT or SIGTERM, then stops cleanly (a second signal does not cut that short).
 * `driver` is for test/harness/serve-memory.ts, which runs this with the tests' memory driver;
 * without one, RB_DRIVER must name the driver.
 */
export async function serveCommand(overrides: Pick<ServiceOverrides, "driver"> = {}): Promise<number> {
  const signals = stopSignals();
  try {
    const config = loadConfig(process.env, { driverInjected: overrides.driver !== undefined });
    const service = await startService(config, overrides);
    await signals.first;
    service.logger.info("stopping");
    await service.stop();
    return 0;
  } finally {
    // Also when the start failed: a signal must then end the process as it would any other.
    signals.dispose();
  }
}
