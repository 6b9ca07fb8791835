import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAKE_BIN, ROOT, type DockerCall } from "../harness/action-job.js";

const BIN = join(ROOT, "bin/remote-builder.js");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** What `setup` leaves in the state folder for `finish` and `status` (service/cli/builder.ts). */
export interface SavedState {
  server: string;
  session: {
    buildId: string | null;
    name: string;
    keyDir: string;
    builderCreated: boolean;
    startedAt: number;
    readySeconds: number | null;
  };
  keeperPid: number | null;
  /** The exchanged credential (none with an agent token), renewed here by the heartbeat process. */
  credential?: string | null;
  credentialExpiresAt?: number | null;
  credentialRenewAt?: number | null;
}

/**
 * One job of another CI system on this machine: the real CLI run as a child process, one step
 * after another, with its own state folder (RB_STATE_DIR) and the recording fake `docker` first
 * on PATH. Only what `env` gives reaches the CLI: no RB_TOKEN or CI variables leak in from here.
 */
export class CliJob {
  readonly dir = mkdtempSync(join(tmpdir(), "rb-cli-job-"));
  readonly stateDir = join(this.dir, "state");
  readonly dockerLog = join(this.dir, "docker.jsonl");
  /** Every heartbeat process a setup started, so that cleanUp can end those a test left behind. */
  private readonly keepers = new Set<number>();

  constructor(private readonly env: Record<string, string> = {}) {}

  run(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: this.dir,
          timeout: 30_000,
          env: {
            PATH: `${FAKE_BIN}:${process.env.PATH}`,
            HOME: process.env.HOME,
            RB_STATE_DIR: this.stateDir,
            FAKE_DOCKER_LOG: this.dockerLog,
            ...this.env,
            ...env,
          },
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
          for (const file of this.stateFiles()) {
            const pid = this.state(file.replace(/\.json$/, ""))?.keeperPid;
            if (pid) this.keepers.add(pid);
          }
          done({ code, stdout, stderr });
        },
      );
    });
  }

  statePath(name = "remote-builder"): string {
    return join(this.stateDir, `${name}.json`);
  }

  state(name = "remote-builder"): SavedState | null {
    const path = this.statePath(name);
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as SavedState) : null;
  }

  /** The state folder's entries: state files and key folders. */
  stateFiles(): string[] {
    return existsSync(this.stateDir) ? readdirSync(this.stateDir).sort() : [];
  }

  dockerCalls(): DockerCall[] {
    if (!existsSync(this.dockerLog)) return [];
    return readFileSync(this.dockerLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DockerCall);
  }

  cleanUp(): void {
    for (const pid of this.keepers) if (isKeeper(pid)) process.kill(pid, "SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Whether `pid` runs and has not exited. A zombie counts as gone: the keeper's parent (the setup
 * step) exits at once, and whoever adopts the keeper may be slow to reap it, or never do.
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Whether `pid` is a running `remote-builder keep-alive` (and not some process that reused the id). */
export function isKeeper(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("keep-alive");
  } catch {
    return false;
  }
}

/** A process's command line, its arguments joined by spaces. */
export function argvOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
}

/** A process's environment, as its variables. */
export function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

export { closedPort, eventually as until } from "../harness/wait.js";
export { gitlabClaims } from "../oidc/fixtures.js";
