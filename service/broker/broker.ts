import net, { type AddressInfo, type Socket } from "node:net";
import tls from "node:tls";
import type { X509Certificate } from "node:crypto";
import type { Logger } from "pino";
import { builderServerName } from "../core/builder-names.js";
import type { Build } from "../core/build.js";
import type { KeyPairPem } from "../certs/authority.js";
import { parseBuildIdentityUri } from "../certs/identity.js";
import { handshakeRefusal, type RefusalReason } from "./refusals.js";

export interface BrokerMetrics {
  refused(reason: RefusalReason): void;
  opened(): void;
  closed(bytesIn: number, bytesOut: number): void;
  /** When the first of the broker's own certificates expires (ms since the epoch). */
  certificatesExpire(notAfter: number): void;
}

export interface BrokerOptions {
  handshakeTimeoutMs: number;
  /** How long a new connection may take to send its first byte (its ClientHello starts it). */
  helloTimeoutMs: number;
  maxHandshakes: number;
  /** Handshakes one source (an IPv4 address, an IPv6 /64) may run at once: no one holds the global cap. */
  maxHandshakesPerSource: number;
  dialTimeoutMs: number;
  keepAliveMs: number;
  /** How often open connections are checked against their build, beside revocation messages. */
  sweepMs: number;
}

/**
 * The broker's own certificates, issued at start and again before they expire: the server
 * certificate for the names clients dial, and the client certificate of its identity towards
 * builders. Both expire at `notAfter`.
 */
export interface BrokerCertificates {
  issue(): Promise<{ server: KeyPairPem; upstream: KeyPairPem; notAfter: number }>;
}

export interface BrokerDeps {
  /** The CA of tenants' certificates (and of builders' server certificates): the broker alone trusts it for clients. */
  caPem: string;
  certificates: BrokerCertificates;
  builds: {
    get(id: string): Promise<Build | null>;
    addBytes(id: string, bytesIn: number, bytesOut: number): Promise<void>;
  };
  /** Connection activity drives the build between `ready` and `building`. */
  activity(buildId: string, event: "connect" | "disconnect"): Promise<unknown>;
  metrics: BrokerMetrics;
  logger: Logger;
  options: BrokerOptions;
}

interface Tunnel {
  buildId: string;
  client: tls.TLSSocket;
  upstream: tls.TLSSocket | null;
  /** The leg to the builder is up: from then on, what the client sends is carried. */
  connected: boolean;
}

const ALPN = ["h2"];

/**
 * The only way into a builder. Each connection must present a client certificate the service
 * signed for a build that is still active and belongs to the account the certificate names; the
 * broker then opens its own mTLS connection to that build's builder and pipes bytes both ways.
 */
export class Broker {
  /** Accepts connections and turns floods away before any TLS state is made for them. */
  private readonly front: net.Server;
  /** Never listens: it handshakes the connections the front hands it. */
  private readonly server: tls.Server;
  private readonly tunnels = new Map<string, Set<Tunnel>>();
  /** Connections still in their handshake, and the source each counts against. */
  private readonly handshaking = new Map<Socket, string>();
  private readonly handshakesBySource = new Map<string, number>();
  /** Connections refused by the handshake cap, so that their hang-up is not counted again. */
  private readonly capped = new WeakSet<Socket>();
  private sweeper: NodeJS.Timeout | null = null;
  private renewal: NodeJS.Timeout | null = null;
  /** Per build, the last activity being recorded, so that the next waits for it. */
  private readonly recording = new Map<string, Promise<void>>();
  /**
   * One TLS context for every connection to builders. Made per connection (tls.connect with
   * ca/cert/key), it re-parsed the PEMs each time (about 2 ms of CPU) and each connection kept
   * an OpenSSL context of its own alive (tens of KiB). Replaced when the certificates renew.
   */
  private upstreamContext: tls.SecureContext | null = null;

