import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import { buildkitdToml } from "../../service/adapters/drivers/buildkitd-config.js";
import type { LocalDriver } from "../../service/adapters/drivers/local.js";
import { keepStorageBytes } from "../../service/core/placement.js";
import { FAKE_BIN, ROOT } from "../harness/action-job.js";
import { ADMIN_TOKEN, http, redisUrl, type TestService } from "../harness/context.js";
import { dial } from "../broker/support.js";
import {
  alive,
  completeBuild,
  createBuild,
  daemonOf,
  daemons,
  echo,
  killStrays,
  getBuild,
  readyBuild,
  runs,
  startLocalService,
  until,
  volumeIndex,
} from "./support.js";

// The driver finds buildkitd and runc on PATH and hands buildkitd its environment: the fakes, and
// the log the fake buildkitd records each start in.
process.env.PATH = `${FAKE_BIN}:${process.env.PATH}`;
const work = mkdtempSync(join(tmpdir(), "rb-local-driver-"));
process.env.FAKE_BUILDKITD_LOG = join(work, "buildkitd.jsonl");

/** Services a test started; each is stopped after its test, whatever happened. */
const running = new Set<TestService>();
async function start(dataDir: string, env: Record<string, string> = {}): Promise<TestService> {
  const service = await startLocalService(dataDir, env);
  running.add(service);
  return service;
}
async function stop(service: TestService): Promise<void> {
  running.delete(service);
  await service.stop();
}

afterEach(async () => {
  await Promise.all([...running].map((s) => stop(s)));
});

afterAll(() => {
  killStrays(work);
  rmSync(work, { recursive: true, force: true });
});

