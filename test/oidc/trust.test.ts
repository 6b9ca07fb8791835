import { describe, expect, it } from "@jest/globals";
import { ciIdentity, type CiIdentity, type IssuerConfig } from "../../service/core/ci-identity.js";
import { Problem } from "../../service/core/problems.js";
import {
  cachePolicy,
  DEFAULT_CACHE_WRITE_REFS,
  matchesPattern,
  matchTrust,
  type TrustRelationship,
} from "../../service/core/trust.js";

const github: IssuerConfig = {
  name: "github",
  issuer: "https://token.actions.githubusercontent.com",
  kind: "github",
};

const identity = (overrides: Partial<CiIdentity> = {}): CiIdentity => ({
  issuer: "github",
  kind: "github",
  ownerId: "1001",
  ownerName: "acme",
  repositoryId: "2002",
  repository: "acme/app",
  ref: "refs/heads/main",
  unmappedRef: null,
  workflow: "CI",
  jobWorkflowRef: "acme/app/.github/workflows/ci.yml@refs/heads/main",
  environment: null,
  eventName: "push",
  run: "1/1",
  subject: "repo:acme/app:ref:refs/heads/main",
  ...overrides,
});

let ids = 0;
const relationship = (overrides: Partial<TrustRelationship> = {}): TrustRelationship => ({
  id: `r${++ids}`,
  accountId: "a1",
  accountHandle: "acme",
  issuer: "github",
  ownerId: "1001",
  ownerName: "acme",
  repositoryId: null,
  repositoryName: null,
  refs: [],
  cacheWriteRefs: DEFAULT_CACHE_WRITE_REFS,
  environments: null,
  workflowRefs: null,
  events: null,
  createdAt: ids,
  ...overrides,
});

describe("ref patterns", () => {
  it.each([
    ["refs/heads/main", "refs/heads/main", true],
    ["refs/heads/main", "refs/heads/mainline", false],
    ["refs/heads/*", "refs/heads/feature", true],
    ["refs/heads/*", "refs/heads/feature/x", false],
    ["refs/heads/**", "refs/heads/feature/x", true],
    ["refs/tags/v*", "refs/tags/v1.2.3", true],
    ["refs/tags/v*", "refs/tags/release", false],
    ["refs/heads/release/*", "refs/heads/release/1.0", true],
    ["refs/heads/a.b", "refs/heads/aXb", false],
    ["refs/heads/**", "refs/pull/12/merge", false],
    [
      "acme/app/.github/workflows/*.yml@refs/heads/main",
      "acme/app/.github/workflows/ci.yml@refs/heads/main",
      true,
    ],
  ])("%s against %s is %s", (pattern, value, expected) => {
    expect(matchesPattern(pattern, value)).toBe(expected);
  });
});