  constructor(private readonly deps: BrokerDeps) {
    const { options } = deps;
    this.server = tls.createServer({
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ALPN,
      minVersion: "TLSv1.2",
      handshakeTimeout: options.handshakeTimeoutMs,
    });
    this.front = net.createServer((raw: Socket) => this.onConnection(raw));
    this.server.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      // Node leaves a connection whose handshake timed out open: close every failed one here.
      socket.destroy();
      // One turned away by the handshake cap was counted there; its hang-up is not a second refusal.
      if (this.capped.has(rawSocketOf(socket))) return;
      // A certificate that fails verification is reported as a hang-up, the verdict kept on the socket.
      deps.metrics.refused(handshakeRefusal(err, socket.authorizationError as unknown as string | null));
    });
    this.server.on("secureConnection", (socket: tls.TLSSocket) => {
      this.settle(rawSocketOf(socket));
      // Its lookups refuse on failure; anything else it throws closes this one connection, not the
      // process (an unhandled rejection would end it).
      this.onSecure(socket).catch((err: unknown) => {
        deps.logger.warn({ err }, "broker could not open a tunnel");
        socket.destroy();
      });
    });
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await this.renew();
    await new Promise<void>((resolve, reject) => {
      this.front.once("error", reject);
      // A deep accept queue: a flood of connections from one source is turned away by the
      // broker, but only once accepted; a full queue would drop everyone's SYNs alike.
      this.front.listen({ port, host, backlog: 4096 }, () => {
        this.front.off("error", reject);
        resolve();
      });
    });
    this.sweeper = setInterval(() => void this.sweep(), this.deps.options.sweepMs);
    this.sweeper.unref();
    return this.front.address() as AddressInfo;
  }

  /** Closes every connection of a build that ended; on every replica, through the revocation bus. */
  revoke(buildId: string): void {
    for (const tunnel of this.tunnels.get(buildId) ?? []) this.teardown(tunnel);
  }

  openConnections(buildId?: string): number {
    if (buildId !== undefined) return this.tunnels.get(buildId)?.size ?? 0;
    let n = 0;
    for (const set of this.tunnels.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.renewal) clearTimeout(this.renewal);
    for (const set of this.tunnels.values()) for (const tunnel of set) this.teardown(tunnel);
    for (const raw of this.handshaking.keys()) raw.destroy();
    await new Promise<void>((resolve) => this.front.close(() => resolve()));
  }

  /**
   * Fresh certificates into the live server and the context for builders, with no restart: new
   * connections get them, open ones keep theirs. Then again when two thirds of their life is
   * gone; a failed renewal is retried within a minute, while the old ones still hold.
   */
  private async renew(): Promise<void> {
    const { server, upstream, notAfter } = await this.deps.certificates.issue();
    const issuedAt = Date.now();
    // Both legs trust the service CA: clients' certificates on one, builders' on the other.
    const context = (pair: KeyPairPem) => ({
      ca: [this.deps.caPem],
      cert: pair.certPem,
      key: pair.keyPem,
      minVersion: "TLSv1.2" as const,
    });
    this.server.setSecureContext(context(server));
    this.upstreamContext = tls.createSecureContext(context(upstream));
    this.deps.metrics.certificatesExpire(notAfter);
    this.scheduleRenewal(issuedAt + ((notAfter - issuedAt) * 2) / 3);
  }

  private scheduleRenewal(at: number): void {
    // setTimeout holds at most ~24.8 days; a longer wait is taken in steps.
    const delay = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    this.renewal = setTimeout(() => {
      if (Date.now() < at) return this.scheduleRenewal(at);
      this.renew().catch((err: Error) => {
        this.deps.logger.warn({ err: err.message }, "broker could not renew its certificates; retrying");
        this.scheduleRenewal(Date.now() + RENEWAL_RETRY_MS);
      });
    }, delay);
    this.renewal.unref();
  }

  private onConnection(raw: Socket): void {
    const { maxHandshakes, maxHandshakesPerSource, helloTimeoutMs, keepAliveMs } = this.deps.options;
    const source = sourceOf(raw.remoteAddress ?? "");
    const fromSource = this.handshakesBySource.get(source) ?? 0;
    if (this.handshaking.size >= maxHandshakes || fromSource >= maxHandshakesPerSource) {
      this.deps.metrics.refused(
        fromSource >= maxHandshakesPerSource ? "too-many-from-source" : "too-many-handshakes",
      );
      this.capped.add(raw);
      raw.destroy();
      return;
    }
    this.handshaking.set(raw, source);
    this.handshakesBySource.set(source, fromSource + 1);
    raw.once("close", () => this.settle(raw));
    raw.setNoDelay(true);
    raw.setKeepAlive(true, keepAliveMs);
    this.server.emit("connection", raw);
    // A connection that sends nothing holds a handshake slot for nothing: far less than the handshake's own time.
    setTimeout(() => {
      if (raw.bytesRead === 0 && this.handshaking.has(raw)) {
        this.deps.metrics.refused("hello-timeout");
        this.capped.add(raw);
        raw.destroy();
      }
    }, helloTimeoutMs).unref();
  }

  /** The handshake is over: the raw socket no longer counts against the handshake caps. */
  private settle(raw: Socket): void {
    const source = this.handshaking.get(raw);
    if (source === undefined) return;
    this.handshaking.delete(raw);
    const left = (this.handshakesBySource.get(source) ?? 1) - 1;
    if (left > 0) this.handshakesBySource.set(source, left);
    else this.handshakesBySource.delete(source);
  }

  private async onSecure(client: tls.TLSSocket): Promise<void> {
    client.on("error", () => {});
    const refuse = (reason: RefusalReason) => {
      this.deps.metrics.refused(reason);
      client.destroy();
    };
    const peer = client.getPeerX509Certificate();
    const identity = peer ? uriOf(peer) : null;
    if (!peer || !identity) return refuse("no-identity");
    let build: Build | null;
    try {
      build = await this.deps.builds.get(identity.buildId);
    } catch (err) {
      this.deps.logger.warn({ err }, "broker could not look up a build");
      return refuse("inactive");
    }
    if (!build || build.accountId !== identity.accountId) return refuse("foreign");
    // Only the certificate this build was last given opens it: not an older one for the same id.
    if (!build.clientCertificate || !peer.raw.equals(pemToDer(build.clientCertificate))) {
      return refuse("superseded");
    }
    if (build.state !== "ready" && build.state !== "building") return refuse("inactive");
    const target = parseEndpoint(build.endpoint);
    if (!target || !build.builderId) return refuse("no-route");
    const builderId = build.builderId;
    if (client.destroyed) return;

    const tunnel: Tunnel = { buildId: build.id, client, upstream: null, connected: false };
    this.register(tunnel);
    client.once("close", () => this.teardown(tunnel));
    const upstream = tls.connect({
      host: target.host,
      port: target.port,
      secureContext: this.upstreamContext!,
      servername: builderServerName(builderId),
      ALPNProtocols: ALPN,
    });
    tunnel.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, this.deps.options.keepAliveMs);
    upstream.setTimeout(this.deps.options.dialTimeoutMs, () => {
      this.deps.metrics.refused("builder-unreachable");
      this.teardown(tunnel);
    });
    upstream.once("error", (err) => {
      if (!tunnel.connected) {
        // tunnel.buildId, not build.id: a closure over `build` would keep the whole record (its
        // certificate PEM and all) alive as long as the connection.
        this.deps.logger.warn(
          { build: tunnel.buildId, err: err.message },
          "broker could not reach the builder",
        );
        this.deps.metrics.refused("builder-unreachable");
      }
      this.teardown(tunnel);
    });
    upstream.once("close", () => this.teardown(tunnel));
    upstream.once("secureConnect", () => {
      tunnel.connected = true;
      upstream.setTimeout(0);
      // Bytes are counted at teardown from the sockets' own (plaintext) counters: no listener
      // runs per chunk on the hot path.
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  private register(tunnel: Tunnel): void {
    let set = this.tunnels.get(tunnel.buildId);
    if (!set) {
      set = new Set();
      this.tunnels.set(tunnel.buildId, set);
    }
    set.add(tunnel);
    this.deps.metrics.opened();
    if (set.size === 1) this.activity(tunnel.buildId, "connect");
  }

  private teardown(tunnel: Tunnel): void {
    const set = this.tunnels.get(tunnel.buildId);
    tunnel.client.destroy();
    tunnel.upstream?.destroy();
    if (!set?.delete(tunnel)) return;
    const bytesIn = tunnel.connected ? tunnel.client.bytesRead : 0;
    const bytesOut = tunnel.upstream?.bytesRead ?? 0;
    this.deps.metrics.closed(bytesIn, bytesOut);
    if (bytesIn + bytesOut > 0) {
      this.deps.builds.addBytes(tunnel.buildId, bytesIn, bytesOut).catch((err) => {
        this.deps.logger.warn({ err, build: tunnel.buildId }, "broker could not record a build's bytes");
      });
    }
    if (set.size === 0) {
      this.tunnels.delete(tunnel.buildId);
      this.activity(tunnel.buildId, "disconnect");
    }
  }

  /**
   * Records a build's connect or disconnect, in the order they happened: a connection that fails
   * at once sends both within a millisecond, and a disconnect recorded before its connect would
   * leave the build `building` with nothing connected.
   */
  private activity(buildId: string, event: "connect" | "disconnect"): void {
    const next = (this.recording.get(buildId) ?? Promise.resolve()).then(() =>
      this.deps.activity(buildId, event).then(
        () => {},
        (err: unknown) =>
          this.deps.logger.warn({ err, build: buildId, event }, "broker could not record activity"),
      ),
    );
    this.recording.set(buildId, next);
    // Cannot reject: a failure to record is logged in `next` itself.
    void next.then(() => {
      if (this.recording.get(buildId) === next) this.recording.delete(buildId);
    });
  }

  /** A safety net under revocation messages: a build that ended loses its connections anyway. */
  private async sweep(): Promise<void> {
    for (const buildId of [...this.tunnels.keys()]) {
      const build = await this.deps.builds.get(buildId).catch(() => undefined);
      if (build === null || (build && build.state !== "ready" && build.state !== "building"))
        this.revoke(buildId);
    }
  }
}

const RENEWAL_RETRY_MS = 60_000;

/** Who a connection counts against: its IPv4 address, or its IPv6 /64 (one host's usual share). */
export function sourceOf(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1]!;
  const groups = expandIPv6(address);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : address;
}

