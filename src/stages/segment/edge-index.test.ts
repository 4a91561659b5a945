import { describe, expect, it } from 'vitest';
import { mulberry32 as rng } from '../../core/random.js';
import { EdgeHeap } from './edge-heap.js';
import { EdgeIndex } from './edge-index.js';

describe('EdgeIndex (edges by their current endpoints)', () => {
  it('agrees with a Map through random relabellings and removals (long probe runs, wrap-around)', () => {
    const r = rng(3);
    const n = 3000;
    const u = new Uint32Array(n);
    const v = new Uint32Array(n);
    // few nodes: many collisions in a small table
    const index = new EdgeIndex(u, v, n);
    const ref = new Map<string, number>();
    const key = (a: number, b: number) => (a < b ? `${a},${b}` : `${b},${a}`);
    const inTable = new Uint8Array(n);
    for (let step = 0; step < 40000; step++) {
      const e = Math.floor(r() * n);
      if (inTable[e]) {
        expect(index.remove(e)).toBe(true);
        ref.delete(key(u[e], v[e]));
        inTable[e] = 0;
        expect(index.remove(e)).toBe(false);
      } else {
        const a = 1 + Math.floor(r() * 200);
        const b = 1 + Math.floor(r() * 200);
        if (a === b || ref.has(key(a, b))) continue;
        u[e] = a;
        v[e] = b;
        index.insert(e);
        ref.set(key(a, b), e);
        inTable[e] = 1;
      }
      if (step % 97 === 0) {
        for (let q = 0; q < 50; q++) {
          const a = 1 + Math.floor(r() * 200);
          const b = 1 + Math.floor(r() * 200);
          expect(index.find(a, b)).toBe(ref.get(key(a, b)) ?? -1);
        }
      }
    }
    for (const [k, e] of ref) {
      const [a, b] = k.split(',').map(Number);
      expect(index.find(b, a)).toBe(e);
    }
  });
});

describe('EdgeHeap', () => {
  it('pops by (score, edge id) whatever the push order, skipping what compaction drops', () => {
    const r = rng(9);
    const keys = Float64Array.from({ length: 500 }, () => Math.floor(r() * 20) / 20);
    const h = EdgeHeap.build(keys, 500);
    for (let e = 0; e < 500; e += 3) h.push(keys[e], e, 1);
    // the entries of version 0 for edges e % 3 == 0 are stale
    h.compact((e, ver) => (e % 3 === 0 ? ver === 1 : ver === 0));
    expect(h.size).toBe(500);
    const order: number[] = [];
    while (h.pop()) order.push(h.topId);
    const want = Array.from({ length: 500 }, (_, e) => e).sort((a, b) => keys[a] - keys[b] || a - b);
    expect(order).toEqual(want);
  });
});
