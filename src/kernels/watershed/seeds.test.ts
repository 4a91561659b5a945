import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { compactLabels } from '../components.js';
import { edt } from '../edt.js';
import { gaussianFilter } from '../filters.js';
import { distanceSeeds, regionalMinima, regionalMinimaFull, seededWatershed, watershed, watershedSeeds, watershedSeedsAndMap } from './index.js';

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

/** Full-connectivity minima by definition, through union-find of equal 26- / 8-neighbours (not a flood). */
function fullMinimaReference(values: Float32Array, shape: Vec3, opts: { twoD?: boolean; mask?: Uint8Array } = {}): { labels: Uint32Array; count: number } {
  const [sx, sy, sz] = shape;
  const n = values.length;
  const useZ = !opts.twoD && sz > 1;
  const inside = (i: number): boolean => !opts.mask || opts.mask[i] !== 0;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const lowerNeighbour = new Uint8Array(n);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        if (!inside(i)) continue;
        for (let dz = useZ ? -1 : 0; dz <= (useZ ? 1 : 0); dz++)
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const X = x + dx, Y = y + dy, Z = z + dz;
              if ((dx === 0 && dy === 0 && dz === 0) || X < 0 || Y < 0 || Z < 0 || X >= sx || Y >= sy || Z >= sz) continue;
              const j = X + sx * (Y + sy * Z);
              if (!inside(j)) continue;
              if (values[j] < values[i]) lowerNeighbour[i] = 1;
              else if (values[j] === values[i]) parent[find(i)] = find(j);
            }
      }
  const bad = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (inside(i) && lowerNeighbour[i]) bad[find(i)] = 1;
  const labels = new Uint32Array(n);
  const id = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (!inside(i) || bad[find(i)]) continue;
    const r = find(i);
    if (!id.has(r)) id.set(r, id.size + 1);
    labels[i] = id.get(r)!;
  }
  return { labels, count: id.size };
}

describe('full-connectivity minima (--seed-connectivity full)', () => {
  it('a plateau joined only through a corner is one seed; a voxel with a lower diagonal neighbour is none', () => {
    // 2-D 4x4: 0 at (0,0) and (1,1) (diagonal), 0.2 at (2,2), 0.5 at (3,3); the rest 1
    const v = new Float32Array(16).fill(1);
    v[0] = 0; v[5] = 0; v[15] = 0.5; v[10] = 0.2;
    const face = regionalMinima(v, [4, 4, 1]);
    const full = regionalMinimaFull(v, [4, 4, 1]);
    expect(face.count).toBe(4); // (0,0), (1,1), (2,2), (3,3) each alone
    // {(0,0), (1,1)} only: (2,2) has the lower diagonal (1,1), (3,3) the lower diagonal (2,2)
    expect(full.count).toBe(1);
    expect(full.labels[0]).toBe(1);
    expect(full.labels[5]).toBe(1);
    expect(full.labels[10]).toBe(0);
    expect(full.labels[15]).toBe(0);
    // the same in 3-D through a z corner, and per section (twoD) not across z
    const w = new Float32Array(2 * 2 * 2).fill(1);
    w[0] = 0; w[7] = 0;
    expect(regionalMinimaFull(w, [2, 2, 2]).count).toBe(1);
    expect(regionalMinimaFull(w, [2, 2, 2], { twoD: true }).count).toBe(2);
    expect(regionalMinima(w, [2, 2, 2]).count).toBe(2);
  });
  it('equals the definition (union-find of equal neighbours) on continuous, quantised, flat maps; masks; 2-D and 3-D', () => {
    for (const shape of [[17, 13, 7], [30, 1, 1], [1, 12, 5], [14, 14, 1]] as Vec3[]) {
      const n = shape[0] * shape[1] * shape[2];
      const base = noise(shape, n, 1.3);
      const r = rng(n + 7);
      const mask = Uint8Array.from({ length: n }, () => (r() < 0.7 ? 1 : 0));
      for (const v of [base, base.map((x) => Math.round(x * 8) / 8), base.map((x) => Math.round(x * 2)), new Float32Array(n)])
        for (const opts of [{}, { twoD: true }, { mask }, { mask, twoD: true }]) {
          const a = regionalMinimaFull(v, shape, opts);
          const b = fullMinimaReference(v, shape, opts);
          expect(a.count).toBe(b.count);
          expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
          // fewer (or as many) seeds than face connectivity
          expect(a.count).toBeLessThanOrEqual(regionalMinima(v, shape, opts).count);
        }
    }
  });
});