describe("matching a CI identity against trust relationships", () => {
  type Case = [
    string,
    Partial<CiIdentity>,
    Partial<TrustRelationship>,
    "ok" | "no-trust-relationship" | "event-not-allowed",
  ];
  const cases: Case[] = [
    ["an owner-wide relationship admits any of the owner's repositories", {}, {}, "ok"],
    [
      "a different owner id never matches, whatever the name",
      { ownerId: "6666" },
      {},
      "no-trust-relationship",
    ],
    [
      "the same owner name with another id does not match",
      { ownerId: "1002", ownerName: "acme" },
      {},
      "no-trust-relationship",
    ],
    [
      "another issuer with the same owner id does not match",
      { issuer: "gitlab" },
      {},
      "no-trust-relationship",
    ],
    ["a pinned repository admits itself", {}, { repositoryId: "2002" }, "ok"],
    [
      "a pinned repository refuses a sibling",
      { repositoryId: "2003" },
      { repositoryId: "2002" },
      "no-trust-relationship",
    ],
    ["ref patterns admit a matching ref", {}, { refs: ["refs/heads/main"] }, "ok"],
    [
      "ref patterns refuse another ref",
      { ref: "refs/heads/dev" },
      { refs: ["refs/heads/main"] },
      "no-trust-relationship",
    ],
    [
      "ref patterns refuse a token with no ref",
      { ref: null },
      { refs: ["refs/heads/**"] },
      "no-trust-relationship",
    ],
    [
      "an environment list admits a listed environment",
      { environment: "prod" },
      { environments: ["prod"] },
      "ok",
    ],
    ["an environment list refuses a job with none", {}, { environments: ["prod"] }, "no-trust-relationship"],
    [
      "a workflow pattern admits the named reusable workflow",
      {},
      { workflowRefs: ["acme/app/.github/workflows/ci.yml@refs/heads/*"] },
      "ok",
    ],
    [
      "a workflow pattern refuses another workflow",
      { jobWorkflowRef: "acme/app/.github/workflows/evil.yml@refs/heads/main" },
      { workflowRefs: ["acme/app/.github/workflows/ci.yml@*"] },
      "no-trust-relationship",
    ],
    [
      "pull_request_target is refused by default",
      { eventName: "pull_request_target" },
      {},
      "event-not-allowed",
    ],
    ["workflow_run is refused by default", { eventName: "workflow_run" }, {}, "event-not-allowed"],
    [
      "pull_request_target is admitted when listed",
      { eventName: "pull_request_target" },
      { events: ["pull_request_target"] },
      "ok",
    ],
    [
      "an event list refuses unlisted events",
      { eventName: "schedule" },
      { events: ["push"] },
      "event-not-allowed",
    ],
    [
      "pull_request is admitted by default",
      { eventName: "pull_request", ref: "refs/pull/7/merge" },
      {},
      "ok",
    ],
  ];
  it.each(cases)("%s", (_name, who, rel, expected) => {
    const verdict = matchTrust(identity(who), [relationship(rel)]);
    expect(verdict.ok ? "ok" : verdict.kind).toBe(expected);
  });

  it("with no relationship at all, says how to add one for the owner id", () => {
    const verdict = matchTrust(identity(), []);
    expect(verdict).toMatchObject({ ok: false, kind: "no-trust-relationship" });
    if (!verdict.ok) {
      expect(verdict.detail).toContain("owner id 1001");
      expect(verdict.detail).toContain(
        "remote-builder admin trust add <account> --issuer github --owner-id 1001",
      );
    }
  });

  it("says why each of the owner's relationships refused the job to the service, not to the caller", () => {
    const refusing = relationship({ refs: ["refs/heads/release/*"] });
    const verdict = matchTrust(identity({ ref: "refs/heads/dev" }), [refusing]);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.reasons).toEqual([
      `relationship ${refusing.id}: it admits refs refs/heads/release/*, not refs/heads/dev`,
    ]);
    expect(verdict.detail).toContain("refs/heads/dev");
    expect(verdict.detail).not.toContain(refusing.id);
    expect(verdict.detail).not.toContain("release");
  });

  it("prefers a relationship that lets the build write the cache, then a repository-specific one", () => {
    const readOnly = relationship({ cacheWriteRefs: [] });
    const ownerWide = relationship();
    const pinned = relationship({ repositoryId: "2002" });
    const verdict = matchTrust(identity(), [readOnly, ownerWide, pinned]);
    expect(verdict.ok && verdict.relationship.id).toBe(pinned.id);
  });
});

describe("the cache-write policy", () => {
  it.each([
    ["a push to main writes the cache", { ref: "refs/heads/main" }, DEFAULT_CACHE_WRITE_REFS, true],
    ["a tag writes the cache by default", { ref: "refs/tags/v1" }, DEFAULT_CACHE_WRITE_REFS, true],
    [
      "a pull-request ref does not",
      { ref: "refs/pull/7/merge", eventName: "pull_request" },
      DEFAULT_CACHE_WRITE_REFS,
      false,
    ],
    [
      "a pull-request ref does not even when patterns are wide",
      { ref: "refs/pull/7/merge" },
      ["refs/heads/**"],
      false,
    ],
    [
      "pull_request_target on main does not (it runs proposed code)",
      { eventName: "pull_request_target" },
      ["**"],
      false,
    ],
    [
      "a merge-request pipeline on a branch does not",
      { eventName: "merge_request_event", ref: "refs/heads/feat" },
      ["**"],
      false,
    ],
    ["a branch outside narrowed patterns does not", { ref: "refs/heads/dev" }, ["refs/heads/main"], false],
    ["no patterns: nothing writes", {}, [], false],
  ])("%s", (_name, who, cacheWriteRefs, write) => {
    const policy = cachePolicy(relationship({ cacheWriteRefs }), identity(who));
    expect(policy.write).toBe(write);
    expect(policy.reason.length).toBeGreaterThan(10);
  });
});

