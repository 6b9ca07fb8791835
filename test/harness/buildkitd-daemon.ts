/**
 * Real buildkitd processes of a test's or a benchmark's own, with the drivers' configuration, and
 * `buildctl` against them. No jest here: `npm run bench:headline` uses it too.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  buildkitdArgs,
  buildkitdToml,
  type BuildkitdSettings,
} from "../../service/adapters/drivers/buildkitd-config.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import { builderCredentials } from "../../service/core/builder-credentials.js";
import { buildxCreateArgs } from "../../service/client/docker.js";
import { freePort } from "../../service/embedded/process.js";
import { buildkitTools as tools } from "./buildkit-tools.js";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never rejects, so a test can assert on a failure's words. */
export function run(
  file: string,
  args: string[],
  o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: { ...process.env, ...o.env },
        cwd: o.cwd,
        timeout: o.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Throws with the command's own words unless it succeeded. */
export function succeeded(what: string, result: Run): Run {
  if (result.code !== 0)
    throw new Error(`${what} exited with ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result;
}

/** A buildkitd of a test's own: the drivers' configuration, mTLS on a loopback port. */
export interface Daemon {
  address: string;
  /** The CA, server name and client identity (the broker's kind) that get in. */
  client: { ca: string; cert: string; key: string; serverName: string };
  configPath: string;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Certificates as the service makes them: the builder's server certificate and a broker client
 * identity from one CA, written as files into `dir`.
 */
export async function daemonCertificates(dir: string): Promise<{
  server: { ca: string; cert: string; key: string };
  client: Daemon["client"];
}> {
  mkdirSync(dir, { recursive: true });
  const { authority } = await CertificateAuthority.create();
  const server = await builderCredentials(authority, { now: () => Date.now() }).issue("integration");
  const broker = await authority.issueBrokerClient(Date.now() + 3_600_000);
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  return {
    // The builder trusts the broker's identity; the client checks the builder against the service CA.
    server: {
      ca: file("broker-identity-ca.pem", server.caPem),
      cert: file("server.pem", server.certPem),
      key: file("server-key.pem", server.keyPem),
    },
    client: {
      ca: file("service-ca.pem", authority.caPem),
      cert: file("client.pem", broker.certPem),
      key: file("client-key.pem", broker.keyPem),
      serverName: server.serverName,
    },
  };
}

/**
 * Starts real buildkitd on a config file and waits until it listens; rejects with buildkitd's
 * own words when it exits first.
 */
export async function startBuildkitd(
  configPath: string,
  address: string,
): Promise<ChildProcess & { output: () => string }> {
  const child = spawn(tools().buildkitd, buildkitdArgs(configPath), {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16_384)));
  const port = Number(new URL(address.replace(/^tcp:/, "http:")).port);
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`buildkitd exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`buildkitd did not listen within 30 s: ${stderr}`);
    }
    await sleep(50);
  }
  return Object.assign(child, { output: () => stderr });
}

/** A daemon on `settings` (root, GC, parallelism), with its own certificates and port. */
export async function startDaemon(
  dir: string,
  settings: Omit<BuildkitdSettings, "address" | "tls">,
  edit: (toml: string) => string = (toml) => toml,
): Promise<Daemon> {
  const { server, client } = await daemonCertificates(join(dir, "tls"));
  const address = `tcp://127.0.0.1:${await freePort()}`;
  const configPath = join(dir, "buildkitd.toml");
  writeFileSync(configPath, edit(buildkitdToml({ ...settings, address, tls: server })));
  const child = await startBuildkitd(configPath, address);
  return { address, client, configPath, stderr: child.output, stop: () => stopProcess(child) };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** `buildctl` against a daemon, with the client identity that gets in. */
export function buildctl(
  daemon: { address: string; client?: Daemon["client"] },
  args: string[],
  client: Daemon["client"] = daemon.client!,
): Promise<Run> {
  return run(
    tools().buildctl,
    [
      "--addr",
      daemon.address,
      "--tlscacert",
      client.ca,
      "--tlscert",
      client.cert,
      "--tlskey",
      client.key,
      "--tlsservername",
      client.serverName,
      ...args,
    ],
    { timeoutMs: 30_000 },
  ); // a client that cannot verify the daemon retries until killed
}

/** The GC rules the daemon applies, as it reports them. */
export async function gcPolicy(
  daemon: Pick<Daemon, "address" | "client">,
): Promise<Array<{ all: boolean; keepBytes: number; filter: string[] | null }>> {
  const listed = succeeded(
    "buildctl debug workers",
    await buildctl(daemon, ["debug", "workers", "--format", "{{json .}}"]),
  );
  const [worker] = JSON.parse(listed.stdout) as Array<{
    gcPolicy: Array<{ all: boolean; keepBytes?: number; reservedSpace?: number; filter: string[] | null }>;
  }>;
  return worker!.gcPolicy.map((p) => ({
    all: p.all,
    keepBytes: p.keepBytes ?? p.reservedSpace ?? 0,
    filter: p.filter,
  }));
}

/** The argv of a buildx builder (remote driver) straight to a daemon: the client's own command. */
export function buildxCreateArgsFor(name: string, daemon: Daemon): string[] {
  const { ca, cert, key, serverName } = daemon.client;
  return buildxCreateArgs({
    name,
    endpoint: daemon.address,
    serverName,
    caPath: ca,
    certPath: cert,
    keyPath: key,
    use: false,
  });
}

/** A buildx builder (remote driver) straight to a daemon, as the bare baseline of a CI job. */
export async function buildxCreate(env: Record<string, string>, name: string, daemon: Daemon): Promise<void> {
  succeeded("docker buildx create", await run("docker", buildxCreateArgsFor(name, daemon), { env }));
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
