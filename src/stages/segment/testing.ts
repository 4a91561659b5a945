// Synthetic boundary maps shared by the segment tests (no test-framework imports).
import type { Vec3 } from '../../core/box.js';

/** A seeded linear congruential generator in [0, 1) (the tests' numbers depend on this sequence). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A boundary map of `n` Voronoi cells (centres drawn first), x fastest: interiors 0-0.3, and on
 * the voxels whose +x/+y/+z neighbour lies in another cell the value `membrane(r)` (which may draw
 * from the same generator for noisy membranes).
 */
export function voronoiBoundaryMap(shape: Vec3, n: number, seed: number, membrane: (r: () => number) => number): Float32Array {
  const r = lcg(seed);
  const [sx, sy, sz] = shape;
  const cs = Array.from({ length: n }, () => [r() * sx, r() * sy, r() * sz]);
  const N = sx * sy * sz;
  const lab = new Uint32Array(N);
  const best = new Float64Array(N).fill(Infinity);
  cs.forEach((c, k) => {
    for (let i = 0; i < N; i++) {
      const d = (c[0] - (i % sx)) ** 2 + (c[1] - (Math.floor(i / sx) % sy)) ** 2 + (c[2] - Math.floor(i / (sx * sy))) ** 2;
      if (d < best[i]) {
        best[i] = d;
        lab[i] = k + 1;
      }
    }
  });
  const b = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    const edge = (x + 1 < sx && lab[i + 1] !== lab[i]) || (y + 1 < sy && lab[i + sx] !== lab[i]) || (z + 1 < sz && lab[i + sx * sy] !== lab[i]);
    b[i] = edge ? membrane(r) : 0.3 * r();
  }
  return b;
}
