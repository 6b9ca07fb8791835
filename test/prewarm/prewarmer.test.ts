import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { BuilderSpec, CreatedBuilder, PrewarmSpec, PrewarmStart } from "../../service/core/ports.js";
import type { QueuedJob } from "../../service/core/prewarm.js";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { ADMIN_TOKEN, http, startTestService, type TestService } from "../harness/context.js";
import { githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

type Json = Record<string, unknown>;

/**
 * The memory driver with a recording pre-warm: enough to test the prewarmer's decisions and the
 * build's report over the real API, Redis and PostgreSQL. The real thing (buildkitd started on
 * the account's volume, taken by the build) is test/integration/prewarm.test.ts's.
 */
class PrewarmingDriver extends MemoryDriver {
  readonly prewarms: PrewarmSpec[] = [];
  /** Accounts whose builders the cluster refuses. */
  readonly refusing = new Set<string>();
  private readonly waiting = new Map<string, number>();

  async prewarm(spec: PrewarmSpec): Promise<PrewarmStart> {
    if (this.refusing.has(spec.accountId)) throw new Error("the cluster answered 503");
    const key = keyOf(spec.accountId, spec.volume, spec.shapeName);
    if (this.waiting.has(key)) return { outcome: "already-warm", reason: "started already" };
    this.prewarms.push(spec);
    this.waiting.set(key, Date.now());
    return { outcome: "started", builderId: `pre-${this.prewarms.length}` };
  }

  override async create(spec: BuilderSpec): Promise<CreatedBuilder> {
    const created = await super.create(spec);
    // The account's own on its volume is its idle builder; a fresh one of the shape, a warm one.
    for (const key of [
      keyOf(spec.accountId, spec.volume, spec.shapeName),
      keyOf(null, null, spec.shapeName),
    ]) {
      const prewarmedAt = this.waiting.get(key);
      if (prewarmedAt === undefined) continue;
      this.waiting.delete(key);
      return { ...created, tier: spec.volume && key.includes("/") ? "idle" : "warm", prewarmedAt };
    }
    return created;
  }
}

function keyOf(accountId: string | null, volume: { name: string } | null, shape: string): string {
  return volume && accountId ? `${accountId}/${volume.name}` : `warm:${shape}`;
}

describe("the prewarmer: trust relationships name the accounts, their history decides", () => {
  let issuer: TestIssuer;
  let service: TestService;
  let driver: PrewarmingDriver;
  let runs = 0;

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null), {
      driver: (context) => (driver = new PrewarmingDriver({ clock: context.clock })),
    });
  });
  afterAll(async () => {
    await service.stop();
    await issuer.stop();
  });
  beforeEach(() => {
    driver.prewarms.splice(0);
  });

  /** An account trusting GitHub owner `ownerId`, with `relationship`'s fields. */
  async function trustingAccount(ownerId: string, relationship: Json = {}, featureOn = true) {
    const account = await service.account({ featureOn });
    const added = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "github", ownerId, ...relationship },
    });
    expect(added.status).toBe(201);
    return account;
  }

  /** One CI job's build from a GitHub token with `claims`, run to completion. */
  async function pastBuild(claims: Json, account?: string): Promise<Json> {
    const token = await issuer.token(githubClaims({ run_id: String(++runs), ...claims }));
    const exchanged = await http<{ credential: string }>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token, ...(account ? { account } : {}) },
    });
    expect(exchanged.status).toBe(200);
    const credential = exchanged.body.credential;
    const created = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: credential,
      body: { cache: "wait", waitSeconds: 30 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await http(service.url, "GET", `/api/v1/builds/${id}?wait=10`, { token: credential });
    const done = await http<Json>(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token: credential,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    await service.background.drain();
    return { ...done.body, credential };
  }

  const job = (ownerId: string, repositoryId: string, more: Partial<QueuedJob> = {}): QueuedJob => ({
    provider: "github",
    issuer: "github",
    ownerId,
    repositoryId,
    ref: "refs/heads/main",
    workflow: "CI",
    job: "build",
    queuedAt: Date.now(),
    deliveryId: "d-1",
    ...more,
  });

  it("refuses an owner (or a repository) that no account trusts, as unknown-owner", async () => {
    await expect(service.prewarmer.jobQueued(job("4040", "1"))).rejects.toMatchObject({
      kind: "unknown-owner",
      message: expect.stringMatching(/No account trusts github owner id 4040 with repository id 1/),
    });
    await trustingAccount("4041", { repositoryId: "7" });
    await expect(service.prewarmer.jobQueued(job("4041", "8"))).rejects.toMatchObject({
      kind: "unknown-owner",
    });
    expect(driver.prewarms).toEqual([]);
  });

  it("starts nothing for a job with too little history, then the account's builder once it has some", async () => {
    const account = await trustingAccount("5001");
    const claims = { repository_owner_id: "5001", repository_id: "51" };
    expect(await service.prewarmer.jobQueued(job("5001", "51"))).toEqual([
      {
        accountId: account.id,
        outcome: "skipped",
        reason: expect.stringMatching(/^0 build\(s\) of the workflow "CI"/),
      },
    ]);
    await pastBuild(claims);
    await pastBuild(claims);
    const [outcome] = await service.prewarmer.jobQueued(job("5001", "51"));
    expect(outcome).toMatchObject({ accountId: account.id, outcome: "started" });
    expect(driver.prewarms).toEqual([
      expect.objectContaining({
        accountId: account.id,
        shapeName: "small",
        volume: { name: "buildkit", sizeGiB: expect.any(Number) },
      }),
    ]);
    // Another workflow of the same repository has no history of its own.
    expect((await service.prewarmer.jobQueued(job("5001", "51", { workflow: "Release" })))[0]).toMatchObject({
      outcome: "skipped",
    });

    // The job's build takes the pre-warmed builder, and says so.
    const built = await pastBuild(claims);
    expect(built).toMatchObject({ tier: "idle", prewarmed: true, state: "completed" });
    const metrics = await http<string>(service.url, "GET", "/metrics");
    expect(metrics.body).toMatch(/remote_builder_prewarm_total\{outcome="started"\} 1/);
    expect(metrics.body).toMatch(/remote_builder_prewarm_total\{outcome="used"\} 1/);
    expect(metrics.body).toMatch(/remote_builder_prewarm_lead_seconds_count 1/);
  });

  it("gives a job whose builds run cold a fresh builder of the shape, never the account's volume", async () => {
    await trustingAccount("5002", { cacheWriteRefs: ["refs/heads/main"] });
    const claims = { repository_owner_id: "5002", repository_id: "52" };
    await pastBuild(claims);
    await pastBuild(claims);
    // A ref that may not write the cache runs cold, whatever its workflow's other builds did.
    const [branch] = await service.prewarmer.jobQueued(job("5002", "52", { ref: "refs/heads/topic" }));
    expect(branch).toMatchObject({
      outcome: "started",
      reason: expect.stringMatching(/^warm builder pre-\d+ started: the job's builds run cold$/),
    });
    expect(driver.prewarms).toEqual([expect.objectContaining({ shapeName: "small", volume: null })]);

    // Pull requests' builds run cold (and the first of them took that warm builder): a workflow
    // that only ever ran for them gets a warm builder too.
    const pr = { ...claims, workflow: "PR", event_name: "pull_request", ref: "refs/pull/1/merge" };
    await pastBuild(pr);
    await pastBuild(pr);
    const [cold] = await service.prewarmer.jobQueued(job("5002", "52", { workflow: "PR", ref: null }));
    expect(cold).toMatchObject({ outcome: "started" });
    // The pull request's build takes it as its warm builder.
    const built = await pastBuild(pr);
    expect(built).toMatchObject({
      tier: "warm",
      prewarmed: true,
      cache: expect.objectContaining({ mode: "cold" }),
    });
  });

  it("starts nothing for an account without the feature, nor while a build holds the volume", async () => {
    const off = await trustingAccount("5003", {}, false);
    expect(await service.prewarmer.jobQueued(job("5003", "53"))).toEqual([
      { accountId: off.id, outcome: "skipped", reason: "remote builders are not enabled" },
    ]);

    const account = await trustingAccount("5004");
    const claims = { repository_owner_id: "5004", repository_id: "54" };
    await pastBuild(claims);
    await pastBuild(claims);
    const token = await issuer.token(githubClaims({ ...claims, run_id: String(++runs) }));
    const { body } = await http<{ credential: string }>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token },
    });
    const running = await http<Json>(service.url, "POST", "/api/v1/builds", {
      token: body.credential,
      body: { cache: "wait", waitSeconds: 30 },
    });
    expect(running.status).toBe(201);
    expect(await service.prewarmer.jobQueued(job("5004", "54"))).toEqual([
      { accountId: account.id, outcome: "skipped", reason: "a build holds the cache volume" },
    ]);
    expect(driver.prewarms).toEqual([]);
  });

  it("answers for every account that trusts the owner, each by its own history", async () => {
    const a = await trustingAccount("5005");
    const b = await trustingAccount("5005");
    const claims = { repository_owner_id: "5005", repository_id: "55" };
    await pastBuild(claims, a.handle);
    await pastBuild(claims, a.handle);
    const outcomes = await service.prewarmer.jobQueued(job("5005", "55"));
    expect(outcomes).toHaveLength(2);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ accountId: a.id, outcome: "started" }),
        expect.objectContaining({ accountId: b.id, outcome: "skipped" }),
      ]),
    );
    // A second delivery for the same job finds the builder already starting.
    expect(
      (await service.prewarmer.jobQueued(job("5005", "55"))).find((o) => o.accountId === a.id),
    ).toMatchObject({
      outcome: "already-warm",
    });
  });

  it("keeps one account's failure to start a builder its own", async () => {
    const a = await trustingAccount("5006");
    const b = await trustingAccount("5006");
    const claims = { repository_owner_id: "5006", repository_id: "56" };
    for (const account of [a, b]) {
      await pastBuild(claims, account.handle);
      await pastBuild(claims, account.handle);
    }
    driver.refusing.add(a.id);
    const outcomes = await service.prewarmer.jobQueued(job("5006", "56"));
    expect(outcomes).toEqual(
      expect.arrayContaining([
        { accountId: a.id, outcome: "skipped", reason: "pre-warming failed: the cluster answered 503" },
        expect.objectContaining({ accountId: b.id, outcome: "started" }),
      ]),
    );
  });
});
