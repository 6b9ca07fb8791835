import { parseArgs } from "node:util";
import { ApiClient } from "../client/api-client.js";
import { serverUrl } from "./http.js";
import { cliCredential } from "./id-token.js";

export const CACHE_USAGE = `  remote-builder cache list <account>
  remote-builder cache reset <account> [<volume>]
    the account's cache volumes; reset throws one away (default: buildkit) so the next build starts
    cold; takes --server and --token like setup`;

export async function cacheCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      audience: { type: "string", default: "remote-builder" },
    },
  });
  const [verb, account, volume = "buildkit"] = positionals;
  if (!account || (verb !== "list" && verb !== "reset")) throw new Error(`say what to do.\n\n${CACHE_USAGE}`);
  const server = serverUrl(values.server);
  // The account named here is also the one to act for when several accounts trust the CI job.
  const client = new ApiClient({
    serverUrl: server,
    auth: cliCredential(server, { ...values, account }),
    userAgent: "remote-builder-cli/1",
  });
  const result =
    verb === "list" ? await client.listCacheVolumes(account) : await client.resetCacheVolume(account, volume);
  if (verb === "reset") process.stderr.write(`Reset cache volume "${volume}": the next build starts cold.\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
