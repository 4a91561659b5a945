/**
 * A learned agglomeration model with its cuts chosen by cross-fitting on the training volume only
 * (issue #17: a cut chosen where the classifier was trained does not transfer).
 *
 * The training volume is halved along its longest axis; a model trained (same recipe) on each half
 * agglomerates the other half, and every cut of `CUT_GRID` is scored (VOI split + merge against the
 * half's ground truth) for the three ways of using the classifier: greedy learned agglomeration (cut
 * of the merge tree), mutex watershed and multicut (GAEC) on the initial graph's probabilities (the
 * bias). The cut with the lowest mean VOI over the two folds is carried in the final model (trained
 * on the whole volume) as `meta.cuts`, which `agglomerate`/`segment --model` use unless a
 * threshold is given.
 */
import type { Vec3 } from '../../core/box.js';
import { compactLabels } from '../../kernels/components.js';
import { type Contingency, contingency } from '../../metrics/segmentation.js';
import type { Forest, ForestParams } from '../../ml/forest.js';
import { agglomerate, cutTree, initState, mutexWatershed } from './agglomerate.js';
import { type AgglomerationTrainOptions, type TrainResult, forestScorer, supervoxelBodies, trainAgglomeration } from './learned.js';
import { multicutGaec } from './multicut.js';
import { type Rag, buildRag } from './rag.js';

/** One labelled volume: dense supervoxels, boundary map, ground truth, all [x, y, z]. */
export interface TrainingVolume {
  sv: Uint32Array;
  boundary: Float32Array;
  gt: Uint32Array;
  shape: Vec3;
  /** in-section contacts only */
  twoD?: boolean;
  /** contact value of a face (default 'max') */
  contact?: 'max' | 'mean';
  affinities?: Float32Array;
}

export const CUT_GRID: readonly number[] = Array.from({ length: 19 }, (_, i) => +(0.05 + 0.05 * i).toFixed(2));

export type CutMethod = 'learned' | 'mutex' | 'multicut';
export const CUT_METHODS: readonly CutMethod[] = ['learned', 'mutex', 'multicut'];

export interface CutChoice {
  threshold: number;
  /** mean VOI over the folds at the chosen cut */
  voi: number;
  /** mean VOI (split + merge) over the folds at every cut of CUT_GRID */
  curve: number[];
}

/** Probability of "different bodies" of every initial edge under a model (mean boundary without one). */
export function edgeProbabilities(rag: Rag, forest?: Forest): Float64Array {
  const p = new Float64Array(rag.nEdges);
  const s = initState(rag, false);
  const sc = forest ? forestScorer(forest) : (st: typeof s, e: number) => st.sum[e] / st.area[e];
  for (let e = 0; e < rag.nEdges; e++) p[e] = sc(s, e);
  return p;
}

/** VOI split and merge (bits) of a supervoxel -> segment map, from the supervoxel/gt table. */
export function voiOfMap(t: Contingency, map: Uint32Array): { split: number; merge: number } {
  const N = t.evaluated;
  if (N === 0) return { split: 0, merge: 0 };
  const joint = new Map<number, number>();
  const segSize = new Map<number, number>();
  const nGt = t.gtSizes.length;
  for (let k = 0; k < t.count.length; k++) {
    const svId = Number(t.segIds[t.seg[k]]);
    const s = svId === 0 ? 0 : map[svId];
    const key = s * nGt + t.gt[k];
    joint.set(key, (joint.get(key) ?? 0) + t.count[k]);
    segSize.set(s, (segSize.get(s) ?? 0) + t.count[k]);
  }
  const h = (vals: Iterable<number>) => {
    let r = 0;
    for (const c of vals) if (c > 0) r -= (c / N) * Math.log(c / N);
    return r;
  };
  const Hj = h(joint.values());
  const Hg = h(t.gtSizes);
  const Hs = h(segSize.values());
  return { split: Math.max(0, (Hj - Hg) / Math.LN2), merge: Math.max(0, (Hj - Hs) / Math.LN2) };
}

/** A prepared volume: graph, bodies, supervoxel/gt table. */
export interface PreparedVolume {
  rag: Rag;
  body: Uint32Array;
  table: Contingency;
}

export function prepareVolume(v: TrainingVolume): PreparedVolume {
  const rag = buildRag(v.sv, v.boundary, v.shape, { contact: v.contact ?? 'max', twoD: v.twoD, affinities: v.affinities });
  return { rag, body: supervoxelBodies(v.sv, v.gt, rag.nNodes), table: contingency(v.sv, v.gt) };
}

