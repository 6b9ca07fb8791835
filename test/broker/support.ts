/**
 * What the broker tests share: a service whose memory builders are mTLS echo servers, the service's
 * own CA (kept in a folder, so tests can forge certificates with it), builds with a client key pair,
 * TLS clients, and the broker's Prometheus metrics.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import type { z } from "zod";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { CertificateAuthority } from "../../service/certs/authority.js";
import type { ServedBuilder } from "../doubles/memory-driver.js";
import type { DriverContext } from "../../service/server.js";
import type { Build as BuildSchema } from "../../service/http/schemas.js";
import { http, startTestService, type TestService } from "../harness/context.js";
import { type EchoBuilder, startEchoBuilder } from "../harness/echo-builder.js";

export type BuildBody = z.infer<typeof BuildSchema>;

export interface Rig {
  service: TestService;
  /** The CA the service signs with: the same files, loaded again. */
  ca: CertificateAuthority;
  caDir: string;
  /** The echo builder of each build, by build id. */
  builders: Map<string, EchoBuilder>;
  /** The spec each builder was created with (its TLS credentials), by build id. */
  specs: Map<string, ServedBuilder>;
  /** When set, the next builders report this endpoint instead of running an echo server. */
  endpoint: string | null;
  /** When set, the next builders run this instead of an echo server. */
  serve: ((spec: ServedBuilder) => Promise<{ endpoint: string; close(): Promise<void> }>) | null;
  stop(): Promise<void>;
}

export interface RigOptions {
  env?: Record<string, string>;
  /**
   * Builders keep running when their build ends (until the rig stops), so that only the broker's
   * revocation can close a connection, not the builder going away.
   */
  buildersOutliveBuilds?: boolean;
  /** Share another rig's database, Redis prefix and CA: a second replica of the same service. */
  replicaOf?: Rig;
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const caDir = options.replicaOf?.caDir ?? mkdtempSync(join(tmpdir(), "rb-broker-ca-"));
  const builders = new Map<string, EchoBuilder>();
  const specs = new Map<string, ServedBuilder>();
  const all: EchoBuilder[] = [];
  const rig: Partial<Rig> & Pick<Rig, "endpoint" | "serve"> = {
    builders,
    specs,
    caDir,
    endpoint: null,
    serve: null,
  };
  const driver = (context: DriverContext) =>
    new MemoryDriver({
      ...context,
      serve: async (spec) => {
        specs.set(spec.buildId, spec);
        if (rig.endpoint !== null) return { endpoint: rig.endpoint, close: async () => {} };
        if (rig.serve !== null) return rig.serve(spec);
        const builder = await startEchoBuilder(spec);
        builders.set(spec.buildId, builder);
        all.push(builder);
        return {
          endpoint: builder.endpoint,
          close: options.buildersOutliveBuilds ? async () => {} : () => builder.close(),
        };
      },
    });
  const shared: Record<string, string> = options.replicaOf
    ? {
        RB_DATABASE_URL: options.replicaOf.service.config.databaseUrl,
        RB_REDIS_PREFIX: options.replicaOf.service.config.redisPrefix,
      }
    : {};
  const service = await startTestService({ RB_CA_DIR: caDir, ...shared, ...options.env }, { driver });
  rig.service = service;
  rig.ca = await CertificateAuthority.inFolder(caDir);
  rig.stop = async () => {
    await service.stop();
    await Promise.all(all.map((b) => b.close()));
  };
  return rig as Rig;
}

export interface ClientKey {
  publicKeyPem: string;
  privateKeyPem: string;
}

export function clientKey(): ClientKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

export interface ReadyBuild {
  id: string;
  accountId: string;
  token: string;
  body: BuildBody;
  certificate: string;
  key: ClientKey;
}

/** POSTs a build with a fresh client key and waits until it is ready. */
export async function readyBuild(
  service: TestService,
  account: { id: string; token: string },
  key: ClientKey = clientKey(),
): Promise<ReadyBuild> {
  const created = await http<BuildBody>(service.url, "POST", "/api/v1/builds", {
    token: account.token,
    body: { publicKey: key.publicKeyPem },
  });
  if (created.status !== 201)
    throw new Error(`POST /builds: ${created.status} ${JSON.stringify(created.body)}`);
  const ready = await http<BuildBody>(service.url, "GET", `/api/v1/builds/${created.body.id}?wait=10`, {
    token: account.token,
  });
  if (ready.body.state !== "ready") throw new Error(`build ${created.body.id} is ${ready.body.state}`);
  return {
    id: ready.body.id,
    accountId: account.id,
    token: account.token,
    body: ready.body,
    certificate: ready.body.certificate!,
    key,
  };
}

export async function getBuild(
  service: TestService,
  build: { id: string; token: string },
): Promise<BuildBody> {
  return (await http<BuildBody>(service.url, "GET", `/api/v1/builds/${build.id}`, { token: build.token }))
    .body;
}

export function brokerAddress(service: TestService): { host: string; port: number } {
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(service.brokerInfo.endpoint)!;
  return { host: host!, port: Number(port) };
}

