import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BUILDER_MAX_REUSE_AGE_MS } from "../../core/builder-credentials.js";
import type { ShapeCatalog } from "../../core/catalog.js";
import { WarmRetries } from "../../core/fleet-policy.js";
import { choosePlacement, keepStorageBytes, warmDeficit } from "../../core/placement.js";
import type {
  Builder,
  BuilderCredentials,
  BuilderDriver,
  BuilderSpec,
  Clock,
  CreatedBuilder,
  DriverEvents,
  PrewarmSpec,
  PrewarmStart,
} from "../../core/ports.js";
import { findExecutable, freePort } from "../../embedded/process.js";
import {
  BUILDKITD_CONFIG_FILE,
  buildkitdArgs,
  buildkitdToml,
  OLDEST_BUILDKIT,
  parseBuildkitVersion,
  tooOld,
} from "./buildkitd-config.js";
import { type BuildNetwork, buildNetwork } from "./local-network.js";
import { releaseNetworks } from "./local-netns.js";

export interface LocalDriverOptions {
  /** Holds `volumes/` (the cache volumes, which outlive the service) and `run/` (per builder). */
  dataDir: string;
  credentials: BuilderCredentials;
  shapes: ShapeCatalog;
  clock: Clock;
  /** How long the account's builder stays up after its build, for the next one (the idle tier). */
  idleTtlMs: number;
  /** Pre-booted builders to keep per shape (the warm tier). */
  warmPool: Record<string, number>;
  /**
   * The volume size a warm builder's GC keeps within: it boots before any account adopts it, so
   * the smallest size any plan gives is the one that is always safe.
   */
  warmVolumeGiB?: number;
  buildkitd?: string;
  onEvent?: DriverEvents;
  /** A pre-warmed builder stopped at its TTL with no build: the seconds it ran for nothing. */
  onPrewarmExpired?: (accountId: string, seconds: number) => void;
}

type Role = "warm" | "serving" | "idle";

interface Daemon {
  builderId: string;
  role: Role;
  buildId: string | null;
  accountId: string | null;
  /** account/name of the volume it holds; null for a throw-away root. */
  volumeKey: string | null;
  shapeName: string;
  root: string;
  runDir: string;
  port: number;
  child: ChildProcess;
  state: Builder["state"];
  /** It accepted a connection once: a later exit is a crash, an earlier one a failed boot. */
  listened: boolean;
  /** When it booted: its certificate's age. */
  createdAt: number;
  /** When its current build got it: what list() reports, since the core's orphan grace counts from there. */
  assignedAt: number;
  idleSince: number;
  /** Started ahead of a build (prewarm()): for which account's job, and when. */
  prewarmedFor: string | null;
  prewarmedAt: number | null;
  /** When an idle (or pre-warmed) builder stops if no build takes it; null: never (the pool's). */
  expiresAt: number | null;
  stderr: string;
  exited: Promise<void>;
}

export const BUILDKIT_HELP = `The local driver runs each builder as a buildkitd process, and needs buildkitd and runc on PATH:
  buildkitd  https://github.com/moby/buildkit/releases (bin/buildkitd from the linux tarball)
  runc       apt install runc (Debian, Ubuntu), or https://github.com/opencontainers/runc/releases`;

export const SINGLE_TENANT_WARNING =
  "The local driver runs builders as processes on this machine, with no microVM boundary between " +
  "them and the host: use it for one tenant you trust (development, self-hosting), never for strangers.";

/**
 * Builders as `buildkitd` child processes on loopback, each behind the broker with mTLS, each
 * with a directory as its cache volume (its `--root`). The same three tiers as Kubernetes: the
 * account's idle builder, a warm one with a fresh directory, or a cold start on the account's.
 */
