import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { tempDir } from '../../../test/data.js';
import { PY, asUint32, pythonMissing, refScript, referenceBytes } from '../../../testdata/refs/reference.js';
import { gaussianFilter } from '../filters.js';
import { floodFifoPacked } from './fifo-flood-packed.js';
import { floodFifoSparse } from './fifo-flood-sparse.js';
import { quantiser } from './levels.js';
import { _useReferenceScanFlood, affinityWatershed, distanceSeeds, mergeSmallSegments, regionalMinima, seededWatershed, thresholdSeeds, watershed } from './index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function smoothNoise(shape: Vec3, sigma: number, seed: number): Float32Array {
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
  for (let i = 0; i < n; i++) s[i] = (s[i] - lo) / (hi - lo);
  return s;
}

/**
 * Why `labels` is not a seeded watershed of `v` (empty = it is): with costs C = min over paths from
 * any seed of the max value along the path (a seed costs its own value; `levels` quantised as the
 * flood does), every voxel a seed reaches is labelled, others are 0, seeds keep their label, and each
 * voxel is reached from seeds of its own label by a path inside its own basin whose max is C (i.e.
 * the basins are those of a priority flood, up to tie-breaking). O(n^2): small volumes only.
 */
function watershedErrors(v: Float32Array, shape: Vec3, seeds: Uint32Array, labels: Uint32Array, opts: { twoD?: boolean; levels?: number; mask?: Uint8Array }): string[] {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  let f = Array.from(v, (x) => (x === x ? x : Infinity));
  if (opts.levels) {
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    const top = opts.levels - 1;
    f = Array.from(v, (x) => (hi > lo ? Math.min(top, Math.floor(((x - lo) * top) / (hi - lo))) : 0));
  }
  const open = (i: number) => !opts.mask || opts.mask[i] !== 0;
  const neighbours = (i: number): number[] => {
    const x = i % sx;
    const y = Math.floor(i / sx) % sy;
    const z = Math.floor(i / (sx * sy));
    const out: number[] = [];
    if (x > 0) out.push(i - 1);
    if (x + 1 < sx) out.push(i + 1);
    if (y > 0) out.push(i - sx);
    if (y + 1 < sy) out.push(i + sx);
    if (!opts.twoD && z > 0) out.push(i - sx * sy);
    if (!opts.twoD && z + 1 < sz) out.push(i + sx * sy);
    return out;
  };
  // minimax costs from the seeds passing `from`, through voxels passing `through`
  const costs = (from: (i: number) => boolean, through: (i: number) => boolean): Float64Array => {
    const C = new Float64Array(n).fill(Infinity);
    const done = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (from(i)) C[i] = f[i];
    for (;;) {
      let b = -1;
      for (let i = 0; i < n; i++) if (!done[i] && C[i] < Infinity && (b < 0 || C[i] < C[b])) b = i;
      if (b < 0) return C;
      done[b] = 1;
      for (const q of neighbours(b)) if (!done[q] && through(q)) C[q] = Math.min(C[q], Math.max(C[b], f[q]));
    }
  };
  const errors: string[] = [];
  const isSeed = (i: number) => seeds[i] !== 0 && open(i);
  const C = costs(isSeed, (i) => open(i) && seeds[i] === 0);
  const ids = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (isSeed(i) && labels[i] !== seeds[i]) errors.push(`seed ${i} relabelled`);
    if ((C[i] < Infinity) !== (labels[i] !== 0)) errors.push(`voxel ${i}: cost ${C[i]}, label ${labels[i]}`);
    if (labels[i] !== 0) ids.add(labels[i]);
  }
  for (const L of ids) {
    const CL = costs((i) => isSeed(i) && seeds[i] === L, (i) => labels[i] === L && !isSeed(i));
    for (let i = 0; i < n; i++) if (labels[i] === L && CL[i] !== C[i]) errors.push(`voxel ${i} (label ${L}): reached at ${CL[i]} inside its basin, ${C[i]} from any seed`);
  }
  return errors.slice(0, 5);
}

