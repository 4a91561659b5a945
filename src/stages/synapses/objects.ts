/**
 * From a class probability map to objects (synaptic clefts, mitochondria): hysteresis thresholds
 * and a size filter, with the parameters chosen on out-of-fold predictions of the training data
 * (`chooseObjectParams`), never on the volume that is scored.
 *
 * `hysteresisObjects`: components (26-connected in 3-D, or 8-connected per section) of p >= low
 * that hold at least one voxel with p >= high and at least minSize voxels. A cleft seen as a faint
 * band with a bright core is kept whole; faint specks with no bright core are dropped.
 *
 * `chooseObjectParams(volumes, grid)`: for every (high, low, minSize) in the grid, the pooled object
 * F1 (one-to-one greedy overlap matching, src/metrics/objects.ts) over all given volumes; the best
 * (ties: higher high, then larger minSize) is returned with the whole table. The components of
 * p >= low and their overlaps with the true objects are computed once per low, so the grid is cheap.
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { type Connectivity, connectedComponents } from '../../kernels/components.js';
import { splitObjects } from '../../kernels/split-objects.js';

/** 1 - p (the split's watershed floods low values first). */
function inverse(prob: Float32Array): Float32Array {
  const out = new Float32Array(prob.length);
  for (let i = 0; i < prob.length; i++) out[i] = 1 - prob[i];
  return out;
}

function splitOf(p: { split?: number; splitMinSeed?: number }): { level: number; minSeed: number } | undefined {
  return p.split === undefined ? undefined : { level: p.split, minSeed: p.splitMinSeed ?? SPLIT_MIN_SEED };
}

export interface ObjectParams {
  /** A kept object holds a voxel with p >= high. */
  high: number;
  /** Objects are components of p >= low (low <= high). */
  low: number;
  /** Smallest kept object, voxels. */
  minSize: number;
  /**
   * Split touching objects (absent: no split): within each component of p >= low, the components of
   * p >= split with at least splitMinSeed voxels are seeds of a watershed of 1 - p
   * (src/kernels/split-objects.ts); high and minSize then apply to each part.
   */
  split?: number;
  /** Smallest split seed, voxels (default SPLIT_MIN_SEED). */
  splitMinSeed?: number;
}

/** Smallest seed of a split when the rule does not say. */
export const SPLIT_MIN_SEED = 20;

/** Defaults when nothing was chosen on training data: a plain 0.5 threshold, the reference's size filter. */
export const DEFAULT_OBJECT_PARAMS: ObjectParams = { high: 0.5, low: 0.5, minSize: 200 };

export const DEFAULT_OBJECT_GRID = {
  high: [0.5, 0.6, 0.7, 0.8, 0.9],
  /** low as a fraction of high */
  lowRatio: [0.5, 0.7, 1],
  minSize: [10, 25, 50, 100, 200, 400, 800, 1600, 3200],
};

function checkParams(p: ObjectParams): void {
  if (!(p.low >= 0 && p.low <= p.high && p.high <= 1)) throw new UsageError(`object thresholds need 0 <= low <= high <= 1, got low ${p.low}, high ${p.high}`);
  if (!(p.minSize >= 0 && Number.isFinite(p.minSize))) throw new UsageError(`object min size must be a non-negative number, got ${p.minSize}`);
  if (p.split !== undefined && !(p.split >= p.low && p.split <= 1)) throw new UsageError(`object split level must lie in [low, 1] (low ${p.low}), got ${p.split}`);
  if (p.splitMinSeed !== undefined && !(p.splitMinSeed >= 1 && Number.isFinite(p.splitMinSeed))) throw new UsageError(`object split seed size must be a number >= 1, got ${p.splitMinSeed}`);
}

/** Components of p >= low (split at `split` when given): labels 1..count, with each component's size and largest p. */
function lowComponents(prob: Float32Array, shape: Vec3, low: number, conn: Connectivity, split?: { level: number; minSeed: number }): { labels: Uint32Array; count: number; size: Float64Array; peak: Float32Array } {
  const mask = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) mask[i] = prob[i] >= low && prob[i] > 0 ? 1 : 0;
  let { labels, count } = connectedComponents(mask, shape, { connectivity: conn });
  if (split) {
    const seeds = new Uint8Array(prob.length);
    for (let i = 0; i < prob.length; i++) seeds[i] = prob[i] >= split.level ? 1 : 0;
    ({ labels, count } = splitObjects(labels, inverse(prob), seeds, shape, { minSeed: split.minSeed, connectivity: conn }));
  }
  const size = new Float64Array(count + 1);
  const peak = new Float32Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!l) continue;
    size[l]++;
    if (prob[i] > peak[l]) peak[l] = prob[i];
  }
  return { labels, count, size, peak };
}

