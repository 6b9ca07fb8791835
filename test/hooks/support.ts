import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Prewarmer, PrewarmOutcome, QueuedJob } from "../../service/core/prewarm.js";
import { Problem } from "../../service/core/problems.js";
import {
  ADMIN_TOKEN,
  http,
  type HttpResult,
  startTestService,
  type TestService,
} from "../harness/context.js";

/** A prewarmer that records what it is handed and answers as the test says. */
export class RecordingPrewarmer implements Prewarmer {
  jobs: QueuedJob[] = [];
  /** The account ids its outcomes name: they must never reach the CI's delivery log. */
  readonly accountId = randomUUID();
  answer: (job: QueuedJob) => Promise<PrewarmOutcome[]> = () => this.started();

  /** Back to recording and answering that the account's builder started. */
  reset(): void {
    this.jobs = [];
    this.answer = () => this.started();
  }

  private async started(): Promise<PrewarmOutcome[]> {
    return [
      { accountId: this.accountId, outcome: "started", reason: "built this workflow 3 times this week" },
    ];
  }

  async jobQueued(job: QueuedJob): Promise<PrewarmOutcome[]> {
    this.jobs.push(job);
    return this.answer(job);
  }

  refuseUnknownOwner(): void {
    this.answer = async () => {
      throw new Problem("unknown-owner", "No account trusts the job's owner and repository.");
    };
  }
}

/** Every log line a service writes, as text. */
export class CapturedLog {
  readonly lines: string[] = [];
  readonly logger = pino(
    { level: "trace" },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    }),
  );
  get text(): string {
    return this.lines.join("\n");
  }
}

export const hookKey = () => randomBytes(32).toString("hex");

export const GITLAB_ISSUERS = JSON.stringify([
  { name: "github", issuer: "https://token.actions.githubusercontent.com", kind: "github" },
  { name: "gitlab", issuer: "https://gitlab.com", kind: "gitlab" },
]);

/** A service with hooks on (unless `env` says otherwise), the prewarmer and log given. */
export async function startHookService(
  options: { env?: Record<string, string>; prewarmer?: Prewarmer; log?: CapturedLog } = {},
): Promise<TestService> {
  return startTestService(
    { RB_HOOK_SECRET_KEY: hookKey(), RB_OIDC_ISSUERS: GITLAB_ISSUERS, ...options.env },
    {
      ...(options.prewarmer ? { prewarmer: options.prewarmer } : {}),
      ...(options.log ? { logger: options.log.logger } : {}),
    },
  );
}

export interface AddedHook {
  id: string;
  secret: string;
  path: string;
  provider: string;
  ownerId: string;
  issuer: string;
  settings: Array<{ name: string; value: string }>;
}

export async function addHook(service: TestService, body: Record<string, unknown>): Promise<AddedHook> {
  const res = await http<AddedHook & Record<string, unknown>>(service.url, "POST", "/api/v1/admin/hooks", {
    token: ADMIN_TOKEN,
    body,
  });
  if (res.status !== 201) throw new Error(`adding a hook failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const githubSignature = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** A delivery as the CI sends it: the body's exact bytes, as JSON. */
export function deliver(
  service: TestService,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<HttpResult> {
  const { "content-type": contentType = "application/json", ...rest } = headers;
  return http(service.url, "POST", path, { rawBody: body, contentType, headers: rest });
}

export interface WorkflowJobOverrides {
  action?: string;
  createdAt?: string;
  job?: Record<string, unknown>;
}

/** A workflow_job delivery's body, as GitHub sends it (the fields the hook reads, and some it does not). */
export function workflowJobBody(owner: number, repository: number, overrides: WorkflowJobOverrides = {}) {
  return {
    action: overrides.action ?? "queued",
    workflow_job: {
      id: 29679449,
      run_id: 10793431,
      run_attempt: 1,
      name: "build",
      workflow_name: "CI",
      head_branch: "main",
      status: "queued",
      labels: ["ubuntu-latest"],
      created_at: overrides.createdAt ?? new Date().toISOString(),
      ...overrides.job,
    },
    repository: { id: repository, full_name: "acme/app", owner: { id: owner, login: "acme" } },
    organization: { id: owner, login: "acme" },
    sender: { id: 5, login: "octocat" },
  };
}

/** A signed GitHub delivery of `body` (a new delivery id unless given). */
export function deliverGitHub(
  service: TestService,
  secret: string,
  body: unknown,
  event = "workflow_job",
  deliveryId: string = randomUUID(),
): Promise<HttpResult> {
  const raw = JSON.stringify(body);
  return deliver(service, "/api/v1/hooks/github", raw, {
    "x-github-event": event,
    "x-github-delivery": deliveryId,
    "x-hub-signature-256": githubSignature(secret, raw),
  });
}
