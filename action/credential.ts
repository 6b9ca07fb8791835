import { readFileSync } from "node:fs";
import * as core from "@actions/core";
import { ApiClient, exchangedToken, staticToken, type TokenSource } from "../service/client/api-client.js";
import { githubIdToken } from "../service/client/github-id-token.js";
import type { ActionInputs } from "./inputs.js";

export const PERMISSION_HELP = `The job has no OIDC token to exchange: GitHub only gives one to jobs allowed to ask for it.
Add this to the workflow (or to the job):

permissions:
  id-token: write   # to exchange the job's identity for a remote-builder credential
  contents: read

Or pass an agent token instead: with: { token: \${{ secrets.REMOTE_BUILDER_TOKEN }} }`;

export const FORK_HELP = `This is a pull request from a fork, and GitHub gives fork pull requests neither an OIDC token nor
secrets, so this job cannot get a remote builder. Choices:
  - skip the remote builder for forks:
      if: github.event.pull_request.head.repo.full_name == github.repository
    and build with a local builder (docker/setup-buildx-action) there instead;
  - or have a maintainer run the build from a branch of this repository.
Do not switch to pull_request_target to get a token: it would run the fork's code with this repository's
credentials. remote-builder refuses that event unless a trust relationship allows it explicitly.`;

/**
 * The credential the build API takes: the agent token input, or the job's OIDC token exchanged
 * for a short-lived account credential, exchanged again whenever the service says it expired.
 */
export function credentialSource(inputs: ActionInputs, initial?: string): TokenSource {
  if (inputs.token) return staticToken(inputs.token);
  return exchangedToken(() => exchangeJobToken(inputs), initial);
}

async function exchangeJobToken(inputs: ActionInputs): Promise<string> {
  const idToken = await githubIdToken(inputs.audience);
  if (!idToken) throw new Error(isForkPullRequest() ? FORK_HELP : PERMISSION_HELP);
  const exchanged = await new ApiClient({ serverUrl: inputs.serverUrl }).exchangeOidcToken(
    idToken,
    inputs.account,
  );
  core.setSecret(exchanged.credential);
  return exchanged.credential;
}

function isForkPullRequest(): boolean {
  const event = process.env.GITHUB_EVENT_NAME ?? "";
  // pull_request_target runs in this repository, where a token is only a permission away.
  if (!event.startsWith("pull_request") || event === "pull_request_target") return false;
  try {
    const payload = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH ?? "", "utf8")) as {
      pull_request?: { head?: { repo?: { fork?: boolean; full_name?: string } } };
      repository?: { full_name?: string };
    };
    const head = payload.pull_request?.head?.repo;
    return (
      head?.fork === true ||
      (head?.full_name !== undefined && head.full_name !== payload.repository?.full_name)
    );
  } catch {
    return false;
  }
}
