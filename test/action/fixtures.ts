import { existsSync, readdirSync, readFileSync } from "node:fs";
import { MemoryDriver } from "../doubles/memory-driver.js";
import type { Build } from "../../service/client/api-client.js";
import { ActionJob, FakeActionsTokenEndpoint, type StepRun } from "../harness/action-job.js";
import {
  type AccountOptions,
  ADMIN_TOKEN,
  http,
  startTestService,
  type TestService,
} from "../harness/context.js";
import { startEchoBuilder } from "../harness/echo-builder.js";
import { githubClaims, oidcEnv, TestIssuer } from "../oidc/fixtures.js";

export interface Account {
  handle: string;
  id: string;
  token: string;
}

/**
 * What the Action's tests run against: a real service (memory builders that echo through the
 * broker), an OIDC issuer, and the runner's token endpoint that hands its tokens to jobs.
 */
export interface ActionWorld {
  service: TestService;
  tokens: FakeActionsTokenEndpoint;
  /** An account that trusts acme/app's jobs (so `account: handle` picks it), with an agent token. */
  account(options?: AccountOptions): Promise<Account>;
  stop(): Promise<void>;
}

export async function startActionWorld(env: Record<string, string> = {}): Promise<ActionWorld> {
  const issuer = await TestIssuer.start();
  const tokens = await FakeActionsTokenEndpoint.start((audience) =>
    issuer.token(githubClaims({ aud: audience })),
  );
  const service = await startTestService(oidcEnv([{ name: "github", kind: "github", issuer }], null, env), {
    driver: (context) => new MemoryDriver({ ...context, serve: startEchoBuilder }),
  });
  return {
    service,
    tokens,
    async account(options = {}) {
      const account = await service.account(options);
      const trusted = await http(service.url, "POST", `/api/v1/admin/accounts/${account.handle}/trust`, {
        token: ADMIN_TOKEN,
        body: { ownerId: "1001", cacheWriteRefs: ["refs/heads/main"] },
      });
      if (trusted.status !== 201) throw new Error(`trust: ${trusted.status} ${JSON.stringify(trusted.body)}`);
      return account;
    },
    async stop() {
      // The service leaves builders of unfinished builds running; their echo servers would keep
      // jest from exiting.
      for (const builder of await service.driver.list()) await service.driver.terminate(builder.builderId);
      await service.stop();
      await tokens.stop();
      await issuer.stop();
    },
  };
}

export const errors = (run: StepRun) =>
  run.commands.filter((c) => c.command === "error").map((c) => c.message);
export const warnings = (run: StepRun) =>
  run.commands.filter((c) => c.command === "warning").map((c) => c.message);
export const masks = (run: StepRun) =>
  run.commands.filter((c) => c.command === "add-mask").map((c) => c.message);

/** The step's log groups (`::group::name` … `::endgroup::`), in order, each with its lines. */
export function logGroups(run: StepRun): Array<{ name: string; lines: string[] }> {
  const groups: Array<{ name: string; lines: string[] }> = [];
  let open: { name: string; lines: string[] } | null = null;
  for (const line of run.stdout.split("\n")) {
    if (line.startsWith("::group::"))
      groups.push((open = { name: line.slice("::group::".length), lines: [] }));
    else if (line === "::endgroup::") open = null;
    else open?.lines.push(line);
  }
  return groups;
}

/** How many times `text` appears in what the step printed. */
export const printed = (run: StepRun, text: string) => run.stdout.split(text).length - 1;

/** What main left in RUNNER_TEMP (the per-build key folders). */
export function runnerTempEntries(job: ActionJob): string[] {
  return existsSync(job.runnerTemp) ? readdirSync(job.runnerTemp) : [];
}

export async function getBuild(world: ActionWorld, account: Account, id: string): Promise<Build> {
  const response = await http<Build>(world.service.url, "GET", `/api/v1/builds/${id}`, {
    token: account.token,
  });
  if (response.status !== 200) throw new Error(`GET build ${id}: ${response.status}`);
  return response.body;
}

export async function listBuilds(world: ActionWorld, account: Account): Promise<Build[]> {
  const response = await http<{ builds: Build[] }>(world.service.url, "GET", "/api/v1/builds", {
    token: account.token,
  });
  return response.body.builds;
}

/** A build made straight through the API with the account's agent token, as another job would. */
export async function createBuild(
  world: ActionWorld,
  account: Account,
  body: Record<string, unknown> = {},
): Promise<Build> {
  const response = await http<Build>(world.service.url, "POST", "/api/v1/builds", {
    token: account.token,
    body: { waitSeconds: 0, ...body },
  });
  if (response.status !== 201)
    throw new Error(`create build: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/**
 * The live heartbeat processes for a build: main starts `node <entry> keep-alive` with
 * RB_KEEPER_BUILD=<id> in its environment. A zombie's environ reads empty, so it does not count.
 */
export function keepersOf(buildId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (env.includes(`RB_KEEPER_BUILD=${buildId}`) && argv.includes("keep-alive")) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** After a test that failed half-way: stop the heartbeat processes it started, by their pid. */
export function killKeepers(buildId: string | undefined): void {
  if (!buildId) return;
  for (const pid of keepersOf(buildId)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** The build main made, from the state it saved for post (also when main failed half-way). */
export function savedBuildId(run: StepRun): string | undefined {
  return run.state["build-id"] || undefined;
}

export { closedPort, eventually } from "../harness/wait.js";
