import { parseArgs } from "node:util";
import { ApiClient, staticToken } from "../client/api-client.js";
import { adminToken, serverUrl } from "./http.js";

export const USAGE_USAGE = `  remote-builder usage <account> [--from ISO] [--to ISO]
    build minutes by shape, cache GiB-hours and costs (default: this month); authenticates with
    RB_TOKEN (the account's agent token) or else the admin token`;

export async function usageCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      token: { type: "string" },
      "admin-token": { type: "string" },
    },
  });
  const [account] = positionals;
  if (!account) throw new Error(`name the account.\n\n${USAGE_USAGE}`);
  const token = values.token ?? process.env.RB_TOKEN ?? adminToken(values["admin-token"]);
  const client = new ApiClient({ serverUrl: serverUrl(values.server), auth: staticToken(token) });
  const usage = await client.usage(account, {
    ...(values.from ? { from: values.from } : {}),
    ...(values.to ? { to: values.to } : {}),
  });
  process.stdout.write(`${JSON.stringify(usage, null, 2)}\n`);
  return 0;
}