describe('seeded watershed', () => {
  it('floods two basins separated by a ridge', () => {
    const v = Float32Array.from([0, 0.2, 0.5, 0.9, 0.4, 0.1, 0]);
    const seeds = Uint32Array.from([1, 0, 0, 0, 0, 0, 2]);
    expect(Array.from(seededWatershed(v, [7, 1, 1], seeds))).toEqual([1, 1, 1, 2, 2, 2, 2]);
    expect(Array.from(seeds)).toEqual([1, 0, 0, 0, 0, 0, 2]);
  });
  it('handles empty, one voxel, no seeds, flat input and masks', () => {
    expect(seededWatershed(new Float32Array(0), [0, 1, 1], new Uint32Array(0)).length).toBe(0);
    expect(Array.from(seededWatershed(Float32Array.from([1]), [1, 1, 1], Uint32Array.from([3])))).toEqual([3]);
    expect(Array.from(seededWatershed(Float32Array.from([1, 2]), [2, 1, 1], new Uint32Array(2)))).toEqual([0, 0]);
    const flat = seededWatershed(new Float32Array(9), [9, 1, 1], Uint32Array.from([1, 0, 0, 0, 0, 0, 0, 0, 2]));
    expect(Array.from(flat)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2]); // FIFO ties: equal fronts meet in the middle
    const mask = Uint8Array.from([1, 1, 0, 1, 1]);
    expect(Array.from(seededWatershed(new Float32Array(5), [5, 1, 1], Uint32Array.from([1, 0, 0, 0, 0]), { mask }))).toEqual([1, 1, 0, 0, 0]);
  });
  it('is a correct watershed (every basin is a minimax-path basin of its seeds) in 3-D, 2-D, quantised, masked, with many ties', () => {
    for (const shape of [[13, 11, 7], [40, 1, 1], [1, 31, 5], [16, 16, 1], [12, 10, 6]] as Vec3[]) {
      const n = shape[0] * shape[1] * shape[2];
      const vol = smoothNoise(shape, 1, 7 + n);
      // coarse values force many ties (plateaus of several voxels)
      const coarse = vol.map((v) => Math.round(v * 8) / 8);
      const seeds = new Uint32Array(n);
      const r = rng(n);
      for (let k = 0; k < Math.max(2, n >> 6); k++) seeds[Math.floor(r() * n)] = k + 1;
      const mask = new Uint8Array(n).map(() => (r() < 0.85 ? 1 : 0));
      for (const v of [vol, coarse])
        for (const opts of [{}, { twoD: true }, { levels: 16 }, { levels: 2 }, { mask }, { mask, twoD: true }, { ties: 'fifo' as const }, { ties: 'fifo' as const, mask }, { ties: 'any' as const }, { ties: 'any' as const, twoD: true }, { ties: 'any' as const, levels: 2 }, { ties: 'any' as const, mask }]) {
          const labels = seededWatershed(v, shape, seeds, opts);
          expect(watershedErrors(v, shape, seeds, labels, opts)).toEqual([]);
        }
      // the inlined FIFO flood (no mask) and the generic one (all-ones mask): same order, same labels
      const ones = new Uint8Array(n).fill(1);
      for (const v of [vol, coarse])
        for (const opts of [{}, { twoD: true }, { levels: 16 }]) {
          const fast = seededWatershed(v, shape, seeds, { ...opts, ties: 'fifo' });
          expect(Array.from(fast)).toEqual(Array.from(seededWatershed(v, shape, seeds, { ...opts, ties: 'fifo', mask: ones })));
        }
      // 'auto': the exact order for quantised values, the scan flood for continuous ones
      expect(Array.from(seededWatershed(coarse, shape, seeds))).toEqual(Array.from(seededWatershed(coarse, shape, seeds, { ties: 'fifo' })));
      if (n > 1000) expect(Array.from(seededWatershed(vol, shape, seeds))).toEqual(Array.from(seededWatershed(vol, shape, seeds, { ties: 'any' })));
      // scan flood vs skimage's exact order: differences only at ties (none with continuous values)
      const scan = seededWatershed(vol, shape, seeds, { ties: 'any' });
      const fifo = seededWatershed(vol, shape, seeds, { ties: 'fifo' });
      let same = 0;
      for (let i = 0; i < n; i++) if (scan[i] === fifo[i]) same++;
      expect(same / n).toBeGreaterThan(0.99);
      // minSize merge re-floods from the kept segments: still a correct watershed of the kept seeds
      const a = watershed(vol, shape, { seeds: 'minima', minSize: 5 });
      expect(a.labels.every((l) => l > 0)).toBe(true);
    }
  });
  it('the per-section FIFO flood (2-D, no mask) labels as the whole-stack one does: 8-bit values, sections without seeds, all seeds, one seed', () => {
    const shape: Vec3 = [37, 29, 9];
    const n = shape[0] * shape[1] * shape[2];
    const sxy = shape[0] * shape[1];
    const v = smoothNoise(shape, 1.2, 99).map((x) => Math.round(x * 255) / 255); // an 8-bit map: ties everywhere
    const r = rng(5);
    const seeds = new Uint32Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) if (r() < 0.01) seeds[i] = ++k;
    seeds.fill(0, 2 * sxy, 3 * sxy); // no seed in section 2
    seeds.fill(0, 4 * sxy, 5 * sxy);
    seeds[4 * sxy + 17] = ++k; // one seed in section 4
    for (let i = 6 * sxy; i < 7 * sxy; i++) seeds[i] = ++k; // every voxel a seed in section 6
    const ones = new Uint8Array(n).fill(1);
    for (const levels of [undefined, 300, 7]) {
      const fast = seededWatershed(v, shape, seeds, { ties: 'fifo', twoD: true, levels });
      // the generic flood (mask of ones) runs every section in one queue
      expect(Array.from(fast)).toEqual(Array.from(seededWatershed(v, shape, seeds, { ties: 'fifo', twoD: true, levels, mask: ones })));
      expect(fast.subarray(2 * sxy, 3 * sxy).every((l) => l === 0)).toBe(true);
    }
  });
  it('FIFO floods one after another (the queue kept between calls): the labels of the generic flood, for other shapes, levels and the sparse re-flood in between', () => {
    const runs: Array<{ shape: Vec3; levels?: number; twoD: boolean; holes: boolean }> = [
      { shape: [37, 29, 9], twoD: true, holes: false },
      { shape: [20, 11, 5], levels: 300, twoD: false, holes: false },
      { shape: [37, 29, 9], twoD: true, holes: true },
      { shape: [64, 40, 3], twoD: true, holes: false },
      { shape: [20, 11, 5], twoD: false, holes: true },
      { shape: [37, 29, 9], twoD: true, holes: false },
    ];
    for (const [k, run] of runs.entries()) {
      const { shape, levels, twoD } = run;
      const n = shape[0] * shape[1] * shape[2];
      const v = smoothNoise(shape, 1.2, 40 + k).map((x) => Math.round(x * 255) / 255);
      const r = rng(7 + k);
      const seeds = new Uint32Array(n);
      let c = 0;
      // few seeds (the dense flood), or a labelling with 5 % holes (the sparse re-flood)
      for (let i = 0; i < n; i++) if (run.holes ? r() >= 0.05 : r() < 0.01) seeds[i] = run.holes ? 1 + (i % 7) : ++c;
      const fast = seededWatershed(v, shape, seeds, { ties: 'fifo', twoD, levels });
      const generic = seededWatershed(v, shape, seeds, { ties: 'fifo', twoD, levels, mask: new Uint8Array(n).fill(1) });
      expect(Array.from(fast)).toEqual(Array.from(generic));
    }
  });
  it('the sparse FIFO flood (few unlabelled voxels) labels as the dense one: 2-D and 3-D, 8-bit and continuous values, NaN, holes at borders', () => {
    for (const shape of [[31, 23, 7], [50, 1, 1], [1, 1, 40], [17, 13, 1]] as Vec3[]) {
      const n = shape[0] * shape[1] * shape[2];
      const base = smoothNoise(shape, 1.1, n + 3);
      for (const v of [base, base.map((x) => Math.round(x * 255) / 255), base.map((x, i) => (i % 23 === 0 ? NaN : x))])
        for (const useZ of [true, false])
          for (const frac of [0.02, 0.2, 0.9]) {
            const r = rng(n + Math.round(frac * 100));
            const labels = new Uint32Array(n);
            for (let i = 0; i < n; i++) labels[i] = 1 + Math.floor(r() * 5);
            // holes: single voxels and short runs, borders included
            for (let i = 0; i < n; i++) if (r() < frac / 3) for (let k = 0; k < 3 && i + k < n; k++) labels[i + k] = 0;
            labels[0] = 0;
            labels[n - 1] = 0;
            const holes = Int32Array.from(Array.from(labels.keys()).filter((i) => labels[i] === 0));
            const { lo, scale } = quantiser(v, 65536);
            const dense = labels.slice();
            floodFifoPacked(v, lo, scale, 65536, shape, dense, useZ);
            const sparse = labels.slice();
            floodFifoSparse(v, lo, scale, 65536, shape, sparse, useZ, holes);
            expect(Array.from(sparse)).toEqual(Array.from(dense));
            expect(sparse.every((l) => l !== 0) || !useZ).toBe(true);
          }
    }
  });
  it('floods NaN and +Infinity values last instead of leaving them unreached', () => {
    for (const ties of ['any', 'fifo'] as const) {
      const v = Float32Array.from([0, 0.3, NaN, 0.2, 0]);
      const l = Array.from(seededWatershed(v, [5, 1, 1], Uint32Array.from([1, 0, 0, 0, 2]), { ties }));
      expect([l[0], l[1], l[3], l[4]]).toEqual([1, 1, 2, 2]);
      expect(l[2]).toBeGreaterThan(0); // a tie: either basin
      const w = Float32Array.from([0, Infinity, 0.5, 0, NaN]);
      expect(Array.from(seededWatershed(w, [5, 1, 1], Uint32Array.from([1, 0, 0, 0, 0]), { ties }))).toEqual([1, 1, 1, 1, 1]);
    }
  });
  it('2-D mode never crosses sections', () => {
    const v = new Float32Array(8);
    const seeds = new Uint32Array(8);
    seeds[0] = 1;
    const l3 = seededWatershed(v, [2, 2, 2], seeds);
    expect(l3.every((x) => x === 1)).toBe(true);
    const l2 = seededWatershed(v, [2, 2, 2], seeds, { twoD: true });
    expect(Array.from(l2)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    const w = watershed(smoothNoise([16, 16, 3], 1.5, 4), [16, 16, 3], { seeds: 'minima', twoD: true });
    // every label lives in one section
    const sec = new Map<number, number>();
    w.labels.forEach((l, i) => {
      const z = Math.floor(i / 256);
      if (sec.has(l)) expect(sec.get(l)).toBe(z);
      sec.set(l, z);
    });
  });
});

