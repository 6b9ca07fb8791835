import type { ChildProcess } from "node:child_process";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Writable } from "node:stream";
import { exec } from "@actions/exec";

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerOptions {
  /** A hung docker CLI must not hang a CI job: past this, it is killed and the call fails. */
  timeoutMs: number;
  /**
   * Where the runner's `[command]/usr/bin/docker …` line and docker's own output are shown: the
   * Action's log. Left out, docker runs silently, for a CLI whose stdout is its result.
   */
  output?: Writable | undefined;
}

const NOT_ON_PATH =
  "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)";

/**
 * Runs `docker …` through @actions/exec, so that the job's log shows it the way actions such as
 * docker/setup-buildx-action do. Rejects with the command and the tail of its output when it
 * fails, times out or cannot be started.
 *
 * The time limit: @actions/exec v3 takes no timeout or AbortSignal, hands spawn only cwd and env,
 * and keeps its ChildProcess to itself; its `delay` option only bounds the wait for stdio once
 * the process has exited, so it cannot stop a docker that never exits. Node publishes every
 * ChildProcess it makes on the `child_process` diagnostics channel: this listens there while the
 * command runs and, at the deadline, kills the child whose argv is this command's.
 */
export async function docker(args: string[], o: DockerOptions): Promise<DockerResult> {
  const command = `docker ${args.slice(0, 3).join(" ")}`;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const said = () =>
    (Buffer.concat(stderr).toString() || Buffer.concat(stdout).toString()).trim().slice(-600);
  const children: ChildProcess[] = [];
  const onChild = (message: unknown) => children.push((message as { process: ChildProcess }).process);
  const ours = () => children.find((child) => sameArgs(child.spawnargs?.slice(1) ?? [], args));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ours()?.kill("SIGKILL");
      const tail = said();
      const seconds = Math.round(o.timeoutMs / 1000);
      reject(new Error(`\`${command}\` did not finish within ${seconds} s${tail ? `: ${tail}` : ""}`));
    }, o.timeoutMs);
  });
  subscribe("child_process", onChild);
  try {
    const run = exec("docker", args, {
      ignoreReturnCode: true,
      silent: !o.output,
      ...(o.output ? { outStream: o.output, errStream: o.output } : {}),
      listeners: { stdout: (chunk) => stdout.push(chunk), stderr: (chunk) => stderr.push(chunk) },
    }).catch((err: Error) => {
      // No child at all: @actions/exec found no executable docker on PATH, and said so at length.
      throw new Error(ours() ? `cannot run docker: ${err.message}` : NOT_ON_PATH);
    });
    const code = await Promise.race([run, deadline]);
    if (code !== 0) throw new Error(`\`${command}\` exited with ${code}: ${said()}`);
    return { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
  } finally {
    clearTimeout(timer);
    unsubscribe("child_process", onChild);
  }
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

export interface RemoteBuilderOptions {
  name: string;
  endpoint: string;
  serverName: string;
  caPath: string;
  certPath: string;
  keyPath: string;
  use: boolean;
}

/** The exact argv of `docker buildx create --driver remote` for a build's broker endpoint. */
export function buildxCreateArgs(o: RemoteBuilderOptions): string[] {
  return [
    "buildx",
    "create",
    "--name",
    o.name,
    "--driver",
    "remote",
    "--driver-opt",
    `cacert=${o.caPath},cert=${o.certPath},key=${o.keyPath},servername=${o.serverName}`,
    ...(o.use ? ["--use"] : []),
    o.endpoint,
  ];
}

export const buildxBootstrapArgs = (name: string): string[] => ["buildx", "inspect", "--bootstrap", name];
export const buildxRmArgs = (name: string): string[] => ["buildx", "rm", name];
