/**
 * A 32-bit hash of a pair of 32-bit words (e.g. the two halves of a uint64 id, or two labels), for
 * the open-addressing hash tables on typed arrays used in hot loops (no Map per voxel). Mixes like
 * murmur3's finaliser; callers mask it to their power-of-two table size.
 */
export function hashPair(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 13;
  return h >>> 0;
}
