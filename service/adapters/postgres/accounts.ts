import type { Pool } from "pg";
import type { Account, AgentToken } from "../../core/accounts.js";
import type { AccountStore, AccountUpdate, NewAccount } from "../../core/ports.js";
import { Problem } from "../../core/problems.js";
import type { AuthChanges } from "./auth-changes.js";

export const ACCOUNT_COLUMNS = `id, handle, plan, features, concurrency_limit, monthly_build_minutes, cache_volume_gib,
  allowed_shapes, profiles, created_at, updated_at`;
const TOKEN_COLUMNS = "id, account_id, name, prefix, created_at, last_used_at, revoked_at";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** camelCase field → column, for the fields an update may set. */
const UPDATABLE: Record<keyof AccountUpdate, string> = {
  plan: "plan",
  features: "features",
  concurrencyLimit: "concurrency_limit",
  monthlyBuildMinutes: "monthly_build_minutes",
  cacheVolumeGiB: "cache_volume_gib",
  allowedShapes: "allowed_shapes",
  profiles: "profiles",
};

type Row = Record<string, unknown>;
type Authenticated = { account: Account; token: AgentToken };

/**
 * How long an authenticated token is taken on trust without reading it again. Revocations and
 * account changes end it sooner, at once (`AuthChanges`); this bounds how long a listening
 * connection that died without a word could leave one unseen, and keeps last_used_at fresh.
 */
const AUTHENTICATED_TTL_MS = 5_000;
const AUTHENTICATED_MAX = 10_000;

export class PostgresAccountStore implements AccountStore {
  /** Tokens that authenticated, by hash, in the generation of `changes` they were read in. */
  private readonly authenticated = new Map<
    string,
    { value: Authenticated; generation: number; at: number }
  >();

  /** With `changes`, authenticated tokens are kept while nothing about them can have changed. */
  constructor(
    private readonly pool: Pool,
    private readonly changes: AuthChanges | null = null,
  ) {}

  async create(account: NewAccount): Promise<Account> {
    try {
      const { rows } = await this.pool.query(
        `INSERT INTO accounts (handle, plan, features, concurrency_limit, monthly_build_minutes, cache_volume_gib, allowed_shapes, profiles)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${ACCOUNT_COLUMNS}`,
        [
          account.handle,
          account.plan,
          account.features,
          account.concurrencyLimit,
          account.monthlyBuildMinutes,
          account.cacheVolumeGiB,
          account.allowedShapes,
          JSON.stringify(account.profiles),
        ],
      );
      return toAccount(rows[0]);
    } catch (err) {
      if ((err as { code?: string }).code === "23505") {
        throw new Problem("conflict", `An account with the handle "${account.handle}" already exists.`);
      }
      throw err;
    }
  }

  async find(ref: string): Promise<Account | null> {
    const column = UUID.test(ref) ? "id" : "handle";
    const { rows } = await this.pool.query(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE ${column} = $1`, [
      ref,
    ]);
    return rows[0] ? toAccount(rows[0]) : null;
  }

  async handles(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ handle: string }>(
      "SELECT handle FROM accounts ORDER BY handle LIMIT $1",
      [limit],
    );
    return rows.map((r) => r.handle);
  }

  async update(id: string, update: AccountUpdate): Promise<Account> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [field, column] of Object.entries(UPDATABLE)) {
      const value = update[field as keyof AccountUpdate];
      if (value === undefined) continue;
      values.push(field === "profiles" ? JSON.stringify(value) : value);
      sets.push(`${column} = $${values.length}`);
    }
    const { rows } = await this.pool.query(
      `UPDATE accounts SET ${[...sets, "updated_at = now()"].join(", ")} WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
      values,
    );
    this.changes?.changed();
    if (!rows[0]) throw new Problem("not-found", `There is no account ${id}.`);
    return toAccount(rows[0]);
  }

