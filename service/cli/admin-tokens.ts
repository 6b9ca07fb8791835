import type { operations } from "../client/openapi-types.js";
import { ADMIN_OPTIONS, ADMIN_OPTIONS_HELP, accountPath, argumentsOf, send } from "./admin-call.js";
import { command, commandGroup, EXIT_CODES_HELP } from "./command.js";
import { minute, table } from "./format.js";

type TokenList = operations["listTokens"]["responses"][200]["content"]["application/json"];

const CREATE = {
  name: "admin tokens create",
  help: `Usage: remote-builder admin tokens create <handle> [options]

Mints an agent token for the account (RB_TOKEN in its CI jobs). Prints it as JSON; the token
itself is shown this once and never again.

Options:
  --name N              what the token is for, shown in tokens list
${ADMIN_OPTIONS_HELP}

Example:
  remote-builder admin tokens create acme --name ci --json | jq -r .token

${EXIT_CODES_HELP}`,
  options: { ...ADMIN_OPTIONS, name: { type: "string" } },
  allowPositionals: true,
} as const;

const LIST = {
  name: "admin tokens list",
  help: `Usage: remote-builder admin tokens list <handle> [options]

The account's agent tokens: id, name, prefix, when made, last used and revoked. Never the
tokens themselves.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

const REVOKE = {
  name: "admin tokens revoke",
  help: `Usage: remote-builder admin tokens revoke <handle> <token-id> [options]

Revokes an agent token: it stops working at once. Prints the token (without its secret) as JSON.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

export const TOKENS_HELP = `Usage: remote-builder admin tokens <command> <handle> [options]

  remote-builder admin tokens create <handle> [--name N]
  remote-builder admin tokens list <handle>
  remote-builder admin tokens revoke <handle> <token-id>

remote-builder admin tokens <command> --help shows the command's options.`;

const createToken = command(CREATE, async ({ values, positionals }) => {
  const [handle] = argumentsOf(CREATE.name, positionals, ["<handle>"]);
  const body = values.name ? { name: values.name } : {};
  return send(values, { method: "POST", path: `${accountPath(handle)}/tokens`, body });
});

const listTokens = command(LIST, async ({ values, positionals }) => {
  const [handle] = argumentsOf(LIST.name, positionals, ["<handle>"]);
  return send(values, { method: "GET", path: `${accountPath(handle)}/tokens` }, (list: TokenList) =>
    tokensTable(handle, list),
  );
});

const revokeToken = command(REVOKE, async ({ values, positionals }) => {
  const [handle, id] = argumentsOf(REVOKE.name, positionals, ["<handle>", "<token-id>"]);
  return send(values, { method: "DELETE", path: `${accountPath(handle)}/tokens/${encodeURIComponent(id)}` });
});

export const tokensCommand = commandGroup("admin tokens", TOKENS_HELP, {
  create: createToken,
  list: listTokens,
  revoke: revokeToken,
});

function tokensTable(handle: string, { tokens }: TokenList): string {
  if (tokens.length === 0) return `The account ${handle} has no agent tokens.`;
  return table(
    ["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED"],
    tokens.map((t) => [
      t.id,
      t.name,
      t.prefix,
      minute(t.createdAt),
      minute(t.lastUsedAt),
      minute(t.revokedAt),
    ]),
  );
}
