import type { AccountStore, Clock } from "./ports.js";

export interface AccountLimits {
  concurrencyLimit: number;
  cacheVolumeGiB: number;
}

/** How long an account's limits are reused before they are read again. */
const LIMITS_TTL_MS = 5_000;

/** A deleted account's builds still drain: they release as if the limits were the smallest. */
const DELETED_ACCOUNT: AccountLimits = { concurrencyLimit: 1, cacheVolumeGiB: 1 };

/**
 * An account's limits for the background paths (starting a waiter, releasing a slot), read at most
 * every few seconds per account: a limit raised a moment ago may start a waiter a moment later.
 */
export class AccountLimitsCache {
  private readonly cached = new Map<string, { at: number; limits: AccountLimits }>();

  constructor(
    private readonly accounts: AccountStore,
    private readonly clock: Clock,
  ) {}

  async of(accountId: string): Promise<AccountLimits> {
    const now = this.clock.now();
    const hit = this.cached.get(accountId);
    if (hit && now - hit.at < LIMITS_TTL_MS) return hit.limits;
    const limits = (await this.accounts.find(accountId)) ?? DELETED_ACCOUNT;
    this.cached.set(accountId, { at: now, limits });
    return limits;
  }
}
