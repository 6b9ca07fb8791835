/**
 * What the fleet is asked to do, drawn once per seed: every configuration of a sweep sees the same
 * accounts, builds, boot times and node losses, so their differences are the configuration's.
 */
import { type FleetModel, SHAPES, type ShapeName } from "./model.js";
import { exponential, logNormal, type Random, stream, weighted } from "./random.js";

export interface Account {
  id: number;
  shape: ShapeName;
  runsPerDay: number;
}

export interface BuildRequest {
  id: number;
  account: number;
  at: number;
  durationS: number;
  /** False for a pull request's run: its credential may not write the account's cache. */
  cacheWrite: boolean;
  /** What a cold start of this build would take once it has room on a node: boot, pull, attach. */
  coldS: number;
}

export interface InitialVolume {
  account: number;
  node: number;
  lastUsed: number;
}

export interface NodeLoss {
  at: number;
  node: number;
}

export interface Workload {
  accounts: Account[];
  /** In arrival order. */
  builds: BuildRequest[];
  /** The volumes a fleet that ran before t = −warmup would hold, before any eviction. */
  volumes: InitialVolume[];
  nodeLosses: NodeLoss[];
}

const DAY = 86_400;

export function generateWorkload(model: FleetModel, seed: number): Workload {
  const random = stream(seed, "accounts");
  const accounts: Account[] = Array.from({ length: model.accounts }, (_, id) => ({
    id,
    shape: weighted(random, shapeShares(model)),
    runsPerDay: logNormal(random, model.runsPerDay),
  }));
  return {
    accounts,
    builds: generateBuilds(model, accounts, stream(seed, "builds")),
    volumes: initialVolumes(model, accounts, stream(seed, "volumes")),
    nodeLosses: nodeLosses(model, stream(seed, "node-losses")),
  };
}

function shapeShares(model: FleetModel): Record<ShapeName, number> {
  return Object.fromEntries(SHAPES.map((s) => [s, model.shapes[s].share])) as Record<ShapeName, number>;
}

/** A Poisson process per account, thinned to the diurnal curve. */
function generateBuilds(model: FleetModel, accounts: Account[], random: Random): BuildRequest[] {
  const { amplitude, peakHour } = model.diurnal;
  const peak = 1 + amplitude;
  const end = model.days * DAY;
  const builds: Omit<BuildRequest, "id">[] = [];
  for (const account of accounts) {
    const rate = (account.runsPerDay * peak) / DAY;
    for (let t = -model.warmupS + exponential(random, rate); t < end; t += exponential(random, rate)) {
      const level = 1 + amplitude * Math.cos((2 * Math.PI * (t / 3600 - peakHour)) / 24);
      if (random() * peak >= level) continue;
      let run = t;
      do {
        builds.push(...runBuilds(model, account, run, random));
        run += exponential(random, 1 / model.followUp.meanGapS);
      } while (run < end && random() < model.followUp.probability);
    }
  }
  builds.sort((a, b) => a.at - b.at || a.account - b.account);
  return builds.map((b, id) => ({ ...b, id }));
}

/** One pipeline run: a build, or a few at once when its jobs build several images. */
function runBuilds(
  model: FleetModel,
  account: Account,
  at: number,
  random: Random,
): Omit<BuildRequest, "id">[] {
  const cacheWrite = random() >= model.noCacheWriteShare;
  let jobs = 1;
  while (jobs < model.burst.max && random() < model.burst.more) jobs++;
  return Array.from({ length: jobs }, (_, j) => ({
    account: account.id,
    at: at + (j === 0 ? 0 : random() * model.burst.spreadS),
    durationS: logNormal(random, model.buildS),
    cacheWrite,
    coldS: coldStartS(model, random),
  }));
}

/** Boot, an occasional image pull, and the volume's attach; scheduling and formatting come apart. */
export function coldStartS(model: FleetModel, random: Random): number {
  const boot = logNormal(random, model.bootS);
  const pulled = random() < model.pull.probability;
  const pull = pulled ? logNormal(random, model.pull.s) : 0;
  return boot + pull + logNormal(random, model.attachS);
}

/**
 * By memorylessness, the time since an account's last run is exponential in its rate; accounts
 * that ran within the retention period hold a volume, on a node picked at random.
 */
function initialVolumes(model: FleetModel, accounts: Account[], random: Random): InitialVolume[] {
  const volumes: InitialVolume[] = [];
  for (const account of accounts) {
    const ageDays = exponential(random, account.runsPerDay);
    const node = Math.floor(random() * model.nodes);
    if (ageDays < model.retentionDays) {
      volumes.push({ account: account.id, node, lastUsed: -model.warmupS - ageDays * DAY });
    }
  }
  return volumes;
}

function nodeLosses(model: FleetModel, random: Random): NodeLoss[] {
  const losses: NodeLoss[] = [];
  if (model.nodeLossPerNodeDay <= 0) return losses;
  const rate = model.nodeLossPerNodeDay / DAY;
  for (let node = 0; node < model.nodes; node++) {
    for (
      let t = -model.warmupS + exponential(random, rate);
      t < model.days * DAY;
      t += exponential(random, rate)
    ) {
      losses.push({ at: t, node });
    }
  }
  return losses.sort((a, b) => a.at - b.at || a.node - b.node);
}
