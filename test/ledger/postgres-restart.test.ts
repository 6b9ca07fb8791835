import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { pino } from "pino";
import { memoryDriver } from "../doubles/memory-driver.js";
import { type EmbeddedPostgres, startPostgres } from "../../service/embedded/postgres.js";
import { type RunningService, startService } from "../../service/server.js";
import { http, loadTestConfig, testEnv, uniqueName } from "../harness/context.js";
import { ManualClock } from "../harness/clock.js";
import { restartablePort } from "../harness/ports.js";

/**
 * PostgreSQL restarted in the middle of writes. The test runs a PostgreSQL of its own (default
 * durability), fires completes at many builds from several clients at once, and stops PostgreSQL
 * (a fast shutdown, which ends every session) and starts it again on the same folder while they
 * are in flight. Faithful clients retry a complete that failed with a 5xx or a broken connection;
 * others give up after one try, and the reconciler ends their builds once their leases run out.
 * At the end every build that became ready has exactly one ledger row: none lost, none doubled.
 */

const SECOND = 1000;
const LEASE = 600;
const ACCOUNTS = 3;
const BUILDS_PER_ACCOUNT = 80;
const CLIENTS = 8;

interface Job {
  id: string;
  token: string;
  /** Retries a failed complete, or gives up after one try (a runner that vanished). */
  faithful: boolean;
  /** Final status the client saw: an HTTP status, or 0 for a broken connection. */
  outcome?: number;
  failures: number;
}

let root: string;
let postgres: EmbeddedPostgres;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rb-pg-restart-"));
  chmodSync(root, 0o755); // PostgreSQL runs as `postgres` when we are root, and must reach its folder.
  postgres = await startPostgres({ dataDir: join(root, "pg"), port: await restartablePort() });
});

