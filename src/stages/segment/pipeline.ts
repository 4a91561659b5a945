/**
 * The segment stage on whole volumes (pure functions over in-memory Volumes):
 * boundary/affinity map -> supervoxels -> region adjacency graph -> agglomeration (merge tree) -> segments.
 *
 * Input maps: one channel = boundary probability (high on membranes); uint8/uint16 are scaled to
 * [0, 1]. Three channels = affinities (high = same object) for the x, y, z neighbours (or z, y, x
 * with `affinityOrder: 'zyx'`, the order of waterz/numpy files).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import { compactLabels } from '../../kernels/components.js';
import { type WatershedOptions, affinityWatershed, watershed } from '../../kernels/watershed/index.js';
import type { Forest } from '../../ml/forest.js';
import { type MergeTree, agglomerate, cutTree, meanScorer, mutexWatershed, quantileScorer } from './agglomerate.js';
import { carriedCut, edgeProbabilities } from './cross-fit.js';
import { forestScorer } from './learned.js';
import { multicutGaec } from './multicut.js';
import { type Rag, buildRag } from './rag.js';

export interface BoundaryMaps {
  /** boundary probability per voxel, [0, 1] (for affinities: 1 - mean of the incident affinities) */
  boundary: Float32Array;
  /** affinities reordered to channels [x, y, z], when the input had 3 channels */
  affinities?: Float32Array;
  shape: Vec3;
}

function toUnitFloat(vol: Volume, c: number, into?: Float32Array): Float32Array {
  const n = vol.voxels;
  const d = vol.data;
  const out = into ?? new Float32Array(n);
  const off = c * n;
  const scale = vol.dtype === 'uint8' ? 1 / 255 : vol.dtype === 'uint16' ? 1 / 65535 : 1;
  if (vol.dtype === 'uint64') throw new UsageError('boundary map: uint64 volumes are labels, not boundary probabilities');
  const a = d as Exclude<typeof d, BigUint64Array>;
  for (let i = 0; i < n; i++) out[i] = a[off + i] * scale;
  return out;
}

/** Normalise a boundary (1 channel) or affinity (3 channels) volume; `into`: the array a 1-channel map is written to (length: the voxels) instead of a new one. */
export function boundaryMaps(vol: Volume, opts: { affinityOrder?: 'xyz' | 'zyx'; invert?: boolean; channel?: number; into?: Float32Array } = {}): BoundaryMaps {
  const shape = vol.shape;
  const n = vol.voxels;
  if (opts.channel !== undefined && !(Number.isInteger(opts.channel) && opts.channel >= 0 && opts.channel < vol.channels)) {
    throw new UsageError(`boundary channel ${opts.channel} does not exist; the map has ${vol.channels} channel(s) (0..${vol.channels - 1})`);
  }
  if (vol.channels === 1 || opts.channel !== undefined) {
    if (opts.into && opts.into.length !== n) throw new UsageError(`boundary map: output has ${opts.into.length} elements, expected ${n}`);
    const b = toUnitFloat(vol, opts.channel ?? 0, opts.into);
    if (opts.invert) for (let i = 0; i < n; i++) b[i] = 1 - b[i];
    return { boundary: b, shape };
  }
  if (vol.channels !== 3) {
    throw new UsageError(`boundary map has ${vol.channels} channels; expected 1 (boundary probability) or 3 (affinities), or pick the boundary class with --channel C (e.g. --channel 1 for a pixel classifier's boundary class)`);
  }
  const order = opts.affinityOrder ?? 'xyz';
  const affinities = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const src = order === 'xyz' ? c : 2 - c;
    affinities.set(toUnitFloat(vol, src), c * n);
  }
  // boundary = 1 - mean of the (up to 6) incident affinities
  const [sx, sy, sz] = shape;
  const boundary = new Float32Array(n);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        let s = 0;
        let k = 0;
        if (x > 0) { s += affinities[i]; k++; }
        if (x + 1 < sx) { s += affinities[i + 1]; k++; }
        if (y > 0) { s += affinities[n + i]; k++; }
        if (y + 1 < sy) { s += affinities[n + i + sx]; k++; }
        if (z > 0) { s += affinities[2 * n + i]; k++; }
        if (z + 1 < sz) { s += affinities[2 * n + i + sx * sy]; k++; }
        boundary[i] = k ? 1 - s / k : 1;
      }
  return { boundary, affinities, shape };
}

