import { randomUUID } from "node:crypto";
import type { Account } from "./accounts.js";
import type { Volume } from "./ledger.js";
import type { BuilderDriver, ClaimScope, ClaimStore, Clock, VolumeStore } from "./ports.js";
import { chooseEvictions } from "./fleet-policy.js";
import { Problem } from "./problems.js";

/** How long a reset holds the volume's lease at most: a crashed reset frees the volume after this. */
const RESET_LEASE_MS = 5 * 60_000;
/** Who holds a volume's lease for a reset or an eviction, rather than a build. */
const LEASE_MEMBER = "reset:";

/**
 * Cache volumes as a product: a named per-account volume a workload attaches at a declared path.
 * The builder is the first consumer (its BuildKit state); listing and resetting are generic.
 */
export class VolumeService {
  constructor(
    private readonly deps: {
      volumes: VolumeStore;
      claims: ClaimStore;
      driver: BuilderDriver;
      clock: Clock;
      resetLeaseMs?: number;
      /** Eviction: a volume unused this long goes, and each node keeps its volumes within a budget. */
      retentionMs?: number;
      nodeBudgetGiB?: number;
    },
  ) {}

  /**
   * The leader's pass over the fleet's volumes: the driver keeps its pools and reports volumes
   * lost with their node, which are retired (the account's next build is told why its cache is
   * empty); then volumes past retention, or least recently used on a node over budget, are evicted.
   */
  async maintain(): Promise<{ lost: number; evicted: number }> {
    const { volumes, driver, clock } = this.deps;
    if (!driver.maintain) return { lost: 0, evicted: 0 };
    const live = await volumes.listLive();
    const report = await driver.maintain(live);
    for (const v of report.lost) await volumes.retire(v.accountId, v.name, clock.now(), v.reason);
    const lastUsed = new Map(live.map((v) => [`${v.accountId}/${v.name}`, v.lastUsedAt]));
    const evictions = chooseEvictions(
      report.placed.flatMap((p) => {
        const lastUsedAt = lastUsed.get(`${p.accountId}/${p.name}`);
        return lastUsedAt === undefined ? [] : [{ ...p, lastUsedAt }];
      }),
      {
        retentionMs: this.deps.retentionMs ?? Infinity,
        nodeBudgetGiB: this.deps.nodeBudgetGiB ?? Infinity,
        now: clock.now(),
      },
    );
    let evicted = 0;
    for (const e of evictions) {
      // A build may be about to attach it: the volume's lease decides, and a held volume stays.
      const done = await this.withLease(e.accountId, e.name, async () => {
        await driver.dropVolume(e.accountId, e.name);
        await volumes.retire(e.accountId, e.name, clock.now(), e.reason);
      });
      if (done) evicted++;
    }
    return { lost: report.lost.length, evicted };
  }

  /**
   * Attaches the account's volume to the workload `mount` starts (a builder). The volume is
   * recorded (created on first use) and marked used at every attach: one reset a moment ago, on
   * any replica, must get its new record now. When the volume was lost (its node gone, evicted),
   * the workload is told why it starts empty; the note is cleared only once the mount succeeded,
   * so it is told once.
   */
  async attach<T>(
    accountId: string,
    name: string,
    sizeGiB: number,
    mount: () => Promise<T>,
  ): Promise<{ mounted: T; lostNote: string | null }> {
    const { volumes, clock } = this.deps;
    const volume = await volumes.ensure(accountId, name, sizeGiB, clock.now());
    const mounted = await mount();
    if (volume.lostNote !== null) await volumes.clearLostNote(volume.id);
    return { mounted, lostNote: volume.lostNote };
  }

  list(account: Account): Promise<Volume[]> {
    return this.deps.volumes.list(account.id);
  }

  /** Where each volume lives (a folder, a node), as far as the driver says; null when it does not. */
  async locations(account: Account, names: string[]): Promise<Map<string, string | null>> {
    const { driver } = this.deps;
    const found = await Promise.all(
      names.map(async (name) => [name, (await driver.volumeLocation?.(account.id, name)) ?? null] as const),
    );
    return new Map(found);
  }

  /**
   * Throws the volume's data away; the next build that names it starts cold. Refused while a build
   * holds the volume (or is next in line for it), since its builder is writing to it, and for a
   * caller that may not write the warm cache (`cacheWrite: false`).
   *
   * The reset takes the volume's lease itself, as a build would, for as long as the drop takes: a
   * build admitted meanwhile cannot attach the volume being dropped (it runs cold, or queues and is
   * started by the reconcile loop once the reset is done). The data is dropped before the volume's
   * record is retired, so a drop that fails leaves the volume listed and the reset can be retried.
   */
  async reset(account: Account, name: string, caller: { cacheWrite?: boolean } = {}): Promise<Volume> {
    const { volumes, claims, driver, clock } = this.deps;
    // A job that may not write the warm cache (a pull request) may not throw it away either.
    if (caller.cacheWrite === false) {
      throw new Problem(
        "cache-write-not-allowed",
        "This credential comes from a job that may not write the account's warm cache (see the trust " +
          "relationship's cache-write refs), so it may not reset it; use an agent token or a job on a trusted ref.",
      );
    }
    // Only a volume that exists gets a lease (and so claim keys in Redis): names are the caller's.
    const live = (await volumes.list(account.id)).find((v) => v.name === name);
    if (!live) throw this.notFound(name);
    const reset = await this.withLease(account.id, name, async () => {
      await driver.dropVolume(account.id, name);
      const retired = await volumes.retire(account.id, name, clock.now());
      if (!retired) throw this.notFound(name);
      return retired;
    });
    if (reset !== null) return reset;
    const scope: ClaimScope = { kind: "volume", accountId: account.id, volume: name };
    const holders = [...(await claims.holders(scope, clock.now())).keys()];
    const users = holders.length > 0 ? holders : await claims.waiters(scope);
    const resetting = users.length > 0 && users.every((u) => u.startsWith(LEASE_MEMBER));
    throw new Problem(
      "volume-in-use",
      resetting
        ? `The cache volume "${name}" is being reset by another request.`
        : `The cache volume "${name}" is in use by build ${users.join(", ")}; reset it once that build ends.`,
      { builds: users.filter((u) => !u.startsWith(LEASE_MEMBER)) },
      30,
    );
  }

  /**
   * Runs `work` holding the volume's lease, as a build would, so no build attaches the volume
   * meanwhile (it runs cold, or queues until the lease is given back). Null when the volume is held.
   */
  private async withLease<T>(accountId: string, name: string, work: () => Promise<T>): Promise<T | null> {
    const { claims, clock } = this.deps;
    const scope: ClaimScope = { kind: "volume", accountId, volume: name };
    const member = `${LEASE_MEMBER}${randomUUID()}`;
    const lease = await claims.acquire(scope, member, {
      capacity: 1,
      leaseMs: this.deps.resetLeaseMs ?? RESET_LEASE_MS,
      now: clock.now(),
      waitDeadline: null,
    });
    if (lease.outcome !== "granted") return null;
    try {
      return await work();
    } finally {
      // A release that fails is no reason to fail the work: the lease runs out on its own.
      await claims
        .release(scope, member, { fence: lease.fence, capacity: 1, now: clock.now() })
        .catch(() => undefined);
    }
  }

  private notFound(name: string): Problem {
    return new Problem("not-found", `The account has no cache volume "${name}".`);
  }
}
