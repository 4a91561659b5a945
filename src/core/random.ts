/**
 * Seeded pseudo-random numbers for tests, benchmarks and synthetic data: mulberry32, a 32-bit
 * state generator that is fast, reproducible across platforms and good enough for sampling
 * (not for cryptography).
 */

/** A generator of floats uniform in [0, 1), fully determined by `seed` (taken as uint32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
