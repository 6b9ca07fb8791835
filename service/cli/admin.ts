import { accountsCommand } from "./admin-accounts.js";
import { hooksCommand } from "./admin-hooks.js";
import { tokensCommand } from "./admin-tokens.js";
import { trustCommand } from "./admin-trust.js";
import { commandGroup } from "./command.js";

const ADMIN_HELP = `Usage: remote-builder admin <accounts|tokens|trust|hooks> <command> [<handle>] [options]

The admin API, from the command line; every command needs the admin token.

  remote-builder admin accounts create <handle> [--plan P] [limits]
  remote-builder admin accounts get <handle>
  remote-builder admin accounts update <handle> [--plan P] [limits]
  remote-builder admin accounts feature <handle> remote_builder on|off
  remote-builder admin tokens create <handle> [--name N]
  remote-builder admin tokens list <handle>
  remote-builder admin tokens revoke <handle> <token-id>
  remote-builder admin trust add <handle> (--owner-id N | --owner NAME | --repository OWNER/REPO) […]
  remote-builder admin trust list <handle>
  remote-builder admin trust remove <handle> <relationship-id>
  remote-builder admin hooks add <provider> <owner-id> [--issuer NAME] [--owner-name NAME]
  remote-builder admin hooks list
  remote-builder admin hooks remove <installation-id>

Each takes --server URL (RB_SERVER_URL, default http://127.0.0.1:8080), --admin-token T
(RB_ADMIN_TOKEN, else .data/admin-token from \`remote-builder dev\`) and --json. The list
commands print tables and hooks add the hook's settings, --json the service's JSON; the others
print the service's JSON.

remote-builder admin <noun> <command> --help shows a command's options.`;

/** The admin API, from the command line. */
export const adminCommand = commandGroup("admin", ADMIN_HELP, {
  accounts: accountsCommand,
  tokens: tokensCommand,
  trust: trustCommand,
  hooks: hooksCommand,
});
