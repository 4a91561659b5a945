import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.js';
import { PointGrid } from './point-grid.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

function brute(p: ArrayLike<number>, idx: number[], x: number, y: number, z: number): [number, number] {
  let best = Infinity, bi = -1;
  for (const i of idx) {
    const d = (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2;
    if (d < best || (d === best && i < bi)) { best = d; bi = i; }
  }
  return [bi, best];
}

describe('PointGrid', () => {
  it('nearest and within equal brute force, for any cell size, queries inside and outside the box', () => {
    for (const [seed, cell] of [[1, undefined], [2, 50], [3, 400], [4, 5000], [5, 0.3]] as const) {
      const r = rng(seed);
      const p = Float64Array.from({ length: 3 * 400 }, () => r() * 2000);
      const g = new PointGrid(p, { cell });
      const all = Array.from({ length: 400 }, (_, i) => i);
      for (let q = 0; q < 200; q++) {
        const [x, y, z] = [r() * 3000 - 500, r() * 3000 - 500, r() * 3000 - 500];
        const [bi, bd] = brute(p, all, x, y, z);
        expect(g.nearest(x, y, z)).toBe(bi);
        expect(g.lastDistance2).toBe(bd);
        const rad = r() * 400;
        const inR = all.filter((i) => (p[3 * i] - x) ** 2 + (p[3 * i + 1] - y) ** 2 + (p[3 * i + 2] - z) ** 2 <= rad * rad);
        expect(g.within(x, y, z, rad)).toEqual(inR);
      }
    }
  });

  it('indexes only a subset, breaks ties by the lowest index', () => {
    const p = [0, 0, 0, 10, 0, 0, 10, 0, 0, -10, 0, 0, 5, 5, 5];
    const g = new PointGrid(p, { subset: [3, 2, 1] });
    expect(g.n).toBe(3);
    expect(g.nearest(0, 0, 0)).toBe(1); // 1, 2 and 3 all at distance 10: lowest index
    expect(g.nearest(9, 0, 0)).toBe(1);
    expect(g.within(0, 0, 0, 10)).toEqual([1, 2, 3]);
    expect(g.within(0, 0, 0, 9.9)).toEqual([]);
  });

  it('stopBelow ends the search once nothing nearer than it can remain', () => {
    const r = rng(9);
    const p = Float64Array.from({ length: 3 * 1000 }, () => r() * 1000);
    const g = new PointGrid(p);
    const all = Array.from({ length: 1000 }, (_, i) => i);
    for (let q = 0; q < 100; q++) {
      const [x, y, z] = [r() * 1000, r() * 1000, r() * 1000];
      const [bi, bd] = brute(p, all, x, y, z);
      const stop = r() * 2 * bd;
      const i = g.nearest(x, y, z, stop);
      // when something nearer than `stop` exists it is found exactly
      if (bd < stop) expect(i).toBe(bi);
      else expect(g.lastDistance2).toBeGreaterThanOrEqual(bd);
    }
  });

  it('keeps memory to the points when the box is huge for the cell, and handles the empty grid', () => {
    const g = new PointGrid([0, 0, 0, 1e9, 1e9, 1e9], { cell: 1 });
    expect(g.h).toBeGreaterThan(1e6);
    expect(g.nearest(1e9, 1e9, 1e9 - 3)).toBe(1);
    expect(g.within(0, 0, 0, 1)).toEqual([0]);
    const e = new PointGrid([]);
    expect(e.nearest(0, 0, 0)).toBe(-1);
    expect(e.within(0, 0, 0, 10)).toEqual([]);
    expect(() => new PointGrid([0, 0, 0], { cell: 0 })).toThrow(/cell size/);
    expect(() => new PointGrid([0, NaN, 0])).toThrow(/non-finite/);
  });

  it('clustered points (skeleton pieces) and a subset: the brute-force nearest inside, outside and on clusters', () => {
    const rnd = mulberry32(3);
    const N = 2000;
    const V = new Float64Array(3 * (N + 300));
    // clustered points (a skeleton is along lines): three clusters and a line
    for (let i = 0; i < N; i++) {
      const c = i % 4;
      V[3 * i] = c === 3 ? i : 500 * c + rnd() * 40;
      V[3 * i + 1] = c === 3 ? 10 : 300 * c + rnd() * 40;
      V[3 * i + 2] = c === 3 ? 5 : rnd() * 400;
    }
    for (let j = N; j < N + 300; j++) for (let a = 0; a < 3; a++) V[3 * j + a] = -800 + rnd() * 3600;
    const pts = Array.from({ length: N }, (_, i) => i);
    const g = new PointGrid(V, { subset: pts });
    const near = (x: number, y: number, z: number, stop?: number): [number, number] => [g.nearest(x, y, z, stop), g.lastDistance2];
    for (let j = N; j < N + 300; j++) {
      let best = Infinity, bi = -1;
      for (const i of pts) {
        const d = (V[3 * i] - V[3 * j]) ** 2 + (V[3 * i + 1] - V[3 * j + 1]) ** 2 + (V[3 * i + 2] - V[3 * j + 2]) ** 2;
        if (d < best) { best = d; bi = i; }
      }
      const [i, d] = near(V[3 * j], V[3 * j + 1], V[3 * j + 2]);
      expect(d).toBe(best);
      expect(i).toBe(bi);
      // with a bound to beat: the nearest when it beats it, else nothing nearer than the bound
      const [, d2] = near(V[3 * j], V[3 * j + 1], V[3 * j + 2], best * 1.5);
      expect(d2).toBe(best);
      const [, d3] = near(V[3 * j], V[3 * j + 1], V[3 * j + 2], best * 0.5);
      expect(d3).toBeGreaterThanOrEqual(best);
    }
  });
});
