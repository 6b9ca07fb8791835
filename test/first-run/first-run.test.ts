import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { BUILDKIT_HELP } from "../../service/adapters/drivers/local.js";
import { FAKE_BIN, ROOT } from "../harness/action-job.js";
import { alive, CliJob, until } from "../cli/cli-job.js";

/**
 * The README's first command, `npm run dev`, run as a newcomer runs it: from the repository's
 * folder, through npm (its predev setup step included), with nothing but PATH to tell it where
 * buildkitd is. Here the fake buildkitd and runc of test/harness/bin stand in for the real ones.
 */

const STEP_MS = 120_000;
/** The first start runs initdb, on a busy machine. */
const START_MS = 90_000;
/** Ctrl-C must stop everything within this. */
const STOP_MS = 30_000;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `npm run dev` in its own process group, as a terminal's foreground job would be. */
class DevRun {
  readonly child: ChildProcess;
  readonly pgid: number;
  stdout = "";
  stderr = "";
  exit: Exit | null = null;
  private readonly exited: Promise<Exit>;

  constructor(dataDir: string, env: Record<string, string>) {
    this.child = spawn("npm", ["run", "dev", "--", "--data-dir", dataDir, "--port", "0"], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...newcomerEnv(), RB_BROKER_PORT: "0", ...env },
    });
    this.pgid = this.child.pid!;
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => resolve((this.exit = { code, signal }))),
    );
  }

  /** The API's URL from the banner, once it is printed in full. */
  async url(): Promise<string> {
    const url = await until(
      "the banner",
      () => {
        if (this.exit)
          throw new Error(`npm run dev exited (${JSON.stringify(this.exit)}):\n${this.output()}`);
        return this.stdout.includes("Ctrl-C stops everything")
          ? /remote-builder is running at (http:\/\/\S+)/.exec(this.stdout)?.[1]
          : undefined;
      },
      START_MS,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.output()}`);
    });
    return url;
  }

  /** Ctrl-C, as a terminal sends it: SIGINT to the whole foreground process group. */
  async interrupt(): Promise<Exit> {
    process.kill(-this.pgid, "SIGINT");
    const timer = new Promise<null>((resolve) => setTimeout(resolve, STOP_MS, null).unref());
    const exit = await Promise.race([this.exited, timer]);
    if (!exit) throw new Error(`npm run dev did not exit within ${STOP_MS} ms of Ctrl-C:\n${this.output()}`);
    return exit;
  }

  /** Whether any process of its group is left (process.kill(-pgid, 0) fails with ESRCH once none is). */
  groupAlive(): boolean {
    try {
      process.kill(-this.pgid, 0);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
      throw err;
    }
  }

  /** For afterAll, when a test failed before its Ctrl-C. */
  kill(): void {
    if (this.groupAlive()) process.kill(-this.pgid, "SIGKILL");
  }

  output(): string {
    return `--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }
}

/** This process's environment without what a newcomer's shell would not have: npm's and ours. */
function newcomerEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && !/^(npm_|RB_|FAKE_)/i.test(entry[0]),
    ),
  );
}

/** A temp root PostgreSQL (run as `postgres` when we are root) can reach. */
function tempRoot(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(root, 0o755);
  return root;
}

/** Processes whose command line or working folder is under `root`: Redis, PostgreSQL (and its workers), buildkitd. */
function processesUnder(root: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    if (!alive(Number(pid))) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // a kernel thread, or gone
      }
      if (cmdline.includes(root) || cwd.startsWith(root)) found.push(`${pid} ${cmdline} (in ${cwd})`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The fake buildkitd's starts, from its log: argv and pid. */
function buildkitdStarts(log: string): Array<{ argv: string[]; pid: number; root: string }> {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { argv: string[]; pid: number; root: string });
}

