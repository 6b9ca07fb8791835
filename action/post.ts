import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "@actions/core";
import { ApiClient, type JobResult } from "../service/client/api-client.js";
import { stopKeeper } from "../service/client/keeper.js";
import { jobResult, type SessionState, tearDown } from "../service/client/session.js";
import { credentialSource } from "./credential.js";
import { readInputs } from "./inputs.js";
import { STATE } from "./state.js";
import { writeSummary } from "./summary.js";
import { USER_AGENT } from "./version.js";

/**
 * The post step, which runs whatever the job's outcome: hand the builder back with the job's
 * result, remove the buildx builder and the key files, and summarize. It warns; it never fails
 * a job that was green.
 */
export async function post(): Promise<void> {
  const saved = core.getState(STATE.session);
  if (!saved) {
    core.info("remote-builder set nothing up in this job, so there is nothing to clean up");
    return;
  }
  const session = JSON.parse(saved) as SessionState;
  const pid = Number(core.getState(STATE.keeperPid));
  if (pid > 0) stopKeeper(pid);
  const heartbeats = join(session.keyDir, "heartbeats.log");
  const heartbeatLog = existsSync(heartbeats) ? readFileSync(heartbeats, "utf8") : "";
  const inputs = readInputs();
  const client = new ApiClient({
    serverUrl: inputs.serverUrl,
    auth: credentialSource(inputs),
    userAgent: USER_AGENT,
  });
  const result = resultOf(inputs.jobStatus);
  const { build, volume, warnings } = await tearDown(client, session, result, {
    cleanup: inputs.cleanup,
    log: (line) => core.info(line),
  });
  const stopped = heartbeatLog.split("\n").find((line) => line.includes("heartbeats stopped"));
  if (stopped) warnings.push(stopped.replace(/^\S+ /, ""));
  for (const warning of warnings) core.warning(warning);
  if (build && process.env.GITHUB_STEP_SUMMARY) await writeSummary(build, volume, session, warnings);
}

function resultOf(status: string): JobResult {
  const result = jobResult(status);
  if (result) return result;
  core.warning(`job-status "${status}" is not success, failure or cancelled; reporting failure`);
  return "failure";
}