export interface SupervoxelParams extends WatershedOptions {
  /** affinity watershed thresholds (3-channel input) */
  high?: number;
  low?: number;
}

/** Default supervoxel parameters (also what `wiring segment` uses). */
export const DEFAULT_SUPERVOXELS: SupervoxelParams = { seeds: 'distance', threshold: 0.5, distanceSigma: 2, minSize: 20 };

/** Supervoxels of a boundary or affinity map: dense labels 1..count (x fastest). */
export function computeSupervoxels(maps: BoundaryMaps, params: SupervoxelParams = DEFAULT_SUPERVOXELS): { labels: Uint32Array; count: number } {
  if (maps.affinities) {
    return affinityWatershed(maps.affinities, maps.shape, {
      high: params.high ?? 0.9,
      low: params.low ?? 0.0001,
      minSeedSize: params.minSeedSize,
      minSize: params.minSize,
      levels: params.levels,
    });
  }
  const w = watershed(maps.boundary, maps.shape, params);
  return { labels: w.labels, count: w.count };
}

/**
 * Contact value of a face between two supervoxels for the learned, quantile, mutex and multicut
 * methods (and a learned model's edge features): the larger boundary value of its two voxels.
 */
export const DEFAULT_CONTACT = 'max' as const;

/**
 * Contact value of a face for the mean agglomeration (`method: 'mean'`, the default without a
 * model): 'max' of its two voxels, or 'mean' of them (the reference chain's face value,
 * bench/refs/ref_seg_chain.py; opt-in through `AgglomerationParams.contact`). Measured as the default
 * (docs/ACCURACY.md "The segmentation steps swapped one at a time"): 'mean' lost out of fold on both
 * choice pairs' training volumes (gala-x 0.192 -> 0.204, phantom 1.332 -> 1.345 VOI, cut chosen for
 * each) and held out it lost by more than 0.02 on some pairs (gala-x 0.558 -> 0.644, phantom 1 -> 2
 * with `--segment-choice all` 1.452 -> 1.545) while gaining on others; on 1-voxel membranes the default
 * cuts (chosen for 'max') merge across them with 'mean'. So 'max' stays.
 */
export const MEAN_METHOD_CONTACT: 'max' | 'mean' = 'max';

/** The method `params` run: `method`, else the model's default method with a model, else 'mean'. */
export function agglomerationMethod(params: AgglomerationParams): AgglomerationMethod {
  return params.method ?? (params.forest ? DEFAULT_MODEL_METHOD : 'mean');
}

/** The contact value of a face the region graph of `params` uses: `contact`, else the method's default. */
export function contactOf(params: AgglomerationParams): 'max' | 'mean' {
  return params.contact ?? (agglomerationMethod(params) === 'mean' ? MEAN_METHOD_CONTACT : DEFAULT_CONTACT);
}

export type AgglomerationMethod = 'mean' | 'quantile' | 'mutex' | 'multicut' | 'learned';

export interface AgglomerationParams {
  method?: AgglomerationMethod;
  /** merge while the score is <= threshold (mean/quantile/learned); 'auto' (mean only): autoMeanThreshold */
  threshold?: number | 'auto';
  /** z more than twice as coarse as x/y: the default cut is DEFAULT_THRESHOLD_ANISOTROPIC */
  anisotropic?: boolean;
  /** quantile scorer's q (default 0.5) */
  quantile?: number;
  /** mutex watershed / multicut bias (default: the threshold) */
  bias?: number;
  /** learned model: the learned method's scorer, and the edge probabilities of mutex and multicut */
  forest?: Forest;
  /** contact value of a face (default: contactOf, MEAN_METHOD_CONTACT for the mean method, else 'max' of the two voxels) */
  contact?: 'max' | 'mean';
  twoD?: boolean;
}

