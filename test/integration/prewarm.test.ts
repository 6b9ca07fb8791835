import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import type { LocalDriver } from "../../service/adapters/drivers/local.js";
import { CNI_CACHE_DIR } from "../../service/adapters/drivers/local-netns.js";
import type { Build } from "../../service/client/api-client.js";
import { dockerConfig, realDockerEnv } from "../harness/buildkit-tools.js";
import { ADMIN_TOKEN, builderOf, http, startTestService, type TestService } from "../harness/context.js";
import { busyboxImage, type OciImage } from "../harness/oci-image.js";
import { removeTree } from "../harness/remove-tree.js";
import { CliJob } from "../cli/cli-job.js";
import { addHook, CapturedLog, deliverGitHub, hookKey, workflowJobBody } from "../hooks/support.js";
import { githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";
import { buildContext, buildxBuild, describeReal, succeeded, tools } from "./support.js";

type Recorded = Pick<Build, "id" | "state" | "tier" | "prewarmed" | "insights">;

/** The pre-warmed builder's own TTL: the shortest the service takes. */
const PREWARM_TTL_S = 10;

/**
 * Pre-warming with real buildkitd on the local driver: a GitHub job of a repository whose builds
 * used the account's builder is queued; the account's buildkitd starts on its volume; the job's
 * CI build (the CLI, `docker buildx build` through the broker) takes that very builder as its idle
 * one, with its cache warm. A queued job whose build never comes leaves a builder that stops at its
 * TTL, billed to no one.
 */
describeReal("pre-warm: the account's builder, started when its CI queues the job", () => {
  const work = mkdtempSync(join(tmpdir(), "rb-prewarm-"));
  let issuer: TestIssuer;
  let base: OciImage;
  let docker: Record<string, string>;
  let context: string;
  let service: TestService;
  let account: { id: string; handle: string };
  let hookSecret: string;
  const log = new CapturedLog();
  const jobs: CliJob[] = [];
  let runs = 0;
  let stopped = false;
  const claims = { repository_owner_id: "7001", repository_id: "7002" };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    base = busyboxImage(work);
    docker = realDockerEnv(tools(), dockerConfig(join(work, "docker"), tools()));
    context = buildContext(join(work, "context"), {
      Dockerfile: ["FROM base", "COPY src.txt /src.txt", "RUN sleep 1 && wc -c /src.txt > /size", ""].join(
        "\n",
      ),
      "src.txt": "prewarm",
    });
    service = await startTestService(
      {
        ...oidcEnv([{ name: "github", kind: "github", issuer }], null),
        RB_DRIVER: "local",
        RB_LOCAL_DIR: join(work, "local"),
        RB_BUILDKITD: tools().buildkitd,
        // The account's builder goes a second after each build: only a pre-warm can have it up.
        RB_BUILDER_IDLE_TTL_SECONDS: "1",
        RB_PREWARM_TTL_SECONDS: String(PREWARM_TTL_S),
        RB_HOOK_SECRET_KEY: hookKey(),
      },
      // The hook tells GitHub only "started"; the log says which builder, for which account.
      { logger: log.logger },
    );
    account = await service.account();
    const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
      token: ADMIN_TOKEN,
      body: { issuer: "github", ownerId: claims.repository_owner_id, repositoryId: claims.repository_id },
    });
    expect(trusted.status).toBe(201);
    hookSecret = (await addHook(service, { provider: "github", ownerId: claims.repository_owner_id })).secret;
  });
  afterAll(async () => {
    for (const job of jobs) job.cleanUp();
    if (!stopped) await service?.stop();
    await issuer?.stop();
    removeTree(work);
  });

  /** One GitHub job of the repository through the CLI: setup, a build through the broker, finish. */
  async function ciJob(): Promise<{ build: Recorded; setupSeconds: number; finished: string }> {
    const token = await issuer.token(githubClaims({ ...claims, run_id: String(++runs) }));
    const job = new CliJob({ RB_SERVER_URL: service.url, RB_ID_TOKEN: token, ...docker });
    jobs.push(job);
    const started = performance.now();
    const setup = await job.run(["setup"]);
    if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
    const setupSeconds = (performance.now() - started) / 1000;
    const { buildId } = JSON.parse(setup.stdout) as { buildId: string };
    const built = await buildxBuild(docker, "remote-builder", context, [
      "--build-context",
      `base=${base.context}`,
    ]);
    succeeded("docker buildx build", built.result);
    const finish = await job.run(["finish", "--result", "success"]);
    if (finish.code !== 0) throw new Error(`finish failed: ${finish.stderr}`);
    // As recorded: the job's credential went with its CLI state.
    const { rows } = await service.pool.query<Recorded>(
      "SELECT id, state, tier, prewarmed, insights FROM builds WHERE id = $1",
      [buildId],
    );
    return { build: rows[0]!, setupSeconds, finished: finish.stdout };
  }

  /** GitHub's signed `workflow_job` queued delivery for the job, as its webhook sends it. */
  const deliverQueued = (workflow = "CI", branch = "main") =>
    deliverGitHub(
      service,
      hookSecret,
      workflowJobBody(Number(claims.repository_owner_id), Number(claims.repository_id), {
        job: { workflow_name: workflow, head_branch: branch },
      }),
    );

  /** A pull request's build of the workflow "PR" through the API alone (it runs cold): ready, then completed. */
  async function pullRequestBuild(): Promise<Record<string, unknown>> {
    const token = await issuer.token(
      githubClaims({
        ...claims,
        run_id: String(++runs),
        workflow: "PR",
        event_name: "pull_request",
        ref: "refs/pull/3/merge",
      }),
    );
    const { body } = await http<{ credential: string }>(service.url, "POST", "/api/v1/auth/oidc", {
      body: { token },
    });
    const created = await http<{ id: string }>(service.url, "POST", "/api/v1/builds", {
      token: body.credential,
      body: { cache: "wait", waitSeconds: 30 },
    });
    expect(created.status).toBe(201);
    const ready = await http<Record<string, unknown>>(
      service.url,
      "GET",
      `/api/v1/builds/${created.body.id}?wait=30`,
      {
        token: body.credential,
      },
    );
    expect(ready.body.state).toBe("ready");
    await http(service.url, "POST", `/api/v1/builds/${created.body.id}/complete`, {
      token: body.credential,
      body: { result: "success" },
    });
    return ready.body;
  }

  /** The builder the last delivery started for the account, as the service logged it. */
  const startedBuilder = (): string | undefined =>
    log.lines
      .map(
        (line) => JSON.parse(line) as { msg?: string; outcome?: string; reason?: string; account?: string },
      )
      .filter((l) => l.msg === "hook pre-warm outcome" && l.outcome === "started" && l.account === account.id)
      .map((l) => /builder (\S+) started/.exec(l.reason ?? "")?.[1])
      .at(-1);

  /**
   * Delivers the queued job once the account's idle builder from its last build has gone (its TTL
   * is 1 s, and the pool's pass runs every second). A delivery while it is still up would keep it
   * up for the job instead ("already warm").
   */
  async function queueOnceIdleGone(): Promise<void> {
    await sleep(3_000);
    const res = await deliverQueued();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ prewarm: "started" });
  }

  it("a queued job's build takes the builder started for it, on the account's volume, cache warm", async () => {
    // The history: two builds of the workflow, which leave the cache on the account's volume.
    await ciJob();
    await ciJob();

    await queueOnceIdleGone();
    const prewarmedBuilder = startedBuilder();
    expect(prewarmedBuilder).toMatch(/^local-/);

    const { build, finished } = await ciJob();
    expect(build).toMatchObject({ state: "completed", tier: "idle", prewarmed: true });
    expect((await builderOf(service, build.id)).builderId).toBe(prewarmedBuilder);
    // It is the account's own volume: every step of the build was in its cache already.
    expect(build.insights).toMatchObject({ status: "read", steps: 2, cachedSteps: 2 });
    expect(finished).toMatch(/^tier\s+idle, prewarmed \(started when the CI queued the job\)$/m);
  });

  it("a queued job whose build never comes leaves a builder that stops at its TTL, billed to no one", async () => {
    const billed = async () =>
      Number(
        (
          await service.pool.query(
            "SELECT count(*) AS n FROM ledger_entries WHERE account_id = $1 AND kind = 'build'",
            [account.id],
          )
        ).rows[0].n,
      );
    const before = await billed();
    await queueOnceIdleGone();
    const startedAt = Date.now();

    let metrics = "";
    while (!/remote_builder_prewarm_total\{outcome="expired"\} 1/.test(metrics)) {
      if (Date.now() - startedAt > (PREWARM_TTL_S + 15) * 1000) throw new Error(`never expired:\n${metrics}`);
      await sleep(500);
      metrics = (await http<string>(service.url, "GET", "/metrics")).body;
    }
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual((PREWARM_TTL_S - 1) * 1000);
    const wasted = Number(/^remote_builder_prewarm_wasted_seconds_total (\S+)$/m.exec(metrics)?.[1]);
    expect(wasted).toBeGreaterThanOrEqual(PREWARM_TTL_S);
    expect(wasted).toBeLessThan(PREWARM_TTL_S + 5);
    expect(await billed()).toBe(before);
    // Gone, not idle: the next queued job starts a builder again.
    expect((await deliverQueued()).body).toMatchObject({ prewarm: "started" });
  });

  it("a queued pull-request job, whose builds run cold, gets a fresh builder that its build takes", async () => {
    // The workflow's history: pull requests' builds, which never hold the account's volume.
    expect(await pullRequestBuild()).toMatchObject({ cache: expect.objectContaining({ mode: "cold" }) });
    await pullRequestBuild();
    const res = await deliverQueued("PR", "feature");
    expect(res.body).toMatchObject({ prewarm: "started" });
    const prewarmedBuilder = startedBuilder();
    expect(prewarmedBuilder).toMatch(/^local-/);
    const build = await pullRequestBuild();
    expect(build).toMatchObject({ tier: "warm", prewarmed: true });
    expect((await builderOf(service, build.id as string)).builderId).toBe(prewarmedBuilder);
  });

  it("leaves nothing of its builders' networks once they stop: no namespace, address, firewall rule or folder", async () => {
    // Every buildkitd here started with a pool of network namespaces (CNI), which v0.11 does not
    // release when it stops: the driver does, for the volume's builder and the throw-away ones.
    const cni = (service.driver as LocalDriver).network.cni !== null;
    const ours = () => cniNetworksIn(work);
    const networks = ours();
    if (cni) expect(networks.length).toBeGreaterThan(0);
    await service.stop();
    stopped = true;
    expect(mountsUnder(work)).toEqual([]);
    expect(readdirSync(join(work, "local", "volumes")).filter((d) => d.startsWith("scratch-"))).toEqual([]);
    expect(ours()).toEqual([]);
    const ids = new Set(networks.map((n) => n.containerId));
    expect(allocatedAddresses().filter((a) => ids.has(a.owner))).toEqual([]);
    const addresses = networks.flatMap((n) => n.addresses);
    // Without CNI (no plugins or iptables here) the builders shared the host's network: none to check.
    const rules = addresses.length > 0 ? execFileSync("iptables-save", { encoding: "utf8" }) : "";
    expect(addresses.filter((a) => rules.includes(`${a}/32`))).toEqual([]);
    const complaints = /background work failed|were not all released|could not be removed/;
    expect(log.lines.filter((l) => complaints.test(l))).toEqual([]);
  });
});

/** libcni's cache entries (`/var/lib/cni/results`) for namespaces in folders under `root`. */
function cniNetworksIn(root: string): Array<{ containerId: string; addresses: string[] }> {
  const results = join(CNI_CACHE_DIR, "results");
  if (!existsSync(results)) return [];
  return readdirSync(results)
    .map((name) => readFileSync(join(results, name), "utf8"))
    .filter((text) => text.includes(`"sandbox":"${root}/`))
    .map((text) => {
      const entry = JSON.parse(text) as {
        containerId: string;
        result?: { ips?: Array<{ address: string }> };
      };
      const addresses = (entry.result?.ips ?? []).map((ip) => ip.address.split("/")[0]!);
      return { containerId: entry.containerId, addresses };
    });
}

/** host-local's allocations on the build bridge's network: each address's file names its namespace. */
function allocatedAddresses(): Array<{ address: string; owner: string }> {
  const dir = join(CNI_CACHE_DIR, "networks", "remote-builder");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d+\.\d+\.\d+\.\d+$/.test(name))
    .map((address) => ({ address, owner: readFileSync(join(dir, address), "utf8").split("\n")[0]!.trim() }));
}

function mountsUnder(root: string): string[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((path) => path.startsWith(`${root}/`));
}