describe('scan flood: fast version vs the reference (floodScan)', () => {
  /** Labels of the reference scan flood (same tie rules, so the same labels are expected). */
  function reference(v: Float32Array, shape: Vec3, seeds: Uint32Array, opts: object): Uint32Array {
    _useReferenceScanFlood(true);
    try {
      return seededWatershed(v, shape, seeds, { ties: 'any', ...opts });
    } finally {
      _useReferenceScanFlood(false);
    }
  }
  const same = (v: Float32Array, shape: Vec3, seeds: Uint32Array, opts: object = {}) => {
    const fast = seededWatershed(v, shape, seeds, { ties: 'any', ...opts });
    expect(Array.from(fast)).toEqual(Array.from(reference(v, shape, seeds, opts)));
    return fast;
  };
  it('edge cases: empty, one voxel, solid, all seeds, no seeds, seeds at the borders and corners', () => {
    expect(same(new Float32Array(0), [0, 4, 4], new Uint32Array(0)).length).toBe(0);
    expect(Array.from(same(Float32Array.from([0.5]), [1, 1, 1], Uint32Array.from([2])))).toEqual([2]);
    expect(Array.from(same(Float32Array.from([0.5]), [1, 1, 1], Uint32Array.from([0])))).toEqual([0]);
    const shape: Vec3 = [6, 5, 4];
    const n = 120;
    const solid = new Float32Array(n).fill(0.3);
    const corners = new Uint32Array(n);
    corners[0] = 1;
    corners[n - 1] = 2;
    corners[5] = 3; // x border
    corners[6 * 4] = 4; // y border
    const l = same(solid, shape, corners);
    expect(l.every((x) => x > 0)).toBe(true);
    expect(Array.from(same(solid, shape, new Uint32Array(n)))).toEqual(Array.from(new Uint32Array(n)));
    const all = Uint32Array.from({ length: n }, (_, i) => i + 1);
    expect(Array.from(same(smoothNoise(shape, 1, 3), shape, all))).toEqual(Array.from(all));
    for (const opts of [{}, { twoD: true }, { mask: new Uint8Array(n).map((_, i) => (i % 7 === 3 ? 0 : 1)) }]) {
      same(smoothNoise(shape, 1, 5), shape, corners, opts);
      same(solid, shape, corners, opts);
    }
  });
  it('same labels on 3-D, 2-D, masked, tied, NaN, negative inputs and across calls of other sizes (kept work buffers)', () => {
    const r = rng(99);
    for (const shape of [[23, 17, 9], [1, 1, 50], [50, 1, 1], [1, 40, 1], [19, 21, 1], [64, 48, 12], [7, 5, 3], [64, 48, 12]] as Vec3[]) {
      const n = shape[0] * shape[1] * shape[2];
      const vol = smoothNoise(shape, 1.2, n);
      const coarse = vol.map((v) => Math.round(v * 6) / 6);
      const nan = vol.map((v, i) => (i % 37 === 0 ? NaN : i % 41 === 0 ? Infinity : v));
      // negative values and -0 (the int32-key flood hands these maps to the float one)
      const negative = vol.map((v, i) => (i % 53 === 0 ? -0 : v - 0.5));
      const seeds = new Uint32Array(n);
      for (let k = 0; k < Math.max(2, n >> 7); k++) seeds[Math.floor(r() * n)] = k + 1;
      const mask = new Uint8Array(n).map(() => (r() < 0.8 ? 1 : 0));
      for (const v of [vol, coarse, nan, negative])
        for (const opts of [{}, { twoD: true }, { mask }, { mask, twoD: true }, { levels: 8 }]) {
          const l = same(v, shape, seeds, opts);
          if (v !== nan && n <= 1200) expect(watershedErrors(v, shape, seeds, l, opts)).toEqual([]);
        }
    }
  });
});