/** What a connection to the broker came to. */
export interface Outcome {
  /** The TLS handshake finished on the client's side (TLS 1.3 clients see this before the server's verdict). */
  secure: boolean;
  alpn: string | false | null;
  /** Bytes the client received before it was disconnected. */
  received: number;
  error: string | null;
}

export interface Dialed {
  socket: tls.TLSSocket;
  /** Resolves once the handshake finished, rejects if it failed. */
  secure: Promise<void>;
  /** Resolves when the socket closes. */
  closed: Promise<Outcome>;
}

/** A TLS client of the broker, with whatever certificate (or none) the test gives it. */
export function dial(
  service: TestService,
  credentials: { cert?: string; key?: string } = {},
  options: tls.ConnectionOptions = {},
): Dialed {
  const socket = tls.connect({
    ...brokerAddress(service),
    servername: service.brokerInfo.serverName,
    ca: [service.brokerInfo.caCertificate],
    ALPNProtocols: ["h2"],
    ...credentials,
    ...options,
  });
  socket.setNoDelay(true);
  const outcome: Outcome = { secure: false, alpn: null, received: 0, error: null };
  socket.on("data", (chunk: Buffer) => (outcome.received += chunk.length));
  const secure = new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => {
      outcome.secure = true;
      outcome.alpn = socket.alpnProtocol;
      resolve();
    });
    socket.once("close", () => reject(new Error(`closed before the handshake: ${outcome.error}`)));
  });
  secure.catch(() => {});
  socket.on("error", (err: Error & { code?: string }) => (outcome.error = err.code ?? err.message));
  const closed = new Promise<Outcome>((resolve) => socket.once("close", () => resolve(outcome)));
  return { socket, secure, closed };
}

/** Dials with a build's own certificate and key. */
export function dialBuild(
  service: TestService,
  build: ReadyBuild,
  options: tls.ConnectionOptions = {},
): Dialed {
  return dial(service, { cert: build.certificate, key: build.key.privateKeyPem }, options);
}

/** Writes `data` and resolves with as many bytes as came back. */
export function roundTrip(socket: tls.TLSSocket, data: Buffer | string): Promise<Buffer> {
  const want = Buffer.byteLength(data);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= want) {
        socket.off("data", onData).off("close", onClose);
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${want} bytes`));
    socket.on("data", onData).once("close", onClose);
    socket.write(data);
  });
}

/** The first bytes a real TLS client sends: a ClientHello, as Node's OpenSSL writes it. */
export async function clientHello(): Promise<Buffer> {
  const server = net.createServer();
  const first = new Promise<Buffer>((resolve) =>
    server.on("connection", (s) => s.once("data", (d: Buffer) => (resolve(d), s.destroy()))),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = tls.connect({
    port: (server.address() as net.AddressInfo).port,
    host: "127.0.0.1",
    servername: "localhost",
    ALPNProtocols: ["h2"],
  });
  client.on("error", () => {});
  const hello = await first;
  client.destroy();
  server.close();
  return hello;
}

/** A raw TCP connection to the broker that writes `bytes` (or nothing) and resolves when it closes. */
export function rawConnection(
  service: TestService,
  bytes: Buffer | string | null,
  localAddress?: string,
): { socket: net.Socket; closed: Promise<{ received: number }> } {
  const { host, port } = brokerAddress(service);
  const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => {
    if (bytes !== null) socket.write(bytes);
  });
  let received = 0;
  socket.on("data", (chunk: Buffer) => (received += chunk.length));
  socket.on("error", () => {});
  const closed = new Promise<{ received: number }>((resolve) =>
    socket.once("close", () => resolve({ received })),
  );
  return { socket, closed };
}

/** Rejects if `promise` takes longer than `ms`. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The service's metrics, as `name{labels}` → value. */
export async function metrics(service: TestService): Promise<Map<string, number>> {
  const res = await fetch(`${service.url}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) out.set(match[1]!, Number(match[2]));
  }
  return out;
}

/** Broker refusals by reason. */
export async function refusals(service: TestService): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, value] of await metrics(service)) {
    const match = /^remote_builder_broker_refusals_total\{reason="([^"]+)"\}$/.exec(name);
    if (match) out[match[1]!] = value;
  }
  return out;
}

/** How refusals changed since `before`: only reasons whose count moved. */
export function refusalDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const reason of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[reason] ?? 0) - (before[reason] ?? 0);
    if (d !== 0) delta[reason] = d;
  }
  return delta;
}

/**
 * Runs `act`, then waits until the refusal counters move and settle, and returns how they moved:
 * the caller asserts it is exactly the one reason it expects.
 */
export async function refusalsDuring(
  service: TestService,
  act: () => Promise<unknown>,
  settleMs = 150,
): Promise<Record<string, number>> {
  const before = await refusals(service);
  await act();
  const until = Date.now() + 5000;
  let delta = refusalDelta(before, await refusals(service));
  while (Object.keys(delta).length === 0 && Date.now() < until) {
    await sleep(20);
    delta = refusalDelta(before, await refusals(service));
  }
  await sleep(settleMs);
  return refusalDelta(before, await refusals(service));
}

/** Polls `check` until it returns true or `ms` runs out; returns its last answer. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= until) return false;
    await sleep(20);
  }
}
