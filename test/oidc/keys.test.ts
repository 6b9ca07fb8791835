import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { githubClaims, oidcEnv, signingKey, TestIssuer } from "./fixtures.js";

type Json = Record<string, unknown>;
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const COOLDOWN_MS = 1000;

async function trustOwner(service: TestService, ownerId = "1001"): Promise<void> {
  const { handle } = await service.account();
  const added = await http(service.url, "POST", `/api/v1/admin/accounts/${handle}/trust`, {
    token: ADMIN_TOKEN,
    body: { ownerId },
  });
  expect(added.status).toBe(201);
}

describe("the issuer's signing keys", () => {
  let issuer: TestIssuer;
  let service: TestService;
  const exchange = (token: string) =>
    http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    service = await startTestService(
      oidcEnv([{ name: "github", kind: "github", issuer }], null, {
        RB_OIDC_JWKS_COOLDOWN_SECONDS: String(COOLDOWN_MS / 1000),
      }),
    );
    await trustOwner(service);
  });
  afterAll(async () => {
    await service.stop();
    await issuer.stop();
  });

  it("are fetched once and cached: many exchanges, one JWKS fetch", async () => {
    const before = issuer.jwksFetches;
    for (let i = 0; i < 5; i++) expect((await exchange(await issuer.token(githubClaims()))).status).toBe(200);
    expect(issuer.jwksFetches - before).toBeLessThanOrEqual(1);
  });

  it("rotate without a restart: a new kid at the JWKS verifies", async () => {
    await sleep(COOLDOWN_MS + 50);
    const next = await signingKey();
    issuer.keys.push(next);
    const rotated = await exchange(await issuer.token(githubClaims(), { key: next }));
    expect(rotated.status).toBe(200);
    // And the old key, still published, keeps verifying.
    expect((await exchange(await issuer.token(githubClaims()))).status).toBe(200);
  });

  it("a flood of unknown kids fetches the JWKS at most once per cooldown", async () => {
    await sleep(COOLDOWN_MS + 50);
    const before = issuer.jwksFetches;
    const rogue = await signingKey("rogue");
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => issuer.token(githubClaims(), { key: rogue })),
    );
    const answers = await Promise.all(tokens.map((t) => exchange(t)));
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.body.reason).toBe("unknown-kid");
    }
    expect(issuer.jwksFetches - before).toBe(1);
  });

  it("never caches an empty key set: the keys it had keep verifying", async () => {
    await sleep(COOLDOWN_MS + 50);
    issuer.jwksOverride = { keys: [] };
    try {
      const unknown = await signingKey();
      const refused = await exchange(await issuer.token(githubClaims(), { key: unknown }));
      expect(refused.status).toBe(503);
      expect(String(refused.body.detail)).toContain("no RS256 signing keys");
      expect((await exchange(await issuer.token(githubClaims()))).status).toBe(200);
    } finally {
      issuer.jwksOverride = null;
    }
  });

  it("with the JWKS server down, cached keys still verify; a key it never saw is a clear 503", async () => {
    await issuer.down();
    try {
      await sleep(COOLDOWN_MS + 50);
      expect((await exchange(await issuer.token(githubClaims()))).status).toBe(200);
      const unseen = await signingKey();
      const refused = await exchange(await issuer.token(githubClaims(), { key: unseen }));
      expect(refused.status).toBe(503);
      expect(refused.body.type).toBe("https://remote-builder.tuist.dev/problems/unavailable");
      expect(refused.headers.get("retry-after")).not.toBeNull();
      expect(String(refused.body.detail)).toContain("cannot be fetched");
    } finally {
      await issuer.up();
    }
  });

  it("a replica that starts while the issuer is down verifies with the last key set another one saw", async () => {
    await issuer.down();
    const replica = await startTestService(
      oidcEnv([{ name: "github", kind: "github", issuer }], null, {
        RB_DATABASE_URL: service.config.databaseUrl,
        RB_REDIS_PREFIX: service.config.redisPrefix,
      }),
    );
    try {
      const answer = await http(replica.url, "POST", "/api/v1/auth/oidc", {
        body: { token: await issuer.token(githubClaims()) },
      });
      expect(answer.status).toBe(200);
    } finally {
      await replica.stop();
      await issuer.up();
    }
  });
});

describe("an issuer whose keys were never fetched", () => {
  it("answers 503 unavailable while its JWKS is down, not 500, and verifies once it is back", async () => {
    const issuer = await TestIssuer.start();
    const service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null));
    try {
      await trustOwner(service);
      await issuer.down();
      const token = await issuer.token(githubClaims());
      const down = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });
      expect(down.status).toBe(503);
      expect(down.headers.get("content-type")).toContain("application/problem+json");
      expect(String(down.body.detail)).toContain(issuer.url);
      issuer.failWith = 502;
      await issuer.up();
      const failing = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", {
        body: { token: await issuer.token(githubClaims()) },
      });
      expect(failing.status).toBe(503);
      issuer.failWith = 0;
      await sleep(300);
      // The token refused with a 503 was never marked used: the job may retry it.
      const back = await http(service.url, "POST", "/api/v1/auth/oidc", { body: { token } });
      expect(back.status).toBe(200);
    } finally {
      await service.stop();
      await issuer.stop();
    }
  });
});
