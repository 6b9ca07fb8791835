import { spawn } from "node:child_process";

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `docker …` with a hard time limit: a hung docker CLI must not hang a CI job. Rejects with
 * the command and the tail of its output when it fails, times out or cannot be started.
 */
export function docker(args: string[], timeoutMs: number): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const command = `docker ${args.slice(0, 3).join(" ")}`;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`\`${command}\` did not finish within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          err.code === "ENOENT"
            ? "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)"
            : `cannot run docker: ${err.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ code, stdout, stderr });
      else reject(new Error(`\`${command}\` exited with ${code}: ${(stderr || stdout).trim().slice(-600)}`));
    });
  });
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
