import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { MemoryDriver } from "../doubles/memory-driver.js";
import type { AccountService } from "../../service/core/account-service.js";
import type { Account } from "../../service/core/accounts.js";
import type { Clock } from "../../service/core/ports.js";
import { Problem } from "../../service/core/problems.js";
import { visibleAccount } from "../../service/http/account-access.js";
import { CacheVolume } from "../../service/http/schemas.js";
import { ADMIN_TOKEN, http, startTestService, type TestService, uniqueName } from "../harness/context.js";
import { errorPaths, expectProblem } from "../harness/problems.js";

/**
 * The cache volume endpoints (list, reset) and the build fields that go with them (tier,
 * admittedAt), over real HTTP against a real service on PostgreSQL and Redis, with an injected
 * clock and a memory driver the test holds on to.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const T0 = Date.UTC(2030, 5, 3, 9);
const VOLUME = "buildkit";
/** The claim lease the service runs with: long, so that the clock's jumps do not end leases. */
const LEASE_MS = 3600 * SECOND;

class ManualClock implements Clock {
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A memory driver whose volume drops can be made to fail, or held until the test lets them go. */
class TestDriver extends MemoryDriver {
  failDrops = 0;
  private hold: { started: () => void; released: Promise<void> } | null = null;

  /** Holds the next drop: `started` resolves once it is under way, `release` lets it finish. */
  holdNextDrop(): { started: Promise<void>; release: () => void } {
    let started!: () => void;
    let release!: () => void;
    const startedP = new Promise<void>((resolve) => (started = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.hold = { started, released };
    return { started: startedP, release };
  }

  override async dropVolume(accountId: string, name: string): Promise<void> {
    if (this.failDrops > 0) {
      this.failDrops--;
      throw new Error("the volume's storage did not answer");
    }
    const hold = this.hold;
    this.hold = null;
    if (hold) {
      hold.started();
      await hold.released;
    }
    await super.dropVolume(accountId, name);
  }
}

type VolumeBody = {
  name: string;
  sizeGiB: number;
  createdAt: string;
  lastUsedAt: string;
};

type BuildBody = {
  id: string;
  state: string;
  tier: string | null;
  createdAt: string;
  admittedAt: string | null;
  endReason: string | null;
  queue: { waitingFor: string; position: number } | null;
  cache: { requested: string; volume: string; mode: string | null; reason: string | null };
};

interface Acct {
  id: string;
  handle: string;
  token: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

describe("cache volumes", () => {
  const clock = new ManualClock(T0);
  const driver = new TestDriver({ clock });
  let service: TestService;

  beforeAll(async () => {
    // The reconcile loop runs only when a test calls it; leases outlive the clock's jumps.
    service = await startTestService(
      {
        RB_RECONCILE_INTERVAL_MS: "3600000",
        RB_CLAIM_LEASE_SECONDS: String(LEASE_MS / SECOND),
        RB_MAX_WAIT_SECONDS: "7200",
        RB_IDLE_TIMEOUT_SECONDS: "86400",
      },
      { clock, driver },
    );
  });
  afterAll(async () => {
    await service?.stop();
  });

  async function account(
    options: { cacheVolumeGiB?: number; concurrencyLimit?: number } = {},
  ): Promise<Acct> {
    const handle = uniqueName("vol").replace(/_/g, "-");
    const created = await service.accounts.create({ handle, plan: "team", ...options });
    await service.accounts.setFeature(created.id, "remote_builder", true);
    const { token } = await service.accounts.mintToken(created.id, "ci");
    return { id: created.id, handle, token };
  }

  async function build(who: Acct, body: Record<string, unknown> = {}): Promise<BuildBody> {
    const created = await http<BuildBody>(service.url, "POST", "/api/v1/builds", { token: who.token, body });
    expect(created.status).toBe(201);
    await service.background.drain();
    return created.body;
  }

  const getBuild = async (who: Acct, id: string) =>
    (await http<BuildBody>(service.url, "GET", `/api/v1/builds/${id}`, { token: who.token })).body;

  async function complete(who: Acct, id: string): Promise<void> {
    const done = await http(service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token: who.token,
      body: { result: "success" },
    });
    expect(done.status).toBe(200);
    await service.background.drain();
  }

  const list = (ref: string, token: string) =>
    http<{ volumes: VolumeBody[] }>(service.url, "GET", `/api/v1/accounts/${ref}/cache-volumes`, { token });
  const reset = (ref: string, name: string, token: string) =>
    http<VolumeBody>(service.url, "DELETE", `/api/v1/accounts/${ref}/cache-volumes/${name}`, { token });
  const volumeRows = async (accountId: string) =>
    (
      await service.pool.query<{ name: string; deleted: boolean }>(
        "SELECT name, deleted_at IS NOT NULL AS deleted FROM cache_volumes WHERE account_id = $1 ORDER BY created_at",
        [accountId],
      )
    ).rows;
  const droppedFor = (who: Acct) => driver.dropped.filter((d) => d.startsWith(`${who.id}/`));

  describe("GET /api/v1/accounts/:account/cache-volumes", () => {
    it("lists no volumes for an account that has not built yet", async () => {
      const a = await account();
      const got = await list(a.handle, a.token);
      expect(got.status).toBe(200);
      expect(got.headers.get("content-type")).toMatch(/^application\/json/);
      expect(got.body).toEqual({ volumes: [] });
    });

    it("lists the volume a build with cache wait attached, made at the account's cacheVolumeGiB", async () => {
      const a = await account({ cacheVolumeGiB: 37 });
      const at = clock.now();
      const b = await build(a, { cache: "wait" });
      expect(b.cache).toEqual({ requested: "wait", volume: VOLUME, mode: "persistent", reason: null });
      const got = await list(a.handle, a.token);
      expect(got.status).toBe(200);
      expect(got.body).toEqual({
        volumes: [{ name: VOLUME, sizeGiB: 37, createdAt: iso(at), lastUsedAt: iso(at) }],
      });
      expect(() => CacheVolume.strict().parse(got.body.volumes[0])).not.toThrow();
      // The account's id lists the same as its handle.
      expect((await list(a.id, a.token)).body).toEqual(got.body);
      await complete(a, b.id);
    });

    it("moves lastUsedAt when a later build attaches the volume, and keeps its size and createdAt", async () => {
      const a = await account({ cacheVolumeGiB: 12 });
      const first = clock.now();
      await complete(a, (await build(a)).id);
      // The plan grows meanwhile: the volume keeps the size it was made with.
      await service.accounts.update(a.id, { cacheVolumeGiB: 99 });
      clock.advance(5 * MINUTE);
      const second = await build(a);
      expect(second.cache.mode).toBe("persistent");
      expect((await list(a.handle, a.token)).body.volumes).toEqual([
        { name: VOLUME, sizeGiB: 12, createdAt: iso(first), lastUsedAt: iso(clock.now()) },
      ]);
      await complete(a, second.id);
    });

    it("lists nothing for builds that ran cold", async () => {
      const a = await account();
      const cold = await build(a, { cache: "cold" });
      expect(cold.cache).toMatchObject({ requested: "cold", mode: "cold" });
      expect((await list(a.handle, a.token)).body).toEqual({ volumes: [] });
      await complete(a, cold.id);
    });
  });

  describe("DELETE /api/v1/accounts/:account/cache-volumes/:name", () => {
    it("refuses to reset a volume a build holds: 409 volume-in-use naming the build, with Retry-After", async () => {
      const a = await account();
      const holder = await build(a);
      expect(holder.cache.mode).toBe("persistent");
      const refused = await reset(a.handle, VOLUME, a.token);
      expectProblem(
        refused,
        409,
        "volume-in-use",
        new RegExp(`"${VOLUME}" is in use by build ${holder.id}; reset it once that build ends`),
      );
      expect(refused.headers.get("retry-after")).toBe("30");
      expect(refused.body).toMatchObject({ builds: [holder.id] });
      // Nothing happened to the volume.
      expect((await list(a.handle, a.token)).body.volumes.map((v) => v.name)).toEqual([VOLUME]);
      expect(droppedFor(a)).toEqual([]);
      expect((await getBuild(a, holder.id)).state).toBe("ready");
      await complete(a, holder.id);
    });

    it("resets the volume once its build completed: 200 with the volume, then none is listed and the driver dropped it", async () => {
      const a = await account({ cacheVolumeGiB: 25 });
      const at = clock.now();
      const b = await build(a);
      clock.advance(3 * MINUTE);
      await complete(a, b.id);
      const done = await reset(a.handle, VOLUME, a.token);
      expect(done.status).toBe(200);
      expect(done.body).toEqual({ name: VOLUME, sizeGiB: 25, createdAt: iso(at), lastUsedAt: iso(at) });
      expect((await list(a.handle, a.token)).body).toEqual({ volumes: [] });
      expect(droppedFor(a)).toEqual([`${a.id}/${VOLUME}`]);
      expect(await volumeRows(a.id)).toEqual([{ name: VOLUME, deleted: true }]);
      // Reset twice: the second finds no volume, and drops nothing more.
      const again = await reset(a.handle, VOLUME, a.token);
      expectProblem(again, 404, "not-found", new RegExp(`The account has no cache volume "${VOLUME}"`));
      expect(droppedFor(a)).toHaveLength(1);
    });

    it("gives the next build a new volume after a reset", async () => {
      const a = await account({ cacheVolumeGiB: 8 });
      await complete(a, (await build(a)).id);
      expect((await reset(a.handle, VOLUME, a.token)).status).toBe(200);
      clock.advance(2 * MINUTE);
      const next = await build(a);
      expect(next.cache.mode).toBe("persistent");
      expect((await list(a.handle, a.token)).body.volumes).toEqual([
        { name: VOLUME, sizeGiB: 8, createdAt: iso(clock.now()), lastUsedAt: iso(clock.now()) },
      ]);
      expect(await volumeRows(a.id)).toEqual([
        { name: VOLUME, deleted: true },
        { name: VOLUME, deleted: false },
      ]);
      await complete(a, next.id);
    });

    it("lists the volume a build attached within a minute of a reset", async () => {
      const a = await account();
      await complete(a, (await build(a)).id);
      expect((await reset(a.handle, VOLUME, a.token)).status).toBe(200);
      clock.advance(10 * SECOND);
      const next = await build(a);
      expect(next.cache.mode).toBe("persistent");
      expect((await list(a.handle, a.token)).body.volumes.map((v) => v.name)).toEqual([VOLUME]);
      await complete(a, next.id);
    });

    it("answers 404 not-found for a name the account has no volume by, and drops nothing", async () => {
      const a = await account();
      await complete(a, (await build(a)).id);
      for (const name of ["nope", "buildkit2", "BUILDKIT"]) {
        const got = await reset(a.handle, name, a.token);
        expectProblem(got, 404, "not-found", new RegExp(`^The account has no cache volume "${name}"\\.$`));
      }
      expect(droppedFor(a)).toEqual([]);
      expect((await list(a.handle, a.token)).body.volumes).toHaveLength(1);
    });

    it("holds the volume while it is dropped: a build meanwhile runs cold, a second reset is refused", async () => {
      const a = await account();
      await complete(a, (await build(a)).id);
      const held = driver.holdNextDrop();
      const resetting = reset(a.handle, VOLUME, a.token);
      await held.started;
      try {
        const meanwhile = await build(a, { cache: "wait", waitSeconds: 0 });
        expect(meanwhile.cache).toMatchObject({ requested: "wait", mode: "cold" });
        expect(meanwhile.cache.reason).toMatch(/cache volume is in use by another build/);
        await complete(a, meanwhile.id);
        const second = await reset(a.handle, VOLUME, a.token);
        expectProblem(
          second,
          409,
          "volume-in-use",
          new RegExp(`"${VOLUME}" is being reset by another request`),
        );
        expect(second.body).toMatchObject({ builds: [] });
      } finally {
        held.release();
      }
      expect((await resetting).status).toBe(200);
      expect(droppedFor(a)).toEqual([`${a.id}/${VOLUME}`]);
      // The lease is given back: after the reset, builds attach the (new) volume again.
      clock.advance(2 * MINUTE);
      const after = await build(a, { cache: "wait", waitSeconds: 0 });
      expect(after.cache.mode).toBe("persistent");
      await complete(a, after.id);
    });

    it("starts a build that queued for the volume during a reset on the next reconcile pass", async () => {
      const a = await account();
      await complete(a, (await build(a)).id);
      const held = driver.holdNextDrop();
      const resetting = reset(a.handle, VOLUME, a.token);
      await held.started;
      let waiting: BuildBody;
      try {
        waiting = await build(a, { cache: "wait", waitSeconds: 600 });
        expect(waiting).toMatchObject({ state: "queued", queue: { waitingFor: "cache", position: 1 } });
      } finally {
        held.release();
      }
      expect((await resetting).status).toBe(200);
      clock.advance(2 * MINUTE);
      await service.reconcilePass.run();
      await service.background.drain();
      const started = await getBuild(a, waiting.id);
      expect(started).toMatchObject({ state: "ready", queue: null, cache: { mode: "persistent" } });
      expect((await list(a.handle, a.token)).body.volumes).toEqual([
        {
          name: VOLUME,
          sizeGiB: expect.any(Number),
          createdAt: iso(clock.now()),
          lastUsedAt: iso(clock.now()),
        },
      ]);
      await complete(a, waiting.id);
    });

    it("refuses to reset while a build is next in line for the volume, naming that build", async () => {
      // The holder's lease has run out (its client vanished; no reconcile pass reaped it yet) and
      // the build queued behind it is about to take the volume.
      const a = await account();
      await build(a);
      const next = await build(a, { waitSeconds: 7000 });
      expect(next.queue).toEqual({ waitingFor: "cache", position: 1 });
      clock.advance(LEASE_MS + MINUTE);
      const refused = await reset(a.handle, VOLUME, a.token);
      expectProblem(refused, 409, "volume-in-use", new RegExp(`in use by build ${next.id}`));
      expect(refused.body).toMatchObject({ builds: [next.id] });
      expect(droppedFor(a)).toEqual([]);
      expect((await list(a.handle, a.token)).body.volumes).toHaveLength(1);
    });

    it("keeps the volume listed when the driver fails to drop it, so that the reset can be retried", async () => {
      const a = await account();
      await complete(a, (await build(a)).id);
      driver.failDrops = 1;
      const failed = await reset(a.handle, VOLUME, a.token);
      expect(failed.status).toBe(500);
      expect(failed.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect((await list(a.handle, a.token)).body.volumes.map((v) => v.name)).toEqual([VOLUME]);
      expect(droppedFor(a)).toEqual([]);
      // The failed reset gave its lease back: the retry is not refused as in use.
      const retried = await reset(a.handle, VOLUME, a.token);
      expect(retried.status).toBe(200);
      expect(droppedFor(a)).toEqual([`${a.id}/${VOLUME}`]);
      expect((await list(a.handle, a.token)).body).toEqual({ volumes: [] });
    });
  });

  describe("who may see and reset an account's volumes", () => {
    let owner: Acct;
    let other: Acct;
    beforeAll(async () => {
      owner = await account();
      other = await account();
      await complete(owner, (await build(owner)).id);
      await complete(other, (await build(other)).id);
    });

    it("answers another account's token with 404, never 403, as for an account that does not exist", async () => {
      for (const ref of [owner.handle, owner.id]) {
        const listed = await list(ref, other.token);
        expectProblem(
          listed,
          404,
          "not-found",
          new RegExp(`^There is no account "${ref}" visible to this token\\.$`),
        );
        const reseted = await reset(ref, VOLUME, other.token);
        expectProblem(
          reseted,
          404,
          "not-found",
          new RegExp(`^There is no account "${ref}" visible to this token\\.$`),
        );
      }
      const missing = await list("no-such-account", other.token);
      expectProblem(
        missing,
        404,
        "not-found",
        /^There is no account "no-such-account" visible to this token\.$/,
      );
      // The same answer, field for field, as for an account that does not exist.
      const theirs = await list(owner.handle, other.token);
      expect(Object.keys(theirs.body).sort()).toEqual(Object.keys(missing.body).sort());
      // Untouched.
      expect(droppedFor(owner)).toEqual([]);
      expect((await list(owner.handle, owner.token)).body.volumes).toHaveLength(1);
    });

    it("lets the admin token list and reset any account's volumes, by handle or id", async () => {
      const byHandle = await list(owner.handle, ADMIN_TOKEN);
      expect(byHandle.status).toBe(200);
      expect(byHandle.body).toEqual((await list(owner.handle, owner.token)).body);
      expect((await list(owner.id, ADMIN_TOKEN)).body).toEqual(byHandle.body);
      const missing = await list("no-such-account", ADMIN_TOKEN);
      expectProblem(missing, 404, "not-found", /no account "no-such-account"/);

      const done = await reset(owner.id, VOLUME, ADMIN_TOKEN);
      expect(done.status).toBe(200);
      expect(done.body.name).toBe(VOLUME);
      expect(droppedFor(owner)).toEqual([`${owner.id}/${VOLUME}`]);
      expect((await list(owner.handle, ADMIN_TOKEN)).body).toEqual({ volumes: [] });
      // The other account's volume is still there.
      expect((await list(other.handle, other.token)).body.volumes).toHaveLength(1);
    });

    it.each([
      ["no Authorization header", {}, /Send the token as `Authorization: Bearer <token>`/],
      ["a malformed header", { authorization: "Basic dXNlcjpwYXNz" }, /must be `Bearer <token>`/],
      ["an unknown token", { authorization: `Bearer rba_${"A".repeat(43)}` }, /not a valid agent token/],
      ["a wrong admin token", { authorization: `Bearer ${ADMIN_TOKEN}x` }, /not a valid agent token/],
    ])("refuses %s with 401 unauthorized on both routes", async (_, headers, detail) => {
      const base = `/api/v1/accounts/${other.handle}/cache-volumes`;
      for (const [method, path] of [
        ["GET", base],
        ["DELETE", `${base}/${VOLUME}`],
      ] as const) {
        const got = await http(service.url, method, path, { headers });
        expectProblem(got, 401, "unauthorized", detail);
        expect(got.headers.get("www-authenticate")).toBe('Bearer realm="remote-builder"');
      }
      expect(droppedFor(other)).toEqual([]);
    });

    it("refuses a revoked token with 401", async () => {
      const minted = await service.accounts.mintToken(other.id, "short-lived");
      expect((await list(other.handle, minted.token)).status).toBe(200);
      await service.accounts.revokeToken(other.id, minted.record.id);
      expectProblem(await list(other.handle, minted.token), 401, "unauthorized", /mistyped or revoked/);
      expectProblem(
        await reset(other.handle, VOLUME, minted.token),
        401,
        "unauthorized",
        /mistyped or revoked/,
      );
      expect(droppedFor(other)).toEqual([]);
    });
  });

  describe("the path", () => {
    let a: Acct;
    beforeAll(async () => {
      a = await account();
    });

    it.each([
      ["a name starting with '-'", "-buildkit"],
      ["a name starting with '.'", ".buildkit"],
      ["a name of 64 characters", "b".repeat(64)],
      ["a name with a space", "build%20kit"],
      ["a name with a slash", "build%2Fkit"],
      ["a name with a non-ASCII letter", "b%C3%BCildkit"],
      ["a name with a NUL", "build%00kit"],
    ])("refuses %s with 400 invalid-request naming path.name", async (_, name) => {
      const got = await reset(a.handle, name, a.token);
      expectProblem(got, 400, "invalid-request", /^The request's path is not valid: path\.name: /);
      expect(errorPaths(got)).toEqual(["path.name"]);
    });

    it("accepts a name of 63 characters (and finds no volume by it)", async () => {
      const name = `b${"u".repeat(62)}`;
      expectProblem(await reset(a.handle, name, a.token), 404, "not-found", /no cache volume/);
    });

    it.each([
      ["GET", (ref: string) => `/api/v1/accounts/${ref}/cache-volumes`],
      ["DELETE", (ref: string) => `/api/v1/accounts/${ref}/cache-volumes/${VOLUME}`],
    ])(
      "refuses an account that is neither an id nor a handle on %s with 400 naming path.account",
      async (method, path) => {
        for (const ref of ["has_underscore", "a".repeat(64), "d%C3%A9j%C3%A0", "a.b"]) {
          const got = await http(service.url, method, path(ref), { token: a.token });
          expectProblem(got, 400, "invalid-request", /path\.account: an account id or handle/);
          expect(errorPaths(got)).toEqual(["path.account"]);
        }
      },
    );

    it("refuses a segment that is not valid percent-encoding with 400 invalid-request", async () => {
      for (const name of ["%", "%zz", "%ED%A0%80"]) {
        const got = await reset(a.handle, name, a.token);
        expectProblem(got, 400, "invalid-request", /^The URL's path is not valid percent-encoded UTF-8\.$/);
      }
    });

    it("answers a method the routes do not have with 404 not-found", async () => {
      for (const [method, path] of [
        ["POST", `/api/v1/accounts/${a.handle}/cache-volumes`],
        ["PUT", `/api/v1/accounts/${a.handle}/cache-volumes/${VOLUME}`],
        ["DELETE", `/api/v1/accounts/${a.handle}/cache-volumes`],
      ] as const) {
        const got = await http(service.url, method, path, { token: a.token });
        expectProblem(got, 404, "not-found", new RegExp(`^There is no route ${method} `));
      }
    });
  });

  describe("the build's tier and admittedAt", () => {
    it("reports a build admitted at once as a cold builder, admitted when it was created", async () => {
      const a = await account();
      const created = await build(a);
      expect(created).toMatchObject({
        tier: "cold",
        createdAt: iso(clock.now()),
        admittedAt: iso(clock.now()),
      });
      const got = await getBuild(a, created.id);
      expect(got).toMatchObject({ state: "ready", tier: "cold", admittedAt: iso(clock.now()) });
      await complete(a, created.id);
    });

    it("gives a queued build no tier and admittedAt null until it is admitted; admittedAt − createdAt is its wait", async () => {
      const a = await account({ concurrencyLimit: 1 });
      const first = await build(a);
      const queuedAt = clock.now();
      const second = await build(a, { waitSeconds: 600 });
      expect(second).toMatchObject({
        state: "queued",
        tier: null,
        admittedAt: null,
        createdAt: iso(queuedAt),
        queue: { waitingFor: "concurrency", position: 1 },
      });
      clock.advance(47 * SECOND);
      expect(await getBuild(a, second.id)).toMatchObject({ state: "queued", tier: null, admittedAt: null });
      await complete(a, first.id);
      const admitted = await getBuild(a, second.id);
      expect(admitted).toMatchObject({
        state: "ready",
        tier: "cold",
        admittedAt: iso(queuedAt + 47 * SECOND),
      });
      expect(Date.parse(admitted.admittedAt!) - Date.parse(admitted.createdAt)).toBe(47 * SECOND);
      // The list says the same.
      const listed = await http<{ builds: BuildBody[] }>(service.url, "GET", "/api/v1/builds", {
        token: a.token,
      });
      expect(listed.body.builds.find((b) => b.id === second.id)).toMatchObject({
        tier: "cold",
        admittedAt: admitted.admittedAt,
      });
      await complete(a, second.id);
    });

    it("keeps admittedAt null for a queued build that never got a slot", async () => {
      const a = await account({ concurrencyLimit: 1 });
      const first = await build(a);
      const second = await build(a, { waitSeconds: 5 });
      clock.advance(10 * SECOND);
      await service.reconcilePass.run();
      const ended = await getBuild(a, second.id);
      expect(ended).toMatchObject({
        state: "failed",
        endReason: expect.stringMatching(/^wait-timeout/),
        tier: null,
        admittedAt: null,
      });
      await complete(a, first.id);
    });
  });
});

describe("visibleAccount", () => {
  const account = { id: "a1", handle: "acme" } as Account;
  const accounts = (get: (ref: string) => Promise<Account>) => ({ get }) as unknown as AccountService;

  it("hides a missing account and another account's behind the same not-found", async () => {
    const missing = accounts(async (ref) => {
      throw new Problem("not-found", `There is no account "${ref}".`);
    });
    await expect(visibleAccount(missing, "ghost", null)).rejects.toMatchObject({ kind: "not-found" });
    const found = accounts(async () => account);
    const stranger = { account: { ...account, id: "a2" }, tokenId: "t" };
    await expect(visibleAccount(found, "acme", stranger)).rejects.toMatchObject({
      kind: "not-found",
      detail: 'There is no account "acme" visible to this token.',
    });
    await expect(visibleAccount(found, "acme", { account, tokenId: "t" })).resolves.toBe(account);
    await expect(visibleAccount(found, "acme", null)).resolves.toBe(account);
  });

  it("lets an outage through instead of calling it not-found", async () => {
    const down = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const failing = accounts(async () => {
      throw down;
    });
    await expect(visibleAccount(failing, "acme", null)).rejects.toBe(down);
  });
});
