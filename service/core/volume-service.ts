import { randomUUID } from "node:crypto";
import type { Account } from "./accounts.js";
import type { Volume } from "./ledger.js";
import type { BuilderDriver, ClaimScope, ClaimStore, Clock, VolumeStore } from "./ports.js";
import { Problem } from "./problems.js";

/** How long a reset holds the volume's lease at most: a crashed reset frees the volume after this. */
const RESET_LEASE_MS = 5 * 60_000;

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
    },
  ) {}

  list(account: Account): Promise<Volume[]> {
    return this.deps.volumes.list(account.id);
  }

  /**
   * Throws the volume's data away; the next build that names it starts cold. Refused while a build
   * holds the volume (or is next in line for it), since its builder is writing to it.
   *
   * The reset takes the volume's lease itself, as a build would, for as long as the drop takes: a
   * build admitted meanwhile cannot attach the volume being dropped (it runs cold, or queues and is
   * started by the reconcile loop once the reset is done). The data is dropped before the volume's
   * record is retired, so a drop that fails leaves the volume listed and the reset can be retried.
   */
  async reset(account: Account, name: string): Promise<Volume> {
    const { volumes, claims, driver, clock } = this.deps;
    // Only a volume that exists gets a lease (and so claim keys in Redis): names are the caller's.
    const live = (await volumes.list(account.id)).find((v) => v.name === name);
    if (!live) throw this.notFound(name);
    const scope: ClaimScope = { kind: "volume", accountId: account.id, volume: name };
    const member = `reset:${randomUUID()}`;
    const now = clock.now();
    const lease = await claims.acquire(scope, member, {
      capacity: 1,
      leaseMs: this.deps.resetLeaseMs ?? RESET_LEASE_MS,
      now,
      waitDeadline: null,
    });
    if (lease.outcome !== "granted") {
      const holders = [...(await claims.holders(scope, now)).keys()];
      const users = holders.length > 0 ? holders : await claims.waiters(scope);
      const resetting = users.length > 0 && users.every((u) => u.startsWith("reset:"));
      throw new Problem(
        "volume-in-use",
        resetting
          ? `The cache volume "${name}" is being reset by another request.`
          : `The cache volume "${name}" is in use by build ${users.join(", ")}; reset it once that build ends.`,
        { builds: users.filter((u) => !u.startsWith("reset:")) },
        30,
      );
    }
    try {
      await driver.dropVolume(account.id, name);
      const retired = await volumes.retire(account.id, name, clock.now());
      if (!retired) throw this.notFound(name);
      return retired;
    } finally {
      // A release that fails is no reason to fail the reset: the lease runs out on its own.
      await claims
        .release(scope, member, { fence: lease.fence, capacity: 1, now: clock.now() })
        .catch(() => undefined);
    }
  }

  private notFound(name: string): Problem {
    return new Problem("not-found", `The account has no cache volume "${name}".`);
  }
}
