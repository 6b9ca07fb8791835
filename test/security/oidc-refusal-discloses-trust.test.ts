import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ciIdentity } from "../../service/core/ci-identity.js";
import { PROBLEMS } from "../../service/core/problems.js";
import { DEFAULT_CACHE_WRITE_REFS, matchTrust } from "../../service/core/trust.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

type Json = Record<string, unknown>;

/**
 * The exchange's 403 once listed every relationship that trusts the token's owner, in any account,
 * with its id and what it admits (refs, events, environments, workflows, repositories): any job of
 * that owner, a pull request's included, could read another tenant's policy and learn which ref
 * or event to aim for. A refusal now speaks of the caller's own job and what to ask an admin for.
 */
describe("an OIDC refusal disclosing trust relationships", () => {
  let issuer: TestIssuer;
  let service: TestService;
  /** Everything the relationships hold that a refusal must not tell. */
  const secrets: string[] = [];

  const exchange = async (claims: Json) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token: await issuer.token(claims) } });
  const trust = async (handle: string, body: Json) => {
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
      token: ADMIN_TOKEN,
      body,
    });
    expect(added.status).toBe(201);
    secrets.push(String(added.body.id));
  };
  /** The whole response, as the caller reads it, tells none of the relationships' contents. */
  const expectNothingDisclosed = (res: { body: Json; headers: Headers }) => {
    const seen = JSON.stringify(res.body) + JSON.stringify([...res.headers]);
    for (const secret of secrets) expect(seen).not.toContain(secret);
    expect(res.body.reasons).toBeUndefined();
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null));
    // Two tenants trust parts of the same GitHub owner (1001), each narrowly.
    const tenant = await service.account();
    const other = await service.account();
    await trust(tenant.handle, {
      ownerId: "1001",
      repositoryId: "9988776655",
      refs: ["refs/heads/release-secret/*"],
      cacheWriteRefs: ["refs/heads/release-secret/1"],
      environments: ["prod-hidden"],
      workflowRefs: ["acme/vault/.github/workflows/deploy-hidden.yml@*"],
    });
    await trust(other.handle, { ownerId: "1001", events: ["merge_group", "deployment-hidden"] });
    await trust(tenant.handle, { ownerId: "6006" });
    await trust(other.handle, { ownerId: "6006" });
    // Owner 3003 is trusted for everything but the events that need consent.
    await trust(other.handle, { ownerId: "3003", cacheWriteRefs: ["refs/heads/cache-hidden"] });
    secrets.push(
      tenant.handle,
      other.handle,
      tenant.id,
      other.id,
      "9988776655",
      "release-secret",
      "prod-hidden",
    );
    secrets.push("deploy-hidden", "merge_group", "deployment-hidden", "cache-hidden");
  });
  afterAll(async () => {
    await service.stop();
    await issuer.stop();
  });

  it("a job no relationship admits learns its own job and the admin's commands, nothing of theirs", async () => {
    const res = await exchange(githubClaims({ ref: "refs/heads/dev" }));
    expectProblem(
      res,
      403,
      "no-trust-relationship",
      /^No trust relationship for github owner id 1001 \(acme\) admits this job \(acme\/app id 2002, refs\/heads\/dev, event push, workflow acme\/app\/\.github\/workflows\/ci\.yml@refs\/heads\/main\)\. An admin compares it with `remote-builder admin trust list <account>` and widens a relationship, or adds one with `remote-builder admin trust add <account> --issuer github --owner-id 1001 --repository-id 2002`\.$/,
    );
    expect(res.body.reason).toBe("no-trust-relationship");
    expectNothingDisclosed(res);
  });

  it("a job refused for its event alone is told which event to add, nothing else", async () => {
    const res = await exchange(githubClaims({ repository_owner_id: "3003", event_name: "workflow_run" }));
    expectProblem(
      res,
      403,
      "event-not-allowed",
      /^No trust relationship for github owner id 3003 \(acme\) lets the event workflow_run get a credential: workflow_run runs code from outside the repository with its privileges, so only a relationship that lists it admits it\. If that is intended, an admin adds the event to one \(`remote-builder admin trust add <account> --issuer github --owner-id 3003 --repository-id 2002 --event workflow_run`\)\.$/,
    );
    expect(res.body.reason).toBe("event-not-allowed");
    expectNothingDisclosed(res);
  });

  it("a job two accounts trust is asked to name one, without learning how many or which", async () => {
    const res = await exchange(githubClaims({ ref: "refs/heads/main", repository_owner_id: "6006" }));
    expectProblem(
      res,
      400,
      "invalid-request",
      /^More than one account trusts this job; name the one to act for with "account" \(its handle or id\)\.$/,
    );
    expectNothingDisclosed(res);
  });

  it("an owner nobody trusts keeps its hint to add a relationship for its own owner id", async () => {
    const res = await exchange(githubClaims({ repository_owner_id: "5150", repository_owner: "globex" }));
    expectProblem(
      res,
      403,
      "no-trust-relationship",
      /^No account has a trust relationship for github owner id 5150 \(globex\)\. An admin adds one with `remote-builder admin trust add <account> --issuer github --owner-id 5150 --repository-id 2002` \(or --repository acme\/app, which pins the ids\)\.$/,
    );
    expectNothingDisclosed(res);
  });
});

describe("an event refusal for a CI whose tokens name no event", () => {
  it("asks for a relationship without --event, and names none of the refusing one's events", () => {
    const org = "0a1b2c3d-0000-4000-8000-00000000000a";
    const project = "0a1b2c3d-0000-4000-8000-00000000000b";
    const identity = ciIdentity(
      { name: "circleci", issuer: `https://oidc.circleci.com/org/${org}`, kind: "circleci" },
      {
        sub: `org/${org}/project/${project}/user/${org}`,
        "oidc.circleci.com/pipeline-id": project,
      },
    );
    const verdict = matchTrust(identity, [
      {
        id: "rel-hidden-id",
        accountId: "a1",
        accountHandle: "hidden-handle",
        issuer: "circleci",
        ownerId: org,
        ownerName: null,
        repositoryId: null,
        repositoryName: null,
        refs: [],
        cacheWriteRefs: DEFAULT_CACHE_WRITE_REFS,
        environments: null,
        workflowRefs: null,
        events: ["push-hidden"],
        createdAt: 0,
      },
    ]);
    expect(verdict).toMatchObject({ ok: false, kind: "event-not-allowed" });
    if (verdict.ok) return;
    expect(PROBLEMS[verdict.kind].status).toBe(403);
    expect(verdict.detail).toBe(
      `No trust relationship for circleci owner id ${org} admits a job whose token names no event. ` +
        `An admin adds one without --event: \`remote-builder admin trust add <account> --issuer circleci --owner-id ${org} --repository-id ${project}\`.`,
    );
    for (const secret of ["rel-hidden-id", "hidden-handle", "push-hidden"]) {
      expect(verdict.detail).not.toContain(secret);
    }
  });
});
