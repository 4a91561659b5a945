import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { IdIndex } from './idindex.js';

describe('IdIndex', () => {
  it('finds the dense index of every id (large, high-bit and colliding ids), -1 for others', () => {
    const rnd = mulberry32(11);
    const n = 20000;
    const ids = new BigUint64Array(n + 1);
    const seen = new Set<bigint>([0n]);
    for (let l = 1; l <= n; l++) {
      let id: bigint;
      do {
        // small ids, ids above 2^32, ids near 2^64, ids that differ only in the high half
        const k = l % 4;
        id = k === 0 ? BigInt(l) : k === 1 ? (BigInt(Math.floor(rnd() * 2 ** 20)) << 32n) | 5n : k === 2 ? (1n << 64n) - 1n - BigInt(Math.floor(rnd() * 1e9)) : (BigInt(l) << 32n) | BigInt(l);
      } while (seen.has(id));
      seen.add(id);
      ids[l] = id;
    }
    const ix = new IdIndex(ids);
    const back = ix.all(ids);
    for (let l = 1; l <= n; l++) expect(back[l]).toBe(l);
    expect(back[0]).toBe(-1); // id 0 is not a supervoxel
    const other = new BigUint64Array([7n << 40n, 123456789012345n, (1n << 64n) - 2n ** 40n]).filter((x) => !seen.has(x));
    expect(Array.from(ix.all(other))).toEqual(Array.from(other, () => -1));
  });
});
