import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { edt } from '../edt.js';
import { gaussianFilter } from '../filters.js';
import { distanceSeeds, regionalMinima, watershedSeeds } from './index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The first regionalMinima (a plateau flood from every voxel), kept as the reference of the one-pass version. */
function minimaReference(values: Float32Array, shape: Vec3, opts: { twoD?: boolean; mask?: Uint8Array } = {}): { labels: Uint32Array; count: number } {
  const n = values.length;
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const useZ = !opts.twoD && sz > 1;
  const mask = opts.mask;
  const labels = new Uint32Array(n);
  // visited marker: 0 = no, 1 = in current plateau / done
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const members = new Int32Array(n);
  let count = 0;
  for (let s = 0; s < n; s++) {
    if (seen[s] || (mask && mask[s] === 0)) continue;
    const v = values[s];
    let top = 0;
    let nm = 0;
    let isMin = true;
    stack[top++] = s;
    seen[s] = 1;
    while (top > 0) {
      const i = stack[--top];
      members[nm++] = i;
      const x = i % sx;
      const t = (i - x) / sx;
      const y = t % sy;
      const z = (t - y) / sy;
      for (let k = 0; k < 6; k++) {
        let j: number;
        if (k === 0) { if (x === 0) continue; j = i - 1; }
        else if (k === 1) { if (x + 1 >= sx) continue; j = i + 1; }
        else if (k === 2) { if (y === 0) continue; j = i - sx; }
        else if (k === 3) { if (y + 1 >= sy) continue; j = i + sx; }
        else if (k === 4) { if (!useZ || z === 0) continue; j = i - sxy; }
        else { if (!useZ || z + 1 >= sz) continue; j = i + sxy; }
        if (mask && mask[j] === 0) continue;
        const w = values[j];
        if (w < v) isMin = false;
        else if (w === v && !seen[j]) {
          seen[j] = 1;
          stack[top++] = j;
        }
      }
    }
    if (isMin) {
      count++;
      for (let m = 0; m < nm; m++) labels[members[m]] = count;
    }
  }
  // Plateaus were discovered in raster order of their first voxel, so the numbering is scipy's.
  return { labels, count };
}

/** distanceSeeds as whole-stack passes (the transform per section in 2-D), the reference of the section-by-section version. */
function distanceSeedsReference(values: Float32Array, shape: Vec3, t: number, sampling: Vec3, sigma: number, twoD: boolean): { labels: Uint32Array; count: number; distance: Float32Array } {
  const [sx, sy, sz] = shape;
  const n = values.length;
  const fg = Uint8Array.from(values, (v) => (v < t ? 1 : 0));
  let dist: Float32Array;
  if (twoD) {
    dist = new Float32Array(n);
    const plane = sx * sy;
    for (let z = 0; z < sz; z++) edt(fg.subarray(z * plane, (z + 1) * plane), [sx, sy, 1], { sampling, out: dist.subarray(z * plane, (z + 1) * plane) });
  } else dist = edt(fg, shape, { sampling });
  for (let i = 0; i < n; i++) if (dist[i] === Infinity) dist[i] = 3.0e38;
  const smooth = sigma > 0 ? gaussianFilter(dist, shape, twoD ? [sigma, sigma, 0] : [sigma, sigma, sigma * Math.min(1, sampling[0] / sampling[2])]) : Float32Array.from(dist);
  for (let i = 0; i < n; i++) smooth[i] = -smooth[i];
  return { ...minimaReference(smooth, shape, { twoD, mask: fg }), distance: dist };
}

function noise(shape: Vec3, seed: number, sigma: number): Float32Array {
  const r = rng(seed);
  const n = shape[0] * shape[1] * shape[2];
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r();
  const s = gaussianFilter(a, shape, sigma);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of s) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return s.map((v) => (v - lo) / (hi - lo));
}

describe('regional minima: the one-pass version equals the plateau flood from every voxel', () => {
  it('continuous, 8-bit, 3-level (large plateaus), NaN/Infinity values, all equal; masks; 2-D and 3-D; thin shapes', () => {
    for (const shape of [[23, 17, 9], [40, 1, 1], [1, 1, 30], [1, 19, 6], [16, 16, 1]] as Vec3[]) {
      const n = shape[0] * shape[1] * shape[2];
      const base = noise(shape, n, 1.3);
      const r = rng(n + 1);
      const mask = Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0));
      const maps = [
        base,
        base.map((v) => Math.round(v * 255) / 255),
        base.map((v) => Math.round(v * 2)),
        base.map((v, i) => (i % 29 === 0 ? NaN : i % 31 === 0 ? Infinity : v)),
        new Float32Array(n),
      ];
      for (const v of maps)
        for (const opts of [{}, { twoD: true }, { mask }, { mask, twoD: true }]) {
          const a = regionalMinima(v, shape, opts);
          const b = minimaReference(v, shape, opts);
          expect(a.count).toBe(b.count);
          expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
        }
    }
  });
  it('empty and one voxel', () => {
    expect(regionalMinima(new Float32Array(0), [0, 3, 3]).count).toBe(0);
    expect(Array.from(regionalMinima(Float32Array.from([2]), [1, 1, 1]).labels)).toEqual([1]);
    expect(regionalMinima(Float32Array.from([2]), [1, 1, 1], { mask: Uint8Array.from([0]) }).count).toBe(0);
  });
});

describe('distance seeds: section by section (2-D) and whole (3-D) equal the whole-stack passes', () => {
  it('anisotropic sampling, smoothing on and off, sections without interior or without background', () => {
    const shape: Vec3 = [41, 33, 7];
    const sxy = shape[0] * shape[1];
    const v = noise(shape, 3, 2.5);
    v.fill(0.9, 2 * sxy, 3 * sxy); // a section without interior
    v.fill(0.1, 4 * sxy, 5 * sxy); // a section without background (infinite distances)
    for (const twoD of [true, false])
      for (const sigma of [0, 1, 2])
        for (const sampling of [[1, 1, 1], [8, 8, 30], [4, 5, 6]] as Vec3[]) {
          const a = distanceSeeds(v, shape, { threshold: 0.5, sampling, sigma, twoD });
          const b = distanceSeedsReference(v, shape, 0.5, sampling, sigma, twoD);
          expect(a.count).toBe(b.count);
          expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
          expect(Array.from(a.distance)).toEqual(Array.from(b.distance));
          expect(a.count).toBeGreaterThan(2);
          // watershedSeeds keeps one section's distances at a time (2-D): the same seeds
          const w = watershedSeeds(v, shape, { seeds: 'distance', threshold: 0.5, sampling, distanceSigma: sigma, twoD });
          expect(w.count).toBe(a.count);
          expect(Array.from(w.labels)).toEqual(Array.from(a.labels));
        }
  });
});