/**
 * Default cut of each method. Mean: 0.7 on isotropic volumes, chosen by held-out VOI on gala-medulla
 * with forests trained by `wiring train-pixels --gt` on one part and predicting another (x halves
 * both ways, z halves both ways, a 70-voxel slab predicting the other 130; docs/SEGMENTATION.md):
 * best cuts 0.7-0.85, and 0.7 is within 0.03-0.07 VOI of the best on each; gala's own p1 prefers
 * 0.8-0.9. On anisotropic stacks (z more than twice as coarse: 2-D supervoxels joined across
 * sections) contacts between sections make merges cheaper and the best cut is lower:
 * `DEFAULT_THRESHOLD_ANISOTROPIC`. Quantile (median) and mutex (bias) under-merge at 0.7 on gala's
 * p1: 0.8. Learned: P(different) = 0.5 (a model from `train-agglomeration` carries its own cuts,
 * chosen by cross-fitting on its training volume, which win over these). Multicut (GAEC) on the
 * mean boundary: the bias of the mean cut; with a model, its carried bias or 0.5.
 */
/**
 * The method a learned model is used with when none is named: the mutex watershed on the model's
 * initial-edge probabilities, at the bias carried in the model. Measured on held-out volumes
 * (docs/ACCURACY.md "Agglomeration"): when the training volume's boundary map was predicted by a
 * forest trained on it (in-sample, crisper than any new volume's map), the greedy learned
 * agglomeration merged nearly everything on the new volume (gala x 100:200: VOI 2.85, merge 2.82)
 * while the mutex watershed on the same model's probabilities scored 0.42. On consistent maps it
 * costs 0.01-0.18 VOI against the greedy learned agglomeration (`method: 'learned'`).
 */
export const DEFAULT_MODEL_METHOD: AgglomerationMethod = 'mutex';

export const DEFAULT_THRESHOLD = { mean: 0.7, quantile: 0.8, learned: 0.5, mutex: 0.8, multicut: 0.7 } as const;

/** Default cuts on anisotropic stacks (phantom 8x8x30 nm and ISBI 2012 4x4x50 nm, docs/SEGMENTATION.md). */
export const DEFAULT_THRESHOLD_ANISOTROPIC = { mean: 0.55, quantile: 0.6, learned: 0.5, mutex: 0.6, multicut: 0.55 } as const;

/** Offset of the self-calibrated mean cut above the Otsu split of the contact scores (`threshold: 'auto'`). */
export const AUTO_THRESHOLD_OFFSET = 0.12;

/**
 * Self-calibrated cut for the mean method: the Otsu threshold of the initial edge scores (mean
 * contact value per edge, weighted by contact area; 256 bins on [0, 1]) separates contacts inside
 * cells from contacts on membranes, whatever the map's calibration; the cut is that split plus
 * AUTO_THRESHOLD_OFFSET, clamped to [0.3, 0.9]. Needs an over-segmentation (both populations): on
 * supervoxels that are already about one per cell it cuts into the true boundaries (measured in
 * docs/SEGMENTATION.md), so it is opt-in (`--threshold auto`).
 */
export function autoMeanThreshold(rag: Rag): number {
  const B = 256;
  const h = new Float64Array(B);
  let tot = 0;
  for (let e = 0; e < rag.nEdges; e++) {
    const v = rag.sum[e] / rag.area[e];
    let k = Math.floor(v * B);
    if (!(k >= 0)) k = 0;
    if (k >= B) k = B - 1;
    h[k] += rag.area[e];
    tot += rag.area[e];
  }
  if (tot === 0) return DEFAULT_THRESHOLD.mean;
  let sumAll = 0;
  for (let k = 0; k < B; k++) sumAll += k * h[k];
  let wB = 0;
  let sB = 0;
  let best = -1;
  let bt = 0;
  for (let k = 0; k < B; k++) {
    wB += h[k];
    if (wB === 0) continue;
    const wF = tot - wB;
    if (wF === 0) break;
    sB += k * h[k];
    const d = sB / wB - (sumAll - sB) / wF;
    const v = wB * wF * d * d;
    if (v > best) {
      best = v;
      bt = k;
    }
  }
  const t = (bt + 1) / B + AUTO_THRESHOLD_OFFSET;
  return Math.min(0.9, Math.max(0.3, Math.round(t * 1000) / 1000));
}

