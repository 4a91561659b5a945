/** Seed selection: regional minima, threshold components, distance-transform maxima; `watershedSeeds` picks one by name. */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { compactLabels, connectedComponents } from '../components.js';
import { edtSquared } from '../edt.js';
import { gaussianFilter } from '../filters.js';
import { checkVolume } from './check.js';
import type { FloodOptions } from './flood.js';
import { grow } from './scan-plateaus.js';
import { sizeFilter } from './size-filter.js';

/**
 * Regional minima: connected plateaus (6- or, with twoD, 4-connected, equal value) with no strictly
 * lower neighbour, numbered 1..n in raster order of their first voxel (= scipy.ndimage.label of
 * skimage.morphology.local_minima(values, connectivity=1)).
 *
 * One raster pass: a voxel with no neighbour of its own value (inside the mask) is a plateau of one
 * voxel (the common case on a smooth float map), a minimum when no neighbour is strictly lower;
 * only a voxel with an equal neighbour floods its plateau (minimaPlateau). The first voxel of
 * every plateau is met in raster order either way, so the numbering is that of flooding each
 * plateau from its first voxel.
 */
export function regionalMinima(values: Float32Array, shape: Vec3, opts: { twoD?: boolean; mask?: Uint8Array } = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('regionalMinima', values.length, shape);
  const labels = new Uint32Array(n);
  const count = minimaInto(values, shape, !opts.twoD && shape[2] > 1, opts.mask, labels, 0, new MinimaScratch());
  return { labels, count };
}

/** Work arrays of the plateau floods (grown as needed: plateaus are small). */
export class MinimaScratch {
  seen = new Uint8Array(0);
  stack = new Int32Array(64);
  members = new Int32Array(64);
}

/**
 * The minima of `values` (shape, 6- or 4-connected by useZ) into `labels` (zero on entry),
 * numbered first + 1, first + 2, ... in raster order of their first voxel; returns the last number.
 */
