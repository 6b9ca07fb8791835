import { httpRequest } from "./http.js";

/**
 * The GitHub Actions job's OIDC identity token for `audience`, asked of the runner's token
 * endpoint (the job needs `permissions: id-token: write`); null outside such a job. Not
 * `core.getIDToken`: @actions/core reaches it through @actions/http-client, whose top-level import
 * of the npm undici (for proxies) is 0.77 MB of the Action's bundle that every step would load.
 */
export async function githubIdToken(audience: string, env = process.env): Promise<string | null> {
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return null;
  const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
  url.searchParams.set("audience", audience);
  const response = await httpRequest(url.href, {
    method: "GET",
    headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
    timeoutMs: 15_000,
  });
  if (response.status !== 200) {
    throw new Error(`GitHub refused an OIDC token: ${response.status} ${response.text}`);
  }
  return (JSON.parse(response.text) as { value: string }).value;
}
