import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ciIdentity, type IssuerConfig } from "../../service/core/ci-identity.js";
import { cachePolicy, type TrustRelationship } from "../../service/core/trust.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { githubClaims, gitlabClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

type Json = Record<string, unknown>;

/**
 * A CI's ref claim is mapped to a git ref exactly, or to none. It once was not: a Buildkite fork
 * build's `build_branch: "forkuser:patch-1"` became `refs/heads/forkuser:patch-1`, and a GitLab
 * token with `ref_type: "tag"` and `ref: "refs/heads/main"` became `refs/heads/main`; both matched
 * the default cache-write refs and could write the warm cache the default branch reads.
 */
const issuers = {
  github: { name: "github", issuer: "https://token.actions.githubusercontent.com", kind: "github" },
  gitlab: { name: "gitlab", issuer: "https://gitlab.example.com", kind: "gitlab" },
  circleci: { name: "circleci", issuer: "https://oidc.circleci.com/org/x", kind: "circleci" },
  buildkite: { name: "buildkite", issuer: "https://agent.buildkite.com", kind: "buildkite" },
} satisfies Record<string, IssuerConfig>;

const CIRCLE_ORG = "0a1b2c3d-0000-4000-8000-000000000001";
const CIRCLE_PROJECT = "0a1b2c3d-0000-4000-8000-000000000002";
const claimsOf = {
  github: githubClaims,
  gitlab: gitlabClaims,
  circleci: (overrides: Json = {}): Json => ({
    sub: `org/${CIRCLE_ORG}/project/${CIRCLE_PROJECT}/user/${CIRCLE_ORG}`,
    "oidc.circleci.com/pipeline-id": CIRCLE_PROJECT,
    ...overrides,
  }),
  buildkite: (overrides: Json = {}): Json => ({
    organization_id: "bk-org",
    organization_slug: "acme",
    pipeline_id: "bk-pipe",
    pipeline_slug: "app",
    build_number: 17,
    build_source: "webhook",
    ...overrides,
  }),
};

/** A relationship that lets every ref write the cache: only an unmapped ref can keep a job cold. */
const writeAnything: TrustRelationship = {
  id: "r1",
  accountId: "a1",
  accountHandle: "acme",
  issuer: "any",
  ownerId: "any",
  ownerName: null,
  repositoryId: null,
  repositoryName: null,
  refs: [],
  cacheWriteRefs: ["**"],
  environments: null,
  workflowRefs: null,
  events: null,
  createdAt: 0,
};