describe("claims of each CI, as one identity", () => {
  it("GitHub Actions: owner and repository ids, ref, workflow, event and run", () => {
    expect(
      ciIdentity(github, {
        sub: "repo:acme/app:ref:refs/heads/main",
        repository_owner_id: "1001",
        repository_owner: "acme",
        repository_id: "2002",
        repository: "acme/app",
        ref: "refs/heads/main",
        workflow: "CI",
        job_workflow_ref: "acme/app/.github/workflows/ci.yml@refs/heads/main",
        event_name: "push",
        environment: "prod",
        run_id: "55",
        run_attempt: "2",
      }),
    ).toEqual(identity({ environment: "prod", run: "55/2" }));
  });

  it("GitLab CI id_tokens: namespace and project ids, branch and tag refs, pipeline source", () => {
    const gitlab: IssuerConfig = { name: "gitlab", issuer: "https://gitlab.example.com", kind: "gitlab" };
    const claims = {
      namespace_id: "72",
      namespace_path: "group",
      project_id: "20",
      project_path: "group/project",
      ref: "v1.0",
      ref_type: "tag",
      pipeline_source: "push",
      pipeline_id: "1212",
      ci_config_ref_uri: "gitlab.example.com/group/project//.gitlab-ci.yml@refs/heads/main",
      environment: "production",
    };
    expect(ciIdentity(gitlab, claims)).toMatchObject({
      ownerId: "72",
      repositoryId: "20",
      repository: "group/project",
      ref: "refs/tags/v1.0",
      eventName: "push",
      run: "1212",
      environment: "production",
    });
    expect(ciIdentity(gitlab, { ...claims, ref: "main", ref_type: "branch" }).ref).toBe("refs/heads/main");
  });

  it("CircleCI: organization and project from sub, the VCS ref", () => {
    const org = "0a1b2c3d-0000-4000-8000-000000000001";
    const project = "0a1b2c3d-0000-4000-8000-000000000002";
    const circle: IssuerConfig = {
      name: "circleci",
      issuer: `https://oidc.circleci.com/org/${org}`,
      kind: "circleci",
    };
    expect(
      ciIdentity(circle, {
        sub: `org/${org}/project/${project}/user/0a1b2c3d-0000-4000-8000-000000000003`,
        "oidc.circleci.com/project-id": project,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/vcs-origin": "github.com/acme/app",
        "oidc.circleci.com/pipeline-id": "0a1b2c3d-0000-4000-8000-000000000004",
      }),
    ).toMatchObject({
      ownerId: org,
      repositoryId: project,
      ref: "refs/heads/main",
      repository: "github.com/acme/app",
    });
  });

  it("Buildkite: organization and pipeline ids, branch or tag", () => {
    const bk: IssuerConfig = { name: "buildkite", issuer: "https://agent.buildkite.com", kind: "buildkite" };
    const claims = {
      organization_id: "org-uuid",
      organization_slug: "acme",
      pipeline_id: "pipe-uuid",
      pipeline_slug: "app",
      build_branch: "main",
      build_number: 42,
      build_source: "webhook",
    };
    expect(ciIdentity(bk, claims)).toMatchObject({
      ownerId: "org-uuid",
      repositoryId: "pipe-uuid",
      repository: "acme/app",
      ref: "refs/heads/main",
      run: "42",
    });
    expect(ciIdentity(bk, { ...claims, build_tag: "v2" }).ref).toBe("refs/tags/v2");
  });

  it.each([
    ["GitHub without repository_owner_id", github, { repository_id: "1" }, "repository_owner_id"],
    [
      "GitHub with a non-numeric owner id",
      github,
      { repository_owner_id: "acme", repository_id: "1" },
      "repository_owner_id",
    ],
    ["GitHub without repository_id", github, { repository_owner_id: "1" }, "repository_id"],
    [
      "Buildkite without organization_id (not requested with --claim)",
      { name: "bk", issuer: "https://agent.buildkite.com", kind: "buildkite" } as IssuerConfig,
      { organization_slug: "acme" },
      "organization_id",
    ],
  ])("refuses %s, naming the claim", (_name, issuer, claims, claim) => {
    let refused: unknown;
    try {
      ciIdentity(issuer, claims);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(Problem);
    expect((refused as Problem).kind).toBe("invalid-token");
    expect((refused as Problem).extensions.claim).toBe(claim);
  });
});
