/**
 * What the local driver's tests share: services with RB_DRIVER=local on a folder of their own, the
 * fake buildkitd's log (who started, with what argv), builds with a client key, and the driver's
 * files (index.json, a root's `runs`).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { builderEndpoint, http, startTestService, type TestService } from "../harness/context.js";
import { type BuildBody, clientKey, type ClientKey, dial, roundTrip } from "../broker/support.js";
import { alive, until } from "../cli/cli-job.js";

export { alive, until } from "../cli/cli-job.js";
export type { BuildBody } from "../broker/support.js";

/** One start of the fake buildkitd, as it logged itself. */
export interface Daemon {
  pid: number;
  argv: string[];
  root: string;
  addr: string;
  config: string;
  /** What its config file held. */
  toml: string;
  /** The builder's own folder (run/<builderId>), where its config and TLS files are. */
  runDir: string;
}

/** Starts of the fake buildkitd whose files live under `dataDir` (one service's RB_LOCAL_DIR), in order. */
export function daemons(dataDir: string): Daemon[] {
  const log = process.env.FAKE_BUILDKITD_LOG;
  if (!log) throw new Error("FAKE_BUILDKITD_LOG is not set");
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map(
      (line) =>
        JSON.parse(line) as {
          argv: string[];
          pid: number;
          config: string;
          root: string;
          address: string;
          toml: string;
        },
    )
    .map(({ argv, pid, config, root, address, toml }) => ({
      pid,
      argv,
      root,
      addr: address,
      config,
      toml,
      runDir: dirname(config),
    }))
    .filter((d) => d.config.startsWith(join(dataDir, "run") + "/"));
}

/**
 * Kills what a failed test left running: each buildkitd in the log that is still up and runs on
 * files under `dir` (a test file's temp folder), by its pid.
 */
export function killStrays(dir: string): void {
  const log = process.env.FAKE_BUILDKITD_LOG;
  if (!log || !existsSync(log)) return;
  for (const line of readFileSync(log, "utf8").split("\n").filter(Boolean)) {
    const { pid, argv } = JSON.parse(line) as { pid: number; argv: string[] };
    if (alive(pid) && argv.some((a) => a.startsWith(dir + "/"))) process.kill(pid, "SIGKILL");
  }
}

/** The buildkitd behind a build's endpoint: the latest one on that address (ports get reused). */
export function daemonOf(dataDir: string, build: { endpoint?: string | null }): Daemon {
  const found = daemons(dataDir).findLast((d) => d.addr === build.endpoint);
  if (!found) throw new Error(`no buildkitd listens on ${build.endpoint}`);
  return found;
}

/** The driver's map of account/volume → directory. */
export function volumeIndex(dataDir: string): Record<string, string> {
  const path = join(dataDir, "volumes", "index.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, string>) : {};
}

/** The lines the fake buildkitd appended to `<root>/runs`, one per start on that root. */
export function runs(root: string): string[] {
  const path = join(root, "runs");
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

/** A service whose builders are (fake) buildkitd processes with their files under `dataDir`. */
export function startLocalService(dataDir: string, env: Record<string, string> = {}): Promise<TestService> {
  return startTestService({ RB_DRIVER: "local", RB_LOCAL_DIR: dataDir, ...env });
}

export interface LiveBuild extends BuildBody {
  token: string;
  key: ClientKey;
  /** Where its builder listens, from the service's records (the API never shows it). */
  endpoint?: string | null;
}

/** POSTs a build with a fresh client key; throws unless it is admitted or queued (201). */
export async function createBuild(
  service: TestService,
  account: { token: string },
  body: Record<string, unknown> = {},
): Promise<LiveBuild> {
  const key = clientKey();
  const created = await http<BuildBody>(service.url, "POST", "/api/v1/builds", {
    token: account.token,
    body: { publicKey: key.publicKeyPem, ...body },
  });
  if (created.status !== 201) {
    throw new Error(`POST /builds: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return { ...created.body, token: account.token, key };
}

/** Long-polls until the build is ready, building or ended. */
export async function settle(service: TestService, build: LiveBuild, timeoutMs = 10_000): Promise<LiveBuild> {
  return until(
    `build ${build.id} to settle`,
    async () => {
      const { body } = await http<BuildBody>(service.url, "GET", `/api/v1/builds/${build.id}?wait=5`, {
        token: build.token,
      });
      if (body.state === "queued" || body.state === "pending") return null;
      return { ...build, ...body, endpoint: await builderEndpoint(service, build.id) };
    },
    timeoutMs,
  );
}

/** POSTs a build and waits until its builder is ready. */
export async function readyBuild(
  service: TestService,
  account: { token: string },
  body: Record<string, unknown> = {},
): Promise<LiveBuild> {
  const build = await settle(service, await createBuild(service, account, body));
  if (build.state !== "ready") {
    throw new Error(`build ${build.id} is ${build.state} (${build.endReason ?? "no reason"})`);
  }
  return build;
}

export async function getBuild(service: TestService, build: LiveBuild): Promise<BuildBody> {
  return (
    await http<BuildBody>(service.url, "GET", `/api/v1/builds/${build.id}`, {
      token: build.token,
    })
  ).body;
}

export async function completeBuild(service: TestService, build: LiveBuild): Promise<BuildBody> {
  const done = await http<BuildBody>(service.url, "POST", `/api/v1/builds/${build.id}/complete`, {
    token: build.token,
    body: { result: "success" },
  });
  if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
  return done.body;
}

/** Writes `text` through the broker with the build's certificate and resolves with what came back. */
export async function echo(service: TestService, build: LiveBuild, text: string): Promise<string> {
  const { socket, secure } = dial(service, { cert: build.certificate!, key: build.key.privateKeyPem });
  try {
    await secure;
    return (await roundTrip(socket, text)).toString();
  } finally {
    socket.destroy();
  }
}
