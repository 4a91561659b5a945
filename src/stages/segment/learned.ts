/**
 * Learned agglomeration (gala / NeuroProof style): a random forest on edge features (edge-features.ts)
 * predicts the probability that two adjacent regions belong to different neurons; agglomeration
 * merges the edge with the lowest predicted probability first, rescoring the neighbourhood after
 * every merge.
 *
 * Training against ground truth: every supervoxel takes the gt label it overlaps most (gt 0 ignored;
 * supervoxels mostly outside the gt are left out). Examples are drawn along the agglomeration's own
 * trajectory (trajectory.ts, gala's active learning): round 0 = every initial edge plus an
 * oracle-guided episode under the mean-boundary policy; round r >= 1 replays the agglomeration with
 * round r-1's classifier as the policy, labels every edge it considers by the ground truth, and
 * retrains on all rounds' examples. `rounds: 0` is the model before issue #17 (mean-policy episode
 * only, with the basic features when asked); `initialOnly` trains on the initial graph alone.
 */
import { Forest, type ForestParams } from '../../ml/forest.js';
import { contingency } from '../../metrics/segmentation.js';
import { FormatError } from '../../core/errors.js';
import { type EdgeState, type MergeTree, type Scorer, agglomerate, meanScorer } from './agglomerate.js';
import { type EdgeFeatureSet, DEFAULT_EDGE_FEATURES, EDGE_FEATURE_NAMES, RICH_EDGE_FEATURES, computeEdgeFeatures, featureSetOf } from './edge-features.js';
import type { Rag } from './rag.js';
import { type LearningMode, type Samples, concatSamples, episodeSamples, initialEdgeSamples } from './trajectory.js';

/** Feature names of the default (rich) set. */
export const EDGE_FEATURES = RICH_EDGE_FEATURES;
export const N_EDGE_FEATURES = EDGE_FEATURES.length;

/** Features (default set) of edge e of the current graph into out[offset..offset+N_EDGE_FEATURES). */
export function edgeFeatures(s: EdgeState, e: number, out: Float32Array, offset = 0): void {
  computeEdgeFeatures(DEFAULT_EDGE_FEATURES, s, e, out, offset);
}

/** A scorer from a trained forest: probability of class 1 ("different bodies"). */
export function forestScorer(forest: Forest): Scorer {
  const set = featureSetOf(forest.nFeatures);
  if (set === undefined || forest.nClasses !== 2) {
    throw new FormatError(`agglomeration model has ${forest.nFeatures} features / ${forest.nClasses} classes; expected ${EDGE_FEATURE_NAMES.rich.length} (or ${EDGE_FEATURE_NAMES.basic.length}) features and 2 classes (a model from wiring train-agglomeration)`);
  }
  const x = new Float32Array(forest.nFeatures);
  const p = new Float32Array(2);
  return (s, e) => {
    computeEdgeFeatures(set, s, e, x);
    forest.predictProba(x, 1, 'sample-major', p);
    // tie-break equal probabilities by mean boundary so plateaus merge in a sensible order
    return p[1] + 1e-6 * (s.sum[e] / s.area[e]);
  };
}

/** Learned agglomeration: the whole merge tree under the forest's scores. */
export function agglomerateLearned(rag: Rag, forest: Forest, until = Infinity): MergeTree {
  return agglomerate(rag, forestScorer(forest), { until, rescoreNeighbourhood: true });
}

/** gt body of every supervoxel (dense sv labels 1..n), 0 when it lies mostly outside the gt. */
export function supervoxelBodies(sv: Uint32Array, gt: Uint32Array | Int32Array | BigUint64Array, nNodes: number, minInside = 0.5): Uint32Array {
  const t = contingency(sv, gt);
  const body = new Uint32Array(nNodes + 1);
  const best = new Float64Array(nNodes + 1);
  const inside = new Float64Array(nNodes + 1);
  for (let k = 0; k < t.count.length; k++) {
    const svId = Number(t.segIds[t.seg[k]]);
    if (svId === 0 || svId > nNodes) continue;
    inside[svId] += t.count[k];
    // the gt body it overlaps most; a tie goes to the smaller gt id (whatever the table's entry order)
    if (t.count[k] > best[svId] || (t.count[k] === best[svId] && t.gtIds[t.gt[k]] < t.gtIds[body[svId]])) {
      best[svId] = t.count[k];
      body[svId] = t.gt[k];
    }
  }
  const size = new Float64Array(nNodes + 1);
  for (let i = 0; i < sv.length; i++) size[sv[i]]++;
  for (let l = 1; l <= nNodes; l++) if (inside[l] < minInside * size[l]) body[l] = 0;
  return body;
}

