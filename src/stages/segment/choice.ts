/**
 * The segmentation settings a boundary model carries (supervoxel seeds, mean-agglomeration cut),
 * chosen by out-of-fold VOI: given boundary maps that a forest predicted for voxels it was not
 * trained on (one per fold, each possibly in several output smoothings) and their ground truth,
 * every (map variant, seed candidate, cut) is scored and the combination with the lowest mean VOI
 * over the folds wins. Pure: the caller (src/cli/segment-calibration.ts) trains the fold forests and
 * predicts and smooths their maps; this module only segments and scores them.
 *
 * Seed candidates: `distance` (DEFAULT_SUPERVOXELS) and `minima-smoothed` (scikit-image's
 * supervoxels: 26- / per section 8-connected minima of the Gaussian(1)-smoothed map, which is then
 * flooded; the reference chain's seeds, docs/ACCURACY.md "The scikit-image supervoxels in Wiring").
 * Ties go to the first variant (no smoothing), the default seeds, and the cut nearest the default.
 */
import type { Vec3 } from '../../core/box.js';
import type { LabelArray } from '../../kernels/components.js';
import { MAP_HISTOGRAM_BINS, mapHistogram } from '../../kernels/map-histogram.js';
import { contingency } from '../../metrics/segmentation.js';
import { cutTree } from './agglomerate.js';
import { voiOfMap } from './cross-fit.js';
import { DEFAULT_SUPERVOXELS, DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_ANISOTROPIC, type SupervoxelParams, computeAgglomeration, computeSupervoxels } from './pipeline.js';

/** Cuts scored: 0.30, 0.35, ..., 0.90 (the range where the best cut lay on every map measured). */
export const CUT_GRID: readonly number[] = Array.from({ length: 13 }, (_, i) => +(0.3 + 0.05 * i).toFixed(2));

/** Supervoxel seed settings a model may carry (what `wiring segment`'s seed options set). */
export interface CarriedSeeds {
  seeds: 'distance' | 'minima';
  seedSigma?: number;
  seedConnectivity?: 'face' | 'full';
  flood?: 'map' | 'smoothed';
}

/** The seed candidates, the default first. */
export const SEED_CANDIDATES: Readonly<Record<string, CarriedSeeds>> = {
  distance: { seeds: 'distance' },
  'minima-smoothed': { seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed' },
};

/** Supervoxel parameters of a seed candidate (the rest as DEFAULT_SUPERVOXELS), per section with twoD. */
export function seedParams(c: CarriedSeeds, sampling: Vec3, twoD: boolean): SupervoxelParams {
  return c.seeds === 'distance'
    ? { ...DEFAULT_SUPERVOXELS, sampling, twoD }
    : { seeds: 'minima', seedSigma: c.seedSigma, seedConnectivity: c.seedConnectivity, flood: c.flood, minSize: DEFAULT_SUPERVOXELS.minSize, sampling, twoD };
}

export interface ScoredCandidate {
  /** map variant (e.g. the output smoothing sigma) */
  variant: number;
  seeds: string;
  /** supervoxels per fold */
  supervoxels: number[];
  /** segments per fold at each cut */
  segments: number[][];
  /** VOI (split + merge) per fold at each cut of `grid` */
  voi: number[][];
  /** VOI split and merge per fold at each cut */
  split: number[][];
  merge: number[][];
}

/**
 * VOI split and merge at every cut of `grid` of one boundary map segmented with `params`
 * (supervoxels, mean agglomeration with the default contact, the merge tree cut at each value).
 */
export function scoreCuts(boundary: Float32Array, shape: Vec3, truth: LabelArray, params: SupervoxelParams, grid: readonly number[] = CUT_GRID): CutScores {
  const maps = { boundary, shape };
  const sv = computeSupervoxels(maps, params);
  const { tree } = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: !!params.twoD, twoD: false });
  return { supervoxels: sv.count, ...scoreGrid(contingency(sv.labels, truth), grid, (t) => cutTree(tree, t)) };
}

/** VOI split and merge and the segment count at each cut of `grid`, `cut(t)` mapping the contingency table's segments to the cut's. */
function scoreGrid(table: ReturnType<typeof contingency>, grid: readonly number[], cut: (t: number) => { map: Uint32Array; count: number }): Omit<CutScores, 'supervoxels'> {
  const split: number[] = [];
  const merge: number[] = [];
  const segments: number[] = [];
  for (const t of grid) {
    const c = cut(t);
    const v = voiOfMap(table, c.map);
    split.push(v.split);
    merge.push(v.merge);
    segments.push(c.count);
  }
  return { segments, split, merge };
}

