import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { hashToken } from "../../service/core/tokens.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { githubClaims, gitlabClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

type Json = Record<string, unknown>;

/**
 * A credential from the OIDC exchange acts only on the builds its own CI run created. It once
 * checked the account alone: a pull request's credential (cache writes refused) listed, kept alive
 * and completed the default branch's build made with the agent token.
 */
describe("a credential reaching builds of another run", () => {
  let github: TestIssuer;
  let gitlab: TestIssuer;
  let circleci: TestIssuer;
  let buildkite: TestIssuer;
  let service: TestService;
  let account: { handle: string; id: string; token: string };
  const CIRCLE_ORG = randomUUID();
  const CIRCLE_PROJECT = randomUUID();

  const exchange = async (issuer: TestIssuer, claims: Json): Promise<string> => {
    const x = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token: await issuer.token(claims) },
    });
    expect(x.status).toBe(200);
    return String(x.body.credential);
  };
  const create = async (token: string): Promise<string> => {
    const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(created.status).toBe(201);
    return String(created.body.id);
  };
  const listed = async (token: string): Promise<string[]> => {
    const list = await http<{ builds: Json[] }>(service.url, "GET", "/api/v1/builds", { token });
    expect(list.status).toBe(200);
    return list.body.builds.map((b) => String(b.id));
  };
  const state = async (id: string) =>
    (await http<Json>(service.url, "GET", `/api/v1/builds/${id}`, { token: account.token })).body.state;

  /** Every route that takes a build id, as `token` calls it. */
  const reach = (token: string, id: string) => ({
    get: () => http(service.url, "GET", `/api/v1/builds/${id}`, { token }),
    longPoll: () => http(service.url, "GET", `/api/v1/builds/${id}?wait=1`, { token }),
    heartbeat: () => http(service.url, "POST", `/api/v1/builds/${id}/heartbeat`, { token }),
    complete: () =>
      http(service.url, "POST", `/api/v1/builds/${id}/complete`, { token, body: { result: "failure" } }),
  });

  /** `token` neither sees nor moves build `id`: 404 on every route, absent from its list, unchanged. */
  const expectHidden = async (token: string, id: string) => {
    const before = await state(id);
    for (const [route, call] of Object.entries(reach(token, id))) {
      const res = await call();
      expect({ route, status: res.status }).toEqual({ route, status: 404 });
      expectProblem(res, 404, "not-found", /of this CI run: a credential from the OIDC exchange sees only/);
    }
    expect(await listed(token)).not.toContain(id);
    expect(await state(id)).toBe(before);
  };

  /** A CircleCI job of a pipeline of its own, unless told which. */
  const circleClaims = (overrides: Json = {}): Json => ({
    aud: CIRCLE_ORG,
    sub: `org/${CIRCLE_ORG}/project/${CIRCLE_PROJECT}/user/${randomUUID()}`,
    "oidc.circleci.com/project-id": CIRCLE_PROJECT,
    "oidc.circleci.com/vcs-ref": "refs/heads/main",
    "oidc.circleci.com/pipeline-id": randomUUID(),
    ...overrides,
  });
  /** Build 17 of Buildkite pipeline acme/app (no pipeline_id unless told). */
  const buildkiteClaims = (overrides: Json = {}): Json => ({
    organization_id: "bk-org",
    organization_slug: "acme",
    pipeline_slug: "app",
    build_branch: "main",
    build_number: 17,
    ...overrides,
  });

  const trust = async (body: Json) => {
    const added = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body,
    });
    expect(added.status).toBe(201);
  };

  beforeAll(async () => {
    [github, gitlab, circleci, buildkite] = await Promise.all([
      TestIssuer.start(),
      TestIssuer.start(),
      TestIssuer.start(),
      TestIssuer.start(),
    ]);
    service = await startTestService(
      oidcEnv(
        [
          { name: "github", kind: "github", issuer: github },
          { name: "gitlab", kind: "gitlab", issuer: gitlab },
          { name: "circleci", kind: "circleci", issuer: circleci, audience: CIRCLE_ORG },
          { name: "buildkite", kind: "buildkite", issuer: buildkite },
        ],
        null,
      ),
    );
    account = await service.account({ plan: "team", concurrencyLimit: 50 });
    await trust({ issuer: "github", ownerId: "1001" });
    await trust({ issuer: "gitlab", ownerId: "72" });
    await trust({ issuer: "circleci", ownerId: CIRCLE_ORG });
    await trust({ issuer: "buildkite", ownerId: "bk-org" });
  });
  afterAll(async () => {
    await service.stop();
    await Promise.all([github.stop(), gitlab.stop(), circleci.stop(), buildkite.stop()]);
  });

  it("a pull request's credential neither sees nor ends the agent token's build", async () => {
    const main = await create(account.token);
    const pr = await exchange(
      github,
      githubClaims({ ref: "refs/pull/7/merge", event_name: "pull_request", run_id: "7001" }),
    );
    await expectHidden(pr, main);
    // Its own build, cold, it does see and end.
    const own = await create(pr);
    expect(await listed(pr)).toEqual([own]);
    expect((await reach(pr, own).complete()).status).toBe(200);
    // The agent token keeps account-wide rights: it sees both, and ends its own.
    expect(await listed(account.token)).toEqual(expect.arrayContaining([main, own]));
    expect((await reach(account.token, main).complete()).status).toBe(200);
  });

  it("a credential of another run of the same repository, or a re-run, is confined to its own builds", async () => {
    const first = await exchange(github, githubClaims({ run_id: "8001" }));
    const build = await create(first);
    await expectHidden(await exchange(github, githubClaims({ run_id: "8002" })), build);
    await expectHidden(await exchange(github, githubClaims({ run_id: "8001", run_attempt: "2" })), build);
    // The same run's next token (the Action's post step exchanges again) acts on it.
    const again = await exchange(github, githubClaims({ run_id: "8001" }));
    const same = reach(again, build);
    expect((await same.get()).status).toBe(200);
    expect((await same.heartbeat()).status).toBe(200);
    expect(await listed(again)).toEqual([build]);
    expect((await same.complete()).status).toBe(200);
    // The agent token still reaches it.
    expect((await reach(account.token, build).get()).status).toBe(200);
  });

  it("a credential never reaches another repository's build with the same run number", async () => {
    // Buildkite numbers builds per pipeline: build 17 of two pipelines are two runs.
    const app = await exchange(buildkite, buildkiteClaims({ pipeline_id: "p-app", pipeline_slug: "app" }));
    const build = await create(app);
    const site = await exchange(buildkite, buildkiteClaims({ pipeline_id: "p-site", pipeline_slug: "site" }));
    await expectHidden(site, build);
    // Without pipeline_id (not requested with --claim), the pipeline's slug tells them apart.
    const bySlug = await exchange(buildkite, buildkiteClaims({ pipeline_slug: "app" }));
    const slugBuild = await create(bySlug);
    await expectHidden(await exchange(buildkite, buildkiteClaims({ pipeline_slug: "docs" })), slugBuild);
    await expectHidden(bySlug, build);
    // GitHub: another repository of the same owner with the same run id.
    const gh = await create(await exchange(github, githubClaims({ run_id: "9001" })));
    await expectHidden(
      await exchange(
        github,
        githubClaims({ run_id: "9001", repository_id: "2003", repository: "acme/site" }),
      ),
      gh,
    );
    for (const id of [build, slugBuild, gh]) await reach(account.token, id).complete();
  });

  it("GitLab pipelines and CircleCI pipelines are runs of their own", async () => {
    const pipeline = await create(await exchange(gitlab, gitlabClaims({ pipeline_id: "1212" })));
    await expectHidden(await exchange(gitlab, gitlabClaims({ pipeline_id: "1213" })), pipeline);
    const job = await exchange(gitlab, gitlabClaims({ pipeline_id: "1212", job_id: "3435" }));
    expect((await reach(job, pipeline).get()).status).toBe(200);

    const circleBuild = await create(await exchange(circleci, circleClaims()));
    await expectHidden(await exchange(circleci, circleClaims()), circleBuild);
    for (const id of [pipeline, circleBuild]) await reach(account.token, id).complete();
  });

  it.each<[string, string, () => TestIssuer, () => Json]>([
    ["GitHub", "run_id", () => github, () => githubClaims()],
    ["GitLab", "pipeline_id", () => gitlab, () => gitlabClaims()],
    ["CircleCI", "oidc.circleci.com/pipeline-id", () => circleci, () => circleClaims()],
    ["Buildkite", "build_number", () => buildkite, () => buildkiteClaims()],
    ["Buildkite", "pipeline_slug", () => buildkite, () => buildkiteClaims()],
  ])(
    "refuses to exchange a %s token without %s, which the credential's run is known by",
    async (_ci, claim, issuer, claims) => {
      const res = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", {
        body: { token: await issuer().token(claims(), { omit: [claim] }) },
      });
      expectProblem(res, 401, "invalid-token", new RegExp(`has no ${claim} claim, which identifies the job`));
      expect(res.body).toMatchObject({ reason: "missing-claim", claim });
    },
  );

  it("refuses a non-numeric GitHub run_id as an invalid claim", async () => {
    const res = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token: await github.token(githubClaims({ run_id: "latest" })) },
    });
    expectProblem(res, 401, "invalid-token", /run_id claim is not a numeric id/);
    expect(res.body).toMatchObject({ reason: "invalid-claim", claim: "run_id" });
  });

  it("gives a credential stored without a run key no rights at all, never the account's", async () => {
    const build = await create(account.token);
    const credential = await exchange(github, githubClaims({ run_id: "9901" }));
    const key = `${service.config.redisPrefix}oidc:credential:${hashToken(credential).toString("hex")}`;
    const record = JSON.parse((await service.redis.get(key))!) as Json;
    delete record.runKey;
    await service.redis.set(key, JSON.stringify(record), "KEEPTTL");
    for (const res of [
      await http(service.url, "GET", "/api/v1/builds", { token: credential }),
      await reach(credential, build).complete(),
    ]) {
      expectProblem(res, 401, "unauthorized", /Exchange a fresh OIDC token at POST \/api\/v1\/auth\/oidc/);
    }
    expect(await state(build)).not.toBe("completed");
    await reach(account.token, build).complete();
  });
});