function crop<T extends Float32Array | Uint32Array>(a: T, shape: Vec3, axis: number, lo: number, hi: number, channels = 1): T {
  const [sx, sy, sz] = shape;
  const out = shape.slice() as number[];
  out[axis] = hi - lo;
  const n = sx * sy * sz;
  const m = out[0] * out[1] * out[2];
  const res = new (a.constructor as new (k: number) => T)(m * channels);
  for (let c = 0; c < channels; c++) {
    let o = c * m;
    for (let z = 0; z < sz; z++) {
      if (axis === 2 && (z < lo || z >= hi)) continue;
      for (let y = 0; y < sy; y++) {
        if (axis === 1 && (y < lo || y >= hi)) continue;
        const row = c * n + (z * sy + y) * sx;
        const x0 = axis === 0 ? lo : 0;
        const x1 = axis === 0 ? hi : sx;
        res.set(a.subarray(row + x0, row + x1) as never, o);
        o += x1 - x0;
      }
    }
  }
  return res;
}

/** The two halves of a volume along `axis` (default its longest; supervoxels relabelled densely per half). */
export function splitHalves(v: TrainingVolume, axis = v.shape.indexOf(Math.max(...v.shape))): [TrainingVolume, TrainingVolume] {
  const mid = Math.floor(v.shape[axis] / 2);
  const half = (lo: number, hi: number): TrainingVolume => {
    const shape = v.shape.map((d, i) => (i === axis ? hi - lo : d)) as unknown as Vec3;
    const sv = crop(v.sv, v.shape, axis, lo, hi);
    compactLabels(sv, sv);
    return {
      ...v,
      shape,
      sv,
      boundary: crop(v.boundary, v.shape, axis, lo, hi),
      gt: crop(v.gt, v.shape, axis, lo, hi),
      affinities: v.affinities ? crop(v.affinities, v.shape, axis, lo, hi, 3) : undefined,
    };
  };
  return [half(0, mid), half(mid, v.shape[axis])];
}

/** VOI curves of the three methods of a model on one prepared volume (per cut of CUT_GRID). */
export function cutCurves(pv: PreparedVolume, forest: Forest, grid: readonly number[] = CUT_GRID): Record<CutMethod, Array<{ split: number; merge: number }>> {
  const tree = agglomerate(pv.rag, forestScorer(forest), { rescoreNeighbourhood: true });
  const p = edgeProbabilities(pv.rag, forest);
  const pScorer = (_s: unknown, e: number) => p[e];
  return {
    learned: grid.map((t) => voiOfMap(pv.table, cutTree(tree, t).map)),
    mutex: grid.map((b) => voiOfMap(pv.table, mutexWatershed(pv.rag, pScorer, b).map)),
    multicut: grid.map((b) => voiOfMap(pv.table, multicutGaec(pv.rag, p, { bias: b }).map)),
  };
}

export interface CrossFitResult extends TrainResult {
  cuts: Record<CutMethod, CutChoice>;
}

/**
 * Train on the whole volume and choose each method's cut by cross-fitting on its halves (both
 * folds trained with the same recipe). The cuts go into the model's meta (`cuts`, `threshold`).
 */
export function trainWithCrossFitCuts(v: TrainingVolume, params: Partial<ForestParams> = {}, meta: Record<string, unknown> = {}, opts: AgglomerationTrainOptions = {}): CrossFitResult {
  const halves = splitHalves(v).map(prepareVolume);
  const sums: Record<CutMethod, number[]> = { learned: CUT_GRID.map(() => 0), mutex: CUT_GRID.map(() => 0), multicut: CUT_GRID.map(() => 0) };
  for (let k = 0; k < 2; k++) {
    const tr = halves[1 - k];
    const { forest } = trainAgglomeration([{ rag: tr.rag, body: tr.body }], params, {}, opts);
    const curves = cutCurves(halves[k], forest);
    for (const m of CUT_METHODS) curves[m].forEach((c, i) => { sums[m][i] += (c.split + c.merge) / 2; });
  }
  const cuts = {} as Record<CutMethod, CutChoice>;
  for (const m of CUT_METHODS) {
    let best = 0;
    sums[m].forEach((s, i) => { if (s < sums[m][best] - 1e-12) best = i; });
    cuts[m] = { threshold: CUT_GRID[best], voi: +sums[m][best].toFixed(4), curve: sums[m].map((s) => +s.toFixed(4)) };
  }
  const all = prepareVolume(v);
  const res = trainAgglomeration([{ rag: all.rag, body: all.body }], params, {
    ...meta,
    threshold: cuts.learned.threshold,
    cuts: { learned: cuts.learned.threshold, mutex: cuts.mutex.threshold, multicut: cuts.multicut.threshold },
    cut_choice: 'cross-fitted: halves of the training volume, each agglomerated by a model trained on the other; lowest mean VOI',
    cut_curves: { grid: CUT_GRID, learned: cuts.learned.curve, mutex: cuts.mutex.curve, multicut: cuts.multicut.curve },
  }, opts);
  return { ...res, cuts };
}

/** The cut a model carries for a method (undefined: none, e.g. a model from before issue #17). */
export function carriedCut(forest: Forest, method: CutMethod): number | undefined {
  const c = (forest.meta.cuts as Record<string, unknown> | undefined)?.[method];
  return typeof c === 'number' && c > 0 && c < 1 ? c : undefined;
}