export interface CutScores {
  supervoxels: number;
  /** segments at each cut */
  segments: number[];
  split: number[];
  merge: number[];
}

/**
 * As scoreCuts, each z section segmented on its own (2-D supervoxels, 2-D mean agglomeration: what
 * `wiring segment` does to a one-section map), for ground truth whose ids are per section (e.g. the
 * interior components of membrane labels): the VOI is that of all sections together (ids distinct per
 * section), i.e. the voxel-weighted per-section score.
 */
export function scoreCutsPerSection(boundary: Float32Array, shape: Vec3, truth: LabelArray, params: SupervoxelParams, grid: readonly number[] = CUT_GRID): CutScores {
  const [sx, sy, sz] = shape;
  const n = sx * sy;
  const all = new Uint32Array(n * sz);
  const sections: Array<{ tree: ReturnType<typeof computeAgglomeration>['tree']; base: number; count: number }> = [];
  let base = 0;
  for (let z = 0; z < sz; z++) {
    const maps = { boundary: boundary.subarray(z * n, (z + 1) * n), shape: [sx, sy, 1] as Vec3 };
    const sv = computeSupervoxels(maps, { ...params, twoD: true });
    const { tree } = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: true, twoD: false });
    for (let i = 0; i < n; i++) all[z * n + i] = sv.labels[i] ? sv.labels[i] + base : 0;
    sections.push({ tree, base, count: sv.count });
    base += sv.count;
  }
  // every section's tree cut at t, its segments numbered after the previous sections'
  const cutAll = (t: number): { map: Uint32Array; count: number } => {
    const map = new Uint32Array(base + 1);
    let segBase = 0;
    for (const s of sections) {
      const c = cutTree(s.tree, t);
      for (let k = 1; k <= s.count; k++) map[s.base + k] = c.map[k] + segBase;
      segBase += c.count;
    }
    return { map, count: segBase };
  };
  return { supervoxels: base, ...scoreGrid(contingency(all, truth), grid, cutAll) };
}

/** The fraction of `map`'s values <= each cut of `grid` (the cut's level in the map's distribution). */
export function mapLevels(map: Float32Array, grid: readonly number[]): number[] {
  const below = new Array<number>(grid.length).fill(0);
  const sorted = [...grid].map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    for (const [t, k] of sorted) if (v <= t) below[k]++;
  }
  return below.map((b) => b / Math.max(1, map.length));
}

export interface SegmentChoice {
  /** the winning map variant (e.g. output smoothing sigma) */
  variant: number;
  seeds: string;
  carriedSeeds: CarriedSeeds;
  threshold: number;
  /** the cut `wiring segment` would use without one (0.7, 0.55 per section) */
  default: number;
  grid: number[];
  /** mean VOI over the folds of the winner at each cut, and of the defaults (first variant, default seeds) */
  meanVoi: number[];
  defaultMeanVoi: number[];
  /** each section segmented on its own (scoreCutsPerSection) */
  perSection: boolean;
  /**
   * Where each cut lies in the winner's out-of-fold maps, mean over the folds: `map` = the fraction
   * of the map's values <= the cut; `merged` = 1 - segments / supervoxels at the cut.
   */
  levels: { map: number[]; merged: number[] };
  /**
   * The winner's out-of-fold maps' histogram (MAP_HISTOGRAM_BINS bins over [0, 1], each fold's
   * fractions, mean over the folds): what a cut carried relative to the map's modes is measured
   * against (src/kernels/map-histogram.ts followCut).
   */
  histogram: number[];
  /** the winner's VOI per fold at each cut */
  foldVoi: number[][];
  candidates: Array<{ variant: number; seeds: string; supervoxels: number[]; meanVoi: number[]; best: { threshold: number; voi: number; split: number; merge: number } }>;
}

/**
 * Score every (variant, seeds, cut): `folds[f].map(v)` is fold f's boundary map in variant v
 * (over `folds[f].shape`, ground truth `folds[f].truth`; asked once per fold and variant, so only one
 * map is held at a time), `variants[v]` its name (a number). The lowest mean VOI over the folds
 * wins; ties: the earlier variant, the earlier seed candidate, the cut nearest the default.
 * `perSection`: each z section segmented on its own (truth ids per section; scoreCutsPerSection).
 */
