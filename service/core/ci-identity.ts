/**
 * What a CI's verified OIDC token says about the job, in one shape for every CI. Pure: the claims
 * come from a token whose signature, issuer, audience and times were already checked.
 */
import { Problem } from "./problems.js";

export const CI_KINDS = ["github", "gitlab", "circleci", "buildkite"] as const;
export type CiKind = (typeof CI_KINDS)[number];

/** An issuer the service trusts, from RB_OIDC_ISSUERS. */
export interface IssuerConfig {
  /** A short name that trust relationships refer to: `github`, `gitlab`, `ghes-acme`... */
  name: string;
  /** The `iss` claim, exactly; its discovery document is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** Which CI's claims the tokens carry. */
  kind: CiKind;
  /** The `aud` tokens must carry, when not the service's own (CircleCI's default is the org id). */
  audience?: string | undefined;
}

export interface CiIdentity {
  /** The issuer's configured name. */
  issuer: string;
  kind: CiKind;
  /** The stable id of the owner (GitHub owner, GitLab namespace, CircleCI or Buildkite organization). */
  ownerId: string;
  /** For display only: names can be renamed and re-registered, ids cannot. */
  ownerName: string | null;
  repositoryId: string | null;
  repository: string | null;
  /**
   * The git ref the job builds, fully qualified (`refs/heads/main`, `refs/tags/v1`), exactly as the
   * CI says it; null when the token names none, or one that maps to no exact ref (see unmappedRef).
   */
  ref: string | null;
  /**
   * Why the token's ref could not be mapped exactly (a fork's `owner:branch`, a `refs/…` value
   * where a bare name belongs, an unknown ref_type, a name git refuses). Shown, never matched: such
   * a job's ref matches no pattern, so it never writes the warm cache.
   */
  unmappedRef: string | null;
  workflow: string | null;
  /** The reusable-workflow (or CI config) reference, when the CI says which one runs. */
  jobWorkflowRef: string | null;
  environment: string | null;
  eventName: string | null;
  /** The CI run: GitHub `run_id/run_attempt`, GitLab pipeline, CircleCI pipeline, Buildkite build number. */
  run: string;
  subject: string | null;
}

type Claims = Record<string, unknown>;

/** A claim as text: strings as they are, numbers in decimal; anything else is absent. */
function text(claims: Claims, name: string): string | null {
  const value = claims[name];
  if (typeof value === "string" && value.length > 0 && value.length <= 1024) return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return null;
}

function required(claims: Claims, name: string, issuer: IssuerConfig, numeric = false): string {
  const value = text(claims, name);
  if (value === null) {
    throw new Problem(
      "invalid-token",
      `The token from ${issuer.name} has no ${name} claim, which identifies the job (who runs it, where, and which run it is); it cannot be exchanged.`,
      { reason: "missing-claim", claim: name },
    );
  }
  if (numeric && !/^\d{1,20}$/.test(value)) {
    throw new Problem("invalid-token", `The token's ${name} claim is not a numeric id.`, {
      reason: "invalid-claim",
      claim: name,
    });
  }
  return value;
}

/** The ref a token names, or why none can be trusted. */
interface RefClaim {
  ref: string | null;
  unmappedRef: string | null;
}

const NO_REF: RefClaim = { ref: null, unmappedRef: null };
const exactRef = (ref: string): RefClaim => ({ ref, unmappedRef: null });
const unmapped = (why: string): RefClaim => ({ ref: null, unmappedRef: why });
const quoted = (value: string) => JSON.stringify(value);

/**
 * A full ref name `git check-ref-format` accepts: under `refs/`, no empty, `.`-led or `.lock`
 * component, no `..`, `@{`, `\`, control characters, space, `~ ^ : ? * [`, no trailing `.`.
 */
