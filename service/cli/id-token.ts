import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ApiClient, staticToken, type TokenSource } from "../client/api-client.js";
import { githubIdToken } from "../client/github-id-token.js";
import { type HeldCredential, RenewingCredential } from "../client/renewal.js";

const run = promisify(execFile);

export const CREDENTIAL_HELP = `remote-builder needs a credential. Either:
  - an agent token: RB_TOKEN=rba_… (remote-builder admin tokens create <account>), or
  - the CI's OIDC identity token, exchanged under a trust relationship of the account:
      GitHub Actions  permissions: id-token: write (found automatically)
      GitLab CI       id_tokens: { RB_ID_TOKEN: { aud: remote-builder } }
      CircleCI        found automatically (CIRCLE_OIDC_TOKEN_V2)
      Buildkite       found automatically (buildkite-agent oidc request-token)
      any other       RB_ID_TOKEN=<the job's identity token>`;

/** The job's OIDC identity token from whichever CI this is, or null when there is none. */
export async function ciIdentityToken(audience: string, env = process.env): Promise<string | null> {
  if (env.RB_ID_TOKEN) return env.RB_ID_TOKEN;
  const github = await githubIdToken(audience, env);
  if (github) return github;
  const circle = env.CIRCLE_OIDC_TOKEN_V2 ?? env.CIRCLE_OIDC_TOKEN;
  if (circle) return circle;
  if (env.BUILDKITE === "true") {
    // The organization's and pipeline's ids are optional claims: trust matches the organization by
    // id, and a build's run is its pipeline's build number.
    const { stdout } = await run("buildkite-agent", [
      "oidc",
      "request-token",
      "--audience",
      audience,
      "--claim",
      "organization_id,pipeline_id",
    ]);
    return stdout.trim();
  }
  return null;
}

/** The agent token given with --token or RB_TOKEN, if any. */
export const agentToken = (given: string | undefined): string | undefined => given ?? process.env.RB_TOKEN;

export interface CliCredentialOptions {
  token?: string | undefined;
  audience: string;
  account?: string | undefined;
  /** A credential an earlier step got, which spares the exchange. */
  initial?: HeldCredential | undefined;
  /** Where each new credential goes, for the job's next step. */
  onRenewed?: (held: HeldCredential) => void;
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * An agent token when given; otherwise the CI's identity exchanged for a credential, which is
 * renewed before it expires (and exchanged again when it cannot be).
 */
export function cliCredential(server: string, options: CliCredentialOptions): TokenSource {
  const agent = agentToken(options.token);
  if (agent) return staticToken(agent);
  const api = new ApiClient({ serverUrl: server });
  return new RenewingCredential(options.initial ?? null, {
    refresh: (credential) => api.refresh(credential),
    exchange: async () => {
      const idToken = await ciIdentityToken(options.audience);
      if (!idToken) throw new Error(CREDENTIAL_HELP);
      return api.exchangeOidcToken(idToken, options.account);
    },
    ...(options.onRenewed ? { onRenewed: options.onRenewed } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}
