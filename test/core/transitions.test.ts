import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { Redis } from "ioredis";
import type pg from "pg";
import { PostgresAccountStore } from "../../service/adapters/postgres/accounts.js";
import { PostgresBuildStore } from "../../service/adapters/postgres/builds.js";
import { PostgresLedgerStore } from "../../service/adapters/postgres/ledger.js";
import { migrate } from "../../service/adapters/postgres/migrate.js";
import { createPool } from "../../service/adapters/postgres/pool.js";
import { PostgresVolumeStore } from "../../service/adapters/postgres/volumes.js";
import { RedisClaimStore } from "../../service/adapters/redis/claims.js";
import { createRedis } from "../../service/adapters/redis/client.js";
import { RedisKeys } from "../../service/adapters/redis/keys.js";
import { RedisRevocations } from "../../service/adapters/redis/revocations.js";
import type { Principal } from "../../service/core/accounts.js";
import { AccountService } from "../../service/core/account-service.js";
import type { Build } from "../../service/core/build.js";
import { type BuildServices, createBuildServices } from "../../service/core/build-services.js";
import { BUILD_EVENTS, type StateChange, transition } from "../../service/core/lifecycle.js";
import type {
  Builder,
  BuilderDriver,
  BuildStore,
  CertificateIssuer,
  Telemetry,
} from "../../service/core/ports.js";
import { VolumeService } from "../../service/core/volume-service.js";
import { loadTestConfig, testEnv } from "../harness/context.js";
import { ManualClock } from "../harness/clock.js";

/**
 * Every state change of a build goes through the lifecycle table: the build services run over the
 * real PostgreSQL and Redis adapters, with the build store watched. Each change the store is asked
 * to make must be the table's answer for its state and event, and a lifecycle walked end to end
 * must use every event the table has (an event no caller sends is a transition made some other way).
 */

const MINUTE = 60_000;
const IDLE_MS = 10 * MINUTE;
const DEADLINE_MS = 60 * MINUTE;

/** The build store, with every change it is asked to make and every build it records written down. */
function watched(store: BuildStore, changes: StateChange[], inserted: Build[]): BuildStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (name === "transition" || name === "finish") changes.push(args[1] as StateChange);
        if (name === "insert") inserted.push(args[0] as Build);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Builders that boot at once, or fail to when told to: the process boundary, and nothing more. */
class InstantDriver implements BuilderDriver {
  readonly name = "instant";
  private readonly builders = new Map<string, Builder>();
  failNextBoot = false;
  private count = 0;

  constructor(private readonly clock: ManualClock) {}

  async create(spec: { buildId: string; accountId: string }) {
    const builderId = `instant-${++this.count}`;
    const state = this.failNextBoot ? "failed" : "booting";
    this.failNextBoot = false;
    this.builders.set(builderId, { ...spec, builderId, state, createdAt: this.clock.now() });
    return { builderId, tier: "cold" as const };
  }

  async awaitReady(builderId: string) {
    const builder = this.builders.get(builderId);
    if (!builder || builder.state === "failed") throw new Error(`builder ${builderId} did not boot`);
    builder.state = "ready";
    return { endpoint: `instant://${builderId}` };
  }

  async terminate(builderId: string) {
    this.builders.delete(builderId);
  }

  async list() {
    return [...this.builders.values()];
  }

  async dropVolume() {}
}

const NO_TELEMETRY: Telemetry = {
  admission() {},
  claimWait() {},
  buildEnded() {},
  prewarm() {},
  prewarmUsed() {},
  prewarmWasted() {},
};
/** Builds here send no public key, so nothing is signed. */
const NO_SIGNING = {} as CertificateIssuer;

describe("build transitions", () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const driver = new InstantDriver(clock);
  const changes: StateChange[] = [];
  const inserted: Build[] = [];
  let pool: pg.Pool;
  let redis: Redis;
  let services: BuildServices;
  let principal: Principal;

  beforeAll(async () => {
    const config = loadTestConfig(await testEnv());
    pool = createPool(config.databaseUrl, () => {});
    redis = createRedis(config.redisUrl, () => {});
    await migrate(pool);
    const keys = new RedisKeys(config.redisPrefix);
    const accountStore = new PostgresAccountStore(pool);
    const claims = new RedisClaimStore(redis, keys);
    const volumeStore = new PostgresVolumeStore(pool);
    services = createBuildServices(
      {
        accounts: accountStore,
        builds: watched(new PostgresBuildStore(pool), changes, inserted),
        ledger: new PostgresLedgerStore(pool),
        volumeStore,
        volumes: new VolumeService({ volumes: volumeStore, claims, driver, clock }),
        certificates: NO_SIGNING,
        revocations: new RedisRevocations(redis, keys),
        claims,
        driver,
        clock,
        telemetry: NO_TELEMETRY,
      },
      {
        catalog: config.shapes,
        defaultShape: config.defaultShape,
        cacheVolume: config.cacheVolume,
        // Leases outlive the test: every end here is the one the test provokes.
        claimLeaseMs: 10 * DEADLINE_MS,
        buildDeadlineMs: DEADLINE_MS,
        timeouts: { bootMs: MINUTE, idleMs: IDLE_MS },
        orphanGraceMs: MINUTE,
        concurrencyRetryAfterSeconds: 5,
      },
    );
    const accounts = new AccountService(accountStore, config.plans, config.defaultPlan, config.shapes);
    const account = await accounts.create({ handle: "transitions", concurrencyLimit: 1 });
    await accounts.setFeature(account.id, "remote_builder", true);
    const { record } = await accounts.mintToken(account.id, "test");
    principal = { account: await accounts.get(account.id), tokenId: record.id };
  });

  afterAll(async () => {
    await services?.background.drain();
    redis?.disconnect();
    await pool?.end();
  });

  const create = async (waitSeconds = 0) =>
    (await services.requests.create(principal, { cache: "wait", waitSeconds, labels: {} })).build;
  const stateOf = async (id: string) => (await services.requests.get(principal, id)).build.state;
  /** Lets boots and releases finish, then runs one reconcile pass. */
  const settle = async () => {
    await services.background.drain();
    await services.reconcilePass.run();
    await services.background.drain();
  };

  it("walks every event of the table, each change the table's own answer", async () => {
    // start (for a queued build), builder-ready, connect, disconnect, complete.
    const first = await create();
    const second = await create(600);
    expect(second.state).toBe("queued");
    await settle();
    expect(await stateOf(first.id)).toBe("ready");
    await services.requests.recordActivity(first.id, "connect");
    await services.requests.recordActivity(first.id, "disconnect");
    await services.requests.complete(principal, first.id, "success");
    await settle();
    expect(await stateOf(second.id)).toBe("ready");

    // reap: the second sits idle past the idle timeout.
    clock.advance(IDLE_MS);
    await settle();
    expect(await stateOf(second.id)).toBe("reaped");

    // fail: a builder that does not boot.
    driver.failNextBoot = true;
    const third = await create();
    await settle();
    expect(await stateOf(third.id)).toBe("failed");

    // expire: a build past its deadline.
    const fourth = await create();
    await settle();
    clock.advance(DEADLINE_MS);
    await settle();
    expect(await stateOf(fourth.id)).toBe("expired");

    for (const change of changes) expect(change.to).toBe(transition(change.from, change.event));
    expect(new Set(changes.map((c) => c.event))).toEqual(new Set(BUILD_EVENTS));
  });

  it("records a new build queued, or already moved by `start`, and in no other state", () => {
    expect(inserted.length).toBeGreaterThan(0);
    for (const build of inserted) expect(["queued", transition("queued", "start")]).toContain(build.state);
  });
});