/** Objects of a probability map (labels 1..count, 0 background). */
export function hysteresisObjects(prob: Float32Array, shape: Vec3, p: ObjectParams, conn: Connectivity = 26): { labels: Uint32Array; count: number } {
  checkParams(p);
  if (prob.length !== shape[0] * shape[1] * shape[2]) throw new UsageError(`probability map has ${prob.length} voxels, shape [${shape}] needs ${shape[0] * shape[1] * shape[2]}`);
  const c = lowComponents(prob, shape, p.low, conn, splitOf(p));
  const remap = new Uint32Array(c.count + 1);
  let n = 0;
  for (let l = 1; l <= c.count; l++) if (c.peak[l] >= p.high && c.size[l] >= p.minSize) remap[l] = ++n;
  const labels = c.labels;
  for (let i = 0; i < labels.length; i++) labels[i] = remap[labels[i]];
  return { labels, count: n };
}

export interface ObjectVolume {
  prob: Float32Array;
  /** 1 = inside a true object, 0 = not. */
  truth: Uint8Array;
  shape: Vec3;
}

export interface ObjectChoiceRow extends ObjectParams {
  found: number;
  matched: number;
  truth: number;
  precision: number;
  recall: number;
  f1: number;
}

/** Choose (high, low, minSize) by pooled object F1 over `volumes` (out-of-fold predictions). */
export function chooseObjectParams(
  volumes: ObjectVolume[],
  grid: { high: number[]; lowRatio: number[]; minSize: number[]; split?: number[]; splitMinSeed?: number[] } = DEFAULT_OBJECT_GRID,
  conn: Connectivity = 26,
): { best: ObjectChoiceRow; rows: ObjectChoiceRow[] } {
  if (volumes.length === 0) throw new UsageError('chooseObjectParams needs at least one volume with ground truth');
  const lows = [...new Set(grid.high.flatMap((h) => grid.lowRatio.map((r) => +(h * r).toFixed(4))))].sort((a, b) => a - b);
  // per volume: true components once
  const truths = volumes.map((v) => connectedComponents(v.truth, v.shape, { connectivity: conn }));
  const nTrue = truths.reduce((a, t) => a + t.count, 0);
  const rows: ObjectChoiceRow[] = [];
  // split options: none, then every (level, seed size) of the grid
  const splits: Array<{ level: number; minSeed: number } | undefined> = [undefined];
  for (const level of grid.split ?? []) for (const minSeed of grid.splitMinSeed ?? [SPLIT_MIN_SEED]) splits.push({ level, minSeed });
  for (const low of lows) for (const split of splits) {
    if (split && split.level < low) continue;
    // per volume: components, sizes, peaks, candidate pairs sorted by overlap
    const per = volumes.map((v, vi) => {
      const c = lowComponents(v.prob, v.shape, low, conn, split);
      const t = truths[vi];
      const pairs = new Map<number, number>();
      for (let i = 0; i < c.labels.length; i++) {
        const p = c.labels[i], q = t.labels[i];
        if (p && q) {
          const k = p * (t.count + 1) + q;
          pairs.set(k, (pairs.get(k) ?? 0) + 1);
        }
      }
      const cand = [...pairs].map(([k, n]) => ({ p: Math.floor(k / (t.count + 1)), t: k % (t.count + 1), n }));
      cand.sort((a, b) => b.n - a.n || a.p - b.p || a.t - b.t);
      return { c, cand, nt: t.count };
    });
    for (const high of grid.high) {
      const ratioOk = grid.lowRatio.some((r) => Math.abs(+(high * r).toFixed(4) - low) < 1e-9);
      if (!ratioOk || low > high) continue;
      for (const minSize of grid.minSize) {
        let found = 0, matched = 0;
        for (const { c, cand, nt } of per) {
          const keep = (l: number): boolean => c.peak[l] >= high && c.size[l] >= minSize;
          for (let l = 1; l <= c.count; l++) if (keep(l)) found++;
          const usedP = new Uint8Array(c.count + 1), usedT = new Uint8Array(nt + 1);
          for (const x of cand) {
            if (!keep(x.p) || usedP[x.p] || usedT[x.t]) continue;
            usedP[x.p] = 1;
            usedT[x.t] = 1;
            matched++;
          }
        }
        const precision = found ? matched / found : 0;
        const recall = nTrue ? matched / nTrue : 0;
        const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
        rows.push({ high, low, minSize, ...(split ? { split: split.level, splitMinSeed: split.minSeed } : {}), found, matched, truth: nTrue, precision, recall, f1 });
      }
    }
  }
  let best = rows[0];
  for (const r of rows) {
    if (r.f1 > best.f1 + 1e-12 || (Math.abs(r.f1 - best.f1) <= 1e-12 && (r.high > best.high || (r.high === best.high && r.minSize > best.minSize)))) best = r;
  }
  return { best, rows };
}
