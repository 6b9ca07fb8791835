import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "@actions/core";
import { ApiClient, type JobResult } from "../service/client/api-client.js";
import { stopKeeper } from "../service/client/keeper.js";
import { jobResult, tearDown } from "../service/client/session.js";
import { credentialSource } from "./credential.js";
import { readInputs } from "./inputs.js";
import { readState, type SavedState } from "./state.js";
import { writeSummary } from "./summary.js";
import { USER_AGENT } from "./version.js";

/**
 * The post step, which runs whatever the job's outcome: hand the builder back with the job's
 * result, remove the buildx builder and the key files, and summarize. It warns; it never fails
 * a job that was green.
 */
export async function post(): Promise<void> {
  const session = readState();
  if (!session) {
    core.info("remote-builder set nothing up in this job, so there is nothing to clean up");
    return;
  }
  if (session.keeperPid) stopKeeper(session.keeperPid);
  const heartbeats = join(session.keyDir, "heartbeats.log");
  const heartbeatLog = existsSync(heartbeats) ? readFileSync(heartbeats, "utf8") : "";
  const inputs = readInputs();
  const client = new ApiClient({
    serverUrl: inputs.serverUrl,
    auth: credentialSource(inputs),
    userAgent: USER_AGENT,
  });
  const result = resultOf(inputs.jobStatus);
  const { build, volume, warnings } = await core.group(heading(session, inputs.cleanup), () =>
    tearDown(client, session, result, {
      cleanup: inputs.cleanup,
      log: (line) => core.info(line),
      dockerOutput: process.stdout,
    }),
  );
  const stopped = heartbeatLog.split("\n").find((line) => line.includes("heartbeats stopped"));
  if (stopped) warnings.push(stopped.replace(/^\S+ /, ""));
  for (const warning of warnings) core.warning(warning);
  if (build && process.env.GITHUB_STEP_SUMMARY) await writeSummary(build, volume, session, warnings);
}

/** What post is about to undo, as its log group's heading. */
function heading(session: SavedState, cleanup: boolean): string {
  if (!session.buildId) return "Removing the key files";
  if (cleanup && session.builderCreated) return "Handing the builder back and removing it";
  return "Handing the builder back";
}

function resultOf(status: string): JobResult {
  const result = jobResult(status);
  if (result) return result;
  core.warning(`job-status "${status}" is not success, failure or cancelled; reporting failure`);
  return "failure";
}
