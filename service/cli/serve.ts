import { loadConfig } from "../config.js";
import { startService } from "../server.js";

/** Runs until SIGINT or SIGTERM, then stops cleanly. */
export async function serveCommand(): Promise<number> {
  const service = await startService(loadConfig());
  await untilSignal();
  service.logger.info("stopping");
  await service.stop();
  return 0;
}

export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}