export function minimaInto(values: Float32Array, shape: Vec3, useZ: boolean, mask: Uint8Array | undefined, labels: Uint32Array, first: number, scratch: MinimaScratch): number {
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const n = sxy * sz;
  if (scratch.seen.length < n) scratch.seen = new Uint8Array(n);
  else scratch.seen.fill(0, 0, n);
  const seen = scratch.seen;
  const hasMask = mask !== undefined;
  const m = mask ?? ONE;
  let count = first;
  for (let z = 0, i = 0; z < sz; z++) {
    const zm = useZ && z > 0;
    const zp = useZ && z + 1 < sz;
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++, i++) {
        if (seen[i] !== 0 || (hasMask && m[i] === 0)) continue;
        const v = values[i];
        let lower = false;
        let equal = false;
        let j: number;
        let w: number;
        if (x > 0) { j = i - 1; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (x + 1 < sx) { j = i + 1; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (y > 0) { j = i - sx; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (y + 1 < sy) { j = i + sx; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (zm) { j = i - sxy; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (zp) { j = i + sxy; if (!hasMask || m[j] !== 0) { w = values[j]; lower ||= w < v; equal ||= w === v; } }
        if (!equal) {
          // (an equal neighbour inside the mask would be unseen: plateaus are flooded whole)
          if (!lower) labels[i] = ++count;
          continue;
        }
        const nm = minimaPlateau(values, shape, useZ, mask, i, scratch);
        if (nm > 0) {
          count++;
          const members = scratch.members;
          for (let k = 0; k < nm; k++) labels[members[k]] = count;
        }
      }
    }
  }
  return count;
}

const ONE = new Uint8Array(1).fill(1);

/**
 * Floods the plateau of s (equal value, inside the mask; marks it seen) into scratch.members,
 * and returns their number if no member has a strictly lower neighbour inside the mask, else 0.
 */
function minimaPlateau(values: Float32Array, shape: Vec3, useZ: boolean, mask: Uint8Array | undefined, s: number, scratch: MinimaScratch): number {
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const seen = scratch.seen;
  let stack = scratch.stack;
  let members = scratch.members;
  const v = values[s];
  let top = 0;
  let nm = 0;
  let isMin = true;
  stack[top++] = s;
  seen[s] = 1;
  while (top > 0) {
    const i = stack[--top];
    if (nm === members.length) scratch.members = members = grow(members);
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
        if (top === stack.length) scratch.stack = stack = grow(stack);
        stack[top++] = j;
      }
    }
  }
  return isMin ? nm : 0;
}

/**
 * Regional minima with full connectivity: plateaus connected through faces, edges and corners (26-,
 * with twoD or one section 8-connected) with no strictly lower 26- / 8-neighbour, numbered 1..n in
 * raster order of their first voxel (= scipy.ndimage.label(local_minima(values), structure of ones)
 * with skimage's default connectivity = values.ndim). Fewer, larger seeds than `regionalMinima`:
 * a plateau touching only diagonally is one seed, and a voxel with a lower diagonal neighbour none.
 */
export function regionalMinimaFull(values: Float32Array, shape: Vec3, opts: { twoD?: boolean; mask?: Uint8Array } = {}): { labels: Uint32Array; count: number } {
  const n = checkVolume('regionalMinimaFull', values.length, shape);
  const [sx, sy, sz] = shape;
  const sxy = sx * sy;
  const useZ = !opts.twoD && sz > 1;
  const mask = opts.mask;
  const labels = new Uint32Array(n);
  const seen = new Uint8Array(n);
  let stack = new Int32Array(64);
  let members = new Int32Array(64);
  let count = 0;
  for (let s = 0; s < n; s++) {
    if (seen[s] !== 0 || (mask && mask[s] === 0)) continue;
    const v = values[s];
    let top = 0;
    let nm = 0;
    let isMin = true;
    stack[top++] = s;
    seen[s] = 1;
    while (top > 0) {
      const i = stack[--top];
      if (nm === members.length) members = grow(members);
      members[nm++] = i;
      const x = i % sx;
      const t = (i - x) / sx;
      const y = t % sy;
      const z = (t - y) / sy;
      const z0 = useZ && z > 0 ? -1 : 0;
      const z1 = useZ && z + 1 < sz ? 1 : 0;
      const y0 = y > 0 ? -1 : 0;
      const y1 = y + 1 < sy ? 1 : 0;
      const x0 = x > 0 ? -1 : 0;
      const x1 = x + 1 < sx ? 1 : 0;
      for (let dz = z0; dz <= z1; dz++)
        for (let dy = y0; dy <= y1; dy++)
          for (let dx = x0; dx <= x1; dx++) {
            const j = i + dx + sx * dy + sxy * dz;
            if (j === i || (mask && mask[j] === 0)) continue;
            const w = values[j];
            if (w < v) isMin = false;
            else if (w === v && !seen[j]) {
              seen[j] = 1;
              if (top === stack.length) stack = grow(stack);
              stack[top++] = j;
            }
          }
    }
    if (isMin) {
      count++;
      for (let k = 0; k < nm; k++) labels[members[k]] = count;
    }
  }
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
  const s = distanceSeedsImpl(values, shape, opts, true);
  return { labels: s.labels, count: s.count, distance: s.distance! };
}

/** distanceSeeds; without `keepDistance` (and no minDistance) a 2-D run keeps only one section's distances and interior at a time. */
function distanceSeedsImpl(values: Float32Array, shape: Vec3, opts: DistanceSeedOptions, keepDistance: boolean, out?: Uint32Array): { labels: Uint32Array; count: number; distance?: Float32Array } {
  const n = checkVolume('distanceSeeds', values.length, shape);
  const [sx, sy, sz] = shape;
  const t = opts.threshold ?? 0.5;
  const sampling = opts.sampling ?? [1, 1, 1];
  const sigma = opts.sigma ?? 1;
  let labels: Uint32Array;
  let count: number;
  let fg: Uint8Array;
  let dist: Float32Array;
  if (opts.twoD) {
    // Section by section (the transform, the smoothing and the minima never cross a section), so a
    // section's arrays stay in the cache through all the steps; the same values as whole-stack passes.
    const plane = sx * sy;
    const sec: Vec3 = [sx, sy, 1];
    const keep = keepDistance || (opts.minDistance ?? 0) > 0;
    fg = new Uint8Array(keep ? n : plane);
    dist = new Float32Array(keep ? n : plane);
    // a reused output array is cleared section by section, just before the section's minima
    labels = out ?? new Uint32Array(n);
    const smooth = new Float32Array(plane);
    const scratch = new MinimaScratch();
    count = 0;
    for (let z = 0; z < sz; z++) {
      const lo = z * plane;
      const f = keep ? fg.subarray(lo, lo + plane) : fg;
      const d = keep ? dist.subarray(lo, lo + plane) : dist;
      interior(values, lo, t, f);
      edtSquared(f, sec, { sampling, out: d });
      sqrtNoInfinity(d);
      if (sigma > 0) gaussianFilter(d, sec, [sigma, sigma, 0], 0, { dst: smooth });
      else smooth.set(d);
      negate(smooth);
      if (out) labels.fill(0, lo, lo + plane);
      count = minimaInto(smooth, sec, false, f, labels.subarray(lo, lo + plane), count, scratch);
    }
  } else {
    fg = new Uint8Array(n);
    interior(values, 0, t, fg);
    dist = edtSquared(fg, shape, { sampling });
    sqrtNoInfinity(dist);
    const smooth = sigma > 0 ? gaussianFilter(dist, shape, [sigma, sigma, sigma * Math.min(1, sampling[0] / sampling[2])]) : Float32Array.from(dist);
    negate(smooth);
    const minima = regionalMinima(smooth, shape, { mask: fg });
    labels = minima.labels;
    count = minima.count;
  }
  const minD = opts.minDistance ?? 0;
  if (minD > 0) {
    for (let i = 0; i < n; i++) if (labels[i] !== 0 && dist[i] < minD) labels[i] = 0;
    const c = compactLabels(labels, labels);
    return { labels, count: c.count, distance: dist };
  }
  return { labels, count, distance: dist };
}

/** out[k] = 1 where values[from + k] < t (the interior), else 0. */
function interior(values: Float32Array, from: number, t: number, out: Uint8Array): void {
  for (let k = 0; k < out.length; k++) out[k] = values[from + k] < t ? 1 : 0;
}

/**
 * Squared distances -> distances (edt's square root), in the same pass: no background at all
 * (infinite distances) gives a flat map instead (one seed per component).
 */
function sqrtNoInfinity(d: Float32Array): void {
  for (let i = 0; i < d.length; i++) {
    const r = Math.sqrt(d[i]);
    d[i] = r === Infinity ? 3.0e38 : r;
  }
}

function negate(a: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] = -a[i];
}