export interface AgglomerationTrainOptions {
  /** active-learning rounds after round 0 (default 2: a classifier replayed twice) */
  rounds?: number;
  /** edge feature set (default rich) */
  features?: EdgeFeatureSet;
  /** train on the initial graph's edges only (no trajectory; for comparison) */
  initialOnly?: boolean;
  /** round 0 includes every initial edge (default true; false = the model before issue #17, episode only) */
  initialEdges?: boolean;
  /** rounds >= 1: 'strict' (merge only same-body regions) or 'loose' (also the classifier's own wrong merges); default strict */
  mode?: LearningMode;
}

export const AGGLOMERATION_TRAINING_DEFAULTS = { rounds: 2, features: DEFAULT_EDGE_FEATURES, trees: 100, minSamplesLeaf: 2, mode: 'strict' as LearningMode } as const;

export interface TrainResult {
  forest: Forest;
  samples: number;
  positives: number;
  /** examples added per round (round 0 = initial edges + mean-policy episode) */
  rounds: Array<{ samples: number; positives: number }>;
}

function positives(y: Uint8Array, n: number): number {
  let p = 0;
  for (let i = 0; i < n; i++) p += y[i];
  return p;
}

/** Train the edge classifier from one or more (RAG, gt bodies) pairs, along its own trajectory. */
export function trainAgglomeration(
  sets: Array<{ rag: Rag; body: Uint32Array }>,
  params: Partial<ForestParams> = {},
  meta: Record<string, unknown> = {},
  opts: AgglomerationTrainOptions = {},
): TrainResult {
  const set = opts.features ?? AGGLOMERATION_TRAINING_DEFAULTS.features;
  const nF = EDGE_FEATURE_NAMES[set].length;
  const rounds = opts.initialOnly ? 0 : (opts.rounds ?? AGGLOMERATION_TRAINING_DEFAULTS.rounds);
  const fit = (d: Samples, r: number): Forest => {
    if (d.n === 0) throw new FormatError('train-agglomeration: no edge touches two supervoxels inside the ground truth; nothing to learn from');
    return Forest.train(
      { x: d.x, y: d.y, nSamples: d.n, nFeatures: nF, layout: 'sample-major', nClasses: 2 },
      { nTrees: AGGLOMERATION_TRAINING_DEFAULTS.trees, minSamplesLeaf: AGGLOMERATION_TRAINING_DEFAULTS.minSamplesLeaf, balanced: false, seed: 0, ...params },
      { kind: 'wiring-agglomeration', features: [...EDGE_FEATURE_NAMES[set]], training: opts.initialOnly ? 'initial-graph' : `trajectory, ${rounds} round(s) after the mean-policy episode`, rounds: r, ...meta },
    );
  };
  const first = sets.map((t) => opts.initialOnly ? initialEdgeSamples(t.rag, t.body, set) : concatSamples([...(opts.initialEdges === false ? [] : [initialEdgeSamples(t.rag, t.body, set)]), episodeSamples(t.rag, t.body, set, meanScorer, false)], nF));
  let data = concatSamples(first, nF);
  const log = [{ samples: data.n, positives: positives(data.y, data.n) }];
  let forest = fit(data, 0);
  for (let r = 1; r <= rounds; r++) {
    const policy = forestScorer(forest);
    const more = concatSamples(sets.map((t) => episodeSamples(t.rag, t.body, set, policy, true, opts.mode ?? AGGLOMERATION_TRAINING_DEFAULTS.mode)), nF);
    log.push({ samples: more.n, positives: positives(more.y, more.n) });
    data = concatSamples([data, more], nF);
    forest = fit(data, r);
  }
  return { forest, samples: data.n, positives: positives(data.y, data.n), rounds: log };
}