describe('minima seeds flooding the smoothed map (--flood smoothed)', () => {
  it('is the watershed of the Gaussian-smoothed map from its full-connectivity minima, and differs from flooding the map', () => {
    const shape: Vec3 = [24, 20, 6];
    const n = shape[0] * shape[1] * shape[2];
    const v = noise(shape, n, 1.3);
    const sm = gaussianFilter(v, shape, 1);
    const opts = { seeds: 'minima' as const, seedSigma: 1, seedConnectivity: 'full' as const };
    const smoothed = watershed(v, shape, { ...opts, flood: 'smoothed' });
    const seeds = regionalMinimaFull(sm, shape);
    const expected = seededWatershed(sm, shape, seeds.labels);
    expect(smoothed.seeds).toBe(seeds.count);
    expect(Array.from(smoothed.labels)).toEqual(Array.from(compactLabels(expected).labels));
    const unsmoothed = watershed(v, shape, opts);
    expect(unsmoothed.seeds).toBe(seeds.count); // same seeds ...
    let differ = 0;
    for (let i = 0; i < n; i++) if (unsmoothed.labels[i] !== smoothed.labels[i]) differ++;
    expect(differ).toBeGreaterThan(0); // ... another flood
    expect(watershedSeedsAndMap(v, shape, { ...opts, flood: 'smoothed' }).map).toEqual(sm);
    expect(watershedSeedsAndMap(v, shape, opts).map).toBe(v);
  });
  it('seeds written into a given (dirty) label array: the same labels and count, every seed method', () => {
    const shape: Vec3 = [30, 26, 7];
    const n = shape[0] * shape[1] * shape[2];
    const r = rng(21);
    const v = gaussianFilter(Float32Array.from({ length: n }, () => r()), shape, 1.5);
    for (const opts of [
      { seeds: 'distance' as const, twoD: true, sampling: [8, 8, 30] as Vec3, distanceSigma: 2 },
      { seeds: 'distance' as const, sampling: [8, 8, 8] as Vec3 },
      { seeds: 'distance' as const, twoD: true, minDistance: 1 },
      { seeds: 'minima' as const, seedSigma: 1 },
      { seeds: 'threshold' as const, threshold: 0.5 },
    ]) {
      const fresh = watershedSeedsAndMap(v, shape, opts);
      const into = watershedSeedsAndMap(v, shape, opts, new Uint32Array(n).fill(77));
      expect(into.count).toBe(fresh.count);
      expect(Array.from(into.labels)).toEqual(Array.from(fresh.labels));
    }
    expect(() => watershedSeedsAndMap(v, shape, {}, new Uint32Array(n - 1))).toThrow(/label output has/);
  });
  it('bad options: an unknown connectivity or flood, or either with non-minima seeds', () => {
    const v = new Float32Array(8);
    expect(() => watershed(v, [2, 2, 2], { seeds: 'minima', seedConnectivity: 'corner' as 'full' })).toThrow(/seedConnectivity must be face or full/);
    expect(() => watershed(v, [2, 2, 2], { seeds: 'minima', flood: 'blurred' as 'map' })).toThrow(/flood must be map or smoothed/);
    expect(() => watershed(v, [2, 2, 2], { seeds: 'distance', flood: 'smoothed' })).toThrow(/for minima seeds, not distance/);
  });
});
