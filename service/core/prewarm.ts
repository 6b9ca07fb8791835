/**
 * Pre-warming: a CI says a job was queued (GitHub's `workflow_job` webhook with action `queued`,
 * GitLab's and Buildkite's job events) seconds to minutes before the job's steps reach the builder
 * setup. If the account's own history says this job uses a builder, the account's builder starts
 * on its cache volume then, so the build that follows takes it as its idle builder.
 *
 * The hooks (service/http/routes/hooks.ts) verify a delivery and turn it into a `QueuedJob`; the
 * `Prewarmer` decides and starts.
 */

/** A job a CI queued, as a verified hook delivery describes it. */
export interface QueuedJob {
  /** The hook's provider (`github`, `gitlab`, `buildkite`). */
  provider: string;
  /** The issuer name trust relationships use for this CI (the hook installation's). */
  issuer: string;
  /** The owner's stable id (GitHub owner, GitLab namespace, Buildkite organization). */
  ownerId: string;
  /** The repository's (project's, pipeline's) stable id. */
  repositoryId: string;
  /** The git ref the job builds, fully qualified (`refs/heads/main`); null when the event names none. */
  ref: string | null;
  /** The workflow's name, as the CI's OIDC token's `workflow` claim will say it; null when unknown. */
  workflow: string | null;
  /** The job's name, for the log. */
  job: string | null;
  /** When the CI queued the job (epoch ms). */
  queuedAt: number;
  /** The delivery's id, for the log. */
  deliveryId: string;
}

/** What came of a queued job for one account its owner's trust relationships name. */
export interface PrewarmOutcome {
  accountId: string;
  /** `started`: a builder is booting; anything else says why none was started. */
  outcome: "started" | "already-warm" | "skipped";
  /** Why, in words (`no builds of this workflow in the last 14 days`, `volume in use`...). */
  reason: string;
}

export interface Prewarmer {
  /**
   * Decides, for every account whose trust relationships admit the job's repository, whether to
   * start its builder, and starts it. Throws an `unknown-owner` Problem when none does.
   */
  jobQueued(job: QueuedJob): Promise<PrewarmOutcome[]>;
}