describe('seeds', () => {
  it('regional minima are strict plateaus', () => {
    const v = Float32Array.from([1, 0, 0, 1, 2, 1, 3, 0.5]);
    const m = regionalMinima(v, [8, 1, 1]);
    expect(Array.from(m.labels)).toEqual([0, 1, 1, 0, 0, 2, 0, 3]);
    expect(m.count).toBe(3);
    // a plateau touching a lower voxel is not a minimum
    expect(regionalMinima(Float32Array.from([0, 1, 1, 2]), [4, 1, 1]).count).toBe(1);
  });
  it('threshold seeds drop small components', () => {
    const v = Float32Array.from([0, 0, 0, 1, 0, 1, 0, 0]);
    expect(Array.from(thresholdSeeds(v, [8, 1, 1], 0.5, { minSize: 2 }).labels)).toEqual([1, 1, 1, 0, 0, 0, 2, 2]);
  });
  it('distance seeds: one seed per round cell, anisotropy respected', () => {
    // two discs of interior in a 2-D image, joined by a thin neck
    const shape: Vec3 = [40, 20, 1];
    const v = new Float32Array(800).fill(1);
    for (let y = 0; y < 20; y++)
      for (let x = 0; x < 40; x++) {
        const d1 = Math.hypot(x - 10, y - 10);
        const d2 = Math.hypot(x - 30, y - 10);
        if (d1 < 8 || d2 < 8 || (Math.abs(y - 10) <= 1 && x > 10 && x < 30)) v[x + 40 * y] = 0;
      }
    const s = distanceSeeds(v, shape, { threshold: 0.5, sigma: 1 });
    expect(s.count).toBe(2);
    const w = watershed(v, shape, { seeds: 'distance', threshold: 0.5 });
    expect(w.count).toBe(2);
  });
  it('falls back to minima seeds when no voxel is below the interior threshold', () => {
    const v = Float32Array.from([0.9, 0.8, 0.95, 0.7, 0.9]);
    const w = watershed(v, [5, 1, 1], { seeds: 'distance', threshold: 0.5 });
    expect(w.count).toBe(2);
    expect(w.labels.every((l) => l > 0)).toBe(true);
  });
  it('small segments merge into neighbours', () => {
    const v = Float32Array.from([0, 0.1, 0.5, 0.2, 0.5, 0, 0.1, 0.2]);
    const labels = Uint32Array.from([1, 1, 1, 2, 3, 3, 3, 3]);
    const count = mergeSmallSegments(v, [8, 1, 1], labels, 2);
    expect(count).toBe(2);
    expect(labels[3]).not.toBe(0);
  });
  it('small-segment merge with the sizes given (counted up to the largest label or beyond) = counted by the merge', () => {
    const shape: Vec3 = [23, 19, 6];
    const n = shape[0] * shape[1] * shape[2];
    const v = smoothNoise(shape, 1.5, 3).map((x) => Math.round(x * 255) / 255);
    const seeds = new Uint32Array(n);
    const r = rng(11);
    let k = 0;
    for (let i = 0; i < n; i++) if (r() < 0.02) seeds[i] = ++k;
    const flooded = seededWatershed(v, shape, seeds, { twoD: true });
    for (const extra of [0, 5]) {
      const sizes = new Float64Array(k + 1 + extra);
      for (let i = 0; i < n; i++) sizes[flooded[i]]++;
      const a = flooded.slice();
      const b = flooded.slice();
      expect(mergeSmallSegments(v, shape, b, 20, { twoD: true }, sizes)).toBe(mergeSmallSegments(v, shape, a, 20, { twoD: true }));
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });
});

describe('affinity watershed', () => {
  it('splits across weak edges and keeps strong ones', () => {
    // 1-D: voxels 0-2 strongly linked, weak edge, 3-5 strongly linked. affinity at i links i and i-1.
    const n = 6;
    const affs = new Float32Array(3 * n);
    const ax = Float32Array.from([0, 1, 1, 0.1, 1, 1]);
    affs.set(ax, 0);
    const w = affinityWatershed(affs, [6, 1, 1], { high: 0.99, low: 0.01 });
    expect(Array.from(w.labels)).toEqual([1, 1, 1, 2, 2, 2]);
    // channel order z,y,x (numpy files)
    const affs2 = new Float32Array(3 * n);
    affs2.set(ax, 2 * n);
    expect(Array.from(affinityWatershed(affs2, [6, 1, 1], { high: 0.99, channelAxes: ['z', 'y', 'x'] }).labels)).toEqual([1, 1, 1, 2, 2, 2]);
    // an unseeded voxel is claimed through its strongest edge
    const ax3 = Float32Array.from([0, 1, 0.6, 0.3, 1, 1]);
    const affs3 = new Float32Array(3 * n);
    affs3.set(ax3, 0);
    expect(Array.from(affinityWatershed(affs3, [6, 1, 1], { high: 0.99 }).labels)).toEqual([1, 1, 1, 2, 2, 2]);
  });
});

// Live when Debian's python3 with scikit-image is here, else the committed fixture (testdata/refs/README.md).
const noPy = pythonMissing(['skimage']);
const REF = refScript('ref_watershed.py');

describe('watershed vs skimage.segmentation.watershed (ref_watershed.py)', () => {
  const shape: Vec3 = [64, 64, 24];
  const zyx = `${shape[2]},${shape[1]},${shape[0]}`;
  async function run(name: string, args: string[], vol: Float32Array): Promise<Uint32Array> {
    const dir = await tempDir();
    const inp = path.join(dir, 'in.raw');
    const out = path.join(dir, 'out.raw');
    return asUint32(referenceBytes(name, noPy, () => {
      writeFileSync(inp, new Uint8Array(vol.buffer, vol.byteOffset, vol.byteLength));
      const r = spawnSync(PY, [REF, inp, '--shape', zyx, ...args, '--out', out], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(out);
    }));
  }
  function agreement(a: Uint32Array, b: Uint32Array): number {
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
    return same / a.length;
  }
  it('minima markers: same markers and labels on >= 99.9% of voxels', async () => {
    const vol = smoothNoise(shape, 2, 21);
    const ref = await run('watershed-minima', ['--markers', 'minima'], vol);
    const ours = watershed(vol, shape, { seeds: 'minima' });
    const m = regionalMinima(vol, shape);
    expect(ours.seeds).toBe(m.count);
    let refMax = 0;
    for (const v of ref) refMax = Math.max(refMax, v);
    expect(ours.count).toBe(refMax);
    // labels are marker numbers in raster order on both sides, so they compare directly
    const seeded = seededWatershed(vol, shape, m.labels);
    expect(agreement(seeded, ref)).toBeGreaterThan(0.999);
  });
  it('threshold markers with a seed size filter', async () => {
    const vol = smoothNoise(shape, 2, 22);
    const ref = await run('watershed-threshold', ['--markers', 'threshold', '--threshold', '0.4', '--min-seed-size', '20'], vol);
    const seeds = thresholdSeeds(vol, shape, 0.4, { minSize: 20 });
    const ours = seededWatershed(vol, shape, seeds.labels);
    expect(agreement(ours, ref)).toBeGreaterThan(0.999);
  });
});
