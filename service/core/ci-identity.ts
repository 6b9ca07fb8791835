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
  ref: string | null;
  workflow: string | null;
  /** The reusable-workflow (or CI config) reference, when the CI says which one runs. */
  jobWorkflowRef: string | null;
  environment: string | null;
  eventName: string | null;
  run: string | null;
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
      `The token from ${issuer.name} has no ${name} claim, which identifies who runs the job; it cannot be exchanged.`,
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

const branchOrTag = (type: string | null, name: string | null): string | null => {
  if (name === null) return null;
  if (name.startsWith("refs/")) return name;
  if (type === "tag") return `refs/tags/${name}`;
  return `refs/heads/${name}`;
};

/** Maps a verified token's claims to the identity trust relationships are matched against. */
export function ciIdentity(issuer: IssuerConfig, claims: Claims): CiIdentity {
  const base = { issuer: issuer.name, kind: issuer.kind, subject: text(claims, "sub") };
  switch (issuer.kind) {
    case "github": {
      const runId = text(claims, "run_id");
      return {
        ...base,
        ownerId: required(claims, "repository_owner_id", issuer, true),
        ownerName: text(claims, "repository_owner"),
        repositoryId: required(claims, "repository_id", issuer, true),
        repository: text(claims, "repository"),
        ref: text(claims, "ref"),
        workflow: text(claims, "workflow"),
        jobWorkflowRef: text(claims, "job_workflow_ref"),
        environment: text(claims, "environment"),
        eventName: text(claims, "event_name"),
        run: runId && `${runId}/${text(claims, "run_attempt") ?? "1"}`,
      };
    }
    case "gitlab":
      return {
        ...base,
        ownerId: required(claims, "namespace_id", issuer, true),
        ownerName: text(claims, "namespace_path"),
        repositoryId: required(claims, "project_id", issuer, true),
        repository: text(claims, "project_path"),
        ref: branchOrTag(text(claims, "ref_type"), text(claims, "ref")),
        workflow: text(claims, "ci_config_ref_uri"),
        jobWorkflowRef: text(claims, "ci_config_ref_uri"),
        environment: text(claims, "environment"),
        eventName: text(claims, "pipeline_source"),
        run: text(claims, "pipeline_id"),
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
        ref: text(claims, "oidc.circleci.com/vcs-ref"),
        workflow: null,
        jobWorkflowRef: null,
        environment: null,
        eventName: null,
        run: text(claims, "oidc.circleci.com/pipeline-id"),
      };
    }
    case "buildkite": {
      const org = text(claims, "organization_slug");
      const pipeline = text(claims, "pipeline_slug");
      const tag = text(claims, "build_tag");
      return {
        ...base,
        // Request it with `buildkite-agent oidc request-token --claim organization_id,pipeline_id`.
        ownerId: required(claims, "organization_id", issuer),
        ownerName: org,
        repositoryId: text(claims, "pipeline_id"),
        repository: org && pipeline ? `${org}/${pipeline}` : pipeline,
        ref: tag ? `refs/tags/${tag}` : branchOrTag("branch", text(claims, "build_branch")),
        workflow: pipeline,
        jobWorkflowRef: null,
        environment: null,
        eventName: text(claims, "build_source"),
        run: text(claims, "build_number"),
      };
    }
  }
}
