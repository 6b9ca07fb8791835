import type { BuilderTier } from "./build.js";

/**
 * Where a build's builder comes from: the three tiers every driver tries in order. A booted
 * builder cannot be given another volume, so a warm one (fresh, empty volume) only serves a build
 * whose account has no volume yet, or one that asked for a throw-away cache; an account with a
 * volume and no idle builder gets a cold start on its own volume, keeping its cache.
 */
export interface PlacementOptions {
  /** The account's builder for this volume, booted and idle since its last build. */
  idleBuilder: boolean;
  /** A pre-booted builder of the shape, holding a fresh volume. */
  warmBuilder: boolean;
  /** The build wants the account's persistent volume (not a cold, throw-away one). */
  wantsVolume: boolean;
  /** The account's volume already holds data somewhere. */
  volumeExists: boolean;
}

export function choosePlacement(o: PlacementOptions): BuilderTier {
  if (o.wantsVolume && o.idleBuilder) return "idle";
  if (o.warmBuilder && (!o.wantsVolume || !o.volumeExists)) return "warm";
  return "cold";
}

/** How many warm builders to start per shape to bring the pool back to its target. */
export function warmDeficit(
  target: Record<string, number>,
  current: Record<string, number>,
): Array<{ shape: string; missing: number }> {
  return Object.entries(target)
    .map(([shape, want]) => ({ shape, missing: want - (current[shape] ?? 0) }))
    .filter((d) => d.missing > 0);
}

/** BuildKit's GC keeps the cache under this share of the volume, leaving room for a build's own writes. */
export const KEEP_STORAGE_SHARE = 0.8;

/** The bytes BuildKit's GC keeps the cache under, on a volume of `sizeGiB`. */
export function keepStorageBytes(sizeGiB: number): number {
  return Math.floor(sizeGiB * 1024 ** 3 * KEEP_STORAGE_SHARE);
}
