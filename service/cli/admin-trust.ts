import type { operations } from "../client/openapi-types.js";
import { ADMIN_OPTIONS, ADMIN_OPTIONS_HELP, accountPath, argumentsOf, send } from "./admin-call.js";
import { command, commandGroup, EXIT_CODES_HELP } from "./command.js";
import { listOr, minute } from "./format.js";
import { TRUST_ADD_OPTIONS_HELP, TRUST_OPTIONS, trustBody } from "./trust.js";

type TrustList = operations["listTrustRelationships"]["responses"][200]["content"]["application/json"];
type Relationship = TrustList["relationships"][number];

const ADD = {
  name: "admin trust add",
  help: `Usage: remote-builder admin trust add <handle> (--owner-id N | --owner NAME | --repository OWNER/REPO) [options]

Lets CI jobs of an owner (or one repository) act for the account with their OIDC identity
token, instead of an agent token. Prints the relationship as JSON.

${TRUST_ADD_OPTIONS_HELP}

Options:
${ADMIN_OPTIONS_HELP}

Examples:
  remote-builder admin trust add acme --repository acme/app --cache-write-ref refs/heads/main
  remote-builder admin trust add acme --issuer gitlab --owner-id 72 --repository-id 20

${EXIT_CODES_HELP}`,
  options: { ...ADMIN_OPTIONS, ...TRUST_OPTIONS },
  allowPositionals: true,
} as const;

const LIST = {
  name: "admin trust list",
  help: `Usage: remote-builder admin trust list <handle> [options]

The account's trust relationships: who is trusted, and which refs, environments, workflows and
events may build and write the warm cache.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

const REMOVE = {
  name: "admin trust remove",
  help: `Usage: remote-builder admin trust remove <handle> <relationship-id> [options]

Removes a trust relationship: the credentials jobs got through it stop working at once. Prints
the relationship as JSON.

Options:
${ADMIN_OPTIONS_HELP}

${EXIT_CODES_HELP}`,
  options: ADMIN_OPTIONS,
  allowPositionals: true,
} as const;

export const TRUST_HELP = `Usage: remote-builder admin trust <command> <handle> [options]

  remote-builder admin trust add <handle> (--owner-id N | --owner NAME | --repository OWNER/REPO)
      [--issuer github] [--repository-id N] [--ref PATTERN]… [--cache-write-ref PATTERN]…
      [--environment NAME]… [--workflow-ref PATTERN]… [--event NAME]…
  remote-builder admin trust list <handle>
  remote-builder admin trust remove <handle> <relationship-id>

remote-builder admin trust <command> --help shows the command's options.`;

const addTrust = command(ADD, async ({ values, positionals }) => {
  const [handle] = argumentsOf(ADD.name, positionals, ["<handle>"]);
  return send(values, { method: "POST", path: `${accountPath(handle)}/trust`, body: trustBody(values) });
});

const listTrust = command(LIST, async ({ values, positionals }) => {
  const [handle] = argumentsOf(LIST.name, positionals, ["<handle>"]);
  return send(
    values,
    { method: "GET", path: `${accountPath(handle)}/trust` },
    ({ relationships }: TrustList) =>
      relationships.length === 0
        ? `The account ${handle} trusts no CI identity.`
        : relationships.map(relationshipLines).join("\n\n"),
  );
});

const removeTrust = command(REMOVE, async ({ values, positionals }) => {
  const [handle, id] = argumentsOf(REMOVE.name, positionals, ["<handle>", "<relationship-id>"]);
  return send(values, { method: "DELETE", path: `${accountPath(handle)}/trust/${encodeURIComponent(id)}` });
});

export const trustCommand = commandGroup("admin trust", TRUST_HELP, {
  add: addTrust,
  list: listTrust,
  remove: removeTrust,
});

/** One relationship: who is trusted on its first line, then what their jobs may do. */
function relationshipLines(r: Relationship): string {
  const named = (name: string | null, id: string | null) => (name ? `${name} (${id})` : (id ?? "-"));
  return [
    `${r.id}  ${r.issuer}  owner ${named(r.ownerName, r.ownerId)}  ${
      r.repositoryId === null ? "every repository" : `repository ${named(r.repositoryName, r.repositoryId)}`
    }  since ${minute(r.createdAt)}`,
    `  refs: ${listOr(r.refs, "any")}`,
    `  cache-write refs: ${listOr(r.cacheWriteRefs, "none")}`,
    `  environments: ${listOr(r.environments, "any")}`,
    `  workflows: ${listOr(r.workflowRefs, "any")}`,
    `  events: ${listOr(r.events, "any but pull_request_target and workflow_run")}`,
  ].join("\n");
}
