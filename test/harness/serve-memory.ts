/**
 * `remote-builder serve` on the tests' memory driver, in a process of its own: for a test that
 * kills the service (test/concurrency/crash.test.ts) and a benchmark that measures it apart from
 * its load (bench/admission.ts). `serve` itself refuses to run builders that build nothing.
 *
 *   node --import tsx test/harness/serve-memory.ts [BOOT_MS]
 *
 * configured by the same RB_* variables as `serve`, RB_DRIVER aside; BOOT_MS is how long each
 * builder takes to boot (default 0).
 */
import { serveCommand } from "../../service/cli/serve.js";
import { memoryDriver } from "../doubles/memory-driver.js";

const bootMs = Number(process.argv[2] ?? "0");
if (!Number.isInteger(bootMs) || bootMs < 0)
  throw new Error(`BOOT_MS is a whole number of ms, not ${process.argv[2]}`);
process.exitCode = await serveCommand({ driver: memoryDriver({ bootMs }) });
