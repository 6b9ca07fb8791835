import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import pg from "pg";
import { pino } from "pino";
import { MemoryDriver } from "../doubles/memory-driver.js";
import { type RunningService, startService } from "../../service/server.js";
import { http, loadTestConfig, testEnv, uniqueName } from "../harness/context.js";
import { ManualClock } from "../harness/clock.js";

/**
 * Exactly once, whatever happens to a build: random interleavings of complete, reap (lease expiry),
 * expire (deadline), idle reaping, retried and concurrent completes, completes racing a reconcile
 * pass, and service restarts (a new process on the same database and Redis prefix), over many
 * builds. After each run every build that became ready has exactly one `build` row in the ledger,
 * equal to its record's ready_at → ended_at, and no other build has one.
 */

const SECOND = 1000;
const LEASE = 60;
const IDLE = 200;
const DEADLINE = 300;
const LIMIT = 3;

type Op =
  | { t: "create"; cache: "wait" | "cold"; waitSeconds: number; failBoot: boolean }
  | { t: "complete"; i: number }
  | { t: "completeTwice"; i: number }
  | { t: "completeWithReconcile"; i: number; lapse: number }
  | { t: "heartbeat"; i: number }
  | { t: "heartbeatAll" }
  | { t: "activity"; i: number }
  | { t: "tick"; seconds: number }
  | { t: "reconcile" }
  | { t: "reap" }
  | { t: "expire"; i: number }
  | { t: "restart" }
  | { t: "restartDuringComplete"; i: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant("create" as const),
      cache: fc.constantFrom("wait" as const, "cold" as const),
      waitSeconds: fc.constantFrom(0, 0, 30, 400),
      failBoot: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("complete" as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("completeTwice" as const), i: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("completeWithReconcile" as const),
      i: fc.nat(),
      lapse: fc.constantFrom(0, 10, LEASE + 1),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("heartbeat" as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("heartbeatAll" as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("activity" as const), i: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("tick" as const), seconds: fc.integer({ min: 1, max: 45 }) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("reconcile" as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("reap" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("expire" as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restart" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restartDuringComplete" as const), i: fc.nat() }) },
);

interface BuildJson {
  id: string;
  state: string;
  readyAt: string | null;
  deadlineAt: string;
}

/** What the test knows of each build it created, to say what its ledger row must be. */
interface Known {
  id: string;
  /** Times a complete was sent for it. */
  completeTimes: Set<number>;
  /** The last time the client or the broker was heard from (a heartbeat or connection accepted). */
  lastHeard: number;
}

interface LedgerRow {
  idempotency_key: string;
  build_id: string;
  shape: string;
  started_at: Date;
  ended_at: Date;
  quantity: string;
  end_reason: string;
}

interface BuildRow {
  id: string;
  state: string;
  shape: string;
  ready_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  deadline_at: Date;
}

const TERMINAL = ["completed", "failed", "expired", "reaped"];
const ACTIVE = ["pending", "ready", "building"];

describe("the ledger's build rows under random interleavings", () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * SECOND);
  // One driver for every process: builders outlive a restart of the service, as real ones would.
  const driver = new MemoryDriver({ clock });
  let env: Record<string, string>;
  let service: RunningService;
  let db: pg.Client;
  let restarts = 0;

  const start = () =>
    startService(loadTestConfig(env), { logger: pino({ level: "silent" }), clock, driver }).then((s) => {
      service = s;
    });

  beforeAll(async () => {
    env = await testEnv({
      RB_CLAIM_LEASE_SECONDS: String(LEASE),
      RB_IDLE_TIMEOUT_SECONDS: String(IDLE),
      RB_BUILD_DEADLINE_SECONDS: String(DEADLINE),
      RB_MAX_WAIT_SECONDS: "3600",
      // Parked: every pass is one the test runs, at the time it chose.
      RB_RECONCILE_INTERVAL_MS: "3600000",
    });
    await start();
    db = new pg.Client({ connectionString: env.RB_DATABASE_URL });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await service?.stop();
  });

  async function restart(): Promise<void> {
    await service.stop();
    await start();
    restarts++;
  }

  async function settle(): Promise<void> {
    await service.background.drain();
  }

  async function reconcile(): Promise<void> {
    await service.reconcilePass.run();
    await settle();
  }

  /** POST .../complete as a CI client does: retried on a 5xx or a broken connection. */
  async function complete(token: string, id: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
          token,
          body: { result: "success" },
        });
        if (r.status < 500 || attempt >= 5) return r.status;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  }

  async function run(ops: Op[]): Promise<void> {
    const handle = uniqueName("xo").replace(/_/g, "-");
    const account = await service.accounts.create({ handle, plan: "team", concurrencyLimit: LIMIT });
    await service.accounts.setFeature(account.id, "remote_builder", true);
    const { token } = await service.accounts.mintToken(account.id, "ci");
    const known: Known[] = [];
    const pick = (i: number) => (known.length === 0 ? null : known[i % known.length]!);
    const stateOf = async (id: string) =>
      (await db.query<{ state: string }>("SELECT state FROM builds WHERE id = $1", [id])).rows[0]!.state;
    const sendComplete = async (b: Known) => {
      b.completeTimes.add(clock.now());
      const status = await complete(token, b.id);
      expect([200, 409]).toContain(status);
    };
    const heartbeat = async (b: Known) => {
      const r = await http<BuildJson>(service.url, "POST", `/api/v1/builds/${b.id}/heartbeat`, { token });
      expect([200, 409]).toContain(r.status);
      // A heartbeat is recorded only for a build holding its claims (queued ones hold none yet).
      if (r.status === 200 && ACTIVE.includes(r.body.state)) b.lastHeard = clock.now();
    };
    const live = async () => {
      const out: Known[] = [];
      for (const b of known) if (!TERMINAL.includes(await stateOf(b.id))) out.push(b);
      return out;
    };

    for (const op of ops) {
      switch (op.t) {
        case "create": {
          if (op.failBoot) driver.failNextBoot("the node ran out of disk");
          const r = await http<BuildJson>(service.url, "POST", "/api/v1/builds", {
            token,
            body: { cache: op.cache, waitSeconds: op.waitSeconds },
          });
          expect([201, 429]).toContain(r.status);
          await settle();
          // (A refused build leaves the boot failure armed for the next builder created.)
          if (r.status === 201)
            known.push({ id: r.body.id, completeTimes: new Set(), lastHeard: clock.now() });
          break;
        }
        case "complete": {
          const b = pick(op.i);
          if (b) await sendComplete(b);
          break;
        }
        case "completeTwice": {
          // The same complete sent twice at once: a client retrying on a timeout while the first
          // attempt is still being handled.
          const b = pick(op.i);
          if (!b) break;
          const before = await stateOf(b.id);
          b.completeTimes.add(clock.now());
          const statuses = await Promise.all([complete(token, b.id), complete(token, b.id)]);
          // Both are answered as the completion they are, unless the build had already ended.
          if (!TERMINAL.includes(before)) expect(statuses).toEqual([200, 200]);
          else
            expect([
              [200, 200],
              [409, 409],
            ]).toContainEqual(statuses);
          await settle();
          break;
        }
        case "completeWithReconcile": {
          const b = pick(op.i);
          clock.advance(op.lapse * SECOND);
          await Promise.all([b ? sendComplete(b) : null, service.reconcilePass.run()]);
          await settle();
          break;
        }
        case "heartbeat": {
          const b = pick(op.i);
          if (b) await heartbeat(b);
          break;
        }
        case "heartbeatAll":
          for (const b of await live()) await heartbeat(b);
          break;
        case "activity": {
          // The broker opens or closes a connection to a ready or building builder.
          const b = pick(op.i);
          if (!b) break;
          const state = await stateOf(b.id);
          if (state !== "ready" && state !== "building") break;
          const moved = await service.builds.recordActivity(
            b.id,
            state === "ready" ? "connect" : "disconnect",
          );
          if (moved) b.lastHeard = clock.now();
          break;
        }
        case "tick":
          clock.advance(op.seconds * SECOND);
          break;
        case "reconcile":
          await reconcile();
          break;
        case "reap":
          // Nobody heartbeats for longer than the lease: every active build's claims lapse.
          clock.advance((LEASE + 1) * SECOND);
          await reconcile();
          break;
        case "expire": {
          // Clients heartbeat faithfully until the build's deadline passes.
          const b = pick(op.i);
          if (!b) break;
          const { rows } = await db.query<{ deadline_at: Date }>(
            "SELECT deadline_at FROM builds WHERE id = $1",
            [b.id],
          );
          const deadline = rows[0]!.deadline_at.getTime();
          while (clock.now() < deadline) {
            clock.advance(Math.min((LEASE / 2) * SECOND, deadline - clock.now()));
            for (const other of await live()) await heartbeat(other);
            await reconcile();
          }
          break;
        }
        case "restart":
          await restart();
          break;
        case "restartDuringComplete": {
          // The process stops while a complete is on the wire; the client retries on the new one.
          const b = pick(op.i);
          if (!b) break;
          b.completeTimes.add(clock.now());
          const first = http(service.url, "POST", `/api/v1/builds/${b.id}/complete`, {
            token,
            body: { result: "success" },
          }).then(
            (r) => r.status,
            () => 0,
          );
          await restart();
          const status = await first;
          if (status === 0 || status >= 500) await sendComplete(b);
          else expect([200, 409]).toContain(status);
          break;
        }
      }
    }

    // Let everything end: deadlines pass, queued builds that start late get their own deadline.
    for (let round = 0; (await live()).length > 0; round++) {
      if (round > 5) throw new Error("builds still unfinished after five deadlines");
      clock.advance((DEADLINE + LEASE) * SECOND);
      await reconcile();
    }
    // A last pass at the same moment changes nothing.
    await reconcile();

    const builds = (
      await db.query<BuildRow>(
        "SELECT id, state, shape, ready_at, ended_at, end_reason, deadline_at FROM builds WHERE account_id = $1",
        [account.id],
      )
    ).rows;
    const rows = (
      await db.query<LedgerRow>(
        `SELECT idempotency_key, build_id, shape, started_at, ended_at, quantity::text AS quantity, end_reason
           FROM ledger_entries WHERE account_id = $1 AND kind = 'build'`,
        [account.id],
      )
    ).rows;

    expect(builds.map((b) => b.id).sort()).toEqual(known.map((b) => b.id).sort());
    const rowsByBuild = new Map<string, LedgerRow[]>();
    for (const row of rows) rowsByBuild.set(row.build_id, [...(rowsByBuild.get(row.build_id) ?? []), row]);

    for (const build of builds) {
      const k = known.find((b) => b.id === build.id)!;
      const mine = rowsByBuild.get(build.id) ?? [];
      const where = `build ${build.id} (${build.state}: ${build.end_reason})`;
      expect({ where, terminal: TERMINAL.includes(build.state) }).toEqual({ where, terminal: true });
      if (build.ready_at === null) {
        // Never ready: never billed.
        expect({ where, rows: mine.length }).toEqual({ where, rows: 0 });
        continue;
      }
      expect({ where, rows: mine.length }).toEqual({ where, rows: 1 });
      const row = mine[0]!;
      const ended = build.ended_at!.getTime();
      expect({ where, row: summary(row) }).toEqual({
        where,
        row: {
          key: `build:${build.id}`,
          shape: build.shape,
          startedAt: build.ready_at.getTime(),
          endedAt: ended,
          seconds: (ended - build.ready_at.getTime()) / SECOND,
          endReason: build.end_reason,
        },
      });
      // And the interval is the one the rules give for how the build ended.
      switch (build.state) {
        case "completed":
          expect({ where, endedAtACompleteCall: k.completeTimes.has(ended) }).toEqual({
            where,
            endedAtACompleteCall: true,
          });
          break;
        case "reaped":
          // Billed until it was last heard from, not until the reaper noticed.
          expect({ where, ended }).toEqual({ where, ended: Math.max(k.lastHeard, build.ready_at.getTime()) });
          break;
        case "expired":
          // Billed until its deadline, not until the pass that noticed it had passed.
          expect({ where, ended }).toEqual({ where, ended: build.deadline_at.getTime() });
          break;
      }
    }
    const strays = rows.filter((r) => !builds.some((b) => b.id === r.build_id));
    expect(strays).toEqual([]);
  }

  it("writes exactly one build row per build that became ready, equal to its ready → end, and none for the rest", async () => {
    const seen = { runs: 0, builds: 0, states: new Map<string, number>() };
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 50 }), async (ops) => {
        seen.runs++;
        await run(ops);
      }),
      { numRuns: 50, seed: Number(process.env.LEDGER_SEED ?? Date.now() % 2 ** 31) },
    );
    // The runs really did reach every way a build ends, and the restarts happened.
    const { rows } = await db.query<{ state: string; end_reason: string; n: number }>(
      `SELECT state, split_part(end_reason, ':', 1) AS end_reason, count(*)::int AS n
         FROM builds GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    for (const r of rows) {
      seen.states.set(`${r.state}/${r.end_reason}`, r.n);
      seen.builds += r.n;
    }
    process.stdout.write(
      `exactly-once: ${seen.runs} runs, ${seen.builds} builds, ${restarts} restarts: ` +
        `${[...seen.states].map(([s, n]) => `${s} ${n}`).join(", ")}\n`,
    );
    for (const ending of ["completed/completed", "reaped/lease-expired", "expired/deadline"]) {
      expect([ending, seen.states.get(ending) ?? 0]).not.toEqual([ending, 0]);
    }
    expect(restarts).toBeGreaterThan(0);
  }, 180_000);
});

function summary(row: LedgerRow) {
  return {
    key: row.idempotency_key,
    shape: row.shape,
    startedAt: row.started_at.getTime(),
    endedAt: row.ended_at.getTime(),
    seconds: Number(row.quantity),
    endReason: row.end_reason,
  };
}