describe("the local driver, through the service", () => {
  it("places builds idle, warm or cold: a warm builder's directory becomes the account's volume, kept idle for the TTL", async () => {
    const dir = join(work, "tiers");
    const service = await start(dir, { RB_WARM_POOL: '{"small":1}', RB_BUILDER_IDLE_TTL_SECONDS: "1" });
    const account = await service.account();
    const volumeKey = `${account.id}/buildkit`;
    const [warm] = await until("the warm builder to start", () =>
      daemons(dir).length > 0 ? daemons(dir) : null,
    );
    expect(daemons(dir)).toHaveLength(1);
    expect(warm!.root).toMatch(new RegExp(`^${join(dir, "volumes")}/scratch-[0-9a-f-]{36}$`));
    expect(volumeIndex(dir)).toEqual({});

    // 1. The account's first build takes the warm builder: its fresh directory becomes the volume.
    const first = await readyBuild(service, account);
    expect(first.tier).toBe("warm");
    expect(first.cache.mode).toBe("persistent");
    expect(daemonOf(dir, first).pid).toBe(warm!.pid);
    expect(volumeIndex(dir)).toEqual({ [volumeKey]: warm!.root });
    expect(await echo(service, first, "warm\n")).toBe("warm\n");
    // The pool refills: a new buildkitd on a fresh directory of its own.
    const refill = await until("the warm pool to refill", () =>
      daemons(dir).find((d) => d.pid !== warm!.pid && alive(d.pid)),
    );
    expect(refill.root).not.toBe(warm!.root);
    expect(refill.root).toMatch(/\/scratch-[0-9a-f-]{36}$/);
    await completeBuild(service, first);

    // 2. The next build gets the same process, idle since the first build ended.
    const second = await readyBuild(service, account, { waitSeconds: 10 });
    expect(second.tier).toBe("idle");
    expect(daemonOf(dir, second).pid).toBe(warm!.pid);
    expect(daemons(dir).filter((d) => d.root === warm!.root)).toHaveLength(1);
    expect(runs(warm!.root)).toHaveLength(1);
    expect(await echo(service, second, "idle\n")).toBe("idle\n");
    await completeBuild(service, second);
    const idleSince = Date.now();

    // 3. Idle past RB_BUILDER_IDLE_TTL_SECONDS, it stops; the warm one stays. It goes idle once
    // the service has read the build's history from it (in the background, within
    // RB_INSIGHTS_TIMEOUT_SECONDS, 8 s), so on a loaded machine it stops seconds after the TTL.
    await until("the idle builder to stop", () => !alive(warm!.pid), 15_000);
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(900);
    expect(alive(refill.pid)).toBe(true);

    // 4. A cold start on the account's directory, which keeps what the first builder wrote.
    const third = await readyBuild(service, account, { waitSeconds: 10 });
    expect(third.tier).toBe("cold");
    const cold = daemonOf(dir, third);
    expect(cold.pid).not.toBe(warm!.pid);
    expect(cold.pid).not.toBe(refill.pid);
    expect(cold.root).toBe(warm!.root);
    expect(runs(warm!.root)).toHaveLength(2);
    expect(volumeIndex(dir)).toEqual({ [volumeKey]: warm!.root });
    expect(await echo(service, third, "cold\n")).toBe("cold\n");
    await completeBuild(service, third);
  });

  it("gives a build that asked for a cold cache a throw-away directory, removed when it ends", async () => {
    const dir = join(work, "throw-away");
    const service = await start(dir);
    const account = await service.account();
    const build = await readyBuild(service, account, { cache: "cold" });
    expect(build.cache.mode).toBe("cold");
    const daemon = daemonOf(dir, build);
    expect(daemon.root).toMatch(new RegExp(`^${join(dir, "volumes")}/scratch-[0-9a-f-]{36}$`));
    expect(runs(daemon.root)).toHaveLength(1);
    expect(volumeIndex(dir)).toEqual({});
    expect(await echo(service, build, "scratch\n")).toBe("scratch\n");

    await completeBuild(service, build);
    await until(
      "the throw-away builder and its directory to go",
      () => !alive(daemon.pid) && !existsSync(daemon.root),
    );
    expect(readdirSync(join(dir, "volumes"))).toEqual([]);
  });

  it("runs buildkitd with only its config: root, loopback mTLS address, TLS files (0600), the shape's CPUs, GC in bytes", async () => {
    const dir = join(work, "argv");
    const service = await start(dir);
    const account = await service.account({ plan: "team" });
    await service.accounts.update(account.id, { cacheVolumeGiB: 7 });
    const build = await readyBuild(service, account, { shape: "medium" });
    expect(build.tier).toBe("cold");

    const daemon = daemonOf(dir, build);
    const runDir = daemon.runDir;
    expect(runDir).toMatch(new RegExp(`^${join(dir, "run")}/local-[0-9a-f-]{36}$`));
    const port = Number(/^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(build.endpoint!)![1]);
    expect(daemon.argv).toEqual(["--config", join(runDir, "buildkitd.toml")]);
    for (const file of ["ca.pem", "cert.pem", "key.pem"]) {
      expect([file, (statSync(join(runDir, file)).mode & 0o777).toString(8)]).toEqual([file, "600"]);
    }
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    // The builder trusts the broker's identity alone, not the CA that signs tenants' certificates.
    const trusted = readFileSync(join(runDir, "ca.pem"), "utf8");
    expect(trusted).not.toBe(service.brokerInfo.caCertificate);
    expect(new X509Certificate(trusted).subject).toBe("CN=remote-builder broker identity");

    const config = readFileSync(join(runDir, "buildkitd.toml"), "utf8");
    expect(config).toBe(
      buildkitdToml({
        root: join(dir, "volumes", account.id, "buildkit"),
        address: `tcp://127.0.0.1:${port}`,
        tls: { ca: join(runDir, "ca.pem"), cert: join(runDir, "cert.pem"), key: join(runDir, "key.pem") },
        maxParallelism: 4,
        keepBytes: keepStorageBytes(7),
        traceSocket: join(runDir, "otel-grpc.sock"),
        ...((service.driver as LocalDriver).network.cni
          ? { cni: (service.driver as LocalDriver).network.cni! }
          : {}),
      }),
    );
    // Bytes, never MB: 7 GiB keeps 6,012,954,214 bytes of cache, not 6,012.
    expect(config).toContain(`gckeepstorage = 6012954214\n`);
    await completeBuild(service, build);
  });

  it("tunnels a connection from the broker to the build's buildkitd, with the build's client certificate", async () => {
    const dir = join(work, "tunnel");
    const service = await start(dir);
    const account = await service.account();
    const build = await readyBuild(service, account);
    const payload = `${"x".repeat(100_000)}\n`;
    expect(await echo(service, build, payload)).toBe(payload);
    const seen = await until("the build to count the bytes", async () => {
      const b = await getBuild(service, build);
      return b.bytesIn >= payload.length && b.bytesOut >= payload.length ? b : null;
    });
    expect(seen.state).toMatch(/^(ready|building)$/);
    await completeBuild(service, build);
  });

  it("fails the build of a crashed buildkitd at once, frees its slot, and a later build gets a working builder", async () => {
    const dir = join(work, "crash");
    const service = await start(dir, { RB_RECONCILE_INTERVAL_MS: "100" });
    const account = await service.account({ concurrencyLimit: 1 });
    const build = await readyBuild(service, account);
    const crashed = daemonOf(dir, build);
    expect(await echo(service, build, "before\n")).toBe("before\n");

    const { socket, secure } = dial(service, { cert: build.certificate!, key: build.key.privateKeyPem });
    await secure;
    socket.write("crash\n");
    await until("buildkitd to crash", () => !alive(crashed.pid), 5_000);
    const crashedAt = Date.now();
    socket.destroy();
    const failed = await until("the build to fail", async () => {
      const b = await getBuild(service, build);
      return b.state === "failed" ? b : null;
    });
    // A couple of reconcile periods, not the orphan grace (the boot timeout, minutes).
    expect(Date.now() - crashedAt).toBeLessThan(2_000);
    expect(failed.endReason).toMatch(/^builder-crashed/);

    // Its concurrency slot is free: a build that will not wait is admitted, not refused (the slot
    // goes back a moment after the build is seen failed).
    const statuses: number[] = [];
    const next = await until(
      "a build to be admitted",
      async () => {
        const created = await createBuild(service, account, { cache: "cold" }).catch((err: Error) => {
          statuses.push(Number(/POST \/builds: (\d+)/.exec(err.message)?.[1]));
          return null;
        });
        return created;
      },
      2_000,
    );
    expect(statuses.filter((s) => s !== 429)).toEqual([]);
    expect(next.state).toBe("pending");
    await completeBuild(service, next);

    // The crashed builder's directory stays the account's, and the next builder starts on it.
    const later = await readyBuild(service, account, { waitSeconds: 10 });
    expect(later.tier).toBe("cold");
    expect(daemonOf(dir, later).root).toBe(crashed.root);
    expect(runs(crashed.root)).toHaveLength(2);
    expect(await echo(service, later, "after\n")).toBe("after\n");
    await completeBuild(service, later);
  });

  it("keeps the cache directory across a restart, and stops what a killed predecessor left running", async () => {
    const dir = join(work, "restart");
    const first = await start(dir);
    const account = await first.account();
    const build = await readyBuild(first, account);
    const root = daemonOf(dir, build).root;
    await completeBuild(first, build);
    await stop(first);
    expect(daemons(dir).filter((d) => alive(d.pid))).toEqual([]);
    expect(runs(root)).toHaveLength(1);

    // A replica killed outright, its warm builder still up: `serve` in a child process, SIGKILLed.
    const before = daemons(dir).length;
    const killed = serveInChild({
      RB_DATABASE_URL: first.config.databaseUrl,
      RB_REDIS_URL: redisUrl(),
      RB_REDIS_PREFIX: first.config.redisPrefix,
      RB_ADMIN_TOKEN: ADMIN_TOKEN,
      RB_PORT: "0",
      RB_BROKER_PORT: "0",
      RB_LOG_LEVEL: "error",
      RB_DRIVER: "local",
      RB_LOCAL_DIR: dir,
      RB_WARM_POOL: '{"small":1}',
    });
    const exited = new Promise((resolve) => killed.child.once("exit", resolve));
    let leftover;
    try {
      leftover = await until(
        "the child's warm builder",
        () => {
          if (killed.child.exitCode !== null) throw new Error(`serve exited: ${killed.output()}`);
          return daemons(dir)
            .slice(before)
            .find((d) => alive(d.pid) && existsSync(join(d.runDir, "pid")));
        },
        30_000,
      );
    } finally {
      killed.child.kill("SIGKILL");
    }
    await exited;
    expect(alive(leftover.pid)).toBe(true);
    expect(readFileSync(join(leftover.runDir, "pid"), "utf8")).toBe(String(leftover.pid));

    const second = await start(dir, {
      RB_DATABASE_URL: first.config.databaseUrl,
      RB_REDIS_PREFIX: first.config.redisPrefix,
    });
    await until("the leftover buildkitd to be stopped", () => !alive(leftover.pid), 5_000);
    expect(existsSync(leftover.runDir)).toBe(false);
    expect(existsSync(leftover.root)).toBe(false);

    const again = await readyBuild(second, account, { waitSeconds: 10 });
    expect(again.tier).toBe("cold");
    expect(daemonOf(dir, again).root).toBe(root);
    expect(runs(root)).toHaveLength(2);
    expect(volumeIndex(dir)).toEqual({ [`${account.id}/buildkit`]: root });
    expect(await echo(second, again, "again\n")).toBe("again\n");
    await completeBuild(second, again);
  });

  it("leaves no buildkitd running after the service stops: warm, idle, or serving a build", async () => {
    const dir = join(work, "stop");
    const service = await start(dir, { RB_WARM_POOL: '{"small":2}' });
    const done = await service.account();
    await completeBuild(service, await readyBuild(service, done));
    const busy = await service.account();
    await readyBuild(service, busy);
    await until("the warm pool to refill", () => daemons(dir).filter((d) => alive(d.pid)).length >= 4);
    const pids = daemons(dir).map((d) => d.pid);
    expect(pids.length).toBeGreaterThanOrEqual(4);

    await stop(service);
    const left = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
    expect(readdirSync(join(dir, "run"))).toEqual([]);
    // The two accounts' volumes stay (warm builders' directories they adopted); the unused warm ones go.
    const index = volumeIndex(dir);
    expect(Object.keys(index).sort()).toEqual([`${busy.id}/buildkit`, `${done.id}/buildkit`].sort());
    expect(readdirSync(join(dir, "volumes")).sort()).toEqual(
      ["index.json", ...Object.values(index).map((p) => basename(p))].sort(),
    );
  });

  it("resets the cache volume: the idle builder stops and the directory goes", async () => {
    const dir = join(work, "reset");
    const service = await start(dir);
    const account = await service.account();
    const build = await readyBuild(service, account);
    const daemon = daemonOf(dir, build);
    await completeBuild(service, build);

    const reset = await until("the reset to be allowed", async () => {
      const res = await http(
        service.url,
        "DELETE",
        `/api/v1/accounts/${account.handle}/cache-volumes/buildkit`,
        {
          token: account.token,
        },
      );
      return res.status === 409 ? null : res;
    });
    expect(reset.status).toBe(200);
    expect(alive(daemon.pid)).toBe(false);
    expect(existsSync(daemon.root)).toBe(false);
    expect(volumeIndex(dir)).toEqual({});

    const next = await readyBuild(service, account, { waitSeconds: 10 });
    expect(next.tier).toBe("cold");
    const fresh = daemonOf(dir, next);
    expect(fresh.root).toBe(daemon.root);
    expect(runs(fresh.root)).toHaveLength(1);
    await completeBuild(service, next);
  });

  it("gives two placements of one build at once the one builder: no second buildkitd on its volume", async () => {
    // The volume's release and the reconciler may both advance a queued build.
    const dir = join(work, "placed-twice");
    const service = await start(dir, { RB_BUILDER_IDLE_TTL_SECONDS: "60" });
    const account = await service.account();
    const driver = service.driver as LocalDriver;
    const placeTwice = async () => {
      const spec = {
        buildId: randomUUID(),
        accountId: account.id,
        shapeName: "small",
        shape: { cpu: 2, memoryGiB: 4 },
        volume: { name: "buildkit", sizeGiB: 10 },
      };
      const [first, again] = await Promise.all([driver.create(spec), driver.create(spec)]);
      expect(again).toEqual(first);
      await driver.awaitReady(first.builderId, 10_000);
      expect(daemons(dir)).toHaveLength(1);
      await driver.terminate(first.builderId, spec.buildId);
      return first.tier;
    };
    expect(await placeTwice()).toBe("cold");
    // Its builder went idle; both placements of the next build take that one.
    expect(await placeTwice()).toBe("idle");
  });
});

/** `remote-builder serve` as a process of its own, and what it printed (for a failure's message). */
function serveInChild(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [join(ROOT, "bin/remote-builder.js"), "serve"], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FAKE_BUILDKITD_LOG: process.env.FAKE_BUILDKITD_LOG,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, output: () => output };
}
