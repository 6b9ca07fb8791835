import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { gitlabClaims, oidcEnv, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;

describe("other CI systems through the same exchange", () => {
  let gitlab: TestIssuer;
  let circleci: TestIssuer;
  let buildkite: TestIssuer;
  let service: TestService;
  const CIRCLE_ORG = randomUUID();
  const CIRCLE_PROJECT = randomUUID();

  const trust = async (handle: string, body: Json) => {
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
      token: ADMIN_TOKEN,
      body,
    });
    expect(added.status).toBe(201);
  };
  const exchange = (token: string) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });

  beforeAll(async () => {
    [gitlab, circleci, buildkite] = await Promise.all([
      TestIssuer.start(),
      TestIssuer.start(),
      TestIssuer.start(),
    ]);
    service = await startTestService(
      oidcEnv(
        [
          { name: "gitlab", kind: "gitlab", issuer: gitlab },
          // CircleCI's tokens carry the organization id as their audience.
          { name: "circleci", kind: "circleci", issuer: circleci, audience: CIRCLE_ORG },
          { name: "buildkite", kind: "buildkite", issuer: buildkite },
        ],
        null,
      ),
    );
  });
  afterAll(async () => {
    await service.stop();
    await Promise.all([gitlab.stop(), circleci.stop(), buildkite.stop()]);
  });

  it("GitLab CI id_tokens: exchanged, then a build recorded with the project, ref and pipeline", async () => {
    const { handle } = await service.account();
    await trust(handle, {
      issuer: "gitlab",
      ownerId: "72",
      repositoryId: "20",
      cacheWriteRefs: ["refs/heads/main"],
    });
    const x = await exchange(await gitlab.token(gitlabClaims()));
    expect(x.status).toBe(200);
    expect(x.body.scope).toMatchObject({
      issuer: "gitlab",
      repository: "group/project",
      ref: "refs/heads/main",
      run: "1212",
    });
    const build = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(x.body.credential),
      body: {},
    });
    expect(build.status).toBe(201);
    expect(build.body.ci).toMatchObject({ repository: "group/project", ref: "refs/heads/main", run: "1212" });
    expect(build.body.cache).toMatchObject({ mode: "persistent" });
    await http(service.url, "POST", `/api/v1/builds/${String(build.body.id)}/complete`, {
      token: String(x.body.credential),
      body: { result: "success" },
    });

    // A merge-request pipeline runs proposed code: it builds, cold.
    const mr = await exchange(
      await gitlab.token(gitlabClaims({ ref: "feature", pipeline_source: "merge_request_event" })),
    );
    expect(mr.status).toBe(200);
    expect(mr.body.cache).toMatchObject({ write: false });
    const cold = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(mr.body.credential),
      body: {},
    });
    expect(cold.body.cache).toMatchObject({ mode: "cold" });
    await http(service.url, "POST", `/api/v1/builds/${String(cold.body.id)}/complete`, {
      token: String(mr.body.credential),
      body: { result: "success" },
    });

    // Another project of the same namespace is not trusted by a project-pinned relationship.
    const other = await exchange(
      await gitlab.token(gitlabClaims({ project_id: "21", project_path: "group/other" })),
    );
    expect(other.status).toBe(403);
  });

  it("CircleCI: trusted by organization id, with its own audience", async () => {
    const { handle } = await service.account();
    await trust(handle, { issuer: "circleci", ownerId: CIRCLE_ORG, repositoryId: CIRCLE_PROJECT });
    const claims = {
      aud: CIRCLE_ORG,
      sub: `org/${CIRCLE_ORG}/project/${CIRCLE_PROJECT}/user/${randomUUID()}`,
      "oidc.circleci.com/project-id": CIRCLE_PROJECT,
      "oidc.circleci.com/vcs-ref": "refs/heads/main",
      "oidc.circleci.com/vcs-origin": "github.com/acme/app",
      "oidc.circleci.com/pipeline-id": randomUUID(),
    };
    const x = await exchange(await circleci.token(claims));
    expect(x.status).toBe(200);
    expect(x.body.scope).toMatchObject({ issuer: "circleci", ownerId: CIRCLE_ORG, ref: "refs/heads/main" });
    // The service's own audience is the wrong one for this issuer.
    const wrong = await exchange(await circleci.token({ ...claims, aud: "https://builds.test.example" }));
    expect(wrong.status).toBe(401);
    expect(wrong.body.expected).toBe(CIRCLE_ORG);
  });

  it("Buildkite: trusted by organization id, which the job requests as a claim", async () => {
    const { handle } = await service.account();
    await trust(handle, { issuer: "buildkite", ownerId: "bk-org-1", refs: ["refs/heads/main"] });
    const claims = {
      sub: "organization:acme:pipeline:app:ref:refs/heads/main:commit:abc:step:build",
      organization_id: "bk-org-1",
      organization_slug: "acme",
      pipeline_id: "bk-pipe-1",
      pipeline_slug: "app",
      build_branch: "main",
      build_number: 17,
      build_source: "webhook",
    };
    const x = await exchange(await buildkite.token(claims));
    expect(x.status).toBe(200);
    expect(x.body.scope).toMatchObject({ repository: "acme/app", ref: "refs/heads/main", run: "17" });
    const unrequested = await exchange(await buildkite.token({ ...claims, organization_id: undefined }));
    expect(unrequested.status).toBe(401);
    expect(unrequested.body).toMatchObject({ reason: "missing-claim", claim: "organization_id" });
    const branch = await exchange(await buildkite.token({ ...claims, build_branch: "dev" }));
    expect(branch.status).toBe(403);
  });
});
