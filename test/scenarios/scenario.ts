import { expect } from "@jest/globals";
import type { z } from "zod";
import { MemoryDriver, memoryDriver } from "../doubles/memory-driver.js";
import type { Builder, Clock } from "../../service/core/ports.js";
import type { Build } from "../../service/http/schemas.js";
import { http, type HttpResult, startTestService, type TestService } from "../harness/context.js";
import { ManualClock } from "../harness/clock.js";

/**
 * Shared set-up for the lifecycle scenarios: the real service (HTTP, PostgreSQL, Redis) on a clock
 * the test moves by hand, with the background reconcile loop parked so that each pass is one the
 * test asked for.
 */

export type BuildBody = z.infer<typeof Build>;

export interface ProblemBody {
  type: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/** A clock that moves only when told to. Redis scripts and PostgreSQL rows take `now` from it. */
export /** One hour: the background loop never runs during a test, so passes happen only on `reconcile()`. */
const PARKED_RECONCILER = { RB_RECONCILE_INTERVAL_MS: "3600000" };

export interface CreateBody {
  shape?: string;
  cache?: "wait" | "cold";
  waitSeconds?: number;
  labels?: Record<string, string>;
}

export class Scenario {
  private constructor(
    readonly service: TestService,
    readonly driver: MemoryDriver,
    readonly clock: ManualClock,
  ) {}

  static async start(
    env: Record<string, string> = {},
    options: { driver?: (clock: ManualClock) => MemoryDriver; realClock?: boolean; bootMs?: number } = {},
  ): Promise<Scenario> {
    // Whole seconds, so that timestamps survive the trip through PostgreSQL and JSON exactly.
    const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
    const clockForService: Clock = options.realClock ? { now: () => Date.now() } : clock;
    // Without a driver of its own, the service gets (and owns) a memory driver that boots in bootMs.
    const driver = options.driver?.(clock) ?? memoryDriver({ bootMs: options.bootMs ?? 0 });
    const service = await startTestService(
      { ...PARKED_RECONCILER, ...env },
      { clock: clockForService, driver },
    );
    if (!(service.driver instanceof MemoryDriver)) throw new Error("the scenarios need the memory driver");
    return new Scenario(service, service.driver, clock);
  }

  async stop(): Promise<void> {
    await this.service.stop();
  }

  /** A fresh account (so scenarios never share slots or volumes), with its agent token. */
  account(options: Parameters<TestService["account"]>[0] = {}) {
    return this.service.account(options);
  }

  /** Admits a build over HTTP and waits for the boot it started (the memory driver boots at once). */
  async create(token: string, body: CreateBody = {}): Promise<HttpResult<BuildBody>> {
    const created = await http<BuildBody>(this.service.url, "POST", "/api/v1/builds", { token, body });
    await this.settle();
    return created;
  }

  /** Admits a build that must be accepted, and returns it as it stands once its boot has run. */
  async started(token: string, body: CreateBody = {}): Promise<BuildBody> {
    const created = await this.create(token, body);
    expect(created.status).toBe(201);
    return this.build(token, created.body.id);
  }

  async get(token: string, id: string): Promise<HttpResult<BuildBody>> {
    return http<BuildBody>(this.service.url, "GET", `/api/v1/builds/${id}`, { token });
  }

  async build(token: string, id: string): Promise<BuildBody> {
    const got = await this.get(token, id);
    expect(got.status).toBe(200);
    return got.body;
  }

  async complete(
    token: string,
    id: string,
    result: "success" | "failure" | "cancelled" = "success",
  ): Promise<HttpResult<BuildBody>> {
    const done = await http<BuildBody>(this.service.url, "POST", `/api/v1/builds/${id}/complete`, {
      token,
      body: { result },
    });
    await this.settle();
    return done;
  }

  async heartbeat(token: string, id: string): Promise<HttpResult<BuildBody>> {
    const beat = await http<BuildBody>(this.service.url, "POST", `/api/v1/builds/${id}/heartbeat`, {
      token,
    });
    await this.settle();
    return beat;
  }

  /** One reconcile pass at the current time, then the cleanups and boots it started. */
  async reconcile(): Promise<void> {
    await this.service.reconcilePass.run();
    await this.settle();
  }

  /** Moves the clock on by `ms` and runs one reconcile pass. */
  async after(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.reconcile();
  }

  /** Waits for background work (boots, claim releases, builder terminations). */
  async settle(): Promise<void> {
    await this.service.background.drain();
  }

  /** The live builder of a build, as the driver lists it. */
  async builderOf(buildId: string): Promise<Builder | undefined> {
    return (await this.driver.list()).find((b) => b.buildId === buildId);
  }

  async builderIdOf(buildId: string): Promise<string> {
    const builder = await this.builderOf(buildId);
    if (!builder) throw new Error(`build ${buildId} has no live builder`);
    return builder.builderId;
  }

  /**
   * Asserts what every ended build must show: its terminal state, why and when it ended, no queue,
   * no builder left running, and that no second terminal event is accepted (a `complete` after
   * any other end is 409 illegal-transition; so is a heartbeat).
   */
  async expectEnded(
    token: string,
    id: string,
    state: "completed" | "failed" | "expired" | "reaped",
    reason: string | RegExp,
    endedAt: number = this.clock.now(),
  ): Promise<BuildBody> {
    const build = await this.build(token, id);
    expect(build.state).toBe(state);
    if (typeof reason === "string") expect(build.endReason).toBe(reason);
    else expect(build.endReason).toMatch(reason);
    expect(build.endedAt).toBe(new Date(endedAt).toISOString());
    expect(build.queue).toBeNull();
    expect(await this.builderOf(id)).toBeUndefined();

    const beat = await this.heartbeat(token, id);
    expect(beat.status).toBe(409);
    expect((beat.body as unknown as ProblemBody).type).toMatch(/\/illegal-transition$/);
    if (state !== "completed") {
      const again = await this.complete(token, id);
      expect(again.status).toBe(409);
      const problem = again.body as unknown as ProblemBody;
      expect(problem.type).toMatch(/\/illegal-transition$/);
      expect(problem.detail).toContain(state);
    }
    const after = await this.build(token, id);
    expect(after).toMatchObject({ state, endReason: build.endReason, endedAt: build.endedAt });
    return build;
  }
}

/** What a refusal looks like on the wire. */
export function problemOf(result: HttpResult<unknown>): ProblemBody {
  return result.body as ProblemBody;
}
