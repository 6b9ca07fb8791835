import { ApiClient, staticToken, type Usage } from "../client/api-client.js";
import { command, EXIT_CODES_HELP, printResult, UsageError } from "./command.js";
import { fields, minute, table } from "./format.js";
import { adminToken, serverUrl } from "./http.js";

const USAGE = {
  name: "usage",
  help: `Usage: remote-builder usage <account> [options]

The account's build minutes by shape, cache GiB-hours and, where prices are set, their costs,
over a range of time (default: this month so far).

Options:
  --from ISO            the range's start, e.g. 2030-01-01T00:00:00Z
  --to ISO              the range's end (not included)
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN)
  --admin-token T       else the admin token (RB_ADMIN_TOKEN, else .data/admin-token)
  --json                print the API's JSON, for scripts
  -h, --help            print this help

Example:
  remote-builder usage acme --from 2030-01-01T00:00:00Z --to 2030-02-01T00:00:00Z --json

${EXIT_CODES_HELP}`,
  options: {
    server: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    token: { type: "string" },
    "admin-token": { type: "string" },
  },
  allowPositionals: true,
} as const;

export const usageCommand = command(USAGE, async ({ values, positionals }) => {
  const [account, extra] = positionals;
  if (!account) throw new UsageError("name the account: remote-builder usage <account>");
  if (extra) throw new UsageError(`\`remote-builder usage\` takes one account, not also "${extra}"`);
  const token = values.token ?? process.env.RB_TOKEN ?? adminToken(values["admin-token"]);
  const client = new ApiClient({ serverUrl: serverUrl(values.server), auth: staticToken(token) });
  const usage = await client.usage(account, {
    ...(values.from ? { from: values.from } : {}),
    ...(values.to ? { to: values.to } : {}),
  });
  printResult(values.json, usage, usageSummary);
  return 0;
});

function usageSummary(usage: Usage): string {
  const byShape = Object.entries(usage.buildMinutesByShape).map(([shape, minutes]) => `${shape} ${minutes}`);
  const summary = fields([
    ["account", usage.account],
    ["from", minute(usage.from)],
    ["to", minute(usage.to)],
    ["build minutes", `${usage.buildMinutes}${byShape.length > 0 ? ` (${byShape.join(", ")})` : ""}`],
    ["cache GiB-hours", String(usage.storageGiBHours)],
  ]);
  if (!usage.costs) return summary;
  const { currency, lines, total } = usage.costs;
  const costs = table(
    ["ITEM", "QUANTITY", "UNIT PRICE", "AMOUNT"],
    [
      ...lines.map((l) => [
        l.item,
        `${l.quantity} ${l.unit}`,
        String(l.unitPrice),
        `${l.amount} ${currency}`,
      ]),
      ["total", "", "", `${total} ${currency}`],
    ],
  );
  return `${summary}\n\n${costs}`;
}