export interface AgglomerationResult {
  rag: Rag;
  tree: MergeTree;
  /** supervoxel (dense) -> segment 1..count */
  map: Uint32Array;
  count: number;
  threshold: number;
  method: AgglomerationMethod;
}

/** Agglomerate dense supervoxels over the boundary/affinity maps; the whole merge tree is kept. */
export function computeAgglomeration(sv: Uint32Array, maps: BoundaryMaps, params: AgglomerationParams = {}): AgglomerationResult {
  const rag = buildRag(sv, maps.boundary, maps.shape, { contact: contactOf(params), twoD: params.twoD, affinities: maps.affinities });
  return agglomerateRag(rag, params);
}

/**
 * Agglomerate a region adjacency graph (from `buildRag`, or merged from blocks); the whole merge tree
 * is kept. `inPlace`: the greedy merge works in the rag's own columns (no copy of the edge
 * statistics; the rag holds the final regions' statistics afterwards): for a caller done with it.
 */
export function agglomerateRag(rag: Rag, params: AgglomerationParams = {}, opts: { inPlace?: boolean } = {}): AgglomerationResult {
  const method = agglomerationMethod(params);
  if (params.threshold === 'auto' && method !== 'mean') throw new UsageError(`threshold auto is for the mean method, not ${method}`);
  const forest = params.forest;
  const modelCut = forest && (method === 'learned' || method === 'mutex' || method === 'multicut') ? (carriedCut(forest, method) ?? 0.5) : undefined;
  const threshold = params.threshold === 'auto' ? autoMeanThreshold(rag) : (params.threshold ?? modelCut ?? (params.anisotropic ? DEFAULT_THRESHOLD_ANISOTROPIC : DEFAULT_THRESHOLD)[method]);
  if (method === 'mutex' || method === 'multicut') {
    const bias = params.bias ?? threshold;
    const p = edgeProbabilities(rag, forest);
    const m = method === 'mutex' ? mutexWatershed(rag, (_s, e) => p[e], bias) : multicutGaec(rag, p, { bias });
    return { rag, tree: m.tree, map: m.map, count: m.count, threshold: bias, method };
  }
  let tree: MergeTree;
  if (method === 'learned') {
    if (!params.forest) throw new UsageError('learned agglomeration needs a model (--model, from wiring train-agglomeration)');
    tree = agglomerate(rag, forestScorer(params.forest), { rescoreNeighbourhood: true, inPlace: opts.inPlace });
  } else if (method === 'quantile') {
    tree = agglomerate(rag, quantileScorer(params.quantile ?? 0.5), { inPlace: opts.inPlace });
  } else if (method === 'mean') {
    tree = agglomerate(rag, meanScorer, { inPlace: opts.inPlace });
  } else {
    throw new UsageError(`agglomeration method must be mean, quantile, mutex, multicut or learned, got ${String(method)}`);
  }
  const { map, count } = cutTree(tree, threshold);
  return { rag, tree, map, count, threshold, method };
}

/** Dense relabelling of arbitrary supervoxel ids (uint64 included); ids[l] = original id. */
export function denseSupervoxels(vol: Volume): { labels: Uint32Array; count: number; ids: BigUint64Array } {
  if (vol.channels !== 1) throw new UsageError(`supervoxels must have 1 channel, got ${vol.channels}`);
  if (vol.dtype === 'float32') throw new UsageError('supervoxels must be an integer label volume, got float32');
  return compactLabels(vol.data as Exclude<typeof vol.data, Float32Array>);
}

/** The merge tree as JSON-able data with original supervoxel ids (decimal strings). */
export function mergeTreeJson(tree: MergeTree, ids: BigUint64Array | null, meta: Record<string, unknown> = {}): Record<string, unknown> {
  const name = (l: number): string => (ids ? ids[l].toString() : String(l));
  const merges: Array<[string, string, number]> = [];
  for (let m = 0; m < tree.count; m++) merges.push([name(tree.a[m]), name(tree.b[m]), tree.score[m]]);
  return {
    format: 'wiring-merge-tree',
    version: 1,
    description: 'merges in order: region named by supervoxel a absorbs region named by b at score; cut at T = longest prefix with score <= T',
    supervoxels: tree.nNodes,
    ...meta,
    merges,
  };
}
