import * as core from "@actions/core";
import { ApiError } from "../service/client/api-client.js";
import { keepAliveProcess } from "./keep-alive.js";
import { main } from "./main.js";
import { post } from "./post.js";
import { isPost } from "./state.js";

/** One bundle, three roles: the main step, the post step, and the detached heartbeat process. */
async function run(): Promise<void> {
  if (process.argv[2] === "keep-alive") return keepAliveProcess();
  if (isPost()) {
    // A green job stays green: whatever goes wrong in post is a warning.
    try {
      await post();
    } catch (err) {
      core.warning(`remote-builder cleanup: ${(err as Error).message}`);
    }
    return;
  }
  try {
    await main();
  } catch (err) {
    const hint =
      err instanceof ApiError && err.retryAfterSeconds ? ` (retry after ${err.retryAfterSeconds} s)` : "";
    core.setFailed(`remote-builder: ${(err as Error).message}${hint}`);
  }
}

await run();
// Done: exit once the log is written, rather than wait a tenth of a second for idle sockets.
process.stdout.write("", () => process.exit());
