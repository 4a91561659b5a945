import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/random.js';
import { nearestIn } from './proofread-derive.js';

describe('nearest vertex on a grid (skeleton pieces joined)', () => {
  it('finds the brute-force nearest for queries inside, outside and on clusters', () => {
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
    const near = nearestIn(V, pts);
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