export type SeedMethod = 'minima' | 'threshold' | 'distance';

export interface WatershedOptions extends FloodOptions {
  /** How seeds are made (default 'distance'). */
  seeds?: SeedMethod;
  /** threshold / distance seeds: interior = value < threshold (default 0.5 for distance, 0.1 for threshold). */
  threshold?: number;
  /** threshold seeds: drop seed components smaller than this (voxels). */
  minSeedSize?: number;
  /** minima seeds: Gaussian pre-smoothing (voxels) used to find the minima (default 0); flooded too with flood 'smoothed'. */
  seedSigma?: number;
  /** minima seeds: plateaus and their lower neighbours 'face' (6-, per section 4-connected; default) or 'full' (26-, per section 8-connected = skimage local_minima's default). */
  seedConnectivity?: 'face' | 'full';
  /** minima seeds: flood the boundary map as given ('map', default) or the Gaussian(seedSigma)-smoothed one ('smoothed'). */
  flood?: 'map' | 'smoothed';
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
  const s = watershedSeedsAndMap(values, shape, opts);
  return { labels: s.labels, count: s.count };
}

/**
 * `watershedSeeds` and the map the watershed floods: `values` itself, or with minima seeds,
 * `flood: 'smoothed'` and seedSigma > 0 the Gaussian-smoothed map the minima were found on
 * (scikit-image's chain: watershed(gaussian(map, s), local_minima(gaussian(map, s)))).
 * `out` (length n, any content): an array the labels may be written into instead of a new one
 * (2-D distance seeds use it; the returned `labels` is the array that holds them either way).
 */
export function watershedSeedsAndMap(values: Float32Array, shape: Vec3, opts: WatershedOptions = {}, out?: Uint32Array): { labels: Uint32Array; count: number; map: Float32Array } {
  const n = checkVolume('watershed', values.length, shape);
  if (out && out.length !== n) throw new UsageError(`watershed: label output has ${out.length} elements, expected ${n}`);
  const method = opts.seeds ?? 'distance';
  const conn = opts.seedConnectivity ?? 'face';
  if (conn !== 'face' && conn !== 'full') throw new UsageError(`watershed: seedConnectivity must be face or full, got ${String(conn)}`);
  const fl = opts.flood ?? 'map';
  if (fl !== 'map' && fl !== 'smoothed') throw new UsageError(`watershed: flood must be map or smoothed, got ${String(fl)}`);
  if (method !== 'minima' && (conn !== 'face' || fl !== 'map')) throw new UsageError(`watershed: seedConnectivity full and flood smoothed are for minima seeds, not ${String(method)}`);
  let seeds: { labels: Uint32Array; count: number };
  let map = values;
  if (method === 'minima') {
    const s = opts.seedSigma ?? 0;
    const sm = s > 0 ? gaussianFilter(values, shape, opts.twoD ? [s, s, 0] : s) : values;
    seeds = conn === 'full' ? regionalMinimaFull(sm, shape, { twoD: opts.twoD }) : regionalMinima(sm, shape, { twoD: opts.twoD });
    if (fl === 'smoothed') map = sm;
  } else if (method === 'threshold') {
    seeds = thresholdSeeds(values, shape, opts.threshold ?? 0.1, { minSize: opts.minSeedSize, twoD: opts.twoD });
  } else if (method === 'distance') {
    seeds = distanceSeedsImpl(values, shape, { threshold: opts.threshold ?? 0.5, sampling: opts.sampling, sigma: opts.distanceSigma, minDistance: opts.minDistance, twoD: opts.twoD }, false, out);
  } else {
    throw new UsageError(`watershed: seeds must be minima, threshold or distance, got ${String(method)}`);
  }
  if (seeds.count === 0 && n > 0) seeds = regionalMinima(map, shape, { twoD: opts.twoD, mask: opts.mask });
  return { labels: seeds.labels, count: seeds.count, map };
}
