/**
 * Learned agglomeration (gala / NeuroProof style): a random forest on edge features predicts the
 * probability that two adjacent regions belong to different neurons; agglomeration merges the edge
 * with the lowest predicted probability first, rescoring the neighbourhood after every merge.
 *
 * Training against ground truth: every supervoxel takes the gt label it overlaps most (gt 0 ignored;
 * supervoxels mostly outside the gt are left out). Samples come from (1) every edge of the initial
 * graph and (2) an oracle-guided episode: agglomeration with the mean-boundary policy in which the
 * oracle merges only regions of the same gt body and records the features of every edge it looks at
 * (the features of grown regions are what the classifier meets at test time). Label 1 = different
 * bodies (keep apart), 0 = same body.
 */
import { Forest, type ForestParams } from '../../ml/forest.js';
import { contingency } from '../../metrics/segmentation.js';
import { FormatError } from '../../core/errors.js';
import { type EdgeState, type MergeTree, type Scorer, agglomerate, meanScorer } from './agglomerate.js';
import { type Rag, histQuantile } from './rag.js';

export const EDGE_FEATURES = [
  'mean', 'std', 'min', 'max', 'q10', 'q25', 'q50', 'q75', 'q90',
  'log_area', 'log_size_min', 'log_size_max', 'node_mean_min', 'node_mean_max', 'node_mean_diff',
  'contact_ratio', 'log_count_min', 'log_count_max',
] as const;
export const N_EDGE_FEATURES = EDGE_FEATURES.length;

/** Features of edge e of the current graph into out[offset..offset+N_EDGE_FEATURES). */
export function edgeFeatures(s: EdgeState, e: number, out: Float32Array, offset = 0): void {
  const bins = s.rag.bins;
  const area = s.area[e];
  const mean = s.sum[e] / area;
  const varr = Math.max(0, s.sumSq[e] / area - mean * mean);
  const a = s.u[e];
  const b = s.v[e];
  const sa = s.nodeSize[a];
  const sb = s.nodeSize[b];
  const ma = s.nodeSum[a] / Math.max(1, sa);
  const mb = s.nodeSum[b] / Math.max(1, sb);
  const o = e * bins;
  let k = offset;
  out[k++] = mean;
  out[k++] = Math.sqrt(varr);
  out[k++] = s.min[e];
  out[k++] = s.max[e];
  out[k++] = histQuantile(s.hist, o, bins, area, 0.1);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.25);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.5);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.75);
  out[k++] = histQuantile(s.hist, o, bins, area, 0.9);
  out[k++] = Math.log1p(area);
  out[k++] = Math.log1p(Math.min(sa, sb));
  out[k++] = Math.log1p(Math.max(sa, sb));
  out[k++] = Math.min(ma, mb);
  out[k++] = Math.max(ma, mb);
  out[k++] = Math.abs(ma - mb);
  out[k++] = area / Math.pow(Math.max(1, Math.min(sa, sb)), 2 / 3);
  out[k++] = Math.log1p(Math.min(s.nodeCount[a], s.nodeCount[b]));
  out[k++] = Math.log1p(Math.max(s.nodeCount[a], s.nodeCount[b]));
}

/** A scorer from a trained forest: probability of class 1 ("different bodies"). */
export function forestScorer(forest: Forest): Scorer {
  if (forest.nFeatures !== N_EDGE_FEATURES || forest.nClasses !== 2) {
    throw new FormatError(`agglomeration model has ${forest.nFeatures} features / ${forest.nClasses} classes; expected ${N_EDGE_FEATURES} features and 2 classes (a model from wiring train-agglomeration)`);
  }
  const x = new Float32Array(N_EDGE_FEATURES);
  const p = new Float32Array(2);
  return (s, e) => {
    edgeFeatures(s, e, x);
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

export interface TrainResult {
  forest: Forest;
  samples: number;
  positives: number;
}

/** Collect training samples from one RAG + gt bodies (flat edges + one oracle episode). */
export function collectSamples(rag: Rag, body: Uint32Array): { x: Float32Array; y: Uint8Array; n: number } {
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  const buf = () => new Float32Array(N_EDGE_FEATURES);
  // region body: with the oracle only same-body regions merge, so a region keeps its seed's body
  const regionBody = Uint32Array.from(body);
  const record = (s: EdgeState, e: number, a: number, b: number): boolean => {
    const ba = regionBody[a];
    const bb = regionBody[b];
    if (ba === 0 || bb === 0) return false; // unknown: never merge, no sample
    const f = buf();
    edgeFeatures(s, e, f);
    xs.push(f);
    const differ = ba !== bb;
    ys.push(differ ? 1 : 0);
    return !differ;
  };
  agglomerate(rag, meanScorer, { accept: (s, e, a, b) => {
    const ok = record(s, e, a, b);
    return ok;
  } });
  const n = xs.length;
  const x = new Float32Array(n * N_EDGE_FEATURES);
  xs.forEach((f, i) => x.set(f, i * N_EDGE_FEATURES));
  return { x, y: Uint8Array.from(ys), n };
}

/** Train the edge classifier from one or more (RAG, gt bodies) pairs. */
export function trainAgglomeration(sets: Array<{ rag: Rag; body: Uint32Array }>, params: Partial<ForestParams> = {}, meta: Record<string, unknown> = {}): TrainResult {
  const parts = sets.map((s) => collectSamples(s.rag, s.body));
  const n = parts.reduce((a, p) => a + p.n, 0);
  if (n === 0) throw new FormatError('train-agglomeration: no edge touches two supervoxels inside the ground truth; nothing to learn from');
  const x = new Float32Array(n * N_EDGE_FEATURES);
  const y = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    x.set(p.x, o * N_EDGE_FEATURES);
    y.set(p.y, o);
    o += p.n;
  }
  let positives = 0;
  for (const v of y) positives += v;
  const forest = Forest.train(
    { x, y, nSamples: n, nFeatures: N_EDGE_FEATURES, layout: 'sample-major', nClasses: 2 },
    { nTrees: 100, minSamplesLeaf: 2, balanced: false, seed: 0, ...params },
    { kind: 'wiring-agglomeration', features: [...EDGE_FEATURES], ...meta },
  );
  return { forest, samples: n, positives };
}
