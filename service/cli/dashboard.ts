import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { ApiClient, staticToken } from "../client/api-client.js";
import { command, EXIT_CODES_HELP, printResult, UsageError } from "./command.js";
import { adminToken, serverUrl } from "./http.js";
import { cliCredential } from "./id-token.js";

const DASHBOARD = {
  name: "dashboard",
  help: `Usage: remote-builder dashboard [options]

Prints a one-time sign-in link to the account's dashboard (builds, cache volumes, this month's
usage, trust relationships) and opens it in a browser where it can (xdg-open or open). The link
works once, for a few minutes; it becomes a session of an hour. An admin's link (--admin) sees
every account.

Options:
  --server URL          the service (RB_SERVER_URL; default http://127.0.0.1:8080)
  --token T             the account's agent token (RB_TOKEN); without one, the CI's OIDC
                        identity token is exchanged
  --account HANDLE      the account to act for, when several trust the CI job
  --audience A          the audience to ask the CI's identity token for (default remote-builder)
  --admin               sign in as the admin, with --admin-token, RB_ADMIN_TOKEN or
                        .data/admin-token
  --admin-token T       the admin token (implies --admin)
  --no-open             only print the link
  --json                print the API's JSON and the link's URL, for scripts
  -h, --help            print this help

Example:
  RB_TOKEN=rba_… remote-builder dashboard --server https://builders.example.com

${EXIT_CODES_HELP}`,
  options: {
    server: { type: "string" },
    token: { type: "string" },
    account: { type: "string" },
    audience: { type: "string", default: "remote-builder" },
    admin: { type: "boolean" },
    "admin-token": { type: "string" },
    "no-open": { type: "boolean" },
  },
  allowPositionals: true,
} as const;

export const dashboardCommand = command(DASHBOARD, async ({ values, positionals }) => {
  if (positionals.length > 0) {
    throw new UsageError(`\`remote-builder dashboard\` takes no argument "${positionals[0]}"`);
  }
  const server = serverUrl(values.server);
  const asAdmin = values.admin === true || values["admin-token"] !== undefined;
  const client = new ApiClient({
    serverUrl: server,
    auth: asAdmin ? staticToken(adminToken(values["admin-token"])) : cliCredential(server, values),
    userAgent: "remote-builder-cli/1",
  });
  const link = await client.dashboardLink();
  printResult(values.json, link, (l) => `${l.url}\n(works once, until ${l.expiresAt})`);
  if (values["no-open"] !== true) openInBrowser(link.url);
  return 0;
});

/**
 * Opens the link with the desktop's opener where there is one; where there is none (a CI runner, a
 * server over SSH), or it fails, the printed link is enough, so nothing here can fail the command.
 */
function openInBrowser(url: string): void {
  const opener = ["xdg-open", "open"].find(onPath);
  if (!opener) return;
  try {
    const child = spawn(opener, [url], { detached: true, stdio: "ignore" });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // the link is printed
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
