/**
 * A seeded PRNG and the few distributions the fleet model draws from. Math.random cannot be
 * seeded, and a run must be reproducible from the seed it prints.
 */
export type Random = () => number;

/** FLEET_SEED as given: a number is used as is (mod 2^32), anything else is hashed. */
export function parseSeed(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback >>> 0;
  return /^\d+$/.test(text.trim()) ? Number(BigInt(text.trim()) % 2n ** 32n) : hash(text);
}

/** FNV-1a, 32-bit: cheap and stable, to turn a seed and a label into an independent stream. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * sfc32 in [0, 1), one stream per (seed, label): each part of the model draws from its own, so
 * adding a draw to one part does not shift every number the others see.
 */
export function stream(seed: number, label: string): Random {
  let a = hash(`${seed}:${label}:a`);
  let b = hash(`${seed}:${label}:b`);
  let c = hash(`${seed}:${label}:c`);
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs of sfc32 still carry the seed's structure.
  for (let i = 0; i < 12; i++) next();
  return next;
}

export function exponential(random: Random, rate: number): number {
  return -Math.log(1 - random()) / rate;
}

/** Box–Muller; the second value is dropped so that each call costs the same two draws. */
export function normal(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface LogNormal {
  median: number;
  sigma: number;
}

export function logNormal(random: Random, d: LogNormal): number {
  return d.median * Math.exp(d.sigma * normal(random));
}

/** Picks a key with probability proportional to its weight. */
export function weighted<K extends string>(random: Random, weights: Record<K, number>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let u = random() * total;
  for (const [key, w] of entries) {
    u -= w;
    if (u < 0) return key;
  }
  return entries[entries.length - 1]![0];
}
