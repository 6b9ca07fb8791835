import type { Account } from "./accounts.js";
import type { Volume } from "./ledger.js";
import type { BuilderDriver, ClaimStore, Clock, VolumeStore } from "./ports.js";
import { Problem } from "./problems.js";

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
    },
  ) {}

  list(account: Account): Promise<Volume[]> {
    return this.deps.volumes.list(account.id);
  }

  /**
   * Throws the volume's data away; the next build that names it starts cold. Refused while a build
   * holds the volume, since its builder is writing to it.
   */
  async reset(account: Account, name: string): Promise<Volume> {
    const { volumes, claims, driver, clock } = this.deps;
    const now = clock.now();
    const holders = await claims.holders({ kind: "volume", accountId: account.id, volume: name }, now);
    if (holders.size > 0) {
      throw new Problem(
        "volume-in-use",
        `The cache volume "${name}" is in use by build ${[...holders.keys()].join(", ")}; ` +
          "reset it once that build ends.",
        { builds: [...holders.keys()] },
        30,
      );
    }
    const retired = await volumes.retire(account.id, name, now);
    if (!retired) throw new Problem("not-found", `The account has no cache volume "${name}".`);
    await driver.dropVolume(account.id, name);
    return retired;
  }
}
