/**
 * What the account's dashboard shows, assembled from the services the API uses: the builds (as
 * rows, with the times people ask about), the cache volumes, this month's usage by day against
 * the plan's quota, and the trust relationships. Pure assembly over ports; the HTTP layer renders.
 */
import type { AccountService } from "./account-service.js";
import type { Account } from "./accounts.js";
import { monthStart } from "./admission.js";
import type { Build } from "./build.js";
import { isTerminal } from "./lifecycle.js";
import type { BuildStore, Clock, DashboardGrant, LedgerStore } from "./ports.js";
import { Problem } from "./problems.js";
import type { TrustService } from "./trust-service.js";
import type { TrustRelationship } from "./trust.js";
import type { VolumeService } from "./volume-service.js";
import type { BuildRow, DashboardUsage, VolumeRow } from "./dashboard-rows.js";

export type { BuildRow, DashboardUsage, VolumeRow } from "./dashboard-rows.js";

/** How many builds the page lists (newest first); the live list keeps to the same number. */
export const DASHBOARD_BUILDS = 100;
/** How many accounts the admin's picker lists. */
const PICKER_ACCOUNTS = 500;

export interface DashboardView {
  account: Pick<Account, "id" | "handle" | "plan" | "concurrencyLimit" | "cacheVolumeGiB">;
  admin: boolean;
  /** Every account's handle, for the admin's picker; empty for anyone else. */
  accounts: string[];
  /** Whether this session may reset volumes (not one from a credential that may not write the cache). */
  canReset: boolean;
  builds: BuildRow[];
  volumes: VolumeRow[];
  usage: DashboardUsage;
  trust: TrustRelationship[];
  now: number;
}

export function buildRow(build: Build, now: number): BuildRow {
  const admitted = build.startedAt;
  const ended = isTerminal(build.state) ? (build.endedAt ?? now) : now;
  const bytes = build.bytesIn + build.bytesOut;
  return {
    id: build.id,
    state: build.state,
    shape: build.shape,
    tier: build.tier,
    prewarmed: build.prewarmed,
    createdAt: build.createdAt,
    timeToReadyMs: build.readyAt !== null && admitted !== null ? build.readyAt - admitted : null,
    queueWaitMs: admitted !== null ? admitted - build.createdAt : null,
    durationMs: build.readyAt !== null ? Math.max(0, ended - build.readyAt) : null,
    brokerBytes: bytes > 0 ? bytes : null,
    result: build.result,
    endReason: build.endReason,
    repository: build.repository,
    ref: build.ref,
    insights: build.insights,
  };
}

export class Dashboard {
  constructor(
    private readonly deps: {
      accounts: AccountService;
      builds: BuildStore;
      ledger: LedgerStore;
      volumes: VolumeService;
      trust: TrustService;
      clock: Clock;
    },
  ) {}

  /**
   * The account a session looks at: its own, or for the admin the one picked (or the first).
   * Another account than a session's own is "not found", as in the API.
   */
  async account(grant: DashboardGrant, picked: string | undefined): Promise<Account | null> {
    const { accounts } = this.deps;
    if (!grant.admin) {
      const own = await accounts.get(grant.accountId!);
      if (picked !== undefined && picked !== own.handle && picked !== own.id) {
        throw new Problem("not-found", `There is no account "${picked}" visible to this session.`);
      }
      return own;
    }
    if (picked !== undefined) return accounts.get(picked);
    const [first] = await accounts.handles(1);
    return first === undefined ? null : accounts.get(first);
  }

  async view(grant: DashboardGrant, account: Account): Promise<DashboardView> {
    const { accounts, trust, clock } = this.deps;
    const now = clock.now();
    const [builds, volumeRows, usage, relationships, handles] = await Promise.all([
      this.builds(grant, account),
      this.volumeRows(account),
      this.usage(account, now),
      trust.list(account.id),
      grant.admin ? accounts.handles(PICKER_ACCOUNTS) : Promise.resolve([]),
    ]);
    return {
      account: {
        id: account.id,
        handle: account.handle,
        plan: account.plan,
        concurrencyLimit: account.concurrencyLimit,
        cacheVolumeGiB: account.cacheVolumeGiB,
      },
      admin: grant.admin,
      accounts: handles,
      canReset: grant.cacheWrite,
      builds: builds.map((b) => buildRow(b, now)),
      volumes: volumeRows,
      usage,
      trust: relationships,
      now,
    };
  }

  /** The build's row when this session may see it (its account, and its run for a credential's). */
  async row(grant: DashboardGrant, accountId: string, buildId: string): Promise<BuildRow | null> {
    const build = await this.deps.builds.get(buildId);
    if (!build || build.accountId !== accountId) return null;
    if (!grant.admin && (build.accountId !== grant.accountId || !sameRun(grant, build))) return null;
    return buildRow(build, this.deps.clock.now());
  }

  /** The builds' rows, newest first, as the page lists them. */
  async rows(grant: DashboardGrant, account: Account): Promise<BuildRow[]> {
    const now = this.deps.clock.now();
    return (await this.builds(grant, account)).map((b) => buildRow(b, now));
  }

  /** Resets a volume with the API's rules (the session's cacheWrite, the volume's lease). */
  async reset(grant: DashboardGrant, account: Account, name: string): Promise<void> {
    await this.deps.volumes.reset(account, name, { cacheWrite: grant.cacheWrite });
  }

  /** Removes a trust relationship: the admin's only (the page is read-only to anyone else). */
  async removeTrust(grant: DashboardGrant, account: Account, id: string): Promise<void> {
    if (!grant.admin) {
      throw new Problem(
        "admin-required",
        "Only the admin changes trust relationships; sign in with `remote-builder dashboard --admin`.",
      );
    }
    await this.deps.trust.remove(account.id, id);
  }

  private builds(grant: DashboardGrant, account: Account): Promise<Build[]> {
    return this.deps.builds.list(account.id, null, DASHBOARD_BUILDS, grant.runKey ?? undefined);
  }

  private async volumeRows(account: Account): Promise<VolumeRow[]> {
    const { volumes } = this.deps;
    const live = await volumes.list(account);
    const where = await volumes.locations(
      account,
      live.map((v) => v.name),
    );
    return live.map((v) => ({
      name: v.name,
      sizeGiB: v.sizeGiB,
      location: where.get(v.name) ?? null,
      lastUsedAt: v.lastUsedAt,
    }));
  }

  private async usage(account: Account, now: number): Promise<DashboardUsage> {
    const from = monthStart(now);
    const days = await this.deps.ledger.usageByDay(account.id, from, now);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    const rows = days.map((d) => ({
      day: d.day,
      buildMinutes: round(d.buildSeconds / 60),
      storageGiBHours: round(d.storageGiBHours),
    }));
    return {
      from,
      to: now,
      days: rows,
      buildMinutes: round(rows.reduce((a, d) => a + d.buildMinutes, 0)),
      quotaMinutes: account.monthlyBuildMinutes,
      storageGiBHours: round(rows.reduce((a, d) => a + d.storageGiBHours, 0)),
    };
  }
}

function sameRun(grant: DashboardGrant, build: Build): boolean {
  return grant.runKey === null || build.runKey === grant.runKey;
}
