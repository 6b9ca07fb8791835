/**
 * What a verified hook delivery says, in one shape for every CI: a ping, a job that was queued, or
 * something pre-warming does not act on (and why). Pure: the body's signature is checked elsewhere.
 */
import { isGitRef } from "./ci-identity.js";
import { Problem } from "./problems.js";
import type { QueuedJob } from "./prewarm.js";

/** A queued job as its delivery describes it; the installation adds the provider and issuer. */
export type JobInDelivery = Omit<QueuedJob, "provider" | "issuer" | "deliveryId">;

export type HookEvent =
  { kind: "ping" } | { kind: "queued"; job: JobInDelivery } | { kind: "ignored"; reason: string };

type Json = Record<string, unknown>;

/** The body as a JSON object, or a 400 that says it is not one. */
export function jsonObject(body: Buffer): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Problem("invalid-request", "The delivery's body is not valid JSON.");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Problem("invalid-request", "The delivery's body is not a JSON object.");
  }
  return parsed as Json;
}

const object = (value: unknown): Json =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};

/** A numeric id as decimal text (GitHub and GitLab ids are numbers), or null. */
function numericId(value: unknown): string | null {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) return value;
  return null;
}

function text(value: unknown, max = 1024): string | null {
  return typeof value === "string" && value.length > 0 && value.length <= max ? value : null;
}

/** A bare branch or tag name as a full ref, or null when git would not accept it. */
function bareRef(name: string | null, kind: "branch" | "tag"): string | null {
  if (name === null || name.startsWith("refs/") || name.startsWith("-")) return null;
  const ref = `${kind === "tag" ? "refs/tags/" : "refs/heads/"}${name}`;
  return isGitRef(ref) ? ref : null;
}

function missing(what: string): Problem {
  return new Problem("invalid-request", `The delivery's ${what} is missing or not valid.`, {
    errors: [{ path: `body.${what}`, message: "is missing or not valid" }],
  });
}

/**
 * The GitHub owner a delivery is about: the repository's owner (every repository event, from an
 * organization, repository or GitHub App hook alike), else the organization (an organization
 * hook's ping). Only chooses which installations' secrets to try: the signature, made over the
 * same body, is what binds the delivery to the owner.
 */
export function githubOwnerId(payload: Json): string | null {
  return numericId(object(object(payload.repository).owner).id) ?? numericId(object(payload.organization).id);
}

/** A GitHub delivery, by its X-GitHub-Event and its body. */
export function githubEvent(event: string, payload: Json): HookEvent {
  if (event === "ping") return { kind: "ping" };
  if (event !== "workflow_job") {
    return {
      kind: "ignored",
      reason: `${event} events do not pre-warm; subscribe the hook to Workflow jobs only`,
    };
  }
  if (payload.action !== "queued") {
    return {
      kind: "ignored",
      reason: `workflow_job ${String(text(payload.action, 64) ?? "")} is not queued`,
    };
  }
  const repository = object(payload.repository);
  const job = object(payload.workflow_job);
  const ownerId = numericId(object(repository.owner).id);
  if (ownerId === null) throw missing("repository.owner.id");
  const repositoryId = numericId(repository.id);
  if (repositoryId === null) throw missing("repository.id");
  const queuedAt = Date.parse(text(job.created_at, 64) ?? "");
  if (Number.isNaN(queuedAt)) throw missing("workflow_job.created_at");
  return {
    kind: "queued",
    job: {
      ownerId,
      repositoryId,
      ref: bareRef(text(job.head_branch), "branch"),
      workflow: text(job.workflow_name),
      job: text(job.name),
      queuedAt,
    },
  };
}

/**
 * A GitLab delivery, by its X-Gitlab-Event and its body. A job event carries no namespace id, so
 * the owner is the installation's (the one whose secret the delivery carries). Only `pending` is a
 * job waiting for a runner: `created` jobs of later stages wait for earlier ones, often for
 * minutes, and would pre-warm too soon. The event says when the job was created, not when it
 * became pending; it is sent when it does, so `now` is when it was queued.
 */
export function gitlabEvent(event: string, payload: Json, ownerId: string, now: number): HookEvent {
  if (event !== "Job Hook" || payload.object_kind !== "build") {
    return {
      kind: "ignored",
      reason: `${event} events do not pre-warm; trigger the hook on Job events only`,
    };
  }
  const status = text(payload.build_status, 64) ?? "";
  if (status !== "pending") return { kind: "ignored", reason: `a ${status} job is not waiting for a runner` };
  const project = object(payload.project);
  const repositoryId = numericId(payload.project_id) ?? numericId(project.id);
  if (repositoryId === null) throw missing("project_id");
  const ref = bareRef(text(payload.ref), payload.tag === true ? "tag" : "branch");
  return {
    kind: "queued",
    job: {
      ownerId,
      repositoryId,
      ref,
      workflow: gitlabConfigRefUri(project, ref),
      job: text(payload.build_name),
      queuedAt: now,
    },
  };
}

/**
 * The job's CI configuration as GitLab's OIDC token names it (its `ci_config_ref_uri` claim, which
 * ci-identity.ts takes as the workflow): `<host>/<project path>//<config path>@<ref>`. Null when
 * the configuration lives in another project or at a URL, which the event does not resolve.
 */
function gitlabConfigRefUri(project: Json, ref: string | null): string | null {
  const path = text(project.path_with_namespace);
  const webUrl = text(project.web_url);
  const config = text(project.ci_config_path) ?? ".gitlab-ci.yml";
  if (ref === null || path === null || webUrl === null || /[@:]/.test(config)) return null;
  let host: string;
  try {
    host = new URL(webUrl).host;
  } catch {
    return null;
  }
  return `${host}/${path}//${config}@${ref}`;
}
