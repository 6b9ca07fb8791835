import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = resolve(import.meta.dirname, "../..");
export const FAKE_BIN = join(ROOT, "test/harness/bin");
// By path: `--import tsx` would be resolved from the job's folder, which has no node_modules.
const TSX = pathToFileURL(createRequire(join(ROOT, "package.json")).resolve("tsx")).href;

export interface StepRun {
  code: number;
  stdout: string;
  stderr: string;
  /** `::error::`, `::warning::` and `::add-mask::` commands the step printed, in order. */
  commands: Array<{ command: string; message: string }>;
  outputs: Record<string, string>;
  state: Record<string, string>;
  exported: Record<string, string>;
}

export interface DockerCall {
  argv: string[];
  files?: Record<string, string | null>;
  bootstrapped?: boolean;
  failed?: boolean;
  hung?: boolean;
  error?: string;
}

/**
 * One GitHub Actions job on this machine, as the runner sets it up for a JavaScript action:
 * INPUT_* variables, the GITHUB_STATE/OUTPUT/ENV/STEP_SUMMARY files, RUNNER_TEMP, and STATE_*
 * from main's saved state when post runs. The recording fake `docker` is first on PATH.
 * `entry` runs the committed bundle (dist/index.js), as GitHub does, or the source through tsx.
 */
export class ActionJob {
  readonly dir = mkdtempSync(join(tmpdir(), "rb-action-job-"));
  readonly runnerTemp = join(this.dir, "runner-temp");
  readonly dockerLog = join(this.dir, "docker.jsonl");
  private readonly files = {
    GITHUB_STATE: join(this.dir, "state"),
    GITHUB_OUTPUT: join(this.dir, "output"),
    GITHUB_ENV: join(this.dir, "env"),
    GITHUB_STEP_SUMMARY: join(this.dir, "summary.md"),
  };
  private mainState: Record<string, string> = {};

  constructor(
    private readonly inputs: Record<string, string>,
    private readonly env: Record<string, string> = {},
    private readonly entry: "dist" | "source" = "source",
  ) {
    for (const path of Object.values(this.files)) writeFileSync(path, "");
  }

  main(env: Record<string, string> = {}): Promise<StepRun> {
    return this.step({}, env).then((run) => {
      this.mainState = run.state;
      return run;
    });
  }

  /** The post step, with main's saved state; `inputs` override main's (e.g. job-status). */
  post(inputs: Record<string, string> = {}, env: Record<string, string> = {}): Promise<StepRun> {
    const state = Object.fromEntries(Object.entries(this.mainState).map(([k, v]) => [`STATE_${k}`, v]));
    return this.step(inputs, { ...state, ...env });
  }

  get summary(): string {
    return readFileSync(this.files.GITHUB_STEP_SUMMARY, "utf8");
  }

  dockerCalls(): DockerCall[] {
    if (!existsSync(this.dockerLog)) return [];
    return readFileSync(this.dockerLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DockerCall);
  }

  cleanUp(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private step(inputs: Record<string, string>, env: Record<string, string>): Promise<StepRun> {
    for (const path of [this.files.GITHUB_OUTPUT, this.files.GITHUB_STATE, this.files.GITHUB_ENV]) {
      writeFileSync(path, "");
    }
    const inputEnv = Object.fromEntries(
      Object.entries({ ...this.inputs, ...inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]),
    );
    const args =
      this.entry === "dist"
        ? [join(ROOT, "dist/index.js")]
        : ["--import", TSX, join(ROOT, "action/index.ts")];
    return new Promise((done) => {
      execFile(
        process.execPath,
        args,
        {
          cwd: this.dir,
          timeout: 60_000,
          env: {
            PATH: `${FAKE_BIN}:${process.env.PATH}`,
            HOME: process.env.HOME,
            RUNNER_TEMP: this.runnerTemp,
            GITHUB_ACTIONS: "true",
            GITHUB_REPOSITORY: "acme/app",
            GITHUB_RUN_ID: "987654",
            GITHUB_JOB: "build",
            FAKE_DOCKER_LOG: this.dockerLog,
            ...this.files,
            ...inputEnv,
            ...this.env,
            ...env,
          },
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
          done({
            code,
            stdout,
            stderr,
            commands: [...stdout.matchAll(/^::(error|warning|add-mask)[^:]*::(.*)$/gm)].map((m) => ({
              command: m[1]!,
              message: m[2]!.replace(/%0A/g, "\n").replace(/%25/g, "%"),
            })),
            outputs: parseFileCommand(this.files.GITHUB_OUTPUT),
            state: parseFileCommand(this.files.GITHUB_STATE),
            exported: parseFileCommand(this.files.GITHUB_ENV),
          });
        },
      );
    });
  }
}

/** `name<<delimiter\nvalue\ndelimiter` records, as @actions/core writes them. */
export function parseFileCommand(path: string): Record<string, string> {
  const text = readFileSync(path, "utf8");
  const values: Record<string, string> = {};
  for (const m of text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) values[m[1]!] = m[3]!;
  return values;
}

/**
 * GitHub's token endpoint for jobs (ACTIONS_ID_TOKEN_REQUEST_URL): checks the request token and
 * answers `{value}`, an identity token `mint(audience)` signs.
 */
export class FakeActionsTokenEndpoint {
  readonly requestToken = randomUUID();
  requests: string[] = [];
  private constructor(
    private readonly server: Server,
    private readonly mint: (audience: string) => Promise<string>,
  ) {}

  static async start(mint: (audience: string) => Promise<string>): Promise<FakeActionsTokenEndpoint> {
    let endpoint: FakeActionsTokenEndpoint | null = null;
    const server = createServer((req, res) => void endpoint!.handle(req, res));
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    endpoint = new FakeActionsTokenEndpoint(server, mint);
    return endpoint;
  }

  /** The variables the runner sets for a job with `permissions: id-token: write`. */
  get env(): Record<string, string> {
    const port = (this.server.address() as AddressInfo).port;
    return {
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: this.requestToken,
    };
  }

  stop(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    this.requests.push(url.search);
    if (req.headers.authorization !== `Bearer ${this.requestToken}`) {
      res.writeHead(401).end();
      return;
    }
    const value = await this.mint(url.searchParams.get("audience") ?? "");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ value }));
  }
}
