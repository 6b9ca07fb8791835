import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { RedisCredentialStore } from "../../service/adapters/redis/credentials.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import { hashToken } from "../../service/core/tokens.js";
import { ManualClock } from "../harness/clock.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { gitlabClaims, oidcEnv, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;
const MINUTE = 60_000;
/** Shorter than a credential's hour, so that a credential can outlive the point renewals stop. */
const DEADLINE_MS = 30 * MINUTE;

/**
 * POST /api/v1/auth/refresh: a live credential gets a new one with its scope, until its run's
 * first exchange is a build deadline old. On a manual clock, against real Redis and PostgreSQL.
 */
describe("renewing an exchanged credential", () => {
  let gitlab: TestIssuer;
  let service: TestService;
  const clock = new ManualClock(Date.now());

  const refresh = (token?: string) =>
    http<Json>(service.url, "POST", "/api/v1/auth/refresh", token ? { token } : {});
  const exchange = (token: string) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });

  /** A GitLab project trusted by a fresh account, and a way to sign its jobs' tokens at the clock's time. */
  async function project() {
    const account = await service.account({ concurrencyLimit: 2 });
    const namespace = String(1_000 + Math.floor(Math.random() * 1e9));
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "gitlab", ownerId: namespace, cacheWriteRefs: ["refs/heads/main"] },
    });
    expect(added.status).toBe(201);
    const token = (claims: Json = {}) => {
      const now = Math.floor(clock.now() / 1000);
      return gitlab.token(
        gitlabClaims({ namespace_id: namespace, iat: now, nbf: now, exp: now + 300, ...claims }),
      );
    };
    const job = async (claims: Json = {}) => {
      const x = await exchange(await token(claims));
      expect(x.status).toBe(200);
      return x.body;
    };
    return { account, relationshipId: String(added.body.id), token, job };
  }

  beforeAll(async () => {
    gitlab = await TestIssuer.start();
    service = await startTestService(
      oidcEnv([{ name: "gitlab", kind: "gitlab", issuer: gitlab }], null, {
        RB_BUILD_DEADLINE_SECONDS: String(DEADLINE_MS / 1000),
        RB_OIDC_CREDENTIAL_TTL_SECONDS: "3600",
        // No broker connection holds these builds open: nothing here is about idleness.
        RB_IDLE_TIMEOUT_SECONDS: "86400",
      }),
      { clock },
    );
  });
  afterAll(async () => {
    await service.stop();
    await gitlab.stop();
  });

  it("gives a new credential with the same scope, and leaves the old one working until its own expiry", async () => {
    const { account, relationshipId, job } = await project();
    const exchanged = await job();
    const firstExchangeAt = clock.now();
    const old = String(exchanged.credential);
    clock.advance(5 * MINUTE);

    const renewed = await refresh(old);
    expect(renewed.status).toBe(200);
    expect(renewed.headers.get("cache-control")).toBe("no-store");
    expect(renewed.body.credential).toMatch(/^rbc_[A-Za-z0-9_-]{43}$/);
    expect(renewed.body.credential).not.toBe(old);
    expect(renewed.body).toMatchObject({
      tokenType: "Bearer",
      account: { id: account.id, handle: account.handle },
      trustRelationship: relationshipId,
      scope: exchanged.scope as Json,
      cache: exchanged.cache as Json,
      renewableUntil: exchanged.renewableUntil as string,
    });
    expect(Date.parse(String(exchanged.renewableUntil))).toBe(firstExchangeAt + DEADLINE_MS);
    // No renewal outlives the first exchange's build deadline: 25 minutes, not an hour.
    expect(renewed.body.expiresIn).toBe((DEADLINE_MS - 5 * MINUTE) / 1000);
    expect(Date.parse(String(renewed.body.expiresAt))).toBe(firstExchangeAt + DEADLINE_MS);

    // Both work: a job's heartbeat process and its finish step may hold either.
    const build = await http<Json>(service.url, "POST", "/api/v1/builds", { token: old, body: {} });
    expect(build.status).toBe(201);
    for (const token of [old, String(renewed.body.credential)]) {
      const seen = await http<Json>(service.url, "GET", `/api/v1/builds/${String(build.body.id)}`, { token });
      expect(seen.status).toBe(200);
    }
    // A renewed credential renews too, with the same first exchange.
    const again = await refresh(String(renewed.body.credential));
    expect(again.status).toBe(200);
    expect(again.body.renewableUntil).toBe(exchanged.renewableUntil);
  });

  it("carries the scope: only its own run's builds, and no warm cache when the exchange gave none", async () => {
    const { job } = await project();
    // A merge request's pipeline may build, cold; another pipeline of the project is another run.
    const mr = await job({ ref: "feature", pipeline_source: "merge_request_event", pipeline_id: "501" });
    const other = await job({ pipeline_id: "502" });
    expect(mr.cache).toMatchObject({ write: false });
    const othersBuild = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(other.credential),
      body: {},
    });
    expect(othersBuild.status).toBe(201);

    const renewed = await refresh(String(mr.credential));
    expect(renewed.status).toBe(200);
    const token = String(renewed.body.credential);
    expect(renewed.body.cache).toMatchObject({ write: false });
    expect(renewed.body.scope).toMatchObject({ ref: "refs/heads/feature", run: "501" });

    const own = await http<Json>(service.url, "POST", "/api/v1/builds", { token, body: {} });
    expect(own.status).toBe(201);
    expect(own.body.cache).toMatchObject({ mode: "cold" });
    expect(own.body.ci).toMatchObject({ ref: "refs/heads/feature", run: "501" });
    const listed = await http<{ builds: Json[] }>(service.url, "GET", "/api/v1/builds", { token });
    expect(listed.status).toBe(200);
    expect(listed.body.builds.map((b) => b.id)).toEqual([own.body.id]);
    const foreign = await http<Json>(service.url, "GET", `/api/v1/builds/${String(othersBuild.body.id)}`, {
      token,
    });
    expect(foreign.status).toBe(404);
    const ended = await http<Json>(
      service.url,
      "POST",
      `/api/v1/builds/${String(othersBuild.body.id)}/complete`,
      {
        token,
        body: { result: "failure" },
      },
    );
    expect(ended.status).toBe(404);
  });

  it("refuses an unknown credential, and a request with none", async () => {
    const unknown = await refresh(`rbc_${randomBytes(32).toString("base64url")}`);
    expectProblem(
      unknown,
      401,
      "unauthorized",
      /expired, mistyped or no longer trusted.*POST \/api\/v1\/auth\/oidc/,
    );
    expectProblem(await refresh(), 401, "unauthorized", /Authorization: Bearer/);
  });

  it("refuses an expired credential", async () => {
    const { job } = await project();
    const old = String((await job()).credential);
    clock.advance(60 * MINUTE);
    expectProblem(await refresh(old), 401, "unauthorized", /expired, mistyped or no longer trusted/);
  });

  it("refuses once the trust relationship is removed", async () => {
    const { account, relationshipId, job } = await project();
    const credential = String((await job()).credential);
    const removed = await http(
      service.url,
      "DELETE",
      `/api/v1/admin/accounts/${account.handle}/trust/${relationshipId}`,
      { token: ADMIN_TOKEN },
    );
    expect(removed.status).toBe(200);
    expectProblem(await refresh(credential), 401, "unauthorized", /no longer trusted/);
  });

  it("refuses a live credential whose run began a build deadline ago, and says to exchange a fresh token", async () => {
    const { job } = await project();
    const exchanged = await job();
    const credential = String(exchanged.credential);
    clock.advance(DEADLINE_MS - 1);
    expect((await refresh(credential)).status).toBe(200);
    clock.advance(1);
    const late = await refresh(credential);
    expectProblem(
      late,
      403,
      "refresh-not-allowed",
      /build deadline \(1800 s\) ago.*Exchange a fresh identity token/,
    );
    expect(late.body).toMatchObject({ reason: "deadline-passed", renewableUntil: exchanged.renewableUntil });
    // The credential itself still works until its hour is up; only its renewal ended.
    expect((await http(service.url, "GET", "/api/v1/builds", { token: credential })).status).toBe(200);
  });

  it("refuses an agent token, which does not expire; a wrong one is unauthorized", async () => {
    const { token } = await service.account();
    const agent = await refresh(token);
    expectProblem(
      agent,
      403,
      "refresh-not-allowed",
      /Agent tokens do not expire.*keep sending the same agent token/,
    );
    expect(agent.body).toMatchObject({ reason: "agent-token" });
    expectProblem(await refresh(`${token.slice(0, -4)}xxxx`), 401, "unauthorized", /not a valid agent token/);
  });

  it("refuses a credential exchanged before renewals existed, which records no first exchange", async () => {
    const { account, relationshipId } = await project();
    const store = new RedisCredentialStore(service.redis, new RedisKeys(service.config.redisPrefix));
    const legacy = `rbc_${randomBytes(32).toString("base64url")}`;
    const record = {
      accountId: account.id,
      relationshipId,
      issuer: "gitlab",
      subject: null,
      repositoryId: "20",
      repository: "group/project",
      ref: "refs/heads/main",
      workflow: null,
      run: "77",
      runKey: '["gitlab","x","20","77"]',
      cacheWrite: true,
      expiresAt: clock.now() + 10 * MINUTE,
    };
    await store.put(hashToken(legacy), record as never, 10 * MINUTE);
    // It still authenticates as it did; it is only not renewed.
    expect((await http(service.url, "GET", "/api/v1/builds", { token: legacy })).status).toBe(200);
    const refused = await refresh(legacy);
    expectProblem(refused, 403, "refresh-not-allowed", /exchanged before the service could renew/);
    expect(refused.body).toMatchObject({ reason: "not-renewable" });
  });
});
