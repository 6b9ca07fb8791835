import { loadConfig } from "../config.js";
import { startService } from "../server.js";
import { stopSignals } from "./signals.js";

/** Runs until SIGINT or SIGTERM, then stops cleanly (a second signal does not cut that short). */
export async function serveCommand(): Promise<number> {
  const signals = stopSignals();
  const service = await startService(loadConfig());
  await signals.first;
  service.logger.info("stopping");
  await service.stop();
  signals.dispose();
  return 0;
}