describe("a CI ref that cannot be mapped exactly", () => {
  type Ci = keyof typeof issuers;
  it.each<[string, Ci, Json, RegExp]>([
    [
      "a Buildkite fork build's owner:branch",
      "buildkite",
      { build_branch: "forkuser:patch-1" },
      /fork's branch/,
    ],
    [
      "a fork build named like the default branch",
      "buildkite",
      { build_branch: "forkuser:main" },
      /fork's branch/,
    ],
    ["a full ref as a Buildkite branch", "buildkite", { build_branch: "refs/heads/main" }, /is a full ref/],
    [
      "a full ref as a Buildkite tag (no fallback to the branch)",
      "buildkite",
      { build_branch: "main", build_tag: "refs/heads/main" },
      /build_tag .* is a full ref where the CI gives a bare tag name/,
    ],
    ["a Buildkite tag git refuses", "buildkite", { build_tag: "v1..2" }, /not a tag name git accepts/],
    [
      "a GitLab tag named refs/heads/main",
      "gitlab",
      { ref_type: "tag", ref: "refs/heads/main" },
      /ref "refs\/heads\/main" is a full ref where the CI gives a bare tag name/,
    ],
    [
      "an unknown GitLab ref_type",
      "gitlab",
      { ref_type: "merge_request", ref: "main" },
      /neither branch nor tag/,
    ],
    ["no GitLab ref_type", "gitlab", { ref_type: undefined, ref: "main" }, /neither branch nor tag/],
    [
      "a GitLab ref_path that disagrees",
      "gitlab",
      { ref_type: "branch", ref: "main", ref_path: "refs/tags/main" },
      /ref_path "refs\/tags\/main" does not agree/,
    ],
    ["a branch with a space", "gitlab", { ref: "feature x" }, /not a branch name git accepts/],
    ["a branch ending in .lock", "gitlab", { ref: "main.lock" }, /not a branch name git accepts/],
    ["a branch with ..", "gitlab", { ref: "a..b" }, /not a branch name git accepts/],
    ["a branch with @{", "gitlab", { ref: "main@{1}" }, /not a branch name git accepts/],
    ["a branch with ~, ^ or \\", "gitlab", { ref: "main~1^2\\x" }, /not a branch name git accepts/],
    ["a branch that starts with -", "gitlab", { ref: "-main" }, /not a branch name git accepts/],
    ["a branch with a control character", "gitlab", { ref: "main\u0007" }, /not a branch name git accepts/],
    ["a bare name where GitHub gives a full ref", "github", { ref: "main" }, /ref "main" is not a git ref/],
    [
      "a GitHub branch ref typed as a tag",
      "github",
      { ref: "refs/heads/main", ref_type: "tag" },
      /does not agree/,
    ],
    [
      "a GitHub tag ref typed as a branch",
      "github",
      { ref: "refs/tags/v1", ref_type: "branch" },
      /does not agree/,
    ],
    ["a GitHub ref with a *", "github", { ref: "refs/heads/*" }, /is not a git ref/],
    [
      "a CircleCI vcs-ref that is a bare name",
      "circleci",
      { "oidc.circleci.com/vcs-ref": "main" },
      /not a git ref/,
    ],
  ])("%s maps to no ref and never writes the cache, whatever the patterns", (_name, ci, claims, why) => {
    const identity = ciIdentity(issuers[ci], claimsOf[ci](claims));
    expect(identity.ref).toBeNull();
    expect(identity.unmappedRef).toMatch(why);
    const policy = cachePolicy(writeAnything, identity);
    expect(policy.write).toBe(false);
    expect(policy.reason).toMatch(/maps to no ref of the repository and gets a cold builder/);
  });

  it.each<[string, Ci, Json, string | null]>([
    [
      "a GitLab branch",
      "gitlab",
      { ref_type: "branch", ref: "main", ref_path: "refs/heads/main" },
      "refs/heads/main",
    ],
    [
      "a GitLab tag",
      "gitlab",
      { ref_type: "tag", ref: "v1.0", ref_path: "refs/tags/v1.0" },
      "refs/tags/v1.0",
    ],
    ["a GitLab nested branch without ref_path", "gitlab", { ref: "release/1.x" }, "refs/heads/release/1.x"],
    ["a Buildkite branch", "buildkite", { build_branch: "main" }, "refs/heads/main"],
    ["a Buildkite tag", "buildkite", { build_branch: "v2", build_tag: "v2" }, "refs/tags/v2"],
    ["a GitHub pull request's merge ref", "github", { ref: "refs/pull/7/merge" }, "refs/pull/7/merge"],
    ["a GitHub tag", "github", { ref: "refs/tags/v1", ref_type: "tag" }, "refs/tags/v1"],
    ["a CircleCI vcs-ref", "circleci", { "oidc.circleci.com/vcs-ref": "refs/heads/main" }, "refs/heads/main"],
    ["no ref at all (a CircleCI custom webhook)", "circleci", {}, null],
  ])("%s maps exactly", (_name, ci, claims, ref) => {
    const identity = ciIdentity(issuers[ci], claimsOf[ci](claims));
    expect({ ref: identity.ref, unmappedRef: identity.unmappedRef }).toEqual({ ref, unmappedRef: null });
  });
});

