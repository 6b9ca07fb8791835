import { tmpdir } from "node:os";
import { join } from "node:path";
import * as core from "@actions/core";
import { ApiClient } from "../service/client/api-client.js";
import { spawnKeeper } from "../service/client/keeper.js";
import { setUp } from "../service/client/session.js";
import { credentialSource } from "./credential.js";
import { readInputs } from "./inputs.js";
import { saveIsPost, saveState } from "./state.js";
import { USER_AGENT } from "./version.js";

/** The main step: a ready, authenticated `docker buildx` builder for the rest of the job. */
export async function main(): Promise<void> {
  saveIsPost();
  const inputs = readInputs();
  const auth = credentialSource(inputs);
  // A missing permission or an untrusted repository fails here, before anything is made.
  await core.group("Getting a credential", async () => {
    core.info(
      inputs.token
        ? "Using the agent token (the token input)"
        : `Exchanging the job's OIDC token (audience ${inputs.audience}) at ${inputs.serverUrl}`,
    );
    await auth.token();
  });
  const client = new ApiClient({ serverUrl: inputs.serverUrl, auth, userAgent: USER_AGENT });
  const { build, state, endpoint } = await setUp(client, {
    shape: inputs.shape,
    cache: inputs.cache,
    waitTimeoutSeconds: inputs.waitTimeoutSeconds,
    name: inputs.name,
    use: inputs.use,
    labels: githubLabels(),
    keyParent: process.env.RUNNER_TEMP || tmpdir(),
    bootstrapTimeoutSeconds: 60,
    log: (line) => core.info(line),
    group: core.group,
    dockerOutput: process.stdout,
    onState: (session) => saveState({ ...session, keeperPid: null }),
    // The runner masks line by line, so each line of the PEM is its own secret.
    onSecret: (pem) =>
      pem
        .split("\n")
        .filter((l) => l.length > 20 && !l.startsWith("-----"))
        .forEach(core.setSecret),
  });
  const pid = spawnKeeper(
    ["keep-alive"],
    {
      RB_KEEPER_BUILD: build.id,
      RB_KEEPER_INTERVAL: String(build.heartbeatIntervalSeconds),
      RB_KEEPER_CREDENTIAL: await auth.token(),
    },
    join(state.keyDir, "heartbeats.log"),
  );
  saveState({ ...state, keeperPid: pid });
  core.setOutput("name", state.name);
  core.setOutput("build-id", build.id);
  core.setOutput("endpoint", endpoint);
  core.setOutput("tier", build.tier ?? "");
  core.setOutput("prewarmed", String(build.prewarmed));
  core.setOutput("cache-volume", build.cache.mode === "persistent" ? build.cache.volume : "");
  if (inputs.use) core.exportVariable("BUILDX_BUILDER", state.name);
}

/** Kept with the build, so that the service's build list says which job each one was. */
function githubLabels(): Record<string, string> {
  const env = process.env;
  const labels: Record<string, string | undefined> = {
    "github.repository": env.GITHUB_REPOSITORY,
    "github.workflow": env.GITHUB_WORKFLOW,
    "github.job": env.GITHUB_JOB,
    "github.run_id": env.GITHUB_RUN_ID,
    "github.run_attempt": env.GITHUB_RUN_ATTEMPT,
    "github.sha": env.GITHUB_SHA,
  };
  return Object.fromEntries(
    Object.entries(labels).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""),
  );
}