export function isGitRef(ref: string): boolean {
  if (!ref.startsWith("refs/") || ref.endsWith(".") || ref.includes("..") || ref.includes("@{")) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return false;
  return ref.split("/").every((part) => part.length > 0 && !part.startsWith(".") && !part.endsWith(".lock"));
}

/** A fully qualified ref, as GitHub (`ref`) and CircleCI (`vcs-ref`) give it. */
function fullRef(claim: string, value: string | null): RefClaim {
  if (value === null) return NO_REF;
  return isGitRef(value) ? exactRef(value) : unmapped(`${claim} ${quoted(value)} is not a git ref`);
}

/** A bare branch or tag name, as GitLab (`ref`) and Buildkite (`build_branch`, `build_tag`) give it. */
function bareRef(claim: string, name: string | null, kind: "branch" | "tag"): RefClaim {
  if (name === null) return NO_REF;
  // Never taken as it is: a tag named "refs/heads/main" is not the branch main.
  if (name.startsWith("refs/")) {
    return unmapped(`${claim} ${quoted(name)} is a full ref where the CI gives a bare ${kind} name`);
  }
  const ref = `${kind === "tag" ? "refs/tags/" : "refs/heads/"}${name}`;
  if (name.startsWith("-") || !isGitRef(ref)) {
    return unmapped(`${claim} ${quoted(name)} is not a ${kind} name git accepts`);
  }
  return exactRef(ref);
}

/** GitHub's `ref` is qualified already; `ref_type` must agree with it (a tag is under refs/tags/). */
function githubRef(claims: Claims): RefClaim {
  const mapped = fullRef("ref", text(claims, "ref"));
  const type = text(claims, "ref_type");
  if (mapped.ref === null || type === null) return mapped;
  if ((type !== "branch" && type !== "tag") || (type === "tag") !== mapped.ref.startsWith("refs/tags/")) {
    return unmapped(`ref ${quoted(mapped.ref)} does not agree with ref_type ${quoted(type)}`);
  }
  return mapped;
}

/** GitLab's bare `ref` under its `ref_type`; `ref_path` (GitLab 16.0+), when present, must say the same. */
function gitlabRef(claims: Claims): RefClaim {
  const name = text(claims, "ref");
  if (name === null) return NO_REF;
  const type = text(claims, "ref_type");
  if (type !== "branch" && type !== "tag") {
    return unmapped(`ref_type ${quoted(type ?? "")} is neither branch nor tag`);
  }
  const mapped = bareRef("ref", name, type);
  const path = text(claims, "ref_path");
  if (mapped.ref !== null && path !== null && path !== mapped.ref) {
    return unmapped(`ref_path ${quoted(path)} does not agree with ref ${quoted(name)} (${type})`);
  }
  return mapped;
}

/**
 * Buildkite's `build_tag`, else its `build_branch`. A pull request from a fork builds the branch as
 * `owner:branch`, which is no branch of the pipeline's repository (and no name git accepts).
 */
function buildkiteRef(claims: Claims): RefClaim {
  const tag = text(claims, "build_tag");
  if (tag !== null) return bareRef("build_tag", tag, "tag");
  const branch = text(claims, "build_branch");
  if (branch !== null && /^[^/:]+:./.test(branch)) {
    return unmapped(`build_branch ${quoted(branch)} is a fork's branch (owner:branch)`);
  }
  return bareRef("build_branch", branch, "branch");
}

/**
 * The run as one key, for the builds a credential may act on: the issuer, the owner, the
 * repository (project, pipeline) by id, and the run within it. Buildkite numbers builds per
 * pipeline, so a token without `pipeline_id` is keyed by the pipeline's slug instead.
 */
export function runKey(identity: CiIdentity): string {
  const repository = identity.repositoryId ?? `name:${identity.repository ?? ""}`;
  return JSON.stringify([identity.issuer, identity.ownerId, repository, identity.run]);
}

/**
 * A repository as one key: the issuer's name and the repository's stable id (its name where the CI
 * gives no id). The same from a run key and from a job-queued hook, so the two meet.
 */