  async setFeature(id: string, feature: string, enabled: boolean): Promise<Account> {
    const { rows } = await this.pool.query(
      `UPDATE accounts SET features = CASE WHEN $3 THEN array(SELECT DISTINCT unnest(array_append(features, $2)))
                                           ELSE array_remove(features, $2) END,
                           updated_at = now()
       WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
      [id, feature, enabled],
    );
    this.changes?.changed();
    if (!rows[0]) throw new Problem("not-found", `There is no account ${id}.`);
    return toAccount(rows[0]);
  }

  async createToken(accountId: string, name: string, tokenHash: Buffer, prefix: string): Promise<AgentToken> {
    const { rows } = await this.pool.query(
      `INSERT INTO agent_tokens (account_id, name, token_hash, prefix) VALUES ($1, $2, $3, $4) RETURNING ${TOKEN_COLUMNS}`,
      [accountId, name, tokenHash, prefix],
    );
    return toToken(rows[0]);
  }

  async listTokens(accountId: string): Promise<AgentToken[]> {
    const { rows } = await this.pool.query(
      `SELECT ${TOKEN_COLUMNS} FROM agent_tokens WHERE account_id = $1 ORDER BY created_at`,
      [accountId],
    );
    return rows.map(toToken);
  }

  async revokeToken(accountId: string, tokenId: string): Promise<AgentToken | null> {
    if (!UUID.test(tokenId)) return null;
    const { rows } = await this.pool.query(
      `UPDATE agent_tokens SET revoked_at = coalesce(revoked_at, now())
       WHERE account_id = $1 AND id = $2 RETURNING ${TOKEN_COLUMNS}`,
      [accountId, tokenId],
    );
    this.changes?.changed();
    return rows[0] ? toToken(rows[0]) : null;
  }

  /**
   * The token's account, if the token is live. Answered from memory while `changes` listens and
   * nothing about the token or its account has changed since it was read (at most a few seconds
   * ago); read from PostgreSQL otherwise. Refusals are never kept.
   */
  async authenticate(tokenHash: Buffer): Promise<Authenticated | null> {
    const changes = this.changes;
    if (changes === null || !changes.live) return this.readAuthenticated(tokenHash);
    const key = tokenHash.toString("base64");
    const now = Date.now();
    const kept = this.authenticated.get(key);
    if (kept && kept.generation === changes.generation && now - kept.at < AUTHENTICATED_TTL_MS) {
      return kept.value;
    }
    const generation = changes.generation;
    const found = await this.readAuthenticated(tokenHash);
    if (found === null || !changes.live || changes.generation !== generation) {
      this.authenticated.delete(key);
      return found;
    }
    this.authenticated.delete(key);
    this.authenticated.set(key, { value: found, generation, at: now });
    if (this.authenticated.size > AUTHENTICATED_MAX) {
      this.authenticated.delete(this.authenticated.keys().next().value!);
    }
    return found;
  }

  private async readAuthenticated(tokenHash: Buffer): Promise<Authenticated | null> {
    // last_used_at is advisory, so it is written at most once a minute per token.
    const { rows } = await this.pool.query(
      `WITH t AS (
         SELECT * FROM agent_tokens WHERE token_hash = $1 AND revoked_at IS NULL
       ), touched AS (
         UPDATE agent_tokens SET last_used_at = now()
         WHERE id = (SELECT id FROM t) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
       )
       SELECT t.id AS token_id, t.account_id, t.name, t.prefix, t.created_at AS token_created_at,
              t.last_used_at, t.revoked_at, ${ACCOUNT_COLUMNS.replace(/(\w+)/g, "a.$1")}
       FROM t JOIN accounts a ON a.id = t.account_id`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      account: toAccount(row),
      token: toToken({ ...row, id: row.token_id, created_at: row.token_created_at }),
    };
  }
}

export function toAccount(row: Row): Account {
  return {
    id: row.id as string,
    handle: row.handle as string,
    plan: row.plan as string,
    features: row.features as string[],
    concurrencyLimit: row.concurrency_limit as number,
    monthlyBuildMinutes: row.monthly_build_minutes as number,
    cacheVolumeGiB: row.cache_volume_gib as number,
    allowedShapes: row.allowed_shapes as string[],
    profiles: row.profiles as Record<string, string>,
    createdAt: (row.created_at as Date).getTime(),
    updatedAt: (row.updated_at as Date).getTime(),
  };
}

function toToken(row: Row): AgentToken {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    name: row.name as string,
    prefix: row.prefix as string,
    createdAt: (row.created_at as Date).getTime(),
    lastUsedAt: row.last_used_at ? (row.last_used_at as Date).getTime() : null,
    revokedAt: row.revoked_at ? (row.revoked_at as Date).getTime() : null,
  };
}
