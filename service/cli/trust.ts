/** `remote-builder admin trust …`: the options that describe a trust relationship, and its request body. */
export const TRUST_USAGE = `  remote-builder admin trust add <handle> (--owner-id N | --owner NAME | --repository OWNER/REPO)
      [--issuer github] [--repository-id N] [--ref PATTERN]… [--cache-write-ref PATTERN]…
      [--environment NAME]… [--workflow-ref PATTERN]… [--event NAME]…
  remote-builder admin trust list <handle>
  remote-builder admin trust remove <handle> <relationship-id>`;

export const TRUST_OPTIONS = {
  issuer: { type: "string" },
  "owner-id": { type: "string" },
  owner: { type: "string" },
  "repository-id": { type: "string" },
  repository: { type: "string" },
  ref: { type: "string", multiple: true },
  "cache-write-ref": { type: "string", multiple: true },
  environment: { type: "string", multiple: true },
  "workflow-ref": { type: "string", multiple: true },
  event: { type: "string", multiple: true },
} as const;

type Values = { [K in keyof typeof TRUST_OPTIONS]?: unknown };

export function trustBody(values: Values): Record<string, unknown> {
  const list = (v: unknown) => v as string[] | undefined;
  const body = {
    issuer: values.issuer,
    ownerId: values["owner-id"],
    owner: values.owner,
    repositoryId: values["repository-id"],
    repository: values.repository,
    refs: list(values.ref),
    cacheWriteRefs: list(values["cache-write-ref"]),
    environments: list(values.environment),
    workflowRefs: list(values["workflow-ref"]),
    events: list(values.event),
  };
  if (body.ownerId === undefined && body.owner === undefined && body.repository === undefined) {
    throw new Error(`trust add needs --owner-id, --owner or --repository.\n\n${TRUST_USAGE}`);
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}
