import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { AUTH_CHANGED_CHANNEL } from "../../service/adapters/postgres/auth-changes.js";

/**
 * Replicas keep authenticated agent tokens in memory for a few seconds (AUTHENTICATED_TTL_MS) to
 * spare a PostgreSQL round trip per request. A revocation or an account change must still reach
 * every replica at once, whoever made it, and a replica that cannot hear about changes must not
 * answer from memory.
 */
describe("agent token revocation across replicas", () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await startTestService();
    b = await startTestService({
      RB_DATABASE_URL: a.config.databaseUrl,
      RB_REDIS_PREFIX: a.config.redisPrefix,
    });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  const builds = (service: TestService, token: string) =>
    http(service.url, "GET", "/api/v1/builds", { headers: { authorization: `Bearer ${token}` } });
  const create = (service: TestService, token: string) =>
    http(service.url, "POST", "/api/v1/builds", { token, body: {} });

  /** Milliseconds until `check` holds, polling; fails past `withinMs`. */
  async function until(check: () => Promise<boolean>, withinMs: number): Promise<number> {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return Date.now() - started;
  }

  /** The listening connection of a replica's auth-change feed, by its backend's pid. */
  async function listeners(): Promise<number[]> {
    const { rows } = await a.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1",
      [`LISTEN ${AUTH_CHANGED_CHANNEL}`],
    );
    return rows.map((r) => r.pid);
  }

  it("refuses a token revoked on another replica at once, not when its memory of it runs out", async () => {
    const { handle, token } = await a.account();
    expect((await builds(b, token)).status).toBe(200); // b now remembers the token
    const tokens = await http<{ tokens: Array<{ id: string }> }>(
      a.url,
      "GET",
      `/api/v1/admin/accounts/${handle}/tokens`,
      { token: ADMIN_TOKEN },
    );
    const revoked = await http(
      a.url,
      "DELETE",
      `/api/v1/admin/accounts/${handle}/tokens/${tokens.body.tokens[0]!.id}`,
      { token: ADMIN_TOKEN },
    );
    expect(revoked.status).toBe(200);
    // The notification comes at the revocation's commit; memory alone would answer for 5 s.
    const ms = await until(async () => (await builds(b, token)).status === 401, 4_000);
    expect(ms).toBeLessThan(1_000);
    expect((await builds(a, token)).status).toBe(401);
  });

  it("sees an account changed straight in the database, by no replica, at once", async () => {
    const { id, token } = await a.account();
    expect((await create(b, token)).status).toBe(201);
    await a.pool.query("UPDATE accounts SET features = '{}' WHERE id = $1", [id]);
    const ms = await until(async () => (await create(b, token)).status === 403, 4_000);
    expect(ms).toBeLessThan(1_000);
  });

  it("answers from memory only while it listens: a revocation made while its connection was down is not missed", async () => {
    const { id, token } = await a.account();
    expect((await builds(b, token)).status).toBe(200);
    const before = await listeners();
    expect(before).toHaveLength(2);
    // Both replicas lose their listening connections (gone when this returns), so the revocation's
    // notification reaches no one.
    await a.pool.query("SELECT pg_terminate_backend(pid, 5000) FROM unnest($1::int[]) AS pid", [before]);
    await a.pool.query("UPDATE agent_tokens SET revoked_at = now() WHERE account_id = $1", [id]);
    // They listen again within a second or so, well inside the 5 s a token is remembered, and
    // what they remembered from before is forgotten.
    await until(async () => (await listeners()).filter((pid) => !before.includes(pid)).length === 2, 5_000);
    expect((await builds(b, token)).status).toBe(401);
    expect((await builds(a, token)).status).toBe(401);
  });
});
