import type { operations } from "../client/openapi-types.js";
import { ADMIN_OPTIONS, ADMIN_OPTIONS_HELP, argumentsOf, send } from "./admin-call.js";
import { command, commandGroup, EXIT_CODES_HELP, UsageError } from "./command.js";
import { fields, minute, table } from "./format.js";
import { serverUrl } from "./http.js";

type NewHook = operations["addHookInstallation"]["responses"][201]["content"]["application/json"];
type HookList = operations["listHookInstallations"]["responses"][200]["content"]["application/json"];

const HOOKS_PATH = "/api/v1/admin/hooks";

const ADD = {
  name: "admin hooks add",
  help: `Usage: remote-builder admin hooks add <provider> <owner-id> [options]

Lets a CI owner's webhook tell the service that its jobs were queued, so the builders of the
accounts that trust the owner start before the jobs ask for them. <provider> is github, gitlab or
buildkite; <owner-id> the owner's stable id as the CI's OIDC tokens carry it (GitHub: the org's or
user's numeric id, \`gh api users/<name> --jq .id\`; GitLab: the group's numeric namespace id).

Prints the hook's URL, its secret and the settings to give the hook on the CI's side. The secret
is shown this once and never again; \`admin hooks remove\` revokes it.

Options:
  --issuer NAME         the issuer name the owner's trust relationships use (RB_OIDC_ISSUERS);
                        default the first configured issuer of the provider's kind
  --owner-name NAME     for display only: what to call the owner in hooks list
${ADMIN_OPTIONS_HELP}

Example:
  remote-builder admin hooks add github 1001 --owner-name acme

${EXIT_CODES_HELP}`,
  options: { ...ADMIN_OPTIONS, issuer: { type: "string" }, "owner-name": { type: "string" } },
  allowPositionals: true,
} as const;

const LIST = {
  name: "admin hooks list",
  help: `Usage: remote-builder admin hooks list [options]

Every hook installation: its id, CI, issuer and owner. Never their secrets.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

const REMOVE = {
  name: "admin hooks remove",
  help: `Usage: remote-builder admin hooks remove <installation-id> [options]

Removes a hook installation: deliveries signed with its secret are refused from then on. Prints
the installation as JSON.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

export const HOOKS_HELP = `Usage: remote-builder admin hooks <command> [options]

  remote-builder admin hooks add <provider> <owner-id> [--issuer NAME] [--owner-name NAME]
  remote-builder admin hooks list
  remote-builder admin hooks remove <installation-id>

remote-builder admin hooks <command> --help shows the command's options.`;

const addHook = command(ADD, async ({ values, positionals }) => {
  const [provider, ownerId] = argumentsOf(ADD.name, positionals, ["<provider>", "<owner-id>"]);
  const body = {
    provider,
    ownerId,
    ...(values.issuer ? { issuer: values.issuer } : {}),
    ...(values["owner-name"] ? { ownerName: values["owner-name"] } : {}),
  };
  const server = serverUrl(values.server);
  return send(values, { method: "POST", path: HOOKS_PATH, body }, (added: NewHook) =>
    hookSettings(server, added),
  );
});

const listHooks = command(LIST, async ({ values, positionals }) => {
  if (positionals.length > 0) {
    throw new UsageError(
      `admin hooks list takes no arguments, not "${positionals[0]}": remote-builder admin hooks list`,
    );
  }
  return send(values, { method: "GET", path: HOOKS_PATH }, hooksTable);
});

const removeHook = command(REMOVE, async ({ values, positionals }) => {
  const [id] = argumentsOf(REMOVE.name, positionals, ["<installation-id>"]);
  return send(values, { method: "DELETE", path: `${HOOKS_PATH}/${encodeURIComponent(id)}` });
});

export const hooksCommand = commandGroup("admin hooks", HOOKS_HELP, {
  add: addHook,
  list: listHooks,
  remove: removeHook,
});

const WHERE: Record<NewHook["provider"], string> = {
  github:
    "On GitHub: the organization's (or repository's) Settings > Webhooks > Add webhook, or a GitHub App's webhook",
  gitlab: "On GitLab: the group's (or project's) Settings > Webhooks > Add new webhook",
  buildkite: "On Buildkite: Organization Settings > Notification Services > Add Webhook",
};

/** The hook's settings, as the CI's form asks for them. */
function hookSettings(server: string, added: NewHook): string {
  const owner = added.ownerName ? `${added.ownerName} (${added.ownerId})` : added.ownerId;
  return [
    `Hook installation ${added.id}: ${added.provider} owner ${owner}, issuer ${added.issuer}.`,
    "",
    `${WHERE[added.provider]}:`,
    fields([
      ["  URL", `${server}${added.path}`],
      ["  Secret", added.secret],
      ...added.settings.map((s): [string, string] => [`  ${s.name}`, s.value]),
    ]),
    "",
    `The URL is this service's as you reached it; give the CI the address it reaches the service by.`,
    `The secret is shown this once; \`remote-builder admin hooks remove ${added.id}\` revokes it.`,
  ].join("\n");
}

function hooksTable({ installations }: HookList): string {
  if (installations.length === 0) return "There are no hook installations.";
  return table(
    ["ID", "PROVIDER", "ISSUER", "OWNER", "CREATED"],
    installations.map((i) => [
      i.id,
      i.provider,
      i.issuer,
      i.ownerName ? `${i.ownerName} (${i.ownerId})` : i.ownerId,
      minute(i.createdAt),
    ]),
  );
}
