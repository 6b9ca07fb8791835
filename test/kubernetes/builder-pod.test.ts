import { describe, expect, it } from "@jest/globals";
import {
  inPool,
  isIdleBuilderOf,
  isPrewarmed,
  viewBuilderPod,
} from "../../service/adapters/drivers/kubernetes/builder-pod.js";
import { isAccountClaimOf, viewCacheClaim } from "../../service/adapters/drivers/kubernetes/cache-claim.js";
import { ANNOTATIONS, type BuilderRole, LABELS } from "../../service/adapters/drivers/kubernetes/labels.js";
import {
  builderPod,
  cacheVolumeClaim,
  type FleetSettings,
} from "../../service/adapters/drivers/kubernetes/objects.js";

/** The views read back what objects.ts writes: the driver's state round-trips through the objects. */

const SETTINGS: FleetSettings = {
  namespace: "builders",
  runtimeClassName: "kata-fc",
  buildkitImage: `moby/buildkit@sha256:${"a".repeat(64)}`,
  formatImage: `debian@sha256:${"b".repeat(64)}`,
  storageClassName: "local",
  volumeMode: "Block",
  nodeSelector: {},
  tolerations: [],
};

const pod = (role: BuilderRole, o: { accountId?: string; volume?: string | null } = {}) =>
  builderPod(SETTINGS, {
    builderId: "rb-0123456789ab",
    shapeName: "small",
    shape: { cpu: 2, memoryGiB: 4 },
    role,
    accountId: o.accountId ?? "acct-1",
    buildId: role === "serving" ? "build-1" : null,
    claim: o.volume === null ? null : { name: "cache-1", volume: o.volume ?? "buildkit" },
    volumeSizeGiB: 20,
    now: 1_700_000_000_000,
  });

describe("a builder pod's view", () => {
  it("reads what the driver wrote on the pod: role, shape, account, volume, build, claim, times", () => {
    expect(viewBuilderPod(pod("serving"))).toMatchObject({
      name: "rb-0123456789ab",
      role: "serving",
      shape: "small",
      accountId: "acct-1",
      volume: "buildkit",
      buildId: "build-1",
      assignedAt: 1_700_000_000_000,
      idleSince: undefined,
      cacheClaim: "cache-1",
      deleting: false,
    });
  });

  it("reads the idle time a release writes, and a throw-away cache as no claim", () => {
    const p = pod("idle", { volume: null });
    p.metadata!.annotations![ANNOTATIONS.idleSince] = "1700000000500";
    p.metadata!.deletionTimestamp = new Date();
    expect(viewBuilderPod(p)).toMatchObject({
      idleSince: 1_700_000_000_500,
      cacheClaim: undefined,
      deleting: true,
    });
  });

  it("is an idle builder of an account and volume only when all three match", () => {
    const idle = viewBuilderPod(pod("idle"));
    expect(isIdleBuilderOf(idle, "acct-1", "buildkit")).toBe(true);
    expect(isIdleBuilderOf(idle, "acct-2", "buildkit")).toBe(false);
    expect(isIdleBuilderOf(idle, "acct-1", "other")).toBe(false);
    expect(isIdleBuilderOf(viewBuilderPod(pod("serving")), "acct-1", "buildkit")).toBe(false);
  });

  it("reads a pre-warmed builder's start and expiry; a taken or ordinary idle one is not pre-warmed", () => {
    const p = builderPod(SETTINGS, {
      builderId: "rb-0123456789ab",
      shapeName: "small",
      shape: { cpu: 2, memoryGiB: 4 },
      role: "idle",
      accountId: "acct-1",
      buildId: null,
      claim: { name: "cache-1", volume: "buildkit" },
      volumeSizeGiB: 20,
      now: 1_700_000_000_000,
      prewarmExpiresAt: 1_700_000_600_000,
    });
    const view = viewBuilderPod(p);
    expect(view).toMatchObject({
      role: "idle",
      idleSince: 1_700_000_000_000,
      prewarmedAt: 1_700_000_000_000,
      prewarmExpiresAt: 1_700_000_600_000,
    });
    expect(isPrewarmed(view)).toBe(true);
    expect(isIdleBuilderOf(view, "acct-1", "buildkit")).toBe(true);
    expect(isPrewarmed(viewBuilderPod(pod("idle")))).toBe(false);
    // What a build's take leaves: serving, the annotations cleared.
    p.metadata!.labels![LABELS.role] = "serving";
    expect(isPrewarmed(viewBuilderPod(p))).toBe(false);
  });

  it("counts warm and idle builders as the pool, serving ones not", () => {
    expect((["warm", "idle", "serving"] as const).map((r) => inPool(viewBuilderPod(pod(r))))).toEqual([
      true,
      true,
      false,
    ]);
  });
});

describe("a cache claim's view", () => {
  const claim = (role: "account" | "warm") =>
    cacheVolumeClaim(SETTINGS, {
      name: "cache-1",
      role,
      accountId: role === "account" ? "acct-1" : null,
      volume: role === "account" ? "buildkit" : null,
      shapeName: role === "warm" ? "small" : null,
      sizeGiB: 20,
    });

  it("reads whose volume the claim holds, and the volume it is bound to", () => {
    const bound = claim("account");
    bound.spec!.volumeName = "pv-1";
    const v = viewCacheClaim(bound);
    expect([v.name, v.namespace, v.role, v.accountId, v.volume, v.boundTo, v.deleting]).toEqual([
      "cache-1",
      "builders",
      "account",
      "acct-1",
      "buildkit",
      "pv-1",
      false,
    ]);
    expect(viewCacheClaim(claim("warm"))).toMatchObject({
      role: "warm",
      accountId: undefined,
      boundTo: undefined,
    });
  });

  it("is the account's claim of a volume unless it is being deleted or is a warm one", () => {
    const c = claim("account");
    expect(isAccountClaimOf(viewCacheClaim(c), "acct-1", "buildkit")).toBe(true);
    expect(isAccountClaimOf(viewCacheClaim(c), "acct-1", "other")).toBe(false);
    expect(isAccountClaimOf(viewCacheClaim(claim("warm")), "acct-1", "buildkit")).toBe(false);
    c.metadata!.deletionTimestamp = new Date();
    expect(isAccountClaimOf(viewCacheClaim(c), "acct-1", "buildkit")).toBe(false);
  });
});
