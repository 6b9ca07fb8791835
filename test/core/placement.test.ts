import { describe, expect, it } from "@jest/globals";
import { choosePlacement, keepStorageBytes, warmDeficit } from "../../service/core/placement.js";

describe("placement: which tier serves a build", () => {
  // Every combination: [idle builder, warm builder, wants its volume, volume exists] → tier.
  it.each([
    [true, true, true, true, "idle"],
    [true, false, true, true, "idle"],
    [true, true, true, false, "idle"],
    [false, true, true, false, "warm"],
    [false, true, true, true, "cold"],
    [false, false, true, false, "cold"],
    [false, false, true, true, "cold"],
    [true, true, false, true, "warm"],
    [true, false, false, true, "cold"],
    [false, true, false, false, "warm"],
    [false, false, false, false, "cold"],
  ] as const)(
    "idle %s, warm %s, wants its volume %s, volume exists %s → %s",
    (idleBuilder, warmBuilder, wantsVolume, volumeExists, tier) => {
      expect(choosePlacement({ idleBuilder, warmBuilder, wantsVolume, volumeExists })).toBe(tier);
    },
  );
});

describe("warm pool refill", () => {
  it("starts what each shape lacks, and nothing for a shape at or over its target", () => {
    expect(warmDeficit({ small: 2, large: 1, xlarge: 0 }, { small: 1, large: 3 })).toEqual([
      { shape: "small", missing: 1 },
    ]);
    expect(warmDeficit({ small: 2 }, {})).toEqual([{ shape: "small", missing: 2 }]);
    expect(warmDeficit({}, { small: 5 })).toEqual([]);
  });
});

describe("buildkitd's keep-storage", () => {
  it("keeps the cache under 80% of the volume, in bytes (buildkitd.toml's unit for gckeepstorage)", () => {
    expect(keepStorageBytes(20)).toBe(Math.floor(20 * 1024 ** 3 * 0.8));
    expect(keepStorageBytes(20)).toBe(17_179_869_184);
    expect(keepStorageBytes(1)).toBe(858_993_459);
  });
});
