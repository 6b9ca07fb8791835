/**
 * What the fleet is asked to do, drawn once per seed: every configuration of a sweep sees the same
 * accounts, builds, boot times and node losses, so their differences are the configuration's.
 * Each part draws from its own stream, so the repositories, queued events and history pre-warming
 * added leave the builds (and every figure without pre-warm) as they were.
 */
import type { PastBuild } from "../../service/core/prewarm-policy.js";
import { type JobQueued, queuedJobs } from "./jobs.js";
import { type FleetModel, SHAPES, type ShapeName } from "./model.js";
import { exponential, logNormal, type Random, stream, weighted } from "./random.js";

export interface Account {
  id: number;
  shape: ShapeName;
  runsPerDay: number;
  /** The repositories it builds images from, each with the workflows that ask for a builder. */
  repositories: Repository[];
}

export interface Repository {
  workflows: Array<{ name: string; noBuildShare: number }>;
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
  /** Index into the account's repositories. */
  repository: number;
  workflow: string;
  /** `refs/heads/main` for a push, the pull request's merge ref otherwise (one per session). */
  ref: string;
  /** The pipeline run it is a job of (an id), and its index among the run's jobs. */
  run: number;
  job: number;
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
  /** The CI's queued events, for these builds and for jobs that never ask for one; in time order. */
  jobs: JobQueued[];
  /** The service's record of the builds before the simulated span, per account and repository. */
  history: Array<{ account: number; repository: number; build: PastBuild }>;
  /** The volumes a fleet that ran before t = −warmup would hold, before any eviction. */
  volumes: InitialVolume[];
  nodeLosses: NodeLoss[];
}

const DAY = 86_400;
/** Each account has one cache volume (the service's RB_CACHE_VOLUME name). */
export const VOLUME = "cache";
const WORKFLOWS = ["ci", "release", "nightly", "deploy"];

export function generateWorkload(model: FleetModel, seed: number): Workload {
  const random = stream(seed, "accounts");
  const accounts: Account[] = Array.from({ length: model.accounts }, (_, id) => ({
    id,
    shape: weighted(random, shapeShares(model)),
    runsPerDay: logNormal(random, model.runsPerDay),
    repositories: [],
  }));
  const repositories = stream(seed, "repositories");
  for (const account of accounts) account.repositories = drawRepositories(model, repositories);
  const span = { from: -model.warmupS, to: model.days * DAY, label: "" };
  const builds = generateBuilds(model, accounts, stream(seed, "builds"), stream(seed, "picks"), span);
  return {
    accounts,
    builds,
    jobs: queuedJobs(model, accounts, builds, stream(seed, "jobs")),
    history: priorHistory(model, accounts, seed),
    volumes: initialVolumes(model, accounts, stream(seed, "volumes")),
    nodeLosses: nodeLosses(model, stream(seed, "node-losses")),
  };
}

function drawRepositories(model: FleetModel, random: Random): Repository[] {
  const count = 1 + Number(weighted(random, indexWeights(model.jobs.repositories)));
  return Array.from({ length: count }, () => {
    const workflows = 1 + Number(weighted(random, indexWeights(model.jobs.workflows)));
    return {
      workflows: Array.from({ length: workflows }, (_, k) => ({
        name: WORKFLOWS[k % WORKFLOWS.length]!,
        noBuildShare: random() * model.jobs.noBuildShareMax,
      })),
    };
  });
}

function indexWeights(weights: number[]): Record<string, number> {
  return Object.fromEntries(weights.map((w, i) => [String(i), w]));
}

/** One of n by rank: the first twice as likely as the second, three times the third. */
function byRank(random: Random, n: number): number {
  return Number(weighted(random, indexWeights(Array.from({ length: n }, (_, k) => 1 / (k + 1)))));
}

/**
 * The builds of the `historyDays` before the span, drawn like the span's own (another stream), as
 * the service's build store would hold them: a push run's first job held the volume, its other
 * jobs found it busy and ran cold, as did pull requests.
 */
function priorHistory(model: FleetModel, accounts: Account[], seed: number): Workload["history"] {
  const span = { from: -model.warmupS - model.jobs.historyDays * DAY, to: -model.warmupS, label: "h" };
  const builds = generateBuilds(
    model,
    accounts,
    stream(seed, "history-builds"),
    stream(seed, "history-picks"),
    span,
  );
  return builds.map((b) => ({
    account: b.account,
    repository: b.repository,
    build: {
      createdAt: b.at * 1000,
      workflow: b.workflow,
      ref: b.ref,
      shape: accounts[b.account]!.shape,
      cacheVolume: VOLUME,
      cacheMode: b.cacheWrite && b.job === 0 ? "persistent" : "cold",
    },
  }));
}

function shapeShares(model: FleetModel): Record<ShapeName, number> {
  return Object.fromEntries(SHAPES.map((s) => [s, model.shapes[s].share])) as Record<ShapeName, number>;
}

/**
 * A Poisson process per account, thinned to the diurnal curve. A session builds one repository
 * and each of its runs one workflow, picked from `picks` so that `random` draws what it always did.
 */
function generateBuilds(
  model: FleetModel,
  accounts: Account[],
  random: Random,
  picks: Random,
  span: { from: number; to: number; label: string },
): BuildRequest[] {
  const { amplitude, peakHour } = model.diurnal;
  const peak = 1 + amplitude;
  const end = span.to;
  const builds: Omit<BuildRequest, "id">[] = [];
  let sessions = 0;
  let runs = 0;
  for (const account of accounts) {
    const rate = (account.runsPerDay * peak) / DAY;
    for (let t = span.from + exponential(random, rate); t < end; t += exponential(random, rate)) {
      const level = 1 + amplitude * Math.cos((2 * Math.PI * (t / 3600 - peakHour)) / 24);
      if (random() * peak >= level) continue;
      const session = `${span.label}${sessions++}`;
      const repository = byRank(picks, account.repositories.length);
      const workflows = account.repositories[repository]!.workflows;
      let run = t;
      do {
        const workflow = workflows[byRank(picks, workflows.length)]!.name;
        const origin = { repository, workflow, session, run: runs++ };
        builds.push(...runBuilds(model, account, run, random, origin));
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
  origin: { repository: number; workflow: string; session: string; run: number },
): Omit<BuildRequest, "id">[] {
  const cacheWrite = random() >= model.noCacheWriteShare;
  let jobs = 1;
  while (jobs < model.burst.max && random() < model.burst.more) jobs++;
  const ref = cacheWrite ? "refs/heads/main" : `refs/pull/${origin.session}/merge`;
  return Array.from({ length: jobs }, (_, j) => ({
    account: account.id,
    at: at + (j === 0 ? 0 : random() * model.burst.spreadS),
    durationS: logNormal(random, model.buildS),
    cacheWrite,
    coldS: coldStartS(model, random),
    repository: origin.repository,
    workflow: origin.workflow,
    ref,
    run: origin.run,
    job: j,
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
