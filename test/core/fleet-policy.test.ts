import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  chooseEvictions,
  type EvictionCandidate,
  idleExpired,
  nodeLost,
  WarmRetries,
} from "../../service/core/fleet-policy.js";

const DAY = 86_400_000;
const NOW = 100 * DAY;

const volume = (over: Partial<EvictionCandidate>): EvictionCandidate => ({
  accountId: "a",
  name: "buildkit",
  node: "n1",
  sizeGiB: 50,
  busy: false,
  lastUsedAt: NOW,
  ...over,
});

describe("node loss", () => {
  it("a Ready node is never lost; a gone or NotReady one only after the grace period", () => {
    expect(nodeLost({ exists: true, ready: true, downSince: 0 }, NOW, 1000)).toBe(false);
    expect(nodeLost({ exists: true, ready: false, downSince: NOW - 999 }, NOW, 1000)).toBe(false);
    expect(nodeLost({ exists: true, ready: false, downSince: NOW - 1000 }, NOW, 1000)).toBe(true);
    expect(nodeLost({ exists: false, ready: false, downSince: NOW - 5000 }, NOW, 1000)).toBe(true);
    expect(nodeLost({ exists: false, ready: false, downSince: null }, NOW, 1000)).toBe(false);
  });
});

describe("idle builders", () => {
  it("go once the idle TTL has passed since their last build", () => {
    expect(idleExpired(NOW - 599_999, NOW, 600_000)).toBe(false);
    expect(idleExpired(NOW - 600_000, NOW, 600_000)).toBe(true);
  });
});

describe("eviction", () => {
  it("evicts volumes unused for the retention period, saying so", () => {
    const evicted = chooseEvictions(
      [
        volume({ accountId: "old", lastUsedAt: NOW - 31 * DAY }),
        volume({ accountId: "new", lastUsedAt: NOW - DAY }),
      ],
      { retentionMs: 30 * DAY, nodeBudgetGiB: 1000, now: NOW },
    );
    expect(evicted).toEqual([{ accountId: "old", name: "buildkit", reason: "evicted: unused for 30 days" }]);
  });

  it("on a node over budget, evicts the least recently used first, and only until it fits", () => {
    const evicted = chooseEvictions(
      [
        volume({ accountId: "a", lastUsedAt: NOW - 3 * DAY }),
        volume({ accountId: "b", lastUsedAt: NOW - 5 * DAY }),
        volume({ accountId: "c", lastUsedAt: NOW - 1 * DAY }),
        volume({ accountId: "d", node: "n2", lastUsedAt: NOW - 9 * DAY }),
      ],
      { retentionMs: 30 * DAY, nodeBudgetGiB: 100, now: NOW },
    );
    expect(evicted.map((e) => e.accountId)).toEqual(["b"]);
    expect(evicted[0]!.reason).toMatch(/node n1 ran out of cache space/);
  });

  it("never evicts a volume a build holds, whatever its age or its node's use", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            accountId: fc.uuid(),
            name: fc.constantFrom("buildkit", "deps"),
            node: fc.option(fc.constantFrom("n1", "n2", "n3"), { nil: null }),
            sizeGiB: fc.integer({ min: 1, max: 200 }),
            busy: fc.boolean(),
            lastUsedAt: fc.integer({ min: 0, max: NOW }),
          }),
          { maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 1000 }),
        (volumes, budget) => {
          const o = { retentionMs: 30 * DAY, nodeBudgetGiB: budget, now: NOW };
          const evicted = chooseEvictions(volumes, o);
          const gone = new Set(evicted.map((e) => `${e.accountId}/${e.name}`));
          const key = (v: EvictionCandidate) => `${v.accountId}/${v.name}`;
          for (const v of volumes) {
            if (v.busy) expect(gone.has(key(v))).toBe(false);
            if (!v.busy && NOW - v.lastUsedAt >= o.retentionMs) expect(gone.has(key(v))).toBe(true);
          }
          // Each node ends within budget, unless what is left on it is held by builds.
          for (const node of ["n1", "n2", "n3"]) {
            const left = volumes.filter((v) => v.node === node && !gone.has(key(v)));
            const used = left.reduce((sum, v) => sum + v.sizeGiB, 0);
            if (used > budget) expect(left.filter((v) => !v.busy)).toEqual([]);
          }
        },
      ),
    );
  });
});

describe("warm builders that keep failing to start", () => {
  it("are retried after 1, 2, 4 … s, up to a minute, per shape, until one comes up", () => {
    const retries = new WarmRetries();
    expect(retries.mayStart("small", 0)).toBe(true);
    const delays = Array.from({ length: 8 }, () => retries.failed("small", 0).delayMs);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(retries.mayStart("small", 59_999)).toBe(false);
    expect(retries.mayStart("small", 60_000)).toBe(true);
    expect(retries.mayStart("large", 0)).toBe(true);
    retries.succeeded("small");
    expect(retries.mayStart("small", 0)).toBe(true);
    expect(retries.failed("small", 0)).toEqual({ count: 1, delayMs: 1_000 });
  });
});
