/** Seed selection: regional minima, threshold components, distance-transform maxima; `watershedSeeds` picks one by name. */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { compactLabels, connectedComponents } from '../components.js';
import { edt } from '../edt.js';
import { gaussianFilter } from '../filters.js';
import { checkVolume } from './check.js';
import type { FloodOptions } from './flood.js';
import { sizeFilter } from './size-filter.js';

/**
 * Regional minima: connected plateaus (6- or, with twoD, 4-connected, equal value) with no strictly
 * lower neighbour, numbered 1..n in raster order of their first voxel (= scipy.ndimage.label of
 * skimage.morphology.local_minima(values, connectivity=1)).
 */
export function regionalMinima(values: Float32Array, shape: Vec3, opts: { twoD?: boolean; mask?: Uint8Array } = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('regionalMinima', values.length, shape);
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

/** Seeds = components of (value < threshold) with at least `minSize` voxels (6- or 4-connected). */
export function thresholdSeeds(values: Float32Array, shape: Vec3, threshold: number, opts: { minSize?: number; twoD?: boolean } = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('thresholdSeeds', values.length, shape);
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = values[i] < threshold ? 1 : 0;
  const cc = connectedComponents(m, shape, { connectivity: opts.twoD ? 4 : 6 });
  return (opts.minSize ?? 0) > 1 ? sizeFilter(cc.labels, opts.minSize!) : cc;
}

export interface DistanceSeedOptions {
  /** Interior = value < threshold (default 0.5). */
  threshold?: number;
  /** Voxel size [x, y, z] for the distance transform (default [1, 1, 1]). */
  sampling?: Vec3;
  /** Gaussian smoothing of the distance map, in voxels (default 1; 0 = none). */
  sigma?: number;
  /** Maxima closer than this to the boundary (in sampling units) are dropped (default 0). */
  minDistance?: number;
  twoD?: boolean;
}

/**
 * Seeds at the maxima of the (smoothed) distance transform of the interior (value < threshold):
 * one seed per regional maximum plateau, i.e. per "thick" part of a cell.
 * Returns the seeds and the distance map (unsmoothed).
 */
export function distanceSeeds(values: Float32Array, shape: Vec3, opts: DistanceSeedOptions = {}): { labels: Uint32Array; count: number; distance: Float32Array } {
  const n = checkVolume('distanceSeeds', values.length, shape);
  const [sx, sy, sz] = shape;
  const t = opts.threshold ?? 0.5;
  const sampling = opts.sampling ?? [1, 1, 1];
  const fg = new Uint8Array(n);
  for (let i = 0; i < n; i++) fg[i] = values[i] < t ? 1 : 0;
  let dist: Float32Array;
  if (opts.twoD) {
    dist = new Float32Array(n);
    const plane = sx * sy;
    for (let z = 0; z < sz; z++) {
      edt(fg.subarray(z * plane, (z + 1) * plane), [sx, sy, 1], { sampling, out: dist.subarray(z * plane, (z + 1) * plane) });
    }
  } else {
    dist = edt(fg, shape, { sampling });
  }
  // No background at all: distances are infinite; use a flat map (one seed per component).
  for (let i = 0; i < n; i++) if (dist[i] === Infinity) dist[i] = 3.0e38;
  const sigma = opts.sigma ?? 1;
  const smooth = sigma > 0 ? gaussianFilter(dist, shape, opts.twoD ? [sigma, sigma, 0] : [sigma, sigma, sigma * Math.min(1, sampling[0] / sampling[2])]) : Float32Array.from(dist);
  const neg = smooth;
  for (let i = 0; i < n; i++) neg[i] = -neg[i];
  const minima = regionalMinima(neg, shape, { twoD: opts.twoD, mask: fg });
  const minD = opts.minDistance ?? 0;
  if (minD > 0) {
    for (let i = 0; i < n; i++) if (minima.labels[i] !== 0 && dist[i] < minD) minima.labels[i] = 0;
    const c = compactLabels(minima.labels, minima.labels);
    return { labels: minima.labels, count: c.count, distance: dist };
  }
  return { labels: minima.labels, count: minima.count, distance: dist };
}

export type SeedMethod = 'minima' | 'threshold' | 'distance';

export interface WatershedOptions extends FloodOptions {
  /** How seeds are made (default 'distance'). */
  seeds?: SeedMethod;
  /** threshold / distance seeds: interior = value < threshold (default 0.5 for distance, 0.1 for threshold). */
  threshold?: number;
  /** threshold seeds: drop seed components smaller than this (voxels). */
  minSeedSize?: number;
  /** minima seeds: Gaussian pre-smoothing (voxels) used only to find the minima (default 0). */
  seedSigma?: number;
  /** distance seeds options. */
  sampling?: Vec3;
  distanceSigma?: number;
  minDistance?: number;
  /** After flooding, segments smaller than this are merged into their neighbours (default 0 = off). */
  minSize?: number;
}

/**
 * The seeds of `watershed()`: by `opts.seeds` (default 'distance'); with no seed at all (e.g. no
 * voxel below the interior threshold) the regional minima, so every voxel still gets a supervoxel.
 */
export function watershedSeeds(values: Float32Array, shape: Vec3, opts: WatershedOptions = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('watershed', values.length, shape);
  const method = opts.seeds ?? 'distance';
  let seeds: { labels: Uint32Array; count: number };
  if (method === 'minima') {
    const s = opts.seedSigma ?? 0;
    const sm = s > 0 ? gaussianFilter(values, shape, opts.twoD ? [s, s, 0] : s) : values;
    seeds = regionalMinima(sm, shape, { twoD: opts.twoD });
  } else if (method === 'threshold') {
    seeds = thresholdSeeds(values, shape, opts.threshold ?? 0.1, { minSize: opts.minSeedSize, twoD: opts.twoD });
  } else if (method === 'distance') {
    seeds = distanceSeeds(values, shape, { threshold: opts.threshold ?? 0.5, sampling: opts.sampling, sigma: opts.distanceSigma, minDistance: opts.minDistance, twoD: opts.twoD });
  } else {
    throw new UsageError(`watershed: seeds must be minima, threshold or distance, got ${String(method)}`);
  }
  if (seeds.count === 0 && n > 0) seeds = regionalMinima(values, shape, { twoD: opts.twoD, mask: opts.mask });
  return seeds;
}
