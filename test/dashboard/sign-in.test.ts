import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PostgresLedgerStore } from "../../service/adapters/postgres/ledger.js";
import { RedisDashboardSessions } from "../../service/adapters/redis/dashboard-sessions.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import { DashboardAccess } from "../../service/core/dashboard-access.js";
import type { DashboardGrant } from "../../service/core/ports.js";
import { hashToken } from "../../service/core/tokens.js";
import { DASHBOARD_CSP, SESSION_COOKIE } from "../../service/http/dashboard/routes.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import { signInLink } from "./support.js";

/**
 * The dashboard's sign-in and every way it refuses, over real HTTP against a real service: links
 * work once and expire, only their hashes are stored, the session cookie is HttpOnly and
 * SameSite=Strict (Secure over TLS), a session sees one account (the admin's, any), resets follow
 * the API's rules, and the live events carry only the session's own account's builds.
 */
describe("dashboard sign-in", () => {
  let service: TestService;
  let account: { handle: string; id: string; token: string };
  let sessions: RedisDashboardSessions;

  beforeAll(async () => {
    service = await startTestService({ RB_DASHBOARD_LINK_TTL_SECONDS: "1" });
    account = await service.account();
    sessions = new RedisDashboardSessions(service.redis, new RedisKeys(service.config.redisPrefix));
  });
  afterAll(() => service?.stop());

  /** Follows a link by hand: the cookie it sets, or the refusal. */
  async function visit(link: string, headers: Record<string, string> = {}) {
    const res = await fetch(link, { redirect: "manual", headers });
    return { res, cookie: res.headers.get("set-cookie"), text: await res.text() };
  }

  async function session(token = account.token): Promise<string> {
    const { cookie } = await visit(await signInLink(service.url, token));
    return /rb_dashboard=([^;]+)/.exec(cookie ?? "")![1]!;
  }

  const withSession = (secret: string, extra: Record<string, string> = {}) => ({
    cookie: `${SESSION_COOKIE}=${secret}`,
    ...extra,
  });

  it("turns a link into an HttpOnly, SameSite=Strict session cookie and redirects to the page", async () => {
    const { res, cookie } = await visit(await signInLink(service.url, account.token));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
    expect(cookie).toMatch(/^rb_dashboard=rbs_[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/dashboard/);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here
  });

  it("marks the cookie Secure when served over TLS (behind a TLS-terminating proxy)", async () => {
    const { cookie } = await visit(await signInLink(service.url, account.token), {
      "x-forwarded-proto": "https",
    });
    expect(cookie).toMatch(/; Secure/);
  });

  it("refuses a link used a second time", async () => {
    const link = await signInLink(service.url, account.token);
    expect((await visit(link)).res.status).toBe(303);
    const again = await http(link, "GET", "");
    expectProblem(again, 401, "sign-in-link-invalid", /expired or was already used/);
  });

  it("refuses an expired link, with a page that says so to a browser", async () => {
    const link = await signInLink(service.url, account.token);
    await sleep(1300); // RB_DASHBOARD_LINK_TTL_SECONDS=1
    const { res, text } = await visit(link, { accept: "text/html" });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(text).toContain("This sign-in link does not work");
    expect(text).toContain("remote-builder dashboard");
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refuses a made-up link and a missing one", async () => {
    for (const token of [`rbl_${randomBytes(32).toString("base64url")}`, "", "rbs_x"]) {
      const res = await http(service.url, "GET", `/dashboard/sign-in?token=${encodeURIComponent(token)}`);
      expectProblem(res, 401, "sign-in-link-invalid", /expired or was already used/);
    }
  });

  it("gives no link without a valid token", async () => {
    expectProblem(await http(service.url, "POST", "/api/v1/dashboard/links"), 401, "unauthorized", /Bearer/);
    expectProblem(
      await http(service.url, "POST", "/api/v1/dashboard/links", { token: `rba_${"x".repeat(43)}` }),
      401,
      "unauthorized",
      /not a valid agent token/,
    );
  });

  it("stores only hashes of links and sessions, never the secrets", async () => {
    const link = await signInLink(service.url, account.token);
    const secret = new URL(link).searchParams.get("token")!;
    const keys = await service.redis.keys(`${service.config.redisPrefix}dashboard:*`);
    expect(keys.some((k) => k.endsWith(hashToken(secret).toString("hex")))).toBe(true);
    for (const key of keys) {
      expect(key).not.toContain(secret);
      expect(await service.redis.get(key)).not.toContain(secret);
    }
  });

  it("shows the page only with a session, under a CSP that allows no inline script", async () => {
    expectProblem(
      await http(service.url, "GET", "/dashboard"),
      401,
      "unauthorized",
      /remote-builder dashboard/,
    );
    const noSession = await fetch(`${service.url}/dashboard`, { headers: { accept: "text/html" } });
    expect(noSession.status).toBe(401);
    expect(await noSession.text()).toContain("Sign in to the dashboard");
    const forged = await http(service.url, "GET", "/dashboard", {
      headers: withSession(`rbs_${randomBytes(32).toString("base64url")}`),
    });
    expect(forged.status).toBe(401);

    const page = await fetch(`${service.url}/dashboard`, { headers: withSession(await session()) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toMatch(/^default-src 'self'; script-src 'self';/);
    const html = await page.text();
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    // The script island by URL, and one JSON data block (never executed): no inline script.
    expect(scripts).toEqual([
      '<script src="/dashboard/app.js" defer>',
      '<script type="application/json" id="dashboard-data">',
    ]);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("serves the bundled script (chart.js inside) from the service itself", async () => {
    const res = await fetch(`${service.url}/dashboard/app.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect((await res.text()).length).toBeGreaterThan(50_000);
  });

  it("shows an agent token's session its own account only", async () => {
    const other = await service.account();
    const mine = await session();
    const refused = await http(service.url, "GET", `/dashboard?account=${other.handle}`, {
      headers: withSession(mine),
    });
    expectProblem(refused, 404, "not-found", /no account/);
  });

  it("lets the admin's session see any account", async () => {
    const other = await service.account();
    const { cookie } = await visit(await signInLink(service.url));
    const secret = /rb_dashboard=([^;]+)/.exec(cookie ?? "")![1]!;
    const page = await fetch(`${service.url}/dashboard?account=${other.handle}`, {
      headers: withSession(secret),
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`<span id="account">${other.handle}</span>`);
  });

  describe("volume resets", () => {
    it("refuses a reset without the page's header (no cross-site forms)", async () => {
      const res = await http(service.url, "POST", "/dashboard/volumes/buildkit/reset", {
        headers: withSession(await session()),
      });
      expectProblem(res, 400, "invalid-request", /X-Dashboard-Request/);
    });

    it("refuses a reset while a build holds the volume, as the API does", async () => {
      const build = await http<{ id: string }>(service.url, "POST", "/api/v1/builds", {
        token: account.token,
        body: { shape: "small" },
      });
      expect(build.status).toBe(201);
      const res = await http(service.url, "POST", "/dashboard/volumes/buildkit/reset", {
        headers: withSession(await session(), { "x-dashboard-request": "1" }),
      });
      expectProblem(res, 409, "volume-in-use", /in use by build/);
      await http(service.url, "POST", `/api/v1/builds/${build.body.id}/complete`, {
        token: account.token,
        body: { result: "success" },
      });
    });

    it("refuses a reset to a session from a credential that may not write the cache", async () => {
      const grant: DashboardGrant = {
        admin: false,
        accountId: account.id,
        cacheWrite: false,
        runKey: "run",
        signedInWith: null,
      };
      const secret = `rbs_${randomBytes(32).toString("base64url")}`;
      await sessions.putSession(hashToken(secret), grant, 60_000);
      const res = await http(service.url, "POST", "/dashboard/volumes/buildkit/reset", {
        headers: withSession(secret, { "x-dashboard-request": "1" }),
      });
      expectProblem(res, 403, "cache-write-not-allowed", /may not write/);
      const page = await fetch(`${service.url}/dashboard`, { headers: withSession(secret) });
      expect(await page.text()).not.toContain('class="reset"');
    });

    it("resets a volume no build holds", async () => {
      const res = await http(service.url, "POST", "/dashboard/volumes/buildkit/reset", {
        headers: withSession(await session(), { "x-dashboard-request": "1" }),
      });
      expect(res.status).toBe(200);
    });
  });

  describe("trust relationships", () => {
    it("shows them read-only to an account's session, which may not remove one", async () => {
      const relationship = await service.trust.add(account.id, { ownerId: "4242" });
      const secret = await session();
      const page = await (await fetch(`${service.url}/dashboard`, { headers: withSession(secret) })).text();
      expect(page).toContain(`id="trust-${relationship.id}"`);
      expect(page).toContain("Read-only");
      expect(page).not.toContain('class="remove-trust"');
      const refused = await http(service.url, "POST", `/dashboard/trust/${relationship.id}/remove`, {
        headers: withSession(secret, { "x-dashboard-request": "1" }),
      });
      expectProblem(refused, 403, "admin-required", /Only the admin/);
      expect((await service.trust.list(account.id)).map((r) => r.id)).toContain(relationship.id);
    });

    it("lets the admin's session remove one", async () => {
      const relationship = await service.trust.add(account.id, { ownerId: "4343" });
      const { cookie } = await visit(await signInLink(service.url));
      const secret = /rb_dashboard=([^;]+)/.exec(cookie ?? "")![1]!;
      const removed = await http(
        service.url,
        "POST",
        `/dashboard/trust/${relationship.id}/remove?account=${account.handle}`,
        { headers: withSession(secret, { "x-dashboard-request": "1" }) },
      );
      expect(removed.status).toBe(200);
      expect((await service.trust.list(account.id)).map((r) => r.id)).not.toContain(relationship.id);
    });
  });

  it("gives a credential's link a session that may not reset when the credential may not write", async () => {
    const access = new DashboardAccess({ sessions, clock: { now: () => Date.now() } });
    const found = await service.accounts.get(account.handle);
    const proof = { kind: "credential" as const, hash: "ab".repeat(32) };
    const { token } = await access.mintLink(
      {
        account: found,
        tokenId: null,
        cacheWrite: false,
        ci: { repository: "acme/app", ref: "refs/pull/1/merge", workflow: null, run: "1", runKey: "k1" },
      },
      proof,
    );
    const { grant } = await access.redeem(token);
    expect(grant).toEqual({
      admin: false,
      accountId: account.id,
      cacheWrite: false,
      runKey: "k1",
      signedInWith: proof,
    });
  });

  it("ends a session when it expires", async () => {
    const secret = `rbs_${randomBytes(32).toString("base64url")}`;
    await sessions.putSession(
      hashToken(secret),
      { admin: true, accountId: null, cacheWrite: true, runKey: null, signedInWith: null },
      50,
    );
    await sleep(120);
    expect((await http(service.url, "GET", "/dashboard", { headers: withSession(secret) })).status).toBe(401);
  });

  it("streams the session's own account's builds, and no other account's", async () => {
    const other = await service.account();
    const controller = new AbortController();
    const stream = await fetch(`${service.url}/dashboard/events`, {
      headers: withSession(await session()),
      signal: controller.signal,
    });
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream.body!) seen.push(decoder.decode(chunk as Uint8Array));
      } catch {
        // aborted
      }
    })();
    const create = (token: string) =>
      http<{ id: string }>(service.url, "POST", "/api/v1/builds", { token, body: { shape: "small" } });
    const theirs = await create(other.token);
    const mine = await create(account.token);
    const deadline = Date.now() + 5000;
    while (!seen.join("").includes(`"state":"ready"`) && Date.now() < deadline) await sleep(50);
    controller.abort();
    await reading;
    const text = seen.join("");
    expect(text).toContain(mine.body.id);
    expect(text).toContain(`"state":"ready"`);
    expect(text).not.toContain(theirs.body.id);
    for (const [id, token] of [
      [mine.body.id, account.token],
      [theirs.body.id, other.token],
    ] as const)
      await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
        token,
        body: { result: "success" },
      });
  });
});

describe("usage by day", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(() => service?.stop());

  it("splits a build at UTC midnight and counts storage hours on the day they started", async () => {
    const { id } = await service.account();
    const ledger = new PostgresLedgerStore(service.pool);
    const midnight = Date.UTC(2030, 0, 2);
    await ledger.append([
      {
        key: `build:${randomUUID()}`,
        kind: "build",
        accountId: id,
        buildId: randomUUID(),
        shape: "small",
        startedAt: midnight - 10 * 60_000,
        endedAt: midnight + 30 * 60_000,
        quantity: 2400,
        unit: "seconds",
        endReason: "completed",
      },
      {
        key: `storage:${randomUUID()}`,
        kind: "storage",
        accountId: id,
        volumeId: randomUUID(),
        startedAt: midnight + 3_600_000,
        endedAt: midnight + 7_200_000,
        quantity: 10,
        unit: "gib-hours",
      },
    ]);
    expect(await ledger.usageByDay(id, Date.UTC(2030, 0, 1), Date.UTC(2030, 1, 1))).toEqual([
      { day: "2030-01-01", buildSeconds: 600, storageGiBHours: 0 },
      { day: "2030-01-02", buildSeconds: 1800, storageGiBHours: 10 },
    ]);
    // Clipped to the range asked for, as usage() is.
    expect(await ledger.usageByDay(id, midnight, Date.UTC(2030, 1, 1))).toEqual([
      { day: "2030-01-02", buildSeconds: 1800, storageGiBHours: 10 },
    ]);
  });
});