/** The eight 16-bit groups of an IPv6 address, or null when it is not one. */
function expandIPv6(address: string): string[] | null {
  if (!address.includes(":")) return null;
  const [head, tail = null] = address.split("::");
  const parts = (text: string | null) => (text ? text.split(":") : []);
  const left = parts(head ?? "");
  const right = parts(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === null && missing !== 0)) return null;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((g) =>
    g.toLowerCase().padStart(4, "0"),
  );
}

/** The TCP socket under a server-side TLS socket (Node keeps it as `_parent`). */
function rawSocketOf(socket: tls.TLSSocket): Socket {
  return (socket as unknown as { _parent?: Socket })._parent ?? socket;
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

function uriOf(cert: X509Certificate) {
  for (const name of (cert.subjectAltName ?? "").split(", ")) {
    if (name.startsWith("URI:")) {
      const identity = parseBuildIdentityUri(name.slice(4));
      if (identity) return identity;
    }
  }
  return null;
}

function parseEndpoint(endpoint: string | null): { host: string; port: number } | null {
  const match = endpoint ? /^(?:tcp|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(endpoint) : null;
  const port = Number(match?.[2]);
  // A port no socket can have is no route: tls.connect would throw rather than fail to connect.
  if (!match || port < 1 || port > 65535) return null;
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}