function get(url: string, token?: string): Promise<Response> {
  return fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

async function waitReady(url: string): Promise<void> {
  await until(
    "GET /readyz 200",
    async () => (await get(`${url}/readyz`).catch(() => null))?.status === 200,
    30_000,
  );
}

/** Ctrl-C, then: exit 0 in time, its process group empty, nothing of `root` left running. */
async function expectCleanStop(run: DevRun, root: string): Promise<void> {
  const exit = await run.interrupt();
  expect(run.stdout).toContain("stopping the builders, the service, PostgreSQL and Redis");
  // dev's own last word, once everything it started has stopped.
  expect(run.stdout).toMatch(/\nstopped\.\n/);
  // npm exits after its script; give the kernel a moment to reap.
  await until("the process group to be gone", () => !run.groupAlive(), 5_000).catch(() => undefined);
  expect(run.groupAlive()).toBe(false);
  expect(processesUnder(root)).toEqual([]);
  // Last, as the others say more when it fails: `npm run dev` itself exits 0.
  expect({ exit, output: exit.code === 0 ? "" : run.output() }).toEqual({
    exit: { code: 0, signal: null },
    output: "",
  });
}

/**
 * `npm run dev`'s predev step reinstalls node_modules when package-lock.json changed since the
 * last install: under tests running alongside, that would pull the floor from under them.
 */
function expectInstallUpToDate(): void {
  const stamp = join(ROOT, "node_modules/.remote-builder-lock");
  const current =
    existsSync(stamp) && readFileSync(stamp).equals(readFileSync(join(ROOT, "package-lock.json")));
  if (!current) {
    throw new Error(
      "package-lock.json changed since scripts/setup.sh last installed node_modules, so `npm run dev` would " +
        "run `npm ci` under the running tests: run `bash scripts/setup.sh` first.",
    );
  }
}

describe("npm run dev, the README's first command, with buildkitd and runc on PATH", () => {
  const root = tempRoot("rb-first-run-");
  const dataDir = join(root, ".data");
  const buildkitdLog = join(root, "buildkitd.jsonl");
  const tokenPath = join(dataDir, "dev-token");
  const env = { PATH: `${FAKE_BIN}:${process.env.PATH}`, FAKE_BUILDKITD_LOG: buildkitdLog };
  const runs: DevRun[] = [];
  const jobs: CliJob[] = [];
  let firstToken = "";
  let firstTokenMtime = 0;
  let volume = "";
  let firstBuild = "";

  beforeAll(() => expectInstallUpToDate());
  afterAll(() => {
    for (const run of runs) run.kill();
    for (const job of jobs) job.cleanUp();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    "starts Redis, PostgreSQL, the service and a warm buildkitd, and prints how to build",
    async () => {
      const run = new DevRun(dataDir, env);
      runs.push(run);
      const url = await run.url();
      await waitReady(url);

      expect(run.stdout).toContain(
        `builders: buildkitd processes on this machine, cache volumes in ${dataDir}/local/volumes`,
      );
      expect(run.stdout).toContain(`export RB_SERVER_URL=${url} RB_TOKEN=$(cat ${tokenPath})`);
      expect(run.stdout).toContain("npx remote-builder setup");
      expect(run.stdout).toContain("docker buildx build --builder remote-builder");
      expect(run.stdout).toContain("npx remote-builder finish --result success");
      expect(run.stderr).not.toContain("not on PATH");

      // The dev account's agent token: private to its owner, and it works.
      expect(statSync(tokenPath).mode & 0o777).toBe(0o600);
      firstToken = readFileSync(tokenPath, "utf8").trim();
      firstTokenMtime = statSync(tokenPath).mtimeMs;
      expect(firstToken).not.toBe("");
      expect((await get(`${url}/api/v1/builds`)).status).toBe(401);
      expect((await get(`${url}/api/v1/builds`, firstToken)).status).toBe(200);

      // The warm pool: one buildkitd, started before anyone asked (the fake logs once node has loaded it).
      await until("a warm buildkitd", () => buildkitdStarts(buildkitdLog).length > 0);
      const [warm, ...more] = buildkitdStarts(buildkitdLog);
      expect(more).toEqual([]);
      expect(warm!.root.startsWith(join(dataDir, "local/volumes/"))).toBe(true);
      expect(alive(warm!.pid)).toBe(true);
    },
    STEP_MS,
  );

  it(
    "runs a build with the dev token through the broker on the warm buildkitd, which becomes the account's cache volume",
    async () => {
      const run = runs[0]!;
      const url = await run.url();
      const broker = /TLS broker \(builds connect here with their client certificate\): (tcp:\/\/\S+)/.exec(
        run.stdout,
      )?.[1];
      const job = new CliJob({ RB_SERVER_URL: url, RB_TOKEN: firstToken });
      jobs.push(job);

      const setup = await job.run(["setup"]);
      expect({ code: setup.code, stderr: setup.code === 0 ? "" : setup.stderr }).toEqual({
        code: 0,
        stderr: "",
      });
      const printed = JSON.parse(setup.stdout) as { buildId: string };
      expect(printed).toMatchObject({ tier: "warm", endpoint: broker });
      firstBuild = printed.buildId;
      // The fake docker dialed the broker with the build's client certificate, and the bytes it
      // sent came back from the fake buildkitd behind it.
      expect(job.dockerCalls()[1]).toMatchObject({
        argv: ["buildx", "inspect", "--bootstrap", "remote-builder"],
        bootstrapped: true,
      });

      const [warm] = buildkitdStarts(buildkitdLog);
      const index = JSON.parse(readFileSync(join(dataDir, "local/volumes/index.json"), "utf8")) as Record<
        string,
        string
      >;
      expect(Object.keys(index)).toEqual([expect.stringMatching(/\/buildkit$/)]);
      volume = Object.values(index)[0]!;
      expect(volume).toBe(warm!.root);

      const finish = await job.run(["finish", "--result", "success"]);
      expect({ code: finish.code, stderr: finish.code === 0 ? "" : finish.stderr }).toEqual({
        code: 0,
        stderr: "",
      });
      // It stays up, idle, for the account's next build.
      expect(alive(warm!.pid)).toBe(true);
    },
    STEP_MS,
  );

  it(
    "stops everything on Ctrl-C and exits 0: no process of its group, no buildkitd, Redis or PostgreSQL left",
    async () => {
      const run = runs[0]!;
      const starts = buildkitdStarts(buildkitdLog);
      expect(starts.length).toBeGreaterThan(0);
      await expectCleanStop(run, root);
      for (const { pid } of starts) expect(alive(pid)).toBe(false);
      // The account's cache volume outlives the run; the scratch roots of the warm pool do not.
      expect(existsSync(join(volume, "runs"))).toBe(true);
    },
    STEP_MS,
  );

  it(
    "runs again on the same data: the same dev token, the cache volume kept and used, and stops cleanly again",
    async () => {
      const before = buildkitdStarts(buildkitdLog).length;
      const run = new DevRun(dataDir, env);
      runs.push(run);
      const url = await run.url();
      await waitReady(url);

      expect(readFileSync(tokenPath, "utf8").trim()).toBe(firstToken);
      expect(statSync(tokenPath).mtimeMs).toBe(firstTokenMtime);
      // PostgreSQL kept the first run's build.
      const build = await get(`${url}/api/v1/builds/${firstBuild}`, firstToken);
      expect(build.status).toBe(200);
      expect(await build.json()).toMatchObject({ id: firstBuild, result: "success" });
      expect(existsSync(volume)).toBe(true);
      expect(readFileSync(join(volume, "runs"), "utf8").trim().split("\n")).toHaveLength(1);
      // A fresh warm builder, on a scratch root of its own.
      await until("a warm buildkitd", () => buildkitdStarts(buildkitdLog).length > before);
      expect(buildkitdStarts(buildkitdLog)[before]!.root).not.toBe(volume);

      // The account's next build boots on its volume: a cold start that keeps the cache.
      const job = new CliJob({ RB_SERVER_URL: url, RB_TOKEN: firstToken });
      jobs.push(job);
      const setup = await job.run(["setup"]);
      expect({ code: setup.code, stderr: setup.code === 0 ? "" : setup.stderr }).toEqual({
        code: 0,
        stderr: "",
      });
      expect(JSON.parse(setup.stdout)).toMatchObject({ tier: "cold" });
      expect(buildkitdStarts(buildkitdLog).at(-1)!.root).toBe(volume);
      expect(readFileSync(join(volume, "runs"), "utf8").trim().split("\n")).toHaveLength(2);
      expect((await job.run(["finish", "--result", "success"])).code).toBe(0);

      await expectCleanStop(run, root);
      for (const { pid } of buildkitdStarts(buildkitdLog)) expect(alive(pid)).toBe(false);
      // What stays is the cache volume and its index; the warm builder's scratch root is gone.
      expect(readdirSync(join(dataDir, "local/volumes")).sort()).toEqual(
        [basename(volume), "index.json"].sort(),
      );
      expect(existsSync(join(volume, "runs"))).toBe(true);
    },
    STEP_MS * 2,
  );
});

describe("npm run dev without buildkitd on PATH", () => {
  const root = tempRoot("rb-first-run-nobk-");
  const bin = join(root, "bin");
  const buildkitdLog = join(root, "buildkitd.jsonl");
  let run: DevRun | null = null;

  beforeAll(() => {
    expectInstallUpToDate();
    mkdirSync(bin);
    for (const name of ["runc", "docker"]) symlinkSync(join(FAKE_BIN, name), join(bin, name));
    const real = SYSTEM_PATH.split(":").find((dir) => existsSync(join(dir, "buildkitd")));
    if (real) throw new Error(`this machine has a buildkitd in ${real}: the test needs a PATH without one`);
  });
  afterAll(() => {
    run?.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    "starts on the in-memory driver, says buildkitd is missing and how to install it, and stops cleanly",
    async () => {
      run = new DevRun(join(root, ".data"), {
        PATH: `${bin}:${SYSTEM_PATH}`,
        FAKE_BUILDKITD_LOG: buildkitdLog,
      });
      const url = await run.url();
      await waitReady(url);

      expect(run.stderr).toContain(
        "buildkitd is not on PATH, so builders will be the in-memory test driver: builds are admitted, " +
          "queued and tracked, but nothing builds.",
      );
      expect(run.stderr).toContain(BUILDKIT_HELP);
      expect(run.stdout).toContain(
        "builders: the in-memory test driver (install buildkitd and runc for real builds)",
      );
      expect(run.stdout).toContain("npx remote-builder setup");
      const token = readFileSync(join(root, ".data/dev-token"), "utf8").trim();
      expect((await get(`${url}/api/v1/builds`, token)).status).toBe(200);
      expect(existsSync(buildkitdLog)).toBe(false);

      await expectCleanStop(run, root);
    },
    STEP_MS,
  );
});

/**
 * BuildKit v0.11.6 exits at once on a flag it lacks (`--oci-max-parallelism`): once, `npm run dev`'s
 * warm builder crash-looped on that every 0.65 s and said nothing, as dev logs at warn. Run with
 * a buildkitd given that flag (the real one when ../shared/tools/buildkit is here, and the fake).
 */
describe("npm run dev with a buildkitd that cannot start", () => {
  const root = tempRoot("rb-first-run-failing-");
  const runs: DevRun[] = [];
  const real = process.env.RB_TEST_BUILDKIT
    ? (JSON.parse(process.env.RB_TEST_BUILDKIT) as { buildkitd: string }).buildkitd
    : null;
  const variants: Array<[string, string]> = [["the fake buildkitd", join(FAKE_BIN, "buildkitd")]];
  if (real) variants.push(["upstream buildkitd v0.11.6", real]);

  beforeAll(() => expectInstallUpToDate());
  afterAll(() => {
    for (const run of runs) run.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it.each(variants)(
    "%s: says so at warn, in buildkitd's own words, and backs off",
    async (name, binary) => {
      const bin = join(root, name.replace(/\W+/g, "-"), "bin");
      mkdirSync(bin, { recursive: true });
      // Its version answers; every start is given the flag v0.11 lacks.
      writeFileSync(
        join(bin, "buildkitd"),
        `#!/bin/sh\ncase "$1" in --version) ;; *) set -- --oci-max-parallelism 2 "$@" ;; esac\nexec ${binary} "$@"\n`,
        { mode: 0o755 },
      );
      if (binary.startsWith(FAKE_BIN)) symlinkSync(join(FAKE_BIN, "runc"), join(bin, "runc"));
      // The fake is told to fail, in the words the real one uses.
      const run = new DevRun(join(root, name.replace(/\W+/g, "-"), ".data"), {
        PATH: `${bin}:${process.env.PATH}`,
        ...(binary.startsWith(FAKE_BIN)
          ? { FAKE_BUILDKITD_FAIL: "flag provided but not defined: -oci-max-parallelism" }
          : {}),
      });
      runs.push(run);
      await run.url();
      const warnings = () =>
        run.stdout
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as { level: number; msg: string; retryInSeconds?: number })
          .filter((line) => line.msg.startsWith("a warm builder failed to start"));
      await until("two failed starts", () => warnings().length >= 2, 30_000);
      const [first, second] = warnings();
      expect(first).toMatchObject({ level: 40, retryInSeconds: 1 });
      expect(second).toMatchObject({ level: 40, retryInSeconds: 2 });
      expect(first!.msg).toContain("flag provided but not defined: -oci-max-parallelism");
      await expectCleanStop(run, root);
    },
    STEP_MS,
  );
});
