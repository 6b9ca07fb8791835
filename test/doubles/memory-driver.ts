import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { BuilderTier } from "../../service/core/build.js";
import type {
  Builder,
  BuilderCredentials,
  BuilderDriver,
  BuilderSpec,
  BuilderTls,
  Clock,
} from "../../service/core/ports.js";
import type { DriverContext } from "../../service/server.js";

/** What `serve` gets: the spec, the builder's id, and its server credentials on demand. */
export interface ServedBuilder extends BuilderSpec {
  builderId: string;
  tls: () => Promise<BuilderTls>;
}

export interface MemoryDriverOptions {
  clock: Clock;
  /** How long a builder "boots". */
  bootMs?: number;
  /**
   * Runs something that accepts connections for a builder (tests stand in for buildkitd with an
   * mTLS echo server, with credentials from `credentials`); without it, builders accept none and
   * `endpoint` only names them.
   */
  serve?: (builder: ServedBuilder) => Promise<{ endpoint: string; close(): Promise<void> }>;
  credentials?: BuilderCredentials;
}

/**
 * Builders that exist only in this process, and build nothing: a test double. The service never
 * chooses it (RB_DRIVER cannot name it); tests hand it to `startService`, and `remote-builder dev`
 * does where buildkitd is missing, saying so. Written in erasable TypeScript only (no parameter
 * properties, type-only imports): the compiled `dev` loads this file with Node's type stripping.
 */
export class MemoryDriver implements BuilderDriver {
  readonly name = "memory";
  private readonly builders = new Map<
    string,
    Builder & { spec: BuilderSpec; failure?: string; close?: () => Promise<void> }
  >();
  private readonly failures: string[] = [];
  private readonly options: MemoryDriverOptions;

  constructor(options: MemoryDriverOptions) {
    this.options = options;
  }

  /** Every memory builder boots from nothing: always the cold tier. */
  async create(spec: BuilderSpec): Promise<{ builderId: string; tier: BuilderTier }> {
    const builderId = `mem-${randomUUID()}`;
    const failure = this.failures.shift();
    this.builders.set(builderId, {
      builderId,
      buildId: spec.buildId,
      accountId: spec.accountId,
      state: "booting",
      createdAt: this.options.clock.now(),
      spec,
      ...(failure !== undefined ? { failure } : {}),
    });
    return { builderId, tier: "cold" };
  }

  async awaitReady(builderId: string, timeoutMs: number): Promise<{ endpoint: string }> {
    const bootMs = this.options.bootMs ?? 0;
    if (bootMs > timeoutMs) throw new Error(`builder ${builderId} did not boot within ${timeoutMs} ms`);
    if (bootMs > 0) await sleep(bootMs);
    const builder = this.builders.get(builderId);
    if (!builder) throw new Error(`builder ${builderId} is gone`);
    if (builder.failure !== undefined) {
      builder.state = "failed";
      throw new Error(builder.failure);
    }
    if (this.options.serve) {
      const { credentials } = this.options;
      if (!credentials) throw new Error("a memory driver that serves needs credentials");
      const served = await this.options.serve({
        ...builder.spec,
        builderId,
        tls: () => credentials.issue(builderId),
      });
      builder.close = served.close;
      builder.state = "ready";
      return { endpoint: served.endpoint };
    }
    builder.state = "ready";
    return { endpoint: `memory://${builderId}` };
  }

  async terminate(builderId: string): Promise<void> {
    const builder = this.builders.get(builderId);
    this.builders.delete(builderId);
    await builder?.close?.();
  }

  async list(): Promise<Builder[]> {
    return [...this.builders.values()].map(({ builderId, buildId, accountId, state, createdAt }) => ({
      builderId,
      buildId,
      accountId,
      state,
      createdAt,
    }));
  }

  /** Stops every builder's server (the echo builders tests run). */
  async close(): Promise<void> {
    await Promise.all([...this.builders.keys()].map((id) => this.terminate(id)));
  }

  /** Memory builders keep nothing between builds, so there is nothing to drop; recorded for tests. */
  async dropVolume(accountId: string, name: string): Promise<void> {
    this.dropped.push(`${accountId}/${name}`);
  }

  /** Memory builders keep volumes nowhere; the dashboard shows this. */
  async volumeLocation(): Promise<string | null> {
    return "memory";
  }

  /** Volumes dropped so far, as account/name. */
  readonly dropped: string[] = [];

  /** The spec a builder was created with, for tests to inspect. */
  specOf(builderId: string): BuilderSpec | undefined {
    return this.builders.get(builderId)?.spec;
  }

  /** Makes the next builder created fail to boot with `message`. */
  failNextBoot(message: string): void {
    this.failures.push(message);
  }

  /** Makes a builder vanish, as a crashed process or a lost node would. */
  crash(builderId: string): void {
    // A crash closes what it closes: a builder whose own close fails is gone all the same.
    this.terminate(builderId).catch(() => {});
  }
}

/**
 * A memory driver for `startService`'s `driver` option, made with the service's clock and builder
 * credentials. The service owns it: it closes it when it stops.
 */
export function memoryDriver(
  options: Omit<MemoryDriverOptions, "clock" | "credentials"> = {},
): (context: DriverContext) => MemoryDriver {
  return (context) => new MemoryDriver({ ...context, ...options });
}
