import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { Problem } from "../../service/core/problems.js";
import { ADMIN_TOKEN, http, type TestService } from "../harness/context.js";
import { expectProblem } from "../harness/problems.js";
import {
  type AddedHook,
  addHook,
  CapturedLog,
  deliver,
  githubSignature,
  RecordingPrewarmer,
  startHookService,
  type WorkflowJobOverrides,
  workflowJobBody,
} from "./support.js";

const OWNER = 1001;
const REPOSITORY = 2002;

/** A workflow_job delivery's body for acme/app. */
const workflowJob = (overrides: WorkflowJobOverrides = {}) => workflowJobBody(OWNER, REPOSITORY, overrides);

describe("GitHub hook deliveries", () => {
  const prewarmer = new RecordingPrewarmer();
  const log = new CapturedLog();
  let service: TestService;
  let hook: AddedHook;
  /** Every secret and signature this file made: none may reach the log. */
  const secrets: string[] = [];

  const send = (body: unknown, headers: Record<string, string> = {}, secret = hook.secret) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const signature = githubSignature(secret, text);
    secrets.push(secret, signature);
    return deliver(service, "/api/v1/hooks/github", text, {
      "content-type": "application/json",
      "x-github-event": "workflow_job",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": signature,
      ...headers,
    });
  };

  beforeAll(async () => {
    service = await startHookService({ prewarmer, log });
    hook = await addHook(service, { provider: "github", ownerId: String(OWNER), ownerName: "acme" });
    secrets.push(hook.secret);
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(() => {
    prewarmer.reset();
  });

  it("hands a correctly signed queued job to the prewarmer, and answers without naming an account", async () => {
    const createdAt = new Date(Date.now() - 5_000).toISOString();
    const delivery = randomUUID();
    const res = await send(workflowJob({ createdAt }), { "x-github-delivery": delivery });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      received: true,
      prewarm: "started",
      reason: "a builder is starting for the job",
    });
    expect(prewarmer.jobs).toEqual([
      {
        provider: "github",
        issuer: "github",
        ownerId: String(OWNER),
        repositoryId: String(REPOSITORY),
        ref: "refs/heads/main",
        workflow: "CI",
        job: "build",
        queuedAt: Date.parse(createdAt),
        deliveryId: delivery,
      },
    ]);
    expect(JSON.stringify(res.body)).not.toContain(prewarmer.accountId);
    // The account's own outcome is logged, with the delivery id, for the operator.
    const line = log.lines.find((l) => l.includes("hook pre-warm outcome") && l.includes(delivery));
    expect(JSON.parse(line ?? "{}")).toMatchObject({
      delivery,
      account: prewarmer.accountId,
      outcome: "started",
      reason: "built this workflow 3 times this week",
    });
  });

  it("says skipped, in words that name no account, when no account's builder was started", async () => {
    prewarmer.answer = async () => [
      { accountId: prewarmer.accountId, outcome: "already-warm", reason: "warm" },
    ];
    const res = await send(workflowJob());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, prewarm: "skipped" });
    expect(JSON.stringify(res.body)).not.toContain(prewarmer.accountId);
  });

  it("takes a job without a branch (head_branch null) with no ref", async () => {
    expect((await send(workflowJob({ job: { head_branch: null } }))).status).toBe(200);
    expect(prewarmer.jobs[0]).toMatchObject({ ref: null, workflow: "CI" });
  });

  it("refuses forged deliveries with 401 signature-invalid, and hands none over", async () => {
    const body = JSON.stringify(workflowJob());
    const other = await addHook(service, { provider: "github", ownerId: "3003" });
    const wrongSecret = await send(body, {}, other.secret);
    expectProblem(
      wrongSecret,
      401,
      "signature-invalid",
      /matches the secret of no hook installation for its owner/,
    );
    const tampered = await send(body, {
      "x-hub-signature-256": githubSignature(hook.secret, body.replace('"main"', '"release"')),
    });
    expectProblem(tampered, 401, "signature-invalid", /matches the secret of no hook installation/);
    const unsigned = await send(body, { "x-hub-signature-256": "" });
    expectProblem(unsigned, 401, "signature-invalid", /no X-Hub-Signature-256 header/);
    for (const malformed of [
      "sha1=" + "a".repeat(40),
      "sha256=" + "z".repeat(64),
      "sha256=abc",
      "a".repeat(71),
    ]) {
      const res = await send(body, { "x-hub-signature-256": malformed });
      expectProblem(res, 401, "signature-invalid", /is not sha256=<64 hex digits>/);
    }
    expect(prewarmer.jobs).toEqual([]);
  });

  it("refuses a replayed delivery id with 409 delivery-replayed; the prewarmer is called once", async () => {
    const delivery = randomUUID();
    const body = JSON.stringify(workflowJob());
    expect((await send(body, { "x-github-delivery": delivery })).status).toBe(200);
    const replay = await send(body, { "x-github-delivery": delivery });
    expectProblem(replay, 409, "delivery-replayed", new RegExp(`${delivery} was already received`));
    expect(prewarmer.jobs).toHaveLength(1);
    // Another delivery of the same job (GitHub's own id) is a delivery of its own.
    expect((await send(body)).status).toBe(200);
    expect(prewarmer.jobs).toHaveLength(2);
  });

  it("records a delivery only once its signature verifies: a forged copy does not burn its id", async () => {
    const delivery = randomUUID();
    const body = JSON.stringify(workflowJob());
    const forged = await send(body, { "x-github-delivery": delivery }, "rbh_not-the-secret");
    expect(forged.status).toBe(401);
    expect((await send(body, { "x-github-delivery": delivery })).status).toBe(200);
  });

  it("refuses an owner with no installation with the same 401 as a bad signature", async () => {
    const body = workflowJob();
    body.repository.owner.id = 4242;
    const res = await send(body);
    // A caller without a secret cannot tell an owner with an installation from one without.
    expectProblem(
      res,
      401,
      "signature-invalid",
      /matches the secret of no hook installation for its owner \(id 4242\)/,
    );
    const line = log.lines.find((l) => l.includes("hook delivery refused") && l.includes('"ownerId":"4242"'));
    expect(line).toContain("no installation for the owner");
    expect(prewarmer.jobs).toEqual([]);
  });

  it("passes the prewarmer's unknown-owner on as 404, and keeps the delivery's id", async () => {
    prewarmer.refuseUnknownOwner();
    const delivery = randomUUID();
    const body = JSON.stringify(workflowJob());
    const res = await send(body, { "x-github-delivery": delivery });
    expectProblem(res, 404, "unknown-owner", /No account trusts/);
    expect((await send(body, { "x-github-delivery": delivery })).status).toBe(409);
  });

  it("forgets a delivery the prewarmer failed on, so GitHub's redelivery is taken", async () => {
    prewarmer.answer = async () => {
      throw new Problem("unavailable", "Redis or PostgreSQL is unreachable; retry shortly.");
    };
    const delivery = randomUUID();
    const body = JSON.stringify(workflowJob());
    expect((await send(body, { "x-github-delivery": delivery })).status).toBe(503);
    prewarmer.reset();
    expect((await send(body, { "x-github-delivery": delivery })).status).toBe(200);
    expect(prewarmer.jobs).toHaveLength(1);
  });

  it("refuses deliveries to an installation once it is removed", async () => {
    const removable = await addHook(service, { provider: "github", ownerId: "5005" });
    const body = workflowJob();
    body.repository.owner.id = 5005;
    expect((await send(body, {}, removable.secret)).status).toBe(200);
    const removed = await http(service.url, "DELETE", `/api/v1/admin/hooks/${removable.id}`, {
      token: ADMIN_TOKEN,
    });
    expect(removed.status).toBe(200);
    expectProblem(await send(body, {}, removable.secret), 401, "signature-invalid", /no hook installation/);
  });

  it("answers a signed ping with 200, from a repository or an organization hook", async () => {
    const repositoryPing = {
      zen: "Keep it logically awesome.",
      hook_id: 1,
      repository: workflowJob().repository,
    };
    const res = await send(repositoryPing, { "x-github-event": "ping" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      received: true,
      prewarm: "skipped",
      reason: expect.stringMatching(/secret is valid/),
    });
    const orgPing = { zen: "Design for failure.", hook_id: 2, organization: { id: OWNER, login: "acme" } };
    expect((await send(orgPing, { "x-github-event": "ping" })).status).toBe(200);
    expect((await send(orgPing, { "x-github-event": "ping" }, `rbh_${randomUUID()}`)).status).toBe(401);
    expect(prewarmer.jobs).toEqual([]);
  });

  it("acknowledges other events and actions with 202 and ignores them", async () => {
    const completed = await send(workflowJob({ action: "completed" }));
    expect(completed.status).toBe(202);
    expect(completed.body).toMatchObject({
      received: true,
      prewarm: "skipped",
      reason: "workflow_job completed is not queued",
    });
    const push = await send(
      { ref: "refs/heads/main", repository: workflowJob().repository },
      { "x-github-event": "push" },
    );
    expect(push.status).toBe(202);
    expect(push.body).toMatchObject({ reason: expect.stringMatching(/push events do not pre-warm/) });
    expect(prewarmer.jobs).toEqual([]);
  });

  it("acknowledges a queued job older than RB_HOOK_STALE_SECONDS with 202, and hands it to no one", async () => {
    const res = await send(workflowJob({ createdAt: new Date(Date.now() - 11 * 60_000).toISOString() }));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      prewarm: "skipped",
      reason: expect.stringMatching(/queued 6\d\d s ago, longer than the 600 s/),
    });
    expect(prewarmer.jobs).toEqual([]);
  });

  it("refuses a body that is not JSON, or a queued job without its ids, with 400 invalid-request", async () => {
    expectProblem(await send("{not json"), 400, "invalid-request", /not valid JSON/);
    expectProblem(await send("[1,2]"), 400, "invalid-request", /not a JSON object/);
    const noRepositoryId = workflowJob() as Record<string, unknown> & { repository: Record<string, unknown> };
    delete noRepositoryId.repository.id;
    expectProblem(await send(noRepositoryId), 400, "invalid-request", /repository\.id is missing/);
    const noCreatedAt = workflowJob({ job: { created_at: "yesterday" } });
    expectProblem(await send(noCreatedAt), 400, "invalid-request", /workflow_job\.created_at is missing/);
    const noOwner = workflowJob() as Record<string, unknown>;
    delete noOwner.repository;
    expectProblem(await send(noOwner), 400, "invalid-request", /repository\.owner\.id is missing/);
    expectProblem(
      await send(workflowJob(), { "x-github-delivery": "" }),
      400,
      "invalid-request",
      /X-GitHub-Delivery/,
    );
    expect(prewarmer.jobs).toEqual([]);
  });

  it("refuses a form-encoded delivery with 415, and a body over 1 MiB with 413", async () => {
    const form = await send(`payload=${encodeURIComponent(JSON.stringify(workflowJob()))}`, {
      "content-type": "application/x-www-form-urlencoded",
    });
    expectProblem(form, 415, "unsupported-media-type", /set the hook's content type to application\/json/);
    const huge = JSON.stringify({ ...workflowJob(), padding: "x".repeat(1024 * 1024) });
    expectProblem(await send(huge), 413, "payload-too-large", /larger than 1 MiB/);
  });

  it("counts deliveries by provider and outcome in /metrics", async () => {
    const metrics = await http(service.url, "GET", "/metrics");
    const text = String(metrics.body);
    for (const outcome of [
      "accepted",
      "ignored",
      "refused-signature-invalid",
      "refused-delivery-replayed",
      "refused-unknown-owner",
      "refused-invalid-request",
    ]) {
      expect(text).toMatch(
        new RegExp(`remote_builder_hook_deliveries_total\\{provider="github",outcome="${outcome}"\\} [1-9]`),
      );
    }
  });

  it("never writes a secret or a signature to the log", () => {
    expect(log.lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(log.text).not.toContain(secret);
  });
});