export function repositoryKey(issuer: string, repository: string): string {
  return JSON.stringify([issuer, repository]);
}

/** The repository part of a run key (runKey() above). */
export function repositoryKeyOfRun(key: string): string {
  const [issuer, , repository] = JSON.parse(key) as [string, string, string, string];
  return repositoryKey(issuer, repository);
}

/** Maps a verified token's claims to the identity trust relationships are matched against. */
export function ciIdentity(issuer: IssuerConfig, claims: Claims): CiIdentity {
  const base = { issuer: issuer.name, kind: issuer.kind, subject: text(claims, "sub") };
  switch (issuer.kind) {
    case "github":
      return {
        ...base,
        ownerId: required(claims, "repository_owner_id", issuer, true),
        ownerName: text(claims, "repository_owner"),
        repositoryId: required(claims, "repository_id", issuer, true),
        repository: text(claims, "repository"),
        ...githubRef(claims),
        workflow: text(claims, "workflow"),
        jobWorkflowRef: text(claims, "job_workflow_ref"),
        environment: text(claims, "environment"),
        eventName: text(claims, "event_name"),
        // A re-run is a run of its own: it acts on its own builds, not on the first attempt's.
        run: `${required(claims, "run_id", issuer, true)}/${text(claims, "run_attempt") ?? "1"}`,
      };
    case "gitlab":
      return {
        ...base,
        ownerId: required(claims, "namespace_id", issuer, true),
        ownerName: text(claims, "namespace_path"),
        repositoryId: required(claims, "project_id", issuer, true),
        repository: text(claims, "project_path"),
        ...gitlabRef(claims),
        workflow: text(claims, "ci_config_ref_uri"),
        jobWorkflowRef: text(claims, "ci_config_ref_uri"),
        environment: text(claims, "environment"),
        eventName: text(claims, "pipeline_source"),
        // Every job of a pipeline shares it; a child pipeline has its own.
        run: required(claims, "pipeline_id", issuer, true),
      };
    case "circleci": {
      // sub: org/<org-id>/project/<project-id>/user/<user-id>[/...]
      const sub = /^org\/([0-9a-f-]{36})\/project\/([0-9a-f-]{36})\//.exec(base.subject ?? "");
      if (!sub) {
        throw new Problem(
          "invalid-token",
          "The CircleCI token's sub claim does not name an organization and a project.",
          { reason: "missing-claim", claim: "sub" },
        );
      }
      return {
        ...base,
        ownerId: sub[1]!,
        ownerName: null,
        repositoryId: text(claims, "oidc.circleci.com/project-id") ?? sub[2]!,
        repository: text(claims, "oidc.circleci.com/vcs-origin"),
        ...fullRef("oidc.circleci.com/vcs-ref", text(claims, "oidc.circleci.com/vcs-ref")),
        workflow: null,
        jobWorkflowRef: null,
        environment: null,
        eventName: null,
        run: required(claims, "oidc.circleci.com/pipeline-id", issuer),
      };
    }
    case "buildkite": {
      // Request it with `buildkite-agent oidc request-token --claim organization_id,pipeline_id`.
      const ownerId = required(claims, "organization_id", issuer);
      const org = text(claims, "organization_slug");
      // Every Buildkite token names its pipeline; without pipeline_id, the slug keys the run.
      const pipeline = required(claims, "pipeline_slug", issuer);
      return {
        ...base,
        ownerId,
        ownerName: org,
        repositoryId: text(claims, "pipeline_id"),
        repository: org ? `${org}/${pipeline}` : pipeline,
        ...buildkiteRef(claims),
        workflow: pipeline,
        jobWorkflowRef: null,
        environment: null,
        eventName: text(claims, "build_source"),
        // Numbered per pipeline: runKey() pairs it with the pipeline.
        run: required(claims, "build_number", issuer, true),
      };
    }
  }
}