afterAll(async () => {
  await postgres?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("PostgreSQL restarted while completes are being written", () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * SECOND);
  let service: RunningService;
  let db: pg.Client | null = null;

  afterAll(async () => {
    await db?.end();
    await service?.stop();
  });

  it("loses and doubles no ledger row: failed writes are retried, and the reconciler ends what was left", async () => {
    const databaseUrl = await postgres.createDatabase("remote_builder");
    const env = await testEnv({
      RB_DATABASE_URL: databaseUrl,
      RB_CLAIM_LEASE_SECONDS: String(LEASE),
      RB_IDLE_TIMEOUT_SECONDS: "86400",
      RB_RECONCILE_INTERVAL_MS: "3600000",
    });
    service = await startService(loadTestConfig(env), {
      logger: pino({ level: "silent" }),
      clock,
      driver: memoryDriver(),
    });

    // Builds enough to keep the clients busy through the restart, all ready at T0.
    const T0 = clock.now();
    const jobs: Job[] = [];
    for (let a = 0; a < ACCOUNTS; a++) {
      const account = await service.accounts.create({
        handle: uniqueName("pgr").replace(/_/g, "-"),
        plan: "team",
        concurrencyLimit: BUILDS_PER_ACCOUNT,
      });
      await service.accounts.setFeature(account.id, "remote_builder", true);
      const { token } = await service.accounts.mintToken(account.id, "ci");
      for (let i = 0; i < BUILDS_PER_ACCOUNT; i++) {
        const r = await http<{ id: string }>(service.url, "POST", "/api/v1/builds", {
          token,
          body: { cache: "cold" },
        });
        expect(r.status).toBe(201);
        jobs.push({ id: r.body.id, token, faithful: true, failures: 0 });
      }
    }
    await service.background.drain();

    // Every client heartbeats once at T0+30s; the completes are sent at T0+90s.
    clock.advance(30 * SECOND);
    const lastHeard = clock.now();
    for (const job of jobs) {
      const beat = await http(service.url, "POST", `/api/v1/builds/${job.id}/heartbeat`, {
        token: job.token,
      });
      expect(beat.status).toBe(200);
    }
    clock.advance(60 * SECOND);
    const completedAt = clock.now();

    // The clients: each takes the next build and completes it.
    let next = 0;
    let done = 0;
    // Of the clients whose complete fails, every other one gives up instead of retrying.
    let failing = 0;
    const complete = async (job: Job): Promise<number> => {
      try {
        const r = await http(service.url, "POST", `/api/v1/builds/${job.id}/complete`, {
          token: job.token,
          body: { result: "success" },
        });
        return r.status;
      } catch {
        return 0;
      }
    };
    const clients = Array.from({ length: CLIENTS }, async () => {
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        for (let attempt = 0; ; attempt++) {
          job.outcome = await complete(job);
          if (job.outcome === 200) break;
          expect(job.outcome === 0 || job.outcome >= 500).toBe(true);
          if (job.failures++ === 0) job.faithful = failing++ % 2 === 0;
          if (!job.faithful || attempt > 300) break;
          await sleep(50);
        }
        done++;
        await sleep(10);
      }
    });
    // A reconciler runs on through the restart (its passes fail while PostgreSQL is away).
    let clientsDone = false;
    let failedPasses = 0;
    const reconciler = (async () => {
      while (!clientsDone) {
        await service.reconcilePass.run().catch(() => failedPasses++);
        await sleep(20);
      }
    })();

    // Stop PostgreSQL once a quarter of the completes are through, with the rest in flight.
    while (done < jobs.length / 4) await sleep(2);
    const doneBeforeStop = done;
    await postgres.stop();
    await sleep(300);
    postgres = await startPostgres({ dataDir: join(root, "pg"), port: postgres.port });
    await Promise.all(clients);
    clientsDone = true;
    await reconciler;
    await service.background.drain();

    const failed = jobs.filter((j) => j.failures > 0);
    const abandoned = jobs.filter((j) => j.outcome !== 200);
    process.stdout.write(
      `postgres restart: ${jobs.length} builds, ${doneBeforeStop} completed before the stop, ` +
        `${failed.length} completes failed at least once (${failed.filter((j) => j.faithful).length} retried to success), ` +
        `${abandoned.length} abandoned, ${failedPasses} reconcile passes failed\n`,
    );
    // The restart really did cut writes off, and some clients gave up on them.
    expect(failed.length).toBeGreaterThan(0);
    expect(abandoned.length).toBeGreaterThan(0);
    expect(jobs.filter((j) => j.faithful).every((j) => j.outcome === 200)).toBe(true);

    // The abandoned builds' leases run out; the reconciler ends them at their last heartbeat.
    clock.advance((LEASE + 1) * SECOND);
    await service.reconcilePass.run();
    await service.background.drain();

    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const { rows: builds } = await db.query<{
      id: string;
      state: string;
      end_reason: string;
      ready_at: Date;
      ended_at: Date;
    }>("SELECT id, state, end_reason, ready_at, ended_at FROM builds");
    const { rows: entries } = await db.query<{
      key: string;
      build_id: string;
      started_at: Date;
      ended_at: Date;
      quantity: string;
      end_reason: string;
    }>(
      `SELECT idempotency_key AS key, build_id, started_at, ended_at, quantity::text AS quantity, end_reason
         FROM ledger_entries WHERE kind = 'build'`,
    );

    expect(builds).toHaveLength(jobs.length);
    expect(entries).toHaveLength(jobs.length);
    expect(new Set(entries.map((e) => e.build_id)).size).toBe(jobs.length);
    const byId = new Map(builds.map((b) => [b.id, b]));
    for (const job of jobs) {
      const build = byId.get(job.id)!;
      const entry = entries.find((e) => e.build_id === job.id);
      // A client that was told "completed" finds it so; one that gave up was either completed after
      // all (its write committed, its answer lost) or reaped at its last heartbeat.
      if (job.outcome === 200) expect([job.id, build.state]).toEqual([job.id, "completed"]);
      const expected =
        build.state === "completed"
          ? { state: "completed", endReason: "completed", endedAt: completedAt }
          : {
              state: "reaped",
              endReason: "lease-expired: the client stopped sending heartbeats",
              endedAt: lastHeard,
            };
      expect({
        id: job.id,
        state: build.state,
        endReason: build.end_reason,
        endedAt: build.ended_at.getTime(),
      }).toEqual({
        id: job.id,
        ...expected,
      });
      expect({
        id: job.id,
        key: entry?.key,
        startedAt: entry?.started_at.getTime(),
        endedAt: entry?.ended_at.getTime(),
        seconds: Number(entry?.quantity),
        endReason: entry?.end_reason,
      }).toEqual({
        id: job.id,
        key: `build:${job.id}`,
        startedAt: T0,
        endedAt: expected.endedAt,
        seconds: (expected.endedAt - T0) / SECOND,
        endReason: expected.endReason,
      });
      expect(build.ready_at.getTime()).toBe(T0);
    }
    expect(builds.filter((b) => b.state === "reaped").length).toBeGreaterThan(0);
  }, 90_000);
});
