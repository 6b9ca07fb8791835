import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { AUDIENCE, githubClaims, oidcEnv, signingKey, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("the OIDC exchange, GitHub Actions end to end", () => {
  let issuer: TestIssuer;
  let stranger: TestIssuer;
  let service: TestService;
  let account: { handle: string; id: string; token: string };
  let relationshipId: string;

  const exchange = (token: string, extra: Json = {}) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token, ...extra } });
  const trust = async (handle: string, body: Json) => {
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
      token: ADMIN_TOKEN,
      body,
    });
    expect(added.status).toBe(201);
    return added.body;
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    stranger = await TestIssuer.start();
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null));
    account = await service.account({ plan: "team" });
    relationshipId = String(
      (await trust(account.handle, { ownerId: "1001", cacheWriteRefs: ["refs/heads/main"] })).id,
    );
  });
  afterAll(async () => {
    await service.stop();
    await issuer.stop();
    await stranger.stop();
  });

  it("turns a push's token into a scoped credential that admits a build, which records the run", async () => {
    const exchanged = await exchange(await issuer.token(githubClaims()));
    expect(exchanged.status).toBe(200);
    expect(exchanged.headers.get("cache-control")).toBe("no-store");
    expect(exchanged.body).toMatchObject({
      tokenType: "Bearer",
      account: { id: account.id, handle: account.handle },
      trustRelationship: relationshipId,
      scope: {
        issuer: "github",
        ownerId: "1001",
        repositoryId: "2002",
        repository: "acme/app",
        ref: "refs/heads/main",
        run: "987654/1",
      },
      cache: { write: true },
    });
    const credential = String(exchanged.body.credential);
    expect(credential).toMatch(/^rbc_[A-Za-z0-9_-]{43}$/);
    expect(exchanged.body.expiresIn).toBeLessThanOrEqual(3600);

    // Stored hashed, with a TTL of at most an hour: the secret itself is nowhere in Redis.
    const stored = await service.redis.keys(`${service.config.redisPrefix}oidc:credential:*`);
    expect(stored.length).toBeGreaterThan(0);
    for (const key of stored) {
      expect(key).not.toContain(credential.slice(4));
      const ttl = await service.redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }

    const created = await http<Json>(service.url, "POST", "/api/v1/builds", { token: credential, body: {} });
    expect(created.status).toBe(201);
    expect(created.body.ci).toEqual({
      repository: "acme/app",
      ref: "refs/heads/main",
      workflow: "CI",
      run: "987654/1",
    });
    expect(created.body.cache).toMatchObject({ mode: "persistent" });
    const id = String(created.body.id);
    const read = await http<Json>(service.url, "GET", `/api/v1/builds/${id}`, { token: credential });
    expect(read.body.ci).toEqual(created.body.ci);
    const row = await service.pool.query(
      "SELECT repository, ref, workflow, run, token_id FROM builds WHERE id = $1",
      [id],
    );
    expect(row.rows[0]).toEqual({
      repository: "acme/app",
      ref: "refs/heads/main",
      workflow: "CI",
      run: "987654/1",
      token_id: null,
    });
    await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token: credential,
      body: { result: "success" },
    });
  });

  it("gives a pull request's build, allowed to build but not to write the cache, a cold builder", async () => {
    const pr = await exchange(
      await issuer.token(
        githubClaims({ ref: "refs/pull/7/merge", event_name: "pull_request", run_id: "555" }),
      ),
    );
    expect(pr.status).toBe(200);
    expect(pr.body.cache).toMatchObject({ write: false });
    expect(String((pr.body.cache as Json).policy)).toContain("pull_request");
    const build = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(pr.body.credential),
      body: { cache: "wait" },
    });
    expect(build.status).toBe(201);
    expect(build.body.cache).toMatchObject({ requested: "wait", mode: "cold" });
    expect(String((build.body.cache as Json).reason)).toContain("refs/pull/7/merge may not write");
    // A push to a branch outside the relationship's cache-write refs builds cold too.
    const dev = await exchange(await issuer.token(githubClaims({ ref: "refs/heads/dev" })));
    expect(dev.body.cache).toMatchObject({ write: false });
    const devBuild = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(dev.body.credential),
      body: {},
    });
    expect(devBuild.body.cache).toMatchObject({ mode: "cold" });
    // While a push to main still gets the warm cache volume.
    const main = await exchange(await issuer.token(githubClaims()));
    const mainBuild = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: String(main.body.credential),
      body: {},
    });
    expect(mainBuild.body.cache).toMatchObject({ mode: "persistent" });
    for (const [b, c] of [
      [build, pr],
      [devBuild, dev],
      [mainBuild, main],
    ] as const) {
      await http(service.url, "POST", `/api/v1/builds/${String(b.body.id)}/complete`, {
        token: String(c.body.credential),
        body: { result: "success" },
      });
    }
    // Nor may the pull request throw the warm cache away; a job on main may.
    const volume = `/api/v1/accounts/${account.handle}/cache-volumes/buildkit`;
    const refused = await http<Json>(service.url, "DELETE", volume, { token: String(pr.body.credential) });
    expect(refused.status).toBe(403);
    expect(refused.body.type).toBe("https://remote-builder.tuist.dev/problems/cache-write-not-allowed");
    expect(String(refused.body.detail)).toContain("may not reset it");
    const reset = await http<Json>(service.url, "DELETE", volume, { token: String(main.body.credential) });
    expect(reset.status).toBe(200);
  });

  it("refuses pull_request_target unless a relationship lists it, and says so", async () => {
    const refused = await exchange(await issuer.token(githubClaims({ event_name: "pull_request_target" })));
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(refused.body.type).toBe("https://remote-builder.tuist.dev/problems/event-not-allowed");
    expect(String(refused.body.detail)).toContain("--event pull_request_target");
    const other = await service.account();
    await trust(other.handle, { ownerId: "3003", events: ["pull_request_target"] });
    const allowed = await exchange(
      await issuer.token(githubClaims({ repository_owner_id: "3003", event_name: "pull_request_target" })),
    );
    expect(allowed.status).toBe(200);
    expect(allowed.body.cache).toMatchObject({ write: false });
  });

  it("ends a relationship's credentials the moment it is removed", async () => {
    const other = await service.account();
    const rel = await trust(other.handle, { ownerId: "4004" });
    const ok = await exchange(await issuer.token(githubClaims({ repository_owner_id: "4004" })));
    const credential = String(ok.body.credential);
    expect((await http(service.url, "GET", "/api/v1/builds", { token: credential })).status).toBe(200);
    const removed = await http(
      service.url,
      "DELETE",
      `/api/v1/admin/accounts/${other.handle}/trust/${String(rel.id)}`,
      {
        token: ADMIN_TOKEN,
      },
    );
    expect(removed.status).toBe(200);
    const after = await http<Json>(service.url, "GET", "/api/v1/builds", { token: credential });
    expect(after.status).toBe(401);
    expect(String(after.body.detail)).toContain("POST /api/v1/auth/oidc");
    const again = await exchange(await issuer.token(githubClaims({ repository_owner_id: "4004" })));
    expect(again.status).toBe(403);
  });

  it("refuses a made-up credential as unauthorized, and still takes agent tokens", async () => {
    const fake = await http(service.url, "GET", "/api/v1/builds", { token: `rbc_${"A".repeat(43)}` });
    expect(fake.status).toBe(401);
    expect((await http(service.url, "GET", "/api/v1/builds", { token: account.token })).status).toBe(200);
  });

  it("asks which account when two trust the same job, and acts for the one named", async () => {
    const a = await service.account();
    const b = await service.account();
    await trust(a.handle, { ownerId: "5005" });
    await trust(b.handle, { ownerId: "5005" });
    const claims = githubClaims({ repository_owner_id: "5005" });
    const ambiguous = await exchange(await issuer.token(claims));
    expect(ambiguous.status).toBe(400);
    const named = await exchange(await issuer.token(claims), { account: b.handle });
    expect(named.status).toBe(200);
    expect(named.body.account).toEqual({ id: b.id, handle: b.handle });
  });

  describe("refuses bad tokens, each with the right reason", () => {
    type Bad = [string, () => Promise<string>, number, string, string | null];
    const none = async () =>
      `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...githubClaims(), iss: issuer.url, aud: AUDIENCE, exp: 9e9, iat: 1, jti: "x" })}.`;
    const cases: Bad[] = [
      ["alg none (unsigned)", none, 401, "invalid-token", "malformed"],
      [
        "alg none with a signature part",
        async () => `${(await none()).slice(0, -1)}.c2ln`,
        401,
        "invalid-token",
        "algorithm",
      ],
      [
        "HS256 signed with the issuer's public key as the secret",
        async () => {
          const secret = new TextEncoder().encode(JSON.stringify(issuer.key.jwk));
          return new SignJWT({ ...githubClaims(), iss: issuer.url, aud: AUDIENCE, jti: "hs" })
            .setProtectedHeader({ alg: "HS256", kid: issuer.key.kid })
            .setIssuedAt()
            .setExpirationTime("5m")
            .sign(secret);
        },
        401,
        "invalid-token",
        "algorithm",
      ],
      [
        "ES256 from a key of its own",
        async () => {
          const { privateKey } = await generateKeyPair("ES256");
          return new SignJWT({ ...githubClaims(), iss: issuer.url, aud: AUDIENCE, jti: "es" })
            .setProtectedHeader({ alg: "ES256", kid: issuer.key.kid })
            .setIssuedAt()
            .setExpirationTime("5m")
            .sign(privateKey);
        },
        401,
        "invalid-token",
        "algorithm",
      ],
      [
        "an unknown kid",
        async () => issuer.token(githubClaims(), { header: { kid: "nobody" } }),
        401,
        "invalid-token",
        "unknown-kid",
      ],
      [
        "no kid",
        async () => issuer.token(githubClaims(), { header: { kid: undefined } }),
        401,
        "invalid-token",
        "missing-kid",
      ],
      [
        "signed by a key the issuer does not publish, under a kid it does",
        async () => {
          const rogue = await signingKey(issuer.key.kid);
          return issuer.token(githubClaims(), { key: rogue });
        },
        401,
        "invalid-token",
        "signature",
      ],
      ["a wrong issuer", async () => stranger.token(githubClaims()), 401, "unknown-issuer", "unknown-issuer"],
      [
        "no issuer",
        async () => issuer.token(githubClaims(), { omit: ["iss"] }),
        401,
        "unknown-issuer",
        "unknown-issuer",
      ],
      [
        "a wrong audience",
        async () => issuer.token(githubClaims({ aud: "https://other.example" })),
        401,
        "wrong-audience",
        "audience",
      ],
      [
        "an audience list with ours and another",
        async () => issuer.token(githubClaims({ aud: [AUDIENCE, "https://other.example"] })),
        401,
        "wrong-audience",
        "audience",
      ],
      [
        "no audience",
        async () => issuer.token(githubClaims(), { omit: ["aud"] }),
        401,
        "wrong-audience",
        "audience",
      ],
      [
        "expired (beyond the 30 s leeway)",
        async () =>
          issuer.token(
            githubClaims({
              exp: Math.floor(Date.now() / 1000) - 31,
              iat: Math.floor(Date.now() / 1000) - 600,
            }),
          ),
        401,
        "token-expired",
        "expired",
      ],
      [
        "no exp",
        async () => issuer.token(githubClaims(), { omit: ["exp"] }),
        401,
        "invalid-token",
        "missing-claim",
      ],
      [
        "nbf in the future",
        async () => issuer.token(githubClaims({ nbf: Math.floor(Date.now() / 1000) + 120 })),
        401,
        "invalid-token",
        "not-yet-valid",
      ],
      [
        "iat in the future",
        async () => issuer.token(githubClaims({ iat: Math.floor(Date.now() / 1000) + 120 })),
        401,
        "invalid-token",
        "issued-in-future",
      ],
      [
        "no jti",
        async () => issuer.token(githubClaims(), { omit: ["jti"] }),
        401,
        "invalid-token",
        "missing-claim",
      ],
      [
        "missing repository_owner_id",
        async () => issuer.token(githubClaims(), { omit: ["repository_owner_id"] }),
        401,
        "invalid-token",
        "missing-claim",
      ],
      [
        "a non-numeric repository_owner_id",
        async () => issuer.token(githubClaims({ repository_owner_id: "acme" })),
        401,
        "invalid-token",
        "invalid-claim",
      ],
      [
        "the same owner name with a different owner id",
        async () => issuer.token(githubClaims({ repository_owner: "acme", repository_owner_id: "1002" })),
        403,
        "no-trust-relationship",
        null,
      ],
      [
        "an owner nobody trusts",
        async () => issuer.token(githubClaims({ repository_owner_id: "424242" })),
        403,
        "no-trust-relationship",
        null,
      ],
      [
        "workflow_run by default",
        async () => issuer.token(githubClaims({ event_name: "workflow_run" })),
        403,
        "event-not-allowed",
        null,
      ],
      [
        "oversized",
        async () => issuer.token(githubClaims({ padding: "x".repeat(9000) })),
        401,
        "invalid-token",
        "oversized",
      ],
      [
        "truncated",
        async () => (await issuer.token(githubClaims())).slice(0, -20),
        401,
        "invalid-token",
        "signature",
      ],
      [
        "with its signature cut off",
        async () => (await issuer.token(githubClaims())).split(".").slice(0, 2).join("."),
        401,
        "invalid-token",
        "malformed",
      ],
      ["not a JWT", async () => "hello, world", 401, "invalid-token", "malformed"],
      ["an agent token instead of a JWT", async () => account.token, 401, "invalid-token", "malformed"],
      ["JSON that is not base64url", async () => "eyJ.eyJ.sig", 401, "invalid-token", "malformed"],
      [
        "a payload altered after signing",
        async () => {
          const [h, , s] = (await issuer.token(githubClaims())).split(".");
          return `${h}.${b64({ ...githubClaims({ repository_owner_id: "1001" }), iss: issuer.url, aud: AUDIENCE, exp: 9e9, iat: 1, jti: "alt" })}.${s}`;
        },
        401,
        "invalid-token",
        "signature",
      ],
    ];
    it.each(cases)("%s", async (_name, make, status, kind, reason) => {
      const refused = await exchange(await make());
      expect({ status: refused.status, type: refused.body.type }).toEqual({
        status,
        type: `https://remote-builder.tuist.dev/problems/${kind}`,
      });
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      if (reason !== null) expect(refused.body.reason).toBe(reason);
      expect(String(refused.body.detail).length).toBeGreaterThan(20);
    });

    it("a replayed jti, even well within the token's life", async () => {
      const token = await issuer.token(githubClaims());
      expect((await exchange(token)).status).toBe(200);
      const again = await exchange(token);
      expect(again.status).toBe(401);
      expect(again.body).toMatchObject({
        type: "https://remote-builder.tuist.dev/problems/token-replayed",
        reason: "replayed",
      });
    });

    it("a wrong audience says which audience is expected", async () => {
      const refused = await exchange(await issuer.token(githubClaims({ aud: "sts.amazonaws.com" })));
      expect(refused.body.expected).toBe(AUDIENCE);
      expect(String(refused.body.detail)).toContain(`core.getIDToken("${AUDIENCE}")`);
    });

    it("no trust relationship says the owner id and how to add one", async () => {
      const refused = await exchange(await issuer.token(githubClaims({ repository_owner_id: "777" })));
      expect(String(refused.body.detail)).toContain("owner id 777");
      expect(String(refused.body.detail)).toContain(
        "remote-builder admin trust add <account> --issuer github --owner-id 777",
      );
    });

    it("a token within the 30 s leeway is still accepted", async () => {
      const now = Math.floor(Date.now() / 1000);
      const late = await exchange(
        await issuer.token(githubClaims({ exp: now - 10, iat: now - 300, nbf: now - 300 })),
      );
      expect(late.status).toBe(200);
      const early = await exchange(await issuer.token(githubClaims({ iat: now + 10, nbf: now + 10 })));
      expect(early.status).toBe(200);
    });
  });
});