export function chooseSegmentation(
  folds: Array<{ map: (v: number) => Float32Array; shape: Vec3; truth: LabelArray }>,
  variants: readonly number[],
  opts: { sampling: Vec3; twoD: boolean; seeds?: readonly string[]; grid?: readonly number[]; perSection?: boolean },
): SegmentChoice {
  const grid = [...(opts.grid ?? CUT_GRID)];
  const seedNames = [...(opts.seeds ?? Object.keys(SEED_CANDIDATES))];
  for (const s of seedNames) if (!SEED_CANDIDATES[s]) throw new Error(`internal: unknown seed candidate ${s}`);
  if (!folds.length || !variants.length) throw new Error('internal: chooseSegmentation needs a fold and a variant');
  const perSection = !!opts.perSection;
  const twoD = opts.twoD || perSection;
  const def = (twoD ? DEFAULT_THRESHOLD_ANISOTROPIC : DEFAULT_THRESHOLD).mean;
  const score = perSection ? scoreCutsPerSection : scoreCuts;
  const scored: ScoredCandidate[] = [];
  for (let v = 0; v < variants.length; v++) {
    for (const s of seedNames) scored.push({ variant: variants[v], seeds: s, supervoxels: [], segments: [], voi: [], split: [], merge: [] });
  }
  // mapLevel[v][f]: the levels of fold f's map in variant v
  const mapLevel: number[][][] = variants.map(() => []);
  // hist[v]: the sum over the folds of variant v's histogram fractions
  const hist = variants.map(() => new Float64Array(MAP_HISTOGRAM_BINS));
  for (const f of folds) {
    for (let v = 0; v < variants.length; v++) {
      const m = f.map(v);
      mapLevel[v].push(mapLevels(m, grid));
      const h = mapHistogram(m);
      for (let k = 0; k < h.length; k++) hist[v][k] += h[k] / Math.max(1, m.length);
      seedNames.forEach((s, k) => {
        const c = scored[v * seedNames.length + k];
        const r = score(m, f.shape, f.truth, seedParams(SEED_CANDIDATES[s], opts.sampling, twoD), grid);
        c.supervoxels.push(r.supervoxels);
        c.segments.push(r.segments);
        c.split.push(r.split);
        c.merge.push(r.merge);
        c.voi.push(r.split.map((x, i) => x + r.merge[i]));
      });
    }
  }
  // the mean over the folds of column i of per-fold rows
  const avgOver = (rows: number[][], i: number): number => rows.reduce((a, r) => a + r[i], 0) / rows.length;
  const mean = (c: ScoredCandidate, i: number): number => avgOver(c.voi, i);
  let bestC = 0, bestI = grid.indexOf(def) >= 0 ? grid.indexOf(def) : 0;
  for (let k = 0; k < scored.length; k++) {
    for (let i = 0; i < grid.length; i++) {
      const d = mean(scored[k], i) - mean(scored[bestC], bestI);
      // strictly lower wins; an equal one only within the first candidate, toward the default cut
      if (d < -1e-12 || (k === bestC && Math.abs(d) <= 1e-12 && Math.abs(grid[i] - def) < Math.abs(grid[bestI] - def))) {
        bestC = k;
        bestI = i;
      }
    }
  }
  const r4 = (x: number): number => +x.toFixed(4);
  const w = scored[bestC];
  const wl = mapLevel[Math.floor(bestC / seedNames.length)];
  return {
    variant: w.variant,
    seeds: w.seeds,
    carriedSeeds: { ...SEED_CANDIDATES[w.seeds] },
    threshold: grid[bestI],
    default: def,
    grid,
    meanVoi: grid.map((_, i) => r4(mean(w, i))),
    defaultMeanVoi: grid.map((_, i) => r4(mean(scored[0], i))),
    perSection,
    levels: {
      map: grid.map((_, i) => r4(avgOver(wl, i))),
      merged: grid.map((_, i) => r4(w.segments.reduce((a, segs, f) => a + (1 - segs[i] / Math.max(1, w.supervoxels[f])), 0) / w.segments.length)),
    },
    histogram: Array.from(hist[Math.floor(bestC / seedNames.length)], (x) => +(x / folds.length).toExponential(4)),
    foldVoi: w.voi.map((f) => f.map(r4)),
    candidates: scored.map((c) => {
      const m = grid.map((_, i) => mean(c, i));
      const i = m.indexOf(Math.min(...m));
      return { variant: c.variant, seeds: c.seeds, supervoxels: c.supervoxels, meanVoi: m.map(r4), best: { threshold: grid[i], voi: r4(m[i]), split: r4(avgOver(c.split, i)), merge: r4(avgOver(c.merge, i)) } };
    }),
  };
}
