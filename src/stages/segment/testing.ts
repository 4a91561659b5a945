// Synthetic boundary maps shared by the segment tests (no test-framework imports).
import type { Vec3 } from '../../core/box.js';

/** A seeded linear congruential generator in [0, 1) (the tests' numbers depend on this sequence). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * `n` Voronoi cells (ids 1..n, centres drawn from `r`) over `shape`, x fastest, and their faces: the
 * voxels whose +x/+y/+z neighbour lies in another cell.
 */
export function voronoiCells(shape: Vec3, n: number, r: () => number): { labels: Uint32Array; face: Uint8Array } {
  const [sx, sy, sz] = shape;
  const cs = Array.from({ length: n }, () => [r() * sx, r() * sy, r() * sz]);
  const N = sx * sy * sz;
  const labels = new Uint32Array(N);
  const best = new Float64Array(N).fill(Infinity);
  cs.forEach((c, k) => {
    for (let i = 0; i < N; i++) {
      const d = (c[0] - (i % sx)) ** 2 + (c[1] - (Math.floor(i / sx) % sy)) ** 2 + (c[2] - Math.floor(i / (sx * sy))) ** 2;
      if (d < best[i]) {
        best[i] = d;
        labels[i] = k + 1;
      }
    }
  });
  const face = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    face[i] = +((x + 1 < sx && labels[i + 1] !== labels[i]) || (y + 1 < sy && labels[i + sx] !== labels[i]) || (z + 1 < sz && labels[i + sx * sy] !== labels[i]));
  }
  return { labels, face };
}

/**
 * A boundary map of `n` Voronoi cells (centres drawn first), x fastest: interiors 0-0.3, and on
 * the voxels whose +x/+y/+z neighbour lies in another cell the value `membrane(r)` (which may draw
 * from the same generator for noisy membranes).
 */
export function voronoiBoundaryMap(shape: Vec3, n: number, seed: number, membrane: (r: () => number) => number): Float32Array {
  const r = lcg(seed);
  const { face } = voronoiCells(shape, n, r);
  const b = new Float32Array(face.length);
  for (let i = 0; i < face.length; i++) b[i] = face[i] ? membrane(r) : 0.3 * r();
  return b;
}

/**
 * An over-segmented labelled volume: `cells` Voronoi cells (the ground truth, ids 1..cells) cut into
 * supervoxels by a finer Voronoi of `pieces` centres (dense ids 1..n). Boundary values: interiors
 * 0-0.2; faces between cells U(cellLo, 1); faces between supervoxels of one cell U(0.1, svHi), so
 * that the two overlap and a single contact value cannot separate them.
 */
export function overSegmentedCells(shape: Vec3, cells: number, pieces: number, seed: number, o: { cellLo?: number; svHi?: number } = {}): { gt: Uint32Array; sv: Uint32Array; boundary: Float32Array } {
  const r = lcg(seed);
  const [sx, sy, sz] = shape;
  const N = sx * sy * sz;
  const nearest = (cs: number[][]): Uint32Array => {
    const lab = new Uint32Array(N);
    for (let i = 0; i < N; i++) {
      const x = i % sx;
      const y = Math.floor(i / sx) % sy;
      const z = Math.floor(i / (sx * sy));
      let best = 0;
      let bd = Infinity;
      for (let k = 0; k < cs.length; k++) {
        const d = (cs[k][0] - x) ** 2 + (cs[k][1] - y) ** 2 + (cs[k][2] - z) ** 2;
        if (d < bd) {
          bd = d;
          best = k + 1;
        }
      }
      lab[i] = best;
    }
    return lab;
  };
  const gt = nearest(Array.from({ length: cells }, () => [r() * sx, r() * sy, r() * sz]));
  const fine = nearest(Array.from({ length: pieces }, () => [r() * sx, r() * sy, r() * sz]));
  const ids = new Map<number, number>();
  const sv = new Uint32Array(N);
  for (let i = 0; i < N; i++) {
    const key = gt[i] * (pieces + 1) + fine[i];
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size + 1));
    sv[i] = id;
  }
  const cellLo = o.cellLo ?? 0.45;
  const svHi = o.svHi ?? 0.75;
  const boundary = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    const nb = [x + 1 < sx ? i + 1 : -1, y + 1 < sy ? i + sx : -1, z + 1 < sz ? i + sx * sy : -1];
    let v = 0.2 * r();
    for (const j of nb) {
      if (j < 0 || sv[j] === sv[i]) continue;
      v = Math.max(v, gt[j] !== gt[i] ? cellLo + (1 - cellLo) * r() : 0.1 + (svHi - 0.1) * r());
    }
    boundary[i] = v;
  }
  return { gt, sv, boundary };
}
