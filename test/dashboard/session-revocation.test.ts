import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { eventually } from "../harness/wait.js";
import { githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { signInLink } from "./support.js";
import { SESSION_COOKIE } from "../../service/http/dashboard/routes.js";

type Json = Record<string, unknown>;

/**
 * A dashboard session lasts only while the secret that asked for its link still authenticates:
 * revoking the agent token, or removing the trust relationship an OIDC credential came through,
 * ends the session at its next request, as it ends the secret's own API access.
 */
describe("dashboard sessions end with the secret that opened them", () => {
  let issuer: TestIssuer;
  let service: TestService;
  let account: { handle: string; id: string; token: string };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null));
    account = await service.account({ plan: "team" });
  });
  afterAll(async () => {
    await service?.stop();
    await issuer?.stop();
  });

  /** A session from `token`'s link, and a way to ask for the page with it. */
  async function sessionOf(token: string) {
    const res = await fetch(await signInLink(service.url, token), { redirect: "manual" });
    expect(res.status).toBe(303);
    const secret = /rb_dashboard=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
    const headers = { cookie: `${SESSION_COOKIE}=${secret}` };
    return () => http(service.url, "GET", "/dashboard", { headers });
  }

  /** Refused as any request without a session is, saying how to sign in again. */
  async function expectSignedOut(page: Awaited<ReturnType<typeof sessionOf>>) {
    await eventually("the session refused", async () => (await page()).status === 401);
    expectProblem(await page(), 401, "unauthorized", /remote-builder dashboard/);
  }

  it("ends when the agent token is revoked", async () => {
    const minted = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/tokens`, {
      token: ADMIN_TOKEN,
      body: { name: "dashboard" },
    });
    expect(minted.status).toBe(201);
    const page = await sessionOf(String(minted.body.token));
    expect((await page()).status).toBe(200);
    const revoked = await http(
      service.url,
      "DELETE",
      `/api/v1/admin/accounts/${account.handle}/tokens/${String(minted.body.id)}`,
      { token: ADMIN_TOKEN },
    );
    expect(revoked.status).toBe(200);
    await expectSignedOut(page);
    // Another token's session is untouched.
    expect((await (await sessionOf(account.token))()).status).toBe(200);
  });

  it("ends when the credential's trust relationship is removed", async () => {
    const added = await http<Json>(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { ownerId: "1001" },
    });
    expect(added.status).toBe(201);
    const exchanged = await http<Json>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token: await issuer.token(githubClaims()) },
    });
    expect(exchanged.status).toBe(200);
    const page = await sessionOf(String(exchanged.body.credential));
    expect((await page()).status).toBe(200);
    const removed = await http(
      service.url,
      "DELETE",
      `/api/v1/admin/accounts/${account.handle}/trust/${String(added.body.id)}`,
      { token: ADMIN_TOKEN },
    );
    expect(removed.status).toBe(200);
    await expectSignedOut(page);
  });
});