describe("fork builds and unmappable refs through the exchange", () => {
  let github: TestIssuer;
  let gitlab: TestIssuer;
  let buildkite: TestIssuer;
  let service: TestService;
  let account: { handle: string; id: string; token: string };

  const exchange = async (issuer: TestIssuer, claims: Json) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token: await issuer.token(claims) } });
  const trust = async (body: Json) => {
    const added = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body,
    });
    expect(added.status).toBe(201);
  };
  /** Exchanges `claims`, then builds with the credential: the build's cache says what it got. */
  const buildWith = async (issuer: TestIssuer, claims: Json) => {
    const x = await exchange(issuer, claims);
    expect(x.status).toBe(200);
    const token = String(x.body.credential);
    const build = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: { cache: "wait" } });
    expect(build.status).toBe(201);
    await http(service.url, "POST", `/api/v1/builds/${String(build.body.id)}/complete`, {
      token,
      body: { result: "success" },
    });
    return { exchanged: x.body, build: build.body };
  };

  beforeAll(async () => {
    [github, gitlab, buildkite] = await Promise.all([
      TestIssuer.start(),
      TestIssuer.start(),
      TestIssuer.start(),
    ]);
    service = await startTestService(
      oidcEnv(
        [
          { name: "github", kind: "github", issuer: github },
          { name: "gitlab", kind: "gitlab", issuer: gitlab },
          { name: "buildkite", kind: "buildkite", issuer: buildkite },
        ],
        null,
      ),
    );
    account = await service.account({ plan: "team", concurrencyLimit: 20 });
    // The default cache-write refs: refs/heads/** and refs/tags/**.
    await trust({ issuer: "buildkite", ownerId: "bk-org" });
    await trust({ issuer: "gitlab", ownerId: "72" });
    await trust({
      issuer: "github",
      ownerId: "1001",
      events: ["push", "pull_request", "pull_request_target"],
    });
    // Only branches may build at all for this namespace.
    await trust({ issuer: "gitlab", ownerId: "73", refs: ["refs/heads/**"] });
  });
  afterAll(async () => {
    await service.stop();
    await Promise.all([github.stop(), gitlab.stop(), buildkite.stop()]);
  });

  it("a Buildkite fork build (owner:branch) builds, cold, and never writes the warm cache", async () => {
    const { exchanged, build } = await buildWith(
      buildkite,
      claimsOf.buildkite({ build_branch: "forkuser:main" }),
    );
    expect(exchanged.scope).toMatchObject({ ref: null });
    expect(exchanged.cache).toMatchObject({ write: false });
    expect(String((exchanged.cache as Json).policy)).toMatch(/"forkuser:main" is a fork's branch/);
    expect(build.cache).toMatchObject({ requested: "wait", mode: "cold" });
    // While the pipeline's own main branch still gets the warm volume.
    const main = await buildWith(buildkite, claimsOf.buildkite({ build_branch: "main", build_number: 18 }));
    expect(main.build.cache).toMatchObject({ mode: "persistent" });
  });

  it("a GitHub pull request from a fork builds cold, whatever the ref its token names", async () => {
    for (const [i, event] of ["pull_request", "pull_request_target"].entries()) {
      const { exchanged, build } = await buildWith(
        github,
        githubClaims({
          event_name: event,
          ref: "refs/heads/main",
          head_ref: "forkuser:main",
          run_id: `71${i}`,
        }),
      );
      expect(exchanged.cache).toMatchObject({ write: false });
      expect(build.cache).toMatchObject({ mode: "cold" });
    }
  });

  it("a GitLab tag named refs/heads/main builds cold, and a branch-only relationship refuses it", async () => {
    const tag = gitlabClaims({ ref_type: "tag", ref: "refs/heads/main" });
    const { exchanged, build } = await buildWith(gitlab, tag);
    expect(exchanged.scope).toMatchObject({ ref: null });
    expect(exchanged.cache).toMatchObject({ write: false });
    expect(build.cache).toMatchObject({ mode: "cold" });
    const refused = await exchange(gitlab, { ...tag, namespace_id: "73" });
    expectProblem(
      refused,
      403,
      "no-trust-relationship",
      /admits this job \(group\/project id 20, no ref: ref "refs\/heads\/main" is a full ref where the CI gives a bare tag name/,
    );
    expect(refused.body.reason).toBe("no-trust-relationship");
  });
});
