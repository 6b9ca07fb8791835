import type { AccountLimitsCache } from "./account-limits.js";
import type { ClaimScope, ClaimStore } from "./ports.js";

export interface QueueRepairDeps {
  claims: ClaimStore;
  limits: AccountLimitsCache;
  /** How long a create may take between queueing a build in Redis and recording it. */
  claimLeaseMs: number;
  /** Starts a queued build that a dropped waiter lets through. */
  advance: (buildId: string) => Promise<void>;
}

/**
 * A process that dies between queueing a build in Redis and recording it in PostgreSQL leaves a
 * waiter with no build behind it, standing ahead of every later build until its wait deadline
 * (up to RB_MAX_WAIT_SECONDS). One still unrecorded a whole lease after this process first saw it
 * is dropped; the grace covers a `create` between its acquire and its insert.
 */
export class UnrecordedWaiters {
  /** Queue members with no unfinished build, by when this process first saw them so. */
  private readonly since = new Map<string, number>();

  constructor(private readonly deps: QueueRepairDeps) {}

  async drop(scopes: ClaimScope[], recorded: Set<string>, now: number): Promise<void> {
    const seen = new Set<string>();
    for (const scope of scopes) {
      for (const member of await this.deps.claims.waiters(scope)) {
        if (recorded.has(member)) continue;
        seen.add(member);
        const since = this.since.get(member) ?? now;
        this.since.set(member, since);
        if (now - since >= this.deps.claimLeaseMs) await this.dropOne(scope, member, now);
      }
    }
    for (const member of this.since.keys()) {
      if (!seen.has(member)) this.since.delete(member);
    }
  }

  private async dropOne(scope: ClaimScope, member: string, now: number): Promise<void> {
    const { claims, limits, advance } = this.deps;
    const capacity = scope.kind === "concurrency" ? (await limits.of(scope.accountId)).concurrencyLimit : 1;
    const { waiting } = await claims.release(scope, member, { fence: null, capacity, now });
    for (const next of waiting) await advance(next);
  }
}