export class LocalDriver implements BuilderDriver {
  readonly name = "local";
  private readonly daemons = new Map<string, Daemon>();
  private readonly binary: string;
  private readonly volumesDir: string;
  private readonly runRoot: string;
  private readonly index: string;
  private volumeIndex: Record<string, string>;
  /** What `buildkitd --version` said, for the log. */
  readonly version: string;
  /** Where RUN steps' network comes from (CNI when it can be). */
  readonly network: BuildNetwork;
  private readonly warmRetries = new WarmRetries();
  /** Volumes a pre-warm is starting a builder on: a build's create waits for it, then takes it. */
  private readonly launching = new Map<string, Promise<unknown>>();
  /** Volumes whose builder is stopping: buildkitd locks its root until it has exited. */
  private readonly stopping = new Map<string, Promise<void>>();
  /**
   * Each build's placement, until its builder is terminated: two passes may place one queued build
   * at once (the volume's release and the reconciler both advance it), and both must get the one
   * builder, never a second buildkitd on the volume's locked root.
   */
  private readonly placing = new Map<string, Promise<CreatedBuilder>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: LocalDriverOptions) {
    const name = o.buildkitd ?? "buildkitd";
    const binary = findExecutable(name);
    if (!binary) {
      throw new Error(
        `buildkitd (${name}) is not ${name.includes("/") ? "there" : "on PATH"}.\n${BUILDKIT_HELP}`,
      );
    }
    if (!findExecutable("runc")) throw new Error(`runc is not on PATH.\n${BUILDKIT_HELP}`);
    this.binary = binary;
    this.version = checkedVersion(binary);
    this.network = buildNetwork(o.dataDir);
    this.volumesDir = join(o.dataDir, "volumes");
    this.runRoot = join(o.dataDir, "run");
    this.index = join(this.volumesDir, "index.json");
    this.volumeIndex = existsSync(this.index)
      ? (JSON.parse(readFileSync(this.index, "utf8")) as Record<string, string>)
      : {};
    mkdirSync(this.volumesDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.runRoot, { recursive: true, mode: 0o700 });
  }

  /** Stops what a killed predecessor left running, then keeps the warm pool and idle builders. */
  async start(): Promise<void> {
    for (const name of readdirSync(this.runRoot)) {
      const runDir = join(this.runRoot, name);
      const pidFile = join(runDir, "pid");
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0;
      // After a reboot the id may be another process's: only a buildkitd run with this config is ours.
      if (startedWith(pid, join(runDir, BUILDKITD_CONFIG_FILE))) killQuietly(pid, "SIGKILL");
      rmSync(runDir, { recursive: true, force: true });
    }
    const adopted = new Set(Object.values(this.volumes()));
    for (const dir of readdirSync(this.volumesDir)) {
      // Warm roots no account adopted, and cold throw-away roots, were scratch.
      const path = join(this.volumesDir, dir);
      if (dir.startsWith("scratch-") && !adopted.has(path)) await this.removeRoot(path);
    }
    this.emit("info", "local driver started", {
      buildkitd: this.binary,
      version: this.version,
      network: this.network.cni ? "cni" : "host",
    });
    if (this.network.warning) this.emit("warn", this.network.warning, {});
    await this.tick();
    if (this.closed) return;
    this.timer = setInterval(
      () =>
        void this.tick().catch((err: Error) =>
          this.emit("warn", "keeping the pool failed", { err: err.message }),
        ),
      1_000,
    );
    this.timer.unref();
  }

  create(spec: BuilderSpec): Promise<CreatedBuilder> {
    const placed = this.placing.get(spec.buildId);
    // The repeat reports no pre-warm: the first placement counted it.
    if (placed) return placed.then(({ builderId, tier }) => ({ builderId, tier }));
    const placing = this.place(spec);
    this.placing.set(spec.buildId, placing);
    placing.catch(() => this.placing.delete(spec.buildId));
    return placing;
  }

  private async place(spec: BuilderSpec): Promise<CreatedBuilder> {
    const key = spec.volume ? `${spec.accountId}/${spec.volume.name}` : null;
    // A builder a pre-warm is starting on the volume is this build's idle one, once it is recorded.
    if (key) await this.launching.get(key)?.catch(() => {});
    const volumes = this.volumes();
    const now = this.o.clock.now();
    const idle = key ? this.find((d) => d.role === "idle" && d.volumeKey === key, now) : undefined;
    const warm = this.find((d) => d.role === "warm" && d.shapeName === spec.shapeName, now);
    const tier = choosePlacement({
      idleBuilder: idle !== undefined,
      warmBuilder: warm !== undefined,
      wantsVolume: key !== null,
      volumeExists: key !== null && key in volumes,
    });
    if (tier === "idle" || tier === "warm") {
      const daemon = (tier === "idle" ? idle : warm)!;
      if (tier === "warm" && key) {
        // The warm builder's fresh directory becomes the account's volume.
        this.writeVolumes({ ...volumes, [key]: daemon.root });
        daemon.volumeKey = key;
      }
      const { prewarmedAt } = daemon;
      Object.assign(daemon, {
        role: "serving",
        buildId: spec.buildId,
        accountId: spec.accountId,
        assignedAt: now,
        prewarmedFor: null,
        prewarmedAt: null,
        expiresAt: null,
      });
      this.emit("info", "builder assigned", {
        builderId: daemon.builderId,
        buildId: spec.buildId,
        tier,
        prewarmed: prewarmedAt !== null,
      });
      return { builderId: daemon.builderId, tier, ...(prewarmedAt !== null ? { prewarmedAt } : {}) };
    }
    const root = key
      ? await this.accountRoot(spec.accountId, spec.volume!.name)
      : join(this.volumesDir, `scratch-${randomUUID()}`);
    const daemon = await this.launch(spec.shapeName, root, spec.volume?.sizeGiB ?? null, {
      role: "serving",
      buildId: spec.buildId,
      accountId: spec.accountId,
      volumeKey: key,
    });
    return { builderId: daemon.builderId, tier };
  }

  /**
   * Starts the account's builder on its volume as an idle one, for a build a CI said is coming (or,
   * without a volume, a warm one outside the pool). A build that arrives while it boots takes it
   * and waits only the rest of the boot.
   */
  async prewarm(spec: PrewarmSpec): Promise<PrewarmStart> {
    const now = this.o.clock.now();
    const key = spec.volume ? `${spec.accountId}/${spec.volume.name}` : null;
    const refusal = (key && this.volumeTaken(key, spec.ttlMs, now)) || this.overCap(spec);
    if (refusal) return refusal;
    const daemon = await this.launchPrewarmed(spec, key, now);
    const role = daemon.role;
    this.awaitReady(daemon.builderId, WARM_BOOT_TIMEOUT_MS)
      .catch(async (err: Error) => {
        if (daemon.role !== role) return; // a build took it; its own awaitReady reports
        this.emit("warn", `a pre-warmed builder failed to start: ${err.message}`, {
          builderId: daemon.builderId,
        });
        if (this.daemons.has(daemon.builderId)) await this.stop(daemon);
      })
      .catch(() => {});
    this.emit("info", "builder pre-warmed", {
      builderId: daemon.builderId,
      accountId: spec.accountId,
      role,
      ttlMs: spec.ttlMs,
    });
    return { outcome: "started", builderId: daemon.builderId };
  }

  /**
   * Why nothing starts on the volume: a build's builder holds it, or one is up or starting (an idle
   * one is then kept up for the job, as a pre-warmed one would be); null when it is free.
   */
  private volumeTaken(key: string, ttlMs: number, now: number): PrewarmStart | null {
    const onVolume = [...this.daemons.values()].filter((d) => d.volumeKey === key && d.state !== "failed");
    if (onVolume.some((d) => d.role === "serving")) {
      return { outcome: "skipped", reason: "a build's builder holds the cache volume" };
    }
    const idle = onVolume.find((d) => d.role === "idle" && reusable(d, now));
    if (idle) {
      idle.expiresAt = Math.max(idle.expiresAt ?? 0, now + ttlMs);
      return {
        outcome: "already-warm",
        reason: "the account's idle builder on this volume is kept up for the job",
      };
    }
    if (this.launching.has(key)) {
      return { outcome: "already-warm", reason: "the account's builder on this volume is starting" };
    }
    return null;
  }

  /** The account's pre-warmed builders still waiting, of both kinds, against its cap. */
  private overCap(spec: PrewarmSpec): PrewarmStart | null {
    const waiting = [...this.daemons.values()].filter(
      (d) => d.prewarmedFor === spec.accountId && d.role !== "serving",
    ).length;
    return waiting >= spec.maxPerAccount
      ? { outcome: "skipped", reason: `${waiting} pre-warmed builder(s) already wait for this account` }
      : null;
  }

  /** buildkitd on the account's volume (a placement meanwhile waits for it), or on a fresh folder. */
  private async launchPrewarmed(spec: PrewarmSpec, key: string | null, now: number): Promise<Daemon> {
    const prewarmed = { prewarmedFor: spec.accountId, prewarmedAt: now, expiresAt: now + spec.ttlMs };
    if (!key) {
      // A warm builder outside the pool's target, for a job whose builds run cold.
      const root = join(this.volumesDir, `scratch-${randomUUID()}`);
      return this.launch(spec.shapeName, root, this.o.warmVolumeGiB ?? null, { ...prewarmed, role: "warm" });
    }
    const launched = this.accountRoot(spec.accountId, spec.volume!.name).then((root) =>
      this.launch(spec.shapeName, root, spec.volume!.sizeGiB, {
        ...prewarmed,
        role: "idle",
        accountId: spec.accountId,
        volumeKey: key,
        idleSince: now,
      }),
    );
    this.launching.set(key, launched);
    return launched.finally(() => this.launching.delete(key));
  }

  /** The account's volume folder, recorded on first use; an idle builder on it that cannot serve goes first. */
  private async accountRoot(accountId: string, name: string): Promise<string> {
    const key = `${accountId}/${name}`;
    // buildkitd locks its root: an idle builder on it too old to reuse (or dead) goes first, and
    // one that the pool's pass is stopping (its TTL ran out a moment ago) must have exited.
    await this.stopIdle(key);
    await this.stopping.get(key)?.catch(() => {});
    const volumes = this.volumes();
    const root = volumes[key] ?? join(this.volumesDir, accountId, name);
    if (!volumes[key]) this.writeVolumes({ ...volumes, [key]: root });
    return root;
  }

  async awaitReady(builderId: string, timeoutMs: number): Promise<{ endpoint: string }> {
    const daemon = this.daemons.get(builderId);
    if (!daemon) throw new Error(`builder ${builderId} is gone`);
    const deadline = this.o.clock.now() + timeoutMs;
    while (daemon.state === "booting") {
      if (await accepts(daemon.port)) Object.assign(daemon, { state: "ready", listened: true });
      else if (this.o.clock.now() >= deadline) {
        throw new Error(`buildkitd did not listen within ${Math.round(timeoutMs / 1000)} s`);
      } else await sleep(50);
    }
    if (daemon.state === "failed") throw new Error(`buildkitd exited: ${lastWords(daemon)}`);
    return { endpoint: `tcp://127.0.0.1:${daemon.port}` };
  }

  /**
   * The build is done with its builder. A healthy one holding a volume stays up, idle, for the
   * account's next build; anything else stops.
   */
  async terminate(builderId: string, buildId?: string): Promise<void> {
    if (buildId !== undefined) this.placing.delete(buildId);
    const daemon = this.daemons.get(builderId);
    if (!daemon) return;
    // Idle since, and maybe serving a later build: a late or repeated terminate leaves it alone.
    if (buildId !== undefined && daemon.buildId !== buildId) return;
    if (daemon.buildId !== null) this.placing.delete(daemon.buildId);
    if (daemon.role === "serving" && daemon.volumeKey && daemon.state === "ready" && this.o.idleTtlMs > 0) {
      const now = this.o.clock.now();
      Object.assign(daemon, {
        role: "idle",
        buildId: null,
        idleSince: now,
        expiresAt: now + this.o.idleTtlMs,
      });
      return;
    }
    await this.stop(daemon);
  }

  /**
   * Builders serving builds; idle and warm ones are the driver's own to keep or stop. One that died
   * before it ever listened still shows as booting: its failure is the boot's, which awaitReady
   * (always awaited for a build's builder, in this process) reports in buildkitd's own words,
   * where "failed" would let the reconciler end the build first as a crash, without them.
   */
  async list(): Promise<Builder[]> {
    return [...this.daemons.values()]
      .filter((d) => d.role === "serving" && d.buildId !== null)
      .map((d) => ({
        builderId: d.builderId,
        buildId: d.buildId!,
        accountId: d.accountId!,
        state: d.state === "failed" && !d.listened ? "booting" : d.state,
        createdAt: d.assignedAt,
      }));
  }

  async dropVolume(accountId: string, name: string): Promise<void> {
    const key = `${accountId}/${name}`;
    await this.stopIdle(key);
    const volumes = this.volumes();
    const root = volumes[key];
    delete volumes[key];
    this.writeVolumes(volumes);
    if (root) await this.removeRoot(root);
  }

  /** The folder that is the volume (buildkitd's root), once a build has used it. */
  async volumeLocation(accountId: string, name: string): Promise<string | null> {
    return this.volumes()[`${accountId}/${name}`] ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // A pass still starting a warm builder would add it after the stop below.
    await this.ticking?.catch(() => {});
    await Promise.all([...this.daemons.values()].map((d) => this.stop(d)));
  }

  /** One pass at a time: a slow one must not be joined by another that starts the same builders. */
  private tick(): Promise<void> {
    this.ticking ??= this.keepPool().finally(() => (this.ticking = null));
    return this.ticking;
  }

  /**
   * Stops idle builders past their TTL, and idle or warm ones that died or grew too old to take a
   * build (their certificate must outlive it); refills the warm pool.
   */
  private async keepPool(): Promise<void> {
    if (this.closed) return;
    const now = this.o.clock.now();
    for (const daemon of this.daemons.values()) {
      if (daemon.role === "serving") continue;
      const expired = daemon.expiresAt !== null && now >= daemon.expiresAt;
      if (expired || daemon.state === "failed" || !reusable(daemon, now)) {
        // Pre-warmed and never taken: pod time no build used (stop() forgets it first, so none can now).
        const { prewarmedFor, prewarmedAt } = daemon;
        await this.stop(daemon);
        if (prewarmedFor !== null) this.o.onPrewarmExpired?.(prewarmedFor, (now - prewarmedAt!) / 1000);
      }
    }
    const current: Record<string, number> = {};
    for (const d of this.daemons.values()) {
      // A pre-warmed warm builder is a job's, not the pool's: the pool keeps its own count.
      if (d.role === "warm" && d.prewarmedFor === null)
        current[d.shapeName] = (current[d.shapeName] ?? 0) + 1;
    }
    for (const { shape, missing } of warmDeficit(this.o.warmPool, current)) {
      // A shape whose builders keep failing waits out its back-off rather than crash-looping.
      if (!this.warmRetries.mayStart(shape, now)) continue;
      for (let i = 0; i < missing && !this.closed; i++) {
        const root = join(this.volumesDir, `scratch-${randomUUID()}`);
        const daemon = await this.launch(shape, root, this.o.warmVolumeGiB ?? null).catch((err: Error) => {
          this.warmFailed(shape, err);
          return null;
        });
        if (!daemon) break;
        // A warm builder that never listens is no builder: stop it, and a later pass replaces it.
        this.awaitReady(daemon.builderId, WARM_BOOT_TIMEOUT_MS)
          .then(
            () => this.warmRetries.succeeded(shape),
            async (err: Error) => {
              if (daemon.role !== "warm") return; // a build took it; its own awaitReady reports
              this.warmFailed(shape, err);
              if (this.daemons.has(daemon.builderId)) await this.stop(daemon);
            },
          )
          .catch((err: Error) =>
            this.emit("warn", "stopping a warm builder that never listened failed", {
              builder: daemon.builderId,
              err: err.message,
            }),
          );
      }
    }
  }

  /**
   * A warm builder of `shape` could not start: said at `warn` in buildkitd's own words (a bad
   * flag, a locked root, no runc), and the shape's next try backs off.
   */
  private warmFailed(shape: string, err: Error): void {
    const { count, delayMs } = this.warmRetries.failed(shape, this.o.clock.now());
    this.emit("warn", `a warm builder failed to start: ${err.message}`, {
      shape,
      failuresInARow: count,
      retryInSeconds: delayMs / 1000,
      buildkitd: this.binary,
    });
  }

  /** Starts buildkitd on `root`; `as` says whose it is (a warm builder's by default), before anyone can see it. */
  private async launch(
    shapeName: string,
    root: string,
    sizeGiB: number | null,
    as: Partial<
      Pick<Daemon, "role" | "buildId" | "accountId" | "volumeKey" | "idleSince" | "prewarmedAt" | "expiresAt">
    > = {},
  ): Promise<Daemon> {
    const builderId = `local-${randomUUID()}`;
    const runDir = join(this.runRoot, builderId);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const tls = await this.o.credentials.issue(builderId);
    const files = {
      ca: join(runDir, "ca.pem"),
      cert: join(runDir, "cert.pem"),
      key: join(runDir, "key.pem"),
    };
    writeFileSync(files.ca, tls.caPem, { mode: 0o600 });
    writeFileSync(files.cert, tls.certPem, { mode: 0o600 });
    writeFileSync(files.key, tls.keyPem, { mode: 0o600 });
    const config = join(runDir, BUILDKITD_CONFIG_FILE);
    const port = await freePort();
    writeFileSync(
      config,
      buildkitdToml({
        root,
        address: `tcp://127.0.0.1:${port}`,
        tls: files,
        maxParallelism: this.o.shapes[shapeName]?.cpu ?? null,
        keepBytes: sizeGiB ? keepStorageBytes(sizeGiB) : null,
        traceSocket: join(runDir, "otel-grpc.sock"),
        ...(this.network.cni ? { cni: this.network.cni } : {}),
      }),
    );
    const child = spawn(
      this.binary,
      buildkitdArgs(config),
      // The environment the driver searched for runc is the one buildkitd must find it in: named,
      // since a default would be the host process's, not this module's (they differ in a sandbox).
      { stdio: ["ignore", "ignore", "pipe"], env: process.env },
    );
    writeFileSync(join(runDir, "pid"), String(child.pid ?? ""));
    const daemon: Daemon = {
      builderId,
      role: "warm",
      buildId: null,
      accountId: null,
      volumeKey: null,
      shapeName,
      root,
      runDir,
      port,
      child,
      state: "booting",
      listened: false,
      createdAt: this.o.clock.now(),
      assignedAt: this.o.clock.now(),
      idleSince: 0,
      prewarmedFor: null,
      prewarmedAt: null,
      expiresAt: null,
      stderr: "",
      exited: new Promise((resolve) => child.once("exit", () => resolve())),
      ...as,
    };
    child.stderr!.on("data", (chunk: Buffer) => {
      daemon.stderr = (daemon.stderr + chunk.toString()).slice(-4096);
    });
    child.once("error", (err) => {
      daemon.stderr += err.message;
      daemon.state = "failed";
    });
    child.once("exit", (code, signal) => {
      // stop() forgets a daemon before it signals it; one that failed to boot is awaitReady's to report.
      if (this.daemons.has(builderId) && daemon.listened) {
        this.emit("warn", `buildkitd exited: ${lastWords(daemon)}`, {
          builderId,
          code,
          signal,
          role: daemon.role,
          buildId: daemon.buildId,
        });
      }
      daemon.state = "failed";
    });
    this.daemons.set(builderId, daemon);
    return daemon;
  }

  /**
   * Stops a builder. It is forgotten at once (nothing takes it any more), but holds its volume's
   * lock until it has exited: a builder started on that volume meanwhile waits for that (accountRoot).
   */
  private stop(daemon: Daemon): Promise<void> {
    this.daemons.delete(daemon.builderId);
    const halted = this.halt(daemon);
    const key = daemon.volumeKey;
    if (key) {
      this.stopping.set(key, halted);
      const forget = () => {
        if (this.stopping.get(key) === halted) this.stopping.delete(key);
      };
      halted.then(forget, forget);
    }
    return halted;
  }

  private async halt(daemon: Daemon): Promise<void> {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill("SIGTERM");
      const grace = new AbortController();
      const killed = await Promise.race([
        daemon.exited.then(() => true),
        sleep(5_000, false, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort(); // a timer left running would hold the process up for 5 s after everything stopped
      if (!killed) daemon.child.kill("SIGKILL");
      await daemon.exited;
    }
    rmSync(daemon.runDir, { recursive: true, force: true });
    if (daemon.volumeKey) await this.releaseNetworks(daemon.root);
    else await this.removeRoot(daemon.root);
  }

  /** What buildkitd left of its RUN steps' networks in a root it ran in (local-netns.ts). */
  private async releaseNetworks(root: string): Promise<void> {
    if (!this.network.cni) return;
    // A builder's stop never fails for what it left behind: that is said, and left.
    const { failures } = await releaseNetworks(root, this.network.cni.binaryDir).catch((err: Error) => ({
      failures: [err.message],
    }));
    if (failures.length > 0) {
      this.emit("warn", "a stopped builder's network namespaces were not all released", { root, failures });
    }
  }

  /** A root no builder runs in any more, its networks released first: a mount point cannot go. */
  private async removeRoot(root: string): Promise<void> {
    await this.releaseNetworks(root);
    try {
      rmSync(root, { recursive: true, force: true });
    } catch (err) {
      this.emit("warn", "a builder's folder could not be removed", { root, err: (err as Error).message });
    }
  }

  /** Stops the volume's idle builder, whether or not it could still take a build. */
  private async stopIdle(volumeKey: string): Promise<void> {
    for (const d of [...this.daemons.values()]) {
      if (d.role === "idle" && d.volumeKey === volumeKey) await this.stop(d);
    }
  }

  /** A live builder young enough to take a build. */
  private find(predicate: (d: Daemon) => boolean, now: number): Daemon | undefined {
    return [...this.daemons.values()].find((d) => predicate(d) && d.state !== "failed" && reusable(d, now));
  }

  /**
   * account/name → directory, kept in a file so that volumes outlive the service; this driver
   * alone writes it, so memory holds the truth.
   */
  private volumes(): Record<string, string> {
    return { ...this.volumeIndex };
  }

  /** Whole or not at all: a torn index would lose which warm directories accounts adopted. */
  private writeVolumes(volumes: Record<string, string>): void {
    const next = `${this.index}.next`;
    writeFileSync(next, JSON.stringify(volumes, null, 2), { mode: 0o600 });
    renameSync(next, this.index);
    this.volumeIndex = { ...volumes };
  }

  private emit(level: "info" | "warn", message: string, fields: Record<string, unknown>): void {
    this.o.onEvent?.(level, message, fields);
  }
}

/** How long a warm builder may take to listen. */
const WARM_BOOT_TIMEOUT_MS = 60_000;

/** The last lines buildkitd wrote before it exited: its own reason. */
function lastWords(daemon: Daemon): string {
  return daemon.stderr.trim().split("\n").slice(-3).join(" | ") || "no output";
}

/**
 * The release of the buildkitd at `binary`; throws, saying how to fix it, when it will not answer
 * or is older than the oldest release whose configuration keys this driver writes.
 */
function checkedVersion(binary: string): string {
  let output: string;
  try {
    output = execFileSync(binary, ["--version"], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: "pipe",
      env: process.env, // as for launch(): this module's environment, named
    });
  } catch (err) {
    throw new Error(`\`${binary} --version\` failed: ${(err as Error).message.trim()}\n${BUILDKIT_HELP}`);
  }
  const version = parseBuildkitVersion(output);
  if (version && tooOld(version)) {
    throw new Error(
      `${binary} is BuildKit v${version.join(".")}; the local driver needs v${OLDEST_BUILDKIT.join(".")} or newer.\n${BUILDKIT_HELP}`,
    );
  }
  return version ? `v${version.join(".")}` : output.trim();
}

/** Whether a builder was booted recently enough that its certificate outlives any build it takes. */
function reusable(daemon: Daemon, now: number): boolean {
  return now - daemon.createdAt < BUILDER_MAX_REUSE_AGE_MS;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Whether process `pid` runs with `arg` on its command line; true where there is no /proc to ask. */
function startedWith(pid: number, arg: string): boolean {
  if (!(pid > 0)) return false;
  if (!existsSync("/proc")) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(arg);
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    if (pid > 0) process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}
