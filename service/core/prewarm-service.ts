import { REMOTE_BUILDER_FEATURE } from "./accounts.js";
import { volumeScope } from "./build-claims.js";
import type { ShapeCatalog } from "./catalog.js";
import { repositoryKey } from "./ci-identity.js";
import type { PrewarmOutcome, Prewarmer, QueuedJob } from "./prewarm.js";
import { decidePrewarm, type PrewarmSettings } from "./prewarm-policy.js";
import type {
  AccountStore,
  BuildStore,
  BuilderDriver,
  ClaimStore,
  Clock,
  Telemetry,
  TrustStore,
} from "./ports.js";
import { Problem } from "./problems.js";
import { matchesPattern, type TrustRelationship } from "./trust.js";

/** The most past builds of one repository a decision reads: plenty for any window. */
const HISTORY_LIMIT = 500;

export interface PrewarmServiceDeps {
  trust: Pick<TrustStore, "forOwner">;
  accounts: Pick<AccountStore, "find">;
  builds: Pick<BuildStore, "history">;
  claims: Pick<ClaimStore, "holders">;
  driver: BuilderDriver;
  catalog: ShapeCatalog;
  clock: Clock;
  telemetry: Pick<Telemetry, "prewarm">;
  settings: PrewarmSettings;
}

/**
 * Turns a CI's queued job into builders started early: for each account whose trust relationships
 * admit the job's repository, its own history decides (decidePrewarm), and the driver starts the
 * account's builder on its volume, to be taken by the job's build as its idle builder.
 */
export class PrewarmService implements Prewarmer {
  constructor(private readonly deps: PrewarmServiceDeps) {}

  async jobQueued(job: QueuedJob): Promise<PrewarmOutcome[]> {
    const relationships = (await this.deps.trust.forOwner(job.issuer, job.ownerId)).filter((r) =>
      admitsRepository(r, job),
    );
    if (relationships.length === 0) {
      throw new Problem(
        "unknown-owner",
        `No account trusts ${job.issuer} owner id ${job.ownerId} with repository id ${job.repositoryId}, ` +
          `so no builder is started for its jobs. An admin adds a trust relationship with ` +
          `\`remote-builder admin trust add <account> --issuer ${job.issuer} --owner-id ${job.ownerId}\`.`,
      );
    }
    const byAccount = new Map<string, TrustRelationship[]>();
    for (const r of relationships) byAccount.set(r.accountId, [...(byAccount.get(r.accountId) ?? []), r]);
    return Promise.all(
      [...byAccount].map(async ([accountId, admitting]) => {
        // One account's failure (its volume's store, the cluster refusing a pod) is its own: the
        // others' builders still start, and the hook is answered.
        const { outcome, reason } = await this.forAccount(accountId, admitting, job).catch(
          (err: unknown) => ({
            outcome: "skipped" as const,
            reason: `pre-warming failed: ${err instanceof Error ? err.message : String(err)}`,
          }),
        );
        this.deps.telemetry.prewarm(outcome);
        return { accountId, outcome, reason };
      }),
    );
  }

  private async forAccount(
    accountId: string,
    admitting: TrustRelationship[],
    job: QueuedJob,
  ): Promise<Omit<PrewarmOutcome, "accountId">> {
    const { accounts, builds, claims, driver, catalog, clock, settings } = this.deps;
    const skip = (reason: string) => ({ outcome: "skipped" as const, reason });
    const account = await accounts.find(accountId);
    if (!account?.features.includes(REMOTE_BUILDER_FEATURE)) return skip("remote builders are not enabled");
    if (!driver.prewarm) return skip(`the ${driver.name} driver does not pre-warm builders`);
    if (settings.maxPerAccount === 0) return skip("pre-warming is off (RB_PREWARM_MAX_PER_ACCOUNT=0)");
    const now = clock.now();
    const since = now - settings.historyDays * 86_400_000;
    const history = await builds.history(
      accountId,
      repositoryKey(job.issuer, job.repositoryId),
      since,
      HISTORY_LIMIT,
    );
    const decision = decidePrewarm(job, history, now, settings);
    if (!decision.prewarm) return skip(decision.reason);
    const shape = catalog[decision.shape];
    if (!shape || !account.allowedShapes.includes(decision.shape)) {
      return skip(`the shape ${decision.shape} is no longer the account's`);
    }
    // A ref that may not write the warm cache runs cold, whatever its workflow's other builds did.
    const mayWrite =
      job.ref === null || admitting.some((r) => r.cacheWriteRefs.some((p) => matchesPattern(p, job.ref!)));
    const volume = decision.prewarm === "volume" && mayWrite ? decision.volume : null;
    // Single writer: the build holding the volume keeps it; its builder becomes the idle one after.
    if (
      volume !== null &&
      (await claims.holders(volumeScope({ accountId, cacheVolume: volume }), now)).size > 0
    ) {
      return skip("a build holds the cache volume");
    }
    const started = await driver.prewarm({
      accountId,
      shapeName: decision.shape,
      shape,
      volume: volume === null ? null : { name: volume, sizeGiB: account.cacheVolumeGiB },
      ttlMs: settings.ttlMs,
      maxPerAccount: settings.maxPerAccount,
    });
    if (started.outcome !== "started") return started;
    return {
      outcome: "started",
      reason:
        volume === null
          ? `warm builder ${started.builderId} started: the job's builds run cold`
          : `builder ${started.builderId} started on ${volume}`,
    };
  }
}

/** A relationship that could admit a job of this repository (and ref, when the event names one). */
function admitsRepository(r: TrustRelationship, job: QueuedJob): boolean {
  if (r.repositoryId !== null && r.repositoryId !== job.repositoryId) return false;
  return r.refs.length === 0 || job.ref === null || r.refs.some((p) => matchesPattern(p, job.ref!));
}
