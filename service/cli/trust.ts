import { UsageError } from "./command.js";

/** `remote-builder admin trust add`: the options that describe a trust relationship, and its request body. */
export const TRUST_ADD_OPTIONS_HELP = `Who is trusted (one of these is needed):
  --owner-id N          the owner's numeric id (organization, group, project owner)
  --owner NAME          the owner's name, resolved once to its id (GitHub only)
  --repository OWNER/REPO
                        one repository, resolved once to both ids (GitHub only)
  --repository-id N     one repository by id (default: every repository of the owner)
  --issuer NAME         the configured CI issuer: github, gitlab, … (default: the first one)

What the job may do (patterns: * within a path segment, ** across segments):
  --ref PATTERN         a ref that may build; repeatable (default: any ref)
  --cache-write-ref PATTERN
                        a ref whose builds may write the warm cache; repeatable (default:
                        refs/heads/** and refs/tags/**)
  --environment NAME    a deployment environment that may build; repeatable (default: any)
  --workflow-ref PATTERN
                        a job_workflow_ref that may build; repeatable (default: any)
  --event NAME          an event that may build; repeatable (default: every event but
                        pull_request_target and workflow_run, which must be named)`;

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
    throw new UsageError(
      "trust add needs --owner-id, --owner or --repository; see `remote-builder admin trust add --help`",
    );
  }
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}
