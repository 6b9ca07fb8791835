/**
 * The CI's "job queued" events (GitHub's `workflow_job` action `queued`; GitLab's and Buildkite's
 * job events): one before each build, by the lead the model draws, and one for each job that is
 * queued but never asks for a builder. The service sees only these events and its own history.
 */
import type { FleetModel } from "./model.js";
import { exponential, logNormal, type Random } from "./random.js";
import { type Account, type BuildRequest, coldStartS } from "./workload.js";

export interface JobQueued {
  at: number;
  account: number;
  repository: number;
  workflow: string;
  ref: string;
  /**
   * Whether the job's credential may write the cache: the service's trust relationships' cache-write
   * refs admit a push to the default branch, not a pull request's merge ref.
   */
  cacheWrite: boolean;
  /** The build that follows (its id), or null for a job that never asks for a builder. */
  build: number | null;
  /** What a pre-warm for it takes to boot: the build's own cold start, so both runs pay the same. */
  coldS: number;
}

/**
 * Each build's event comes `leadS` before it. A share `noBuildShare` of a workflow's runs never
 * reach the build step: each goes with a run that did (same repository, workflow and ref), queued
 * an exponential `noBuildGapS` before it. Most come long before; a few just before, like a run
 * cancelled by the push that queued the next one. One event stands for such a run: its other jobs
 * would find the first one's pre-warmed builder holding the volume and start nothing.
 */
export function queuedJobs(
  model: FleetModel,
  accounts: Account[],
  builds: BuildRequest[],
  random: Random,
): JobQueued[] {
  const jobs: JobQueued[] = [];
  for (const b of builds) {
    const origin = {
      account: b.account,
      repository: b.repository,
      workflow: b.workflow,
      ref: b.ref,
      cacheWrite: b.cacheWrite,
    };
    jobs.push({ ...origin, at: b.at - logNormal(random, model.jobs.leadS), build: b.id, coldS: b.coldS });
    if (b.job !== 0) continue;
    const share = accounts[b.account]!.repositories[b.repository]!.workflows.find(
      (w) => w.name === b.workflow,
    )!.noBuildShare;
    // share / (1 − share) runs without a build per run with one make `share` of all the runs.
    if (random() < share / (1 - share)) {
      const at = b.at - exponential(random, 1 / model.jobs.noBuildGapS);
      jobs.push({ ...origin, at, build: null, coldS: coldStartS(model, random) });
    }
  }
  return jobs.sort((a, b) => a.at - b.at);
}
