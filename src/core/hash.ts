/** MurmurHash3's 32-bit finaliser (fmix32): every input bit moves every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

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

/**
 * Deduplicate triples of 32-bit words (quantized vertex positions, or float positions as their
 * bits): an open-addressing hash on typed arrays, no per-vertex objects. `words` holds 3 words per
 * item; returns `remap` (item -> unique index, numbered in order of first occurrence), the unique
 * triples (same array type, 3 per unique item) and their count.
 */
export function uniqueTriples<T extends Int32Array | Uint32Array>(words: T): { remap: Uint32Array; unique: T; count: number } {
  const n = Math.floor(words.length / 3);
  let cap = 16;
  while (cap < n * 2) cap *= 2;
  const table = new Int32Array(cap).fill(-1);
  const remap = new Uint32Array(n);
  const unique = new (words.constructor as { new (n: number): T })(n * 3);
  let m = 0;
  for (let v = 0; v < n; v++) {
    const a = words[3 * v], b = words[3 * v + 1], c = words[3 * v + 2];
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d)) >>> 0;
    h = (h ^ (h >>> 15)) & (cap - 1);
    for (;;) {
      const s = table[h];
      if (s < 0) {
        table[h] = m;
        unique[3 * m] = a;
        unique[3 * m + 1] = b;
        unique[3 * m + 2] = c;
        remap[v] = m++;
        break;
      }
      if (unique[3 * s] === a && unique[3 * s + 1] === b && unique[3 * s + 2] === c) {
        remap[v] = s;
        break;
      }
      h = (h + 1) & (cap - 1);
    }
  }
  return { remap, unique, count: m };
}

/** Triangles (3 indices each) through `remap`, dropping those that become degenerate (two equal corners). */
export function remapTriangles(indices: ArrayLike<number>, remap: Uint32Array): Uint32Array {
  const out = new Uint32Array(indices.length);
  let k = 0;
  for (let t = 0; t + 2 < indices.length; t += 3) {
    const a = remap[indices[t]], b = remap[indices[t + 1]], c = remap[indices[t + 2]];
    if (a === b || b === c || a === c) continue;
    out[k++] = a;
    out[k++] = b;
    out[k++] = c;
  }
  return out.slice(0, k);
}
