import { parseArgs } from "node:util";
import { adminToken, request, serverUrl } from "./http.js";

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
  const query = new URLSearchParams();
  if (values.from) query.set("from", values.from);
  if (values.to) query.set("to", values.to);
  const token = values.token ?? process.env.RB_TOKEN ?? adminToken(values["admin-token"]);
  const path = `/api/v1/accounts/${encodeURIComponent(account)}/usage${query.size > 0 ? `?${query}` : ""}`;
  return request(serverUrl(values.server), token, "GET", path);
}
