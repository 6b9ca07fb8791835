import type { Pool } from "pg";
import type { Account } from "../../core/accounts.js";
import type { TrustStore } from "../../core/ports.js";
import type { NewTrustRelationship, TrustRelationship } from "../../core/trust.js";
import { ACCOUNT_COLUMNS, toAccount } from "./accounts.js";

const COLUMNS = `t.id, t.account_id, a.handle AS account_handle, t.issuer, t.owner_id, t.owner_name, t.repository_id,
  t.repository_name, t.refs, t.cache_write_refs, t.environments, t.workflow_refs, t.events, t.created_at`;
const FROM = "trust_relationships t JOIN accounts a ON a.id = t.account_id";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PostgresTrustStore implements TrustStore {
  constructor(private readonly pool: Pool) {}

  async create(r: NewTrustRelationship): Promise<TrustRelationship> {
    const { rows } = await this.pool.query(
      `WITH t AS (
         INSERT INTO trust_relationships (account_id, issuer, owner_id, owner_name, repository_id, repository_name,
                                          refs, cache_write_refs, environments, workflow_refs, events)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *
       )
       SELECT ${COLUMNS} FROM t JOIN accounts a ON a.id = t.account_id`,
      [
        r.accountId,
        r.issuer,
        r.ownerId,
        r.ownerName,
        r.repositoryId,
        r.repositoryName,
        r.refs,
        r.cacheWriteRefs,
        r.environments,
        r.workflowRefs,
        r.events,
      ],
    );
    return toRelationship(rows[0]);
  }

  async list(accountId: string): Promise<TrustRelationship[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE t.account_id = $1 ORDER BY t.created_at`,
      [accountId],
    );
    return rows.map(toRelationship);
  }

  async forOwner(issuer: string, ownerId: string): Promise<TrustRelationship[]> {
    const { rows } = await this.pool.query({
      name: "trust-for-owner",
      text: `SELECT ${COLUMNS} FROM ${FROM} WHERE t.issuer = $1 AND t.owner_id = $2 ORDER BY t.created_at`,
      values: [issuer, ownerId],
    });
    return rows.map(toRelationship);
  }

  async remove(accountId: string, id: string): Promise<TrustRelationship | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query(
      `WITH t AS (DELETE FROM trust_relationships WHERE account_id = $1 AND id = $2 RETURNING *)
       SELECT ${COLUMNS} FROM t JOIN accounts a ON a.id = t.account_id`,
      [accountId, id],
    );
    return rows[0] ? toRelationship(rows[0]) : null;
  }

  async accountOf(relationshipId: string): Promise<Account | null> {
    if (!UUID.test(relationshipId)) return null;
    const { rows } = await this.pool.query({
      name: "trust-account-of",
      text: `SELECT ${ACCOUNT_COLUMNS.replace(/(\w+)/g, "a.$1")}
             FROM trust_relationships t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1`,
      values: [relationshipId],
    });
    return rows[0] ? toAccount(rows[0]) : null;
  }
}

function toRelationship(row: Record<string, unknown>): TrustRelationship {
  return {
    id: row.id as string,
    accountId: row.account_id as string,
    accountHandle: row.account_handle as string,
    issuer: row.issuer as string,
    ownerId: row.owner_id as string,
    ownerName: (row.owner_name as string | null) ?? null,
    repositoryId: (row.repository_id as string | null) ?? null,
    repositoryName: (row.repository_name as string | null) ?? null,
    refs: row.refs as string[],
    cacheWriteRefs: row.cache_write_refs as string[],
    environments: (row.environments as string[] | null) ?? null,
    workflowRefs: (row.workflow_refs as string[] | null) ?? null,
    events: (row.events as string[] | null) ?? null,
    createdAt: (row.created_at as Date).getTime(),
  };
}
