import type { Vec3 } from '../../core/box.js';
import { type Connectivity, connectedComponents } from '../../kernels/components.js';
import { Forest } from '../../ml/forest/index.js';
import type { ObjectParams } from './objects.js';

/**
 * What the cleft filter (cleft-filter.ts) and the object filter of any class (object-filter.ts)
 * share: candidates labelled by one-to-one matching to the true objects, a forest per fold trained
 * on the other folds' candidates, and the pooled out-of-fold F1 of each score cut.
 */

/** The candidate rules both filters try (hysteresis pairs and plain thresholds, objects >= 10 voxels). */
export const CANDIDATE_RULES: readonly ObjectParams[] = [
    { high: 0.3, low: 0.15, minSize: 10 },
    { high: 0.5, low: 0.25, minSize: 10 },
    { high: 0.4, low: 0.4, minSize: 10 },
    { high: 0.5, low: 0.5, minSize: 10 },
    { high: 0.6, low: 0.6, minSize: 10 },
    { high: 0.7, low: 0.7, minSize: 10 },
];

/** One fold's candidates: their features (sample-major) and their match to the fold's true objects. */
export interface CandidateSet {
  count: number;
  x: Float32Array;
  /** (candidate, true object, overlap, IoU) pairs sorted by decreasing overlap. */
  pairs: Array<{ p: number; t: number; n: number; iou: number }>;
  nTrue: number;
  /** 1 = matched to a true object (greedy one to one over all candidates). */
  y: Uint8Array;
}

/** Match candidate objects `labels` (1..count) to the components of `truth` (connectivity `truthConn`). */
export function matchCandidates(labels: Uint32Array, count: number, truth: Uint8Array, shape: Vec3, truthConn: Connectivity, minIou: number): Pick<CandidateSet, 'pairs' | 'nTrue' | 'y'> {
  const t = connectedComponents(truth, shape, { connectivity: truthConn });
  const ov = new Map<number, number>();
  const sp = new Float64Array(count + 1), st = new Float64Array(t.count + 1);
  for (let i = 0; i < labels.length; i++) {
    const p = labels[i], q = t.labels[i];
    sp[p]++;
    st[q]++;
    if (p && q) {
      const k = p * (t.count + 1) + q;
      ov.set(k, (ov.get(k) ?? 0) + 1);
    }
  }
  const pairs = [...ov].map(([k, n]) => {
    const p = Math.floor(k / (t.count + 1)), q = k % (t.count + 1);
    return { p, t: q, n, iou: n / (sp[p] + st[q] - n) };
  });
  pairs.sort((a, b) => b.n - a.n || a.p - b.p || a.t - b.t);
  const y = new Uint8Array(count + 1);
  greedyMatch(pairs, count, t.count, () => true, minIou, (p) => (y[p] = 1));
  return { pairs, nTrue: t.count, y: y.subarray(1) };
}

/**
 * Greedy one-to-one matching of the kept candidates by decreasing overlap (src/metrics/objects.ts's
 * rule): a pair taken counts as a match when its IoU >= minIou; calls `hit` per match, returns the count.
 */
export function greedyMatch(pairs: CandidateSet['pairs'], nP: number, nT: number, keep: (p: number) => boolean, minIou: number, hit: (p: number) => void = () => {}): number {
  const usedP = new Uint8Array(nP + 1), usedT = new Uint8Array(nT + 1);
  let m = 0;
  for (const c of pairs) {
    if (usedP[c.p] || usedT[c.t] || !keep(c.p)) continue;
    usedP[c.p] = 1;
    usedT[c.t] = 1;
    if (c.iou < minIou) continue;
    hit(c.p);
    m++;
  }
  return m;
}

export interface CandidateForestOptions {
  trees: number;
  maxDepth: number;
  minSamplesLeaf: number;
  seed: number;
}

/** A two-class forest on the pooled candidates of `sets` (undefined when they hold one class only). */
export function trainCandidateForest(sets: CandidateSet[], nFeatures: number, o: CandidateForestOptions): Forest | undefined {
  const n = sets.reduce((a, s) => a + s.count, 0);
  const x = new Float32Array(n * nFeatures);
  const y = new Uint8Array(n);
  let k = 0;
  for (const s of sets) {
    x.set(s.x, k * nFeatures);
    y.set(s.y, k);
    k += s.count;
  }
  let pos = 0;
  for (const v of y) pos += v;
  if (pos === 0 || pos === n) return undefined;
  return Forest.train(
    { x, nSamples: n, nFeatures, layout: 'sample-major', y, nClasses: 2 },
    { nTrees: o.trees, maxDepth: o.maxDepth, minSamplesLeaf: o.minSamplesLeaf, balanced: false, seed: o.seed },
  );
}

/** Each candidate's probability of being a true object (0 without a forest). */
export function candidateScores(f: Forest | undefined, x: Float32Array, n: number): Float32Array {
  if (!f || n === 0) return new Float32Array(n);
  return f.predictProba(x, n, 'sample-major').slice(n, 2 * n);
}

export function objectF1(found: number, matched: number, truth: number): number {
  const p = found ? matched / found : 0, r = truth ? matched / truth : 0;
  return p + r > 0 ? (2 * p * r) / (p + r) : 0;
}

/**
 * Every fold scored by a forest trained on the other folds; per score cut, the candidates kept and
 * matched (IoU >= minIou), pooled over the folds.
 */
export function outOfFoldCuts(sets: CandidateSet[], nFeatures: number, o: CandidateForestOptions, cuts: readonly number[], minIou: number): Array<{ cut: number; found: number; matched: number }> {
  const scores = sets.map((s, k) => candidateScores(trainCandidateForest(sets.filter((_, j) => j !== k), nFeatures, o), s.x, s.count));
  return cuts.map((cut) => {
    let found = 0, matched = 0;
    sets.forEach((s, k) => {
      const keep = (p: number): boolean => scores[k][p - 1] >= cut;
      for (let p = 1; p <= s.count; p++) if (keep(p)) found++;
      matched += greedyMatch(s.pairs, s.count, s.nTrue, keep, minIou);
    });
    return { cut, found, matched };
  });
}
