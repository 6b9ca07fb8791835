import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { ADMIN_TOKEN, http, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import {
  type AddedHook,
  addHook,
  CapturedLog,
  deliver,
  RecordingPrewarmer,
  startHookService,
} from "./support.js";

const NAMESPACE = "72";
const PROJECT = 20;

/** A Job Hook's body, as GitLab sends it (the fields the hook reads, and some it does not). */
function jobEvent(overrides: Record<string, unknown> = {}) {
  return {
    object_kind: "build",
    ref: "main",
    tag: false,
    build_id: 1977,
    build_name: "test",
    build_stage: "test",
    build_status: "pending",
    build_created_at: "2021-02-23 02:41:37 UTC",
    pipeline_id: 2366,
    project_id: PROJECT,
    project_name: "acme / app",
    project: {
      id: PROJECT,
      name: "app",
      web_url: "https://gitlab.example.com/acme/app",
      namespace: "acme",
      path_with_namespace: "acme/app",
      default_branch: "main",
      ci_config_path: null,
    },
    ...overrides,
  };
}

describe("GitLab hook deliveries", () => {
  const prewarmer = new RecordingPrewarmer();
  const log = new CapturedLog();
  let service: TestService;
  let hook: AddedHook;
  const secrets: string[] = [];

  const send = (body: unknown, headers: Record<string, string> = {}, token = hook.secret) => {
    secrets.push(token);
    return deliver(service, "/api/v1/hooks/gitlab", JSON.stringify(body), {
      "x-gitlab-event": "Job Hook",
      "x-gitlab-token": token,
      "idempotency-key": randomUUID(),
      "x-gitlab-event-uuid": randomUUID(),
      ...headers,
    });
  };

  beforeAll(async () => {
    service = await startHookService({ prewarmer, log });
    hook = await addHook(service, { provider: "gitlab", ownerId: NAMESPACE });
    secrets.push(hook.secret);
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(() => prewarmer.reset());

  it("hands a pending job to the prewarmer, as the installation's namespace's, with its token checked", async () => {
    const delivery = randomUUID();
    const before = Date.now();
    const res = await send(jobEvent(), { "idempotency-key": delivery });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      received: true,
      prewarm: "started",
      reason: "a builder is starting for the job",
    });
    expect(prewarmer.jobs).toEqual([
      {
        provider: "gitlab",
        issuer: "gitlab",
        ownerId: NAMESPACE,
        repositoryId: String(PROJECT),
        ref: "refs/heads/main",
        // As GitLab's OIDC token's ci_config_ref_uri names it.
        workflow: "gitlab.example.com/acme/app//.gitlab-ci.yml@refs/heads/main",
        job: "test",
        queuedAt: expect.any(Number),
        deliveryId: delivery,
      },
    ]);
    expect(prewarmer.jobs[0]!.queuedAt).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(res.body)).not.toContain(prewarmer.accountId);
  });

  it("maps a tag's job to refs/tags/, and a configuration in another project to no workflow", async () => {
    const res = await send(
      jobEvent({
        ref: "v1.2",
        tag: true,
        project: { ...jobEvent().project, ci_config_path: "ci.yml@acme/templates" },
      }),
    );
    expect(res.status).toBe(200);
    expect(prewarmer.jobs[0]).toMatchObject({ ref: "refs/tags/v1.2", workflow: null });
  });

  it("refuses a missing, wrong, removed or other CI's token with 401 signature-invalid", async () => {
    expectProblem(
      await send(jobEvent(), { "x-gitlab-token": "" }),
      401,
      "signature-invalid",
      /no X-Gitlab-Token/,
    );
    const forged = hook.secret.slice(0, -4) + (hook.secret.endsWith("AAAA") ? "BBBB" : "AAAA");
    expectProblem(
      await send(jobEvent(), {}, forged),
      401,
      "signature-invalid",
      /secret of no GitLab hook installation/,
    );
    expectProblem(await send(jobEvent(), {}, "a-plain-token"), 401, "signature-invalid", /no GitLab hook/);
    const github = await addHook(service, { provider: "github", ownerId: "1001" });
    expectProblem(await send(jobEvent(), {}, github.secret), 401, "signature-invalid", /no GitLab hook/);
    const removable = await addHook(service, { provider: "gitlab", ownerId: "73" });
    expect((await send(jobEvent(), {}, removable.secret)).status).toBe(200);
    await http(service.url, "DELETE", `/api/v1/admin/hooks/${removable.id}`, { token: ADMIN_TOKEN });
    expectProblem(await send(jobEvent(), {}, removable.secret), 401, "signature-invalid", /removed/);
    expect(prewarmer.jobs).toHaveLength(1);
  });

  it("refuses a replayed Idempotency-Key (or X-Gitlab-Event-UUID before GitLab 17.4) with 409", async () => {
    const key = randomUUID();
    expect((await send(jobEvent(), { "idempotency-key": key })).status).toBe(200);
    expectProblem(
      await send(jobEvent(), { "idempotency-key": key }),
      409,
      "delivery-replayed",
      /already received/,
    );
    const uuid = randomUUID();
    expect((await send(jobEvent(), { "idempotency-key": "", "x-gitlab-event-uuid": uuid })).status).toBe(200);
    const replay = await send(jobEvent(), { "idempotency-key": "", "x-gitlab-event-uuid": uuid });
    expect(replay.status).toBe(409);
    expect(prewarmer.jobs).toHaveLength(2);
    const neither = await send(jobEvent(), { "idempotency-key": "", "x-gitlab-event-uuid": "" });
    expectProblem(neither, 400, "invalid-request", /no usable Idempotency-Key or X-Gitlab-Event-UUID/);
  });

  it("passes the prewarmer's unknown-owner on as 404", async () => {
    prewarmer.refuseUnknownOwner();
    expectProblem(await send(jobEvent()), 404, "unknown-owner", /No account trusts/);
  });

  it("acknowledges jobs not waiting for a runner, and other events, with 202", async () => {
    const created = await send(jobEvent({ build_status: "created" }));
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({
      prewarm: "skipped",
      reason: "a created job is not waiting for a runner",
    });
    expect((await send(jobEvent({ build_status: "running" }))).status).toBe(202);
    const pipeline = await send({ object_kind: "pipeline" }, { "x-gitlab-event": "Pipeline Hook" });
    expect(pipeline.status).toBe(202);
    expect(pipeline.body).toMatchObject({
      reason: expect.stringMatching(/Pipeline Hook events do not pre-warm/),
    });
    expect(prewarmer.jobs).toEqual([]);
  });

  it("refuses a job event without its project id, or a body that is not JSON, with 400", async () => {
    const noProject = jobEvent({ project_id: undefined, project: { name: "app" } });
    expectProblem(await send(noProject), 400, "invalid-request", /project_id is missing/);
    const res = await deliver(service, "/api/v1/hooks/gitlab", "{", {
      "x-gitlab-event": "Job Hook",
      "x-gitlab-token": hook.secret,
      "idempotency-key": randomUUID(),
    });
    expectProblem(res, 400, "invalid-request", /not valid JSON/);
  });

  it("counts GitLab's deliveries apart from GitHub's, and never logs a token", async () => {
    const text = String((await http(service.url, "GET", "/metrics")).body);
    expect(text).toMatch(
      /remote_builder_hook_deliveries_total\{provider="gitlab",outcome="accepted"\} [1-9]/,
    );
    expect(text).toMatch(
      /remote_builder_hook_deliveries_total\{provider="gitlab",outcome="refused-signature-invalid"\} [1-9]/,
    );
    for (const secret of secrets) expect(log.text).not.toContain(secret);
  });
});
