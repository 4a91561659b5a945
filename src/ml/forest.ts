/**
 * A random forest classifier written for pixel and edge classification.
 *
 * - Multi-class (classes 0..K-1), Gini impurity, sqrt(F) candidate features per split (drawing more
 *   only when none of them can split), bootstrap samples, optional class-balanced bootstrap
 *   (each tree draws the same number of samples from every class), max depth / min samples per leaf.
 * - Split search on pre-binned features: each feature is cut into <= 256 bins at midpoints between
 *   distinct training values (exact, like scikit-learn, when a feature has <= 256 distinct values;
 *   quantile midpoints otherwise). Large nodes build class histograms over bins; small nodes sort
 *   their (bin, class) keys. Thresholds are stored as float values: x <= threshold goes left.
 * - Deterministic: tree t draws from a PRNG seeded by (seed, t); the result does not depend on how
 *   many worker threads trained it (see forest-parallel.ts).
 * - Flat typed-array storage of all trees (feature, threshold, left child or leaf, leaf class
 *   distributions) for fast prediction; feature importances = normalised total Gini decrease.
 *
 * File format (`Forest.toBytes` / `Forest.fromBytes`, version 1), little-endian:
 *   bytes 0..3   "WRF1"
 *   bytes 4..7   uint32 header length H
 *   8..8+H       UTF-8 JSON header: {format:"wiring-random-forest", version:1, nFeatures, nClasses, nTrees,
 *                nNodes, nLeaves, params, importances (Gini decrease per tree x feature), meta}   (meta: the caller's, e.g. feature config)
 *   padding to a multiple of 4, then arrays:
 *                treeRoots int32[nTrees], feature int32[nNodes] (-1 = leaf), threshold float32[nNodes],
 *                child int32[nNodes] (inner: index of left child, right = left + 1; leaf: leaf number),
 *                leafProb float32[nLeaves * nClasses]
 */
import { FormatError, UsageError } from '../core/errors.js';
import { type WasmWalker, wasmWalker } from './forest-wasm.js';

export interface ForestParams {
  nTrees: number;
  /** Maximum tree depth (root = 0); default unlimited. */
  maxDepth: number;
  minSamplesLeaf: number;
  /** Candidate features per split; default floor(sqrt(F)). */
  mtry?: number;
  /** Draw the same number of samples from every class for every tree. */
  balanced: boolean;
  /** Bootstrap size as a fraction of the training set size. */
  sampleFraction: number;
  seed: number;
}

export const DEFAULT_FOREST_PARAMS: ForestParams = {
  nTrees: 100,
  maxDepth: 1000,
  minSamplesLeaf: 1,
  balanced: true,
  sampleFraction: 1,
  seed: 0,
};

/** Training data: n samples x F features, float32. Layout 'feature-major': x[f * n + i]; 'sample-major': x[i * F + f]. */
export interface TrainingData {
  x: Float32Array;
  nSamples: number;
  nFeatures: number;
  layout: 'feature-major' | 'sample-major';
  /** Class of each sample, 0..nClasses-1. */
  y: Uint8Array | Uint16Array | Int32Array;
  nClasses: number;
}

/** Binned training data shared by all trees (and by worker threads). */
export interface BinnedData {
  n: number;
  nFeatures: number;
  nClasses: number;
  /** bins[f * n + i] */
  bins: Uint8Array;
  y: Uint8Array;
  /** thresholds[f][b]: upper edge of bin b (x <= edge <=> bin <= b). */
  edges: Float32Array[];
}

/** One or more trained trees in flat arrays. */
export interface TreeArrays {
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float32Array;
  child: Int32Array;
  leafProb: Float32Array;
  /** Gini decrease per tree and feature (unnormalised): importance[t * nFeatures + f]. */
  importance: Float64Array;
}

// ---------------------------------------------------------------- random numbers

/** sfc32 seeded through splitmix32 of (seed, stream); returns uniform [0, 2^32). */
export function makeRng(seed: number, stream: number): () => number {
  let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  const sm = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = sm(), b = sm(), c = sm(), d = sm();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

// ---------------------------------------------------------------- binning

export function checkTrainingData(d: TrainingData): void {
  const { nSamples: n, nFeatures: F, nClasses: K } = d;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`random forest: no training samples (got ${n})`);
  if (!Number.isInteger(F) || F < 1) throw new UsageError(`random forest: need at least one feature (got ${F})`);
  if (!Number.isInteger(K) || K < 2 || K > 255) throw new UsageError(`random forest: number of classes must be 2..255, got ${K}`);
  if (d.x.length !== n * F) throw new UsageError(`random forest: feature array has ${d.x.length} values, expected ${n} x ${F}`);
  if (d.y.length !== n) throw new UsageError(`random forest: ${d.y.length} labels for ${n} samples`);
  for (let i = 0; i < n; i++) {
    const c = d.y[i];
    if (!(c >= 0 && c < K)) throw new UsageError(`random forest: sample ${i} has class ${c}, expected 0..${K - 1}`);
  }
  for (let i = 0; i < d.x.length; i++) {
    if (!Number.isFinite(d.x[i])) {
      const [s, f] = d.layout === 'feature-major' ? [i % n, Math.floor(i / n)] : [Math.floor(i / F), i % F];
      throw new UsageError(`random forest: feature ${f} of sample ${s} is ${d.x[i]}; features must be finite`);
    }
  }
}

/** Bin the features (<= 256 bins each) for training. */
export function binData(d: TrainingData, maxBins = 256): BinnedData {
  checkTrainingData(d);
  const { nSamples: n, nFeatures: F } = d;
  const bins = new Uint8Array(n * F);
  const edges: Float32Array[] = [];
  const col = new Float32Array(n);
  for (let f = 0; f < F; f++) {
    if (d.layout === 'feature-major') col.set(d.x.subarray(f * n, (f + 1) * n));
    else for (let i = 0; i < n; i++) col[i] = d.x[i * F + f];
    const sorted = col.slice().sort();
    // distinct values
    const uniq: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) uniq.push(sorted[i]);
    let e: number[];
    if (uniq.length <= maxBins) {
      e = [];
      for (let i = 0; i + 1 < uniq.length; i++) e.push(midpoint(uniq[i], uniq[i + 1]));
    } else {
      // quantile cut points on the sorted values, midpoints between neighbours, deduplicated
      e = [];
      for (let b = 1; b < maxBins; b++) {
        const q = Math.floor((b * n) / maxBins);
        const lo = sorted[q - 1];
        const hi = sorted[q];
        if (hi > lo) {
          const m = midpoint(lo, hi);
          if (e.length === 0 || m > e[e.length - 1]) e.push(m);
        }
      }
    }
    const ef = Float32Array.from(e);
    edges.push(ef);
    const base = f * n;
    for (let i = 0; i < n; i++) bins[base + i] = binOf(ef, col[i]);
  }
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) y[i] = d.y[i];
  return { n, nFeatures: F, nClasses: d.nClasses, bins, y, edges };
}

/** A float32 value strictly between a < b (so x <= m puts a left and b right after float32 rounding). */
function midpoint(a: number, b: number): number {
  const m = Math.fround(a + (b - a) / 2);
  if (m >= a && m < b) return m;
  return a; // a and b adjacent floats: split at a (x <= a goes left)
}

/** Smallest b with x <= edges[b] (edges.length if none). */
function binOf(edges: Float32Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// ---------------------------------------------------------------- training one tree

class Growable {
  feature = new Int32Array(1024);
  threshold = new Float32Array(1024);
  child = new Int32Array(1024);
  nNodes = 0;
  leafProb = new Float32Array(1024);
  nLeafValues = 0;
  ensureNodes(k: number): void {
    if (this.nNodes + k <= this.feature.length) return;
    const cap = Math.max(this.feature.length * 2, this.nNodes + k);
    const f = new Int32Array(cap); f.set(this.feature); this.feature = f;
    const t = new Float32Array(cap); t.set(this.threshold); this.threshold = t;
    const c = new Int32Array(cap); c.set(this.child); this.child = c;
  }
  addLeafValues(k: number): number {
    if (this.nLeafValues + k > this.leafProb.length) {
      const p = new Float32Array(Math.max(this.leafProb.length * 2, this.nLeafValues + k));
      p.set(this.leafProb);
      this.leafProb = p;
    }
    const at = this.nLeafValues;
    this.nLeafValues += k;
    return at;
  }
}

const SMALL_NODE = 48;

/**
 * Train trees [t0, t1) of a forest on binned data. Deterministic in (params.seed, tree index).
 */
export function trainTrees(data: BinnedData, params: ForestParams, t0: number, t1: number): TreeArrays {
  const { n, nFeatures: F, nClasses: K, bins, y, edges } = data;
  const mtry = Math.max(1, Math.min(F, params.mtry ?? Math.floor(Math.sqrt(F))));
  const minLeaf = Math.max(1, params.minSamplesLeaf);
  const maxDepth = params.maxDepth;
  const g = new Growable();
  const roots = new Int32Array(t1 - t0);
  const importance = new Float64Array((t1 - t0) * F);

  // per-class sample lists (for balanced bootstrap)
  const byClass: Int32Array[] = [];
  {
    const counts = new Int32Array(K);
    for (let i = 0; i < n; i++) counts[y[i]]++;
    for (let k = 0; k < K; k++) byClass.push(new Int32Array(counts[k]));
    const fill = new Int32Array(K);
    for (let i = 0; i < n; i++) byClass[y[i]][fill[y[i]]++] = i;
  }
  const present = byClass.filter((c) => c.length > 0).length;
  const m = Math.max(1, Math.round(n * params.sampleFraction));
  const perClass = Math.max(1, Math.round(m / Math.max(1, present)));
  const total = params.balanced ? perClass * present : m;
  const idx = new Int32Array(total);
  const tmp = new Int32Array(total);
  const hist = new Int32Array(256 * K);
  const keys = new Int32Array(SMALL_NODE);
  const featPerm = new Int32Array(F);
  const left = new Int32Array(K);
  const right = new Int32Array(K);
  const bestLeft = new Int32Array(K);
  // explicit stack: lo, hi, depth, node, counts offset
  const stackLo: number[] = [];
  const stackHi: number[] = [];
  const stackDepth: number[] = [];
  const stackNode: number[] = [];
  const countsStack: Int32Array[] = [];

  for (let t = t0; t < t1; t++) {
    const rng = makeRng(params.seed, t);
    // bootstrap
    let p = 0;
    if (params.balanced) {
      for (let k = 0; k < K; k++) {
        const list = byClass[k];
        if (list.length === 0) continue;
        for (let j = 0; j < perClass; j++) idx[p++] = list[rng() % list.length];
      }
    } else {
      for (let j = 0; j < m; j++) idx[p++] = rng() % n;
    }
    const rootCounts = new Int32Array(K);
    for (let j = 0; j < total; j++) rootCounts[y[idx[j]]]++;
    g.ensureNodes(1);
    const root = g.nNodes++;
    roots[t - t0] = root;
    stackLo.push(0); stackHi.push(total); stackDepth.push(0); stackNode.push(root); countsStack.push(rootCounts);

    while (stackLo.length > 0) {
      const lo = stackLo.pop()!, hi = stackHi.pop()!, depth = stackDepth.pop()!, node = stackNode.pop()!;
      const counts = countsStack.pop()!;
      const size = hi - lo;
      let nonzero = 0;
      let parentScore = 0;
      for (let k = 0; k < K; k++) {
        if (counts[k] > 0) nonzero++;
        parentScore += counts[k] * counts[k];
      }
      parentScore /= size;
      let bestF = -1;
      let bestBin = -1;
      let bestScore = -1; // any valid split beats no split (zero-gain splits allowed, as in scikit-learn)
      if (nonzero > 1 && depth < maxDepth && size >= 2 * minLeaf) {
        for (let f = 0; f < F; f++) featPerm[f] = f;
        let tried = 0;
        for (let j = 0; j < F; j++) {
          if (tried >= mtry && bestF >= 0) break;
          const r = j + (rng() % (F - j));
          const f = featPerm[r];
          featPerm[r] = featPerm[j];
          featPerm[j] = f;
          tried++;
          const base = f * n;
          if (size < SMALL_NODE) {
            // sort (bin, class) keys
            for (let s = 0; s < size; s++) {
              const i = idx[lo + s];
              const key = (bins[base + i] << 8) | y[i];
              let q = s - 1;
              while (q >= 0 && keys[q] > key) {
                keys[q + 1] = keys[q];
                q--;
              }
              keys[q + 1] = key;
            }
            left.fill(0);
            let nL = 0;
            for (let s = 0; s < size - 1; s++) {
              left[keys[s] & 255]++;
              nL++;
              const b = keys[s] >> 8;
              if (b === keys[s + 1] >> 8) continue;
              const nR = size - nL;
              if (nL < minLeaf || nR < minLeaf) continue;
              let sl = 0, sr = 0;
              for (let k = 0; k < K; k++) {
                const l = left[k];
                const rr = counts[k] - l;
                sl += l * l;
                sr += rr * rr;
              }
              const score = sl / nL + sr / nR;
              if (score > bestScore) {
                bestScore = score; bestF = f; bestBin = b;
                bestLeft.set(left);
              }
            }
          } else {
            let minB = 255, maxB = 0;
            for (let s = lo; s < hi; s++) {
              const i = idx[s];
              const b = bins[base + i];
              hist[b * K + y[i]]++;
              if (b < minB) minB = b;
              if (b > maxB) maxB = b;
            }
            left.fill(0);
            let nL = 0;
            for (let b = minB; b < maxB; b++) {
              const hb = b * K;
              let add = 0;
              for (let k = 0; k < K; k++) {
                const c = hist[hb + k];
                left[k] += c;
                add += c;
              }
              if (add === 0) continue;
              nL += add;
              const nR = size - nL;
              if (nL < minLeaf) continue;
              if (nR < minLeaf) break;
              let sl = 0, sr = 0;
              for (let k = 0; k < K; k++) {
                const l = left[k];
                const rr = counts[k] - l;
                sl += l * l;
                sr += rr * rr;
              }
              const score = sl / nL + sr / nR;
              if (score > bestScore) {
                bestScore = score; bestF = f; bestBin = b;
                bestLeft.set(left);
              }
            }
            hist.fill(0, minB * K, (maxB + 1) * K);
          }
        }
      }
      if (bestF < 0) {
        const at = g.addLeafValues(K);
        for (let k = 0; k < K; k++) g.leafProb[at + k] = counts[k] / size;
        g.feature[node] = -1;
        g.threshold[node] = 0;
        g.child[node] = at / K;
        continue;
      }
      importance[(t - t0) * F + bestF] += Math.max(0, bestScore - parentScore); // = size * (gini(parent) - weighted gini(children))
      // partition idx[lo, hi) by bin <= bestBin (stable, via tmp)
      const base = bestF * n;
      let a = lo;
      let bq = 0;
      for (let s = lo; s < hi; s++) {
        const i = idx[s];
        if (bins[base + i] <= bestBin) idx[a++] = i;
        else tmp[bq++] = i;
      }
      idx.set(tmp.subarray(0, bq), a);
      g.ensureNodes(2);
      const l = g.nNodes;
      g.nNodes += 2;
      g.feature[node] = bestF;
      const e = edges[bestF];
      g.threshold[node] = bestBin < e.length ? e[bestBin] : Infinity;
      g.child[node] = l;
      const lc = Int32Array.from(bestLeft);
      const rc = new Int32Array(K);
      for (let k = 0; k < K; k++) rc[k] = counts[k] - lc[k];
      // push right first so the left subtree is laid out first (depth-first order)
      stackLo.push(a); stackHi.push(hi); stackDepth.push(depth + 1); stackNode.push(l + 1); countsStack.push(rc);
      stackLo.push(lo); stackHi.push(a); stackDepth.push(depth + 1); stackNode.push(l); countsStack.push(lc);
    }
  }
  return {
    roots,
    feature: g.feature.slice(0, g.nNodes),
    threshold: g.threshold.slice(0, g.nNodes),
    child: g.child.slice(0, g.nNodes),
    leafProb: g.leafProb.slice(0, g.nLeafValues),
    importance,
  };
}

/** Concatenate tree sets (in order), fixing up node and leaf indices. */
export function concatTrees(parts: TreeArrays[], nClasses: number, nFeatures: number): TreeArrays {
  let nodes = 0, leaves = 0, trees = 0;
  for (const p of parts) {
    nodes += p.feature.length;
    leaves += p.leafProb.length;
    trees += p.roots.length;
  }
  const out: TreeArrays = {
    roots: new Int32Array(trees),
    feature: new Int32Array(nodes),
    threshold: new Float32Array(nodes),
    child: new Int32Array(nodes),
    leafProb: new Float32Array(leaves),
    importance: new Float64Array(trees * nFeatures),
  };
  let no = 0, lo = 0, to = 0;
  for (const p of parts) {
    for (let t = 0; t < p.roots.length; t++) out.roots[to + t] = p.roots[t] + no;
    out.feature.set(p.feature, no);
    out.threshold.set(p.threshold, no);
    const leafBase = lo / nClasses;
    for (let i = 0; i < p.feature.length; i++) out.child[no + i] = p.feature[i] < 0 ? p.child[i] + leafBase : p.child[i] + no;
    out.leafProb.set(p.leafProb, lo);
    out.importance.set(p.importance, to * nFeatures);
    no += p.feature.length;
    lo += p.leafProb.length;
    to += p.roots.length;
  }
  return out;
}

// ---------------------------------------------------------------- the forest

/** Samples per prediction tile (ranked once, then walked by every tree). */
const TILE = 32768;
let useJsWalk = false;
/** Tests: walk the trees in JS (walkTree) instead of WebAssembly; both give the same bits. */
export function _useJsWalk(on: boolean): void {
  useJsWalk = on;
}

/** The compact prediction layout of a forest (see Forest.compact). */
export interface Compact {
  words: Int32Array;
  edges: Float32Array[];
  /** edges padded to 255 entries with +Inf (for the fixed-step lower bound) */
  padded: Float32Array[];
  /** words of each tree (views into `words`) */
  tw: Int32Array[];
}

export class Forest {
  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly trees: TreeArrays,
    readonly params: ForestParams,
    /** Caller's metadata saved with the model (feature configuration, class names, ...). */
    readonly meta: Record<string, unknown> = {},
  ) {}

  /** Train on one thread. See trainForest in forest-parallel.ts for worker threads. */
  static train(data: TrainingData, params: Partial<ForestParams> = {}, meta: Record<string, unknown> = {}): Forest {
    const p = resolveParams(params);
    const binned = binData(data);
    const trees = trainTrees(binned, p, 0, p.nTrees);
    return new Forest(data.nFeatures, data.nClasses, trees, p, meta);
  }

  get nTrees(): number {
    return this.trees.roots.length;
  }

  get nNodes(): number {
    return this.trees.feature.length;
  }

  /** Normalised feature importances (mean decrease in Gini impurity), summing to 1. */
  importances(): Float64Array {
    const F = this.nFeatures;
    const imp = new Float64Array(F);
    const per = this.trees.importance;
    for (let i = 0; i < per.length; i++) imp[i % F] += per[i];
    let s = 0;
    for (const v of imp) s += v;
    if (s > 0) for (let i = 0; i < imp.length; i++) imp[i] /= s;
    return imp;
  }

  /**
   * Class probabilities (mean of the trees' leaf distributions) for n samples.
   * Input layout 'feature-major' (x[f*n + i], a feature stack's channels) or 'sample-major' (x[i*F + f]).
   * Output is class-major: out[k * n + i].
   */
  predictProba(
    x: Float32Array,
    n: number,
    layout: 'feature-major' | 'sample-major' = 'feature-major',
    out = new Float32Array(n * this.nClasses),
  ): Float32Array {
    const F = this.nFeatures;
    const K = this.nClasses;
    if (x.length !== n * F) throw new UsageError(`random forest: ${x.length} feature values for ${n} samples x ${F} features`);
    if (out.length !== n * K) throw new UsageError(`random forest: output has ${out.length} values, expected ${n * K}`);
    const compact = this.compact();
    if (compact) return this.predictCompact(compact, x, n, layout, out);
    const { roots, leafProb, child } = this.trees;
    const { nodes, thr } = this.packed();
    const F1 = F + 1;
    const T = roots.length;
    const CH = Math.max(1, Math.min(2048, n));
    const xs = new Float32Array(CH * F1);
    const acc = new Float32Array(CH * K);
    const inv = 1 / T;
    for (let c0 = 0; c0 < n; c0 += CH) {
      const m = Math.min(CH, n - c0);
      // gather the chunk sample-major so one sample's features are close together
      if (layout === 'feature-major') {
        for (let f = 0; f < F; f++) {
          const src = f * n + c0;
          for (let i = 0; i < m; i++) xs[i * F1 + f] = x[src + i];
        }
      } else for (let i = 0; i < m; i++) xs.set(x.subarray((c0 + i) * F, (c0 + i + 1) * F), i * F1);
      acc.fill(0);
      for (let t = 0; t < T; t++) {
        const root = roots[t];
        // Four walks in lockstep hide memory latency; the step is branch-free (child + (x > thr)).
        // nodes = [feature, child] per node; leaves are [F, self] with thr +Inf (xs rows carry a dummy
        // feature F = 0), so finished walks stay put until all four are done.
        let i = 0;
        for (; i + 3 < m; i += 4) {
          let a = root, b = root, c = root, d = root;
          const xa = i * F1, xb = xa + F1, xc = xb + F1, xd = xc + F1;
          let fa = nodes[2 * a], fb = fa, fc = fa, fd = fa;
          while (fa !== F || fb !== F || fc !== F || fd !== F) {
            a = nodes[2 * a + 1] + ((xs[xa + fa] > thr[a]) as unknown as number);
            b = nodes[2 * b + 1] + ((xs[xb + fb] > thr[b]) as unknown as number);
            c = nodes[2 * c + 1] + ((xs[xc + fc] > thr[c]) as unknown as number);
            d = nodes[2 * d + 1] + ((xs[xd + fd] > thr[d]) as unknown as number);
            fa = nodes[2 * a]; fb = nodes[2 * b]; fc = nodes[2 * c]; fd = nodes[2 * d];
          }
          const la = child[a] * K, lb = child[b] * K, lc = child[c] * K, ld = child[d] * K;
          const ab = i * K;
          for (let k = 0; k < K; k++) {
            acc[ab + k] += leafProb[la + k];
            acc[ab + K + k] += leafProb[lb + k];
            acc[ab + 2 * K + k] += leafProb[lc + k];
            acc[ab + 3 * K + k] += leafProb[ld + k];
          }
        }
        for (; i < m; i++) {
          let node = root;
          let f = nodes[2 * node];
          const xb = i * F1;
          while (f !== F) {
            node = nodes[2 * node + 1] + ((xs[xb + f] > thr[node]) as unknown as number);
            f = nodes[2 * node];
          }
          const lb = child[node] * K;
          const ab = i * K;
          for (let k = 0; k < K; k++) acc[ab + k] += leafProb[lb + k];
        }
      }
      for (let k = 0; k < K; k++) {
        const ob = k * n + c0;
        for (let i = 0; i < m; i++) out[ob + i] = acc[i * K + k] * inv;
      }
    }
    return out;
  }

  private compactNodes?: Compact | null;

  /** The compact prediction layout (built on first use; null when the forest does not fit it), e.g. to send to a worker thread. */
  predictionLayout(): Compact | null {
    return this.compact();
  }

  /** Use the layout that predictionLayout() of this same forest returned (on another thread), instead of building it again. */
  usePredictionLayout(c: Compact | null): void {
    this.compactNodes = c;
  }

  /**
   * One 32-bit word per node when every tree has < 65536 nodes, F < 255 and every feature uses
   * < 255 distinct thresholds: feature | bin << 8 | (child - tree root) << 16, where bin is the
   * threshold's rank among that feature's thresholds (x <= threshold <=> rank(x) <= bin). Leaves:
   * feature 255 (reads any byte; every byte is <= bin 255, so the step stays put), bin 255, child =
   * itself; all-ones low bytes let lockstep walks test 'all at leaves' with one AND. Samples are ranked once.
   */
  private compact(): Compact | null {
    if (this.compactNodes !== undefined) return this.compactNodes;
    this.compactNodes = null;
    const { roots, feature, threshold, child } = this.trees;
    const F = this.nFeatures;
    const N = feature.length;
    if (F >= 255) return null;
    const ends = Array.from(roots.slice(1)).concat([N]);
    for (let t = 0; t < roots.length; t++) if (ends[t] - roots[t] >= 65536 || ends[t] < roots[t]) return null;
    const lists: number[][] = Array.from({ length: F }, () => []);
    for (let i = 0; i < N; i++) if (feature[i] >= 0) lists[feature[i]].push(threshold[i]);
    const edges: Float32Array[] = [];
    for (const l of lists) {
      const sorted = Float32Array.from(l).sort();
      const u: number[] = [];
      for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) u.push(sorted[i]);
      if (u.length >= 255) return null;
      edges.push(Float32Array.from(u));
    }
    const words = new Int32Array(N);
    for (let t = 0; t < roots.length; t++) {
      const r = roots[t];
      for (let i = r; i < ends[t]; i++) {
        const f = feature[i];
        if (f < 0) words[i] = 255 | (255 << 8) | ((i - r) << 16);
        else {
          const bin = binOf(edges[f], threshold[i]);
          words[i] = f | (bin << 8) | ((child[i] - r) << 16);
        }
      }
    }
    const padded = edges.map((e) => {
      const p = new Float32Array(255).fill(Infinity);
      p.set(e);
      return p;
    });
    const tw = Array.from(roots, (r, t) => words.subarray(r, ends[t]));
    this.compactNodes = { words, edges, padded, tw };
    return this.compactNodes;
  }

  private predictCompact(c: Compact, x: Float32Array, n: number, layout: 'feature-major' | 'sample-major', out: Float32Array): Float32Array {
    const F = this.nFeatures;
    const K = this.nClasses;
    const { roots, leafProb, child } = this.trees;
    const { padded, tw } = c;
    const F1 = F + 1;
    const T = roots.length;
    const CH = Math.max(1, Math.min(TILE, n)); // small calls (one edge at a time) allocate little; 32768 beat 8192 by ~7-20% CPU in A/B (4096: 1.2x slower)
    const wasm = useJsWalk ? null : this.walker(c);
    const xb = wasm ? wasm.xb : new Uint8Array(CH * F1 + 256); // + 256: a leaf reads 'feature 255' (any byte; its bin 255 >= every rank)
    const acc = wasm ? wasm.acc.subarray(0, CH * K) : new Float32Array(CH * K);
    const inv = 1 / T;
    const fm = layout === 'feature-major';
    // The work is in small functions called per tile (and per tree): each is optimised on its own with
    // complete type feedback after a few calls, instead of one long function that a fresh thread runs
    // through several on-stack-replacement compilations and deoptimisations on its first call.
    for (let c0 = 0; c0 < n; c0 += CH) {
      const m = Math.min(CH, n - c0);
      // rank every feature value among that feature's thresholds (once per sample, for all trees)
      for (let f = 0; f < F; f++) rankFeature(padded[f], x, fm ? f * n + c0 : c0 * F + f, fm ? 1 : F, m, xb, f, F1);
      acc.fill(0);
      if (wasm) for (let t = 0; t < T; t++) wasm.walk(t, m);
      else for (let t = 0; t < T; t++) walkTree(tw[t], roots[t], child, leafProb, xb, acc, m, F1, K);
      writeOut(acc, out, n, c0, m, K, inv);
    }
    return out;
  }

  private wasmWalk?: WasmWalker | null;

  /** The WebAssembly walk over this forest's compact layout (built once per thread; null without WebAssembly). */
  private walker(c: Compact): WasmWalker | null {
    if (this.wasmWalk === undefined) this.wasmWalk = wasmWalker(c.words, this.trees.roots, this.trees.child, this.trees.leafProb, this.nFeatures + 1, this.nClasses, TILE);
    return this.wasmWalk;
  }

  private packedNodes?: { nodes: Int32Array; thr: Float32Array };

  /** Prediction layout: nodes [feature, child] (leaves [F, self]) and thresholds (leaves +Inf). */
  private packed(): { nodes: Int32Array; thr: Float32Array } {
    if (this.packedNodes) return this.packedNodes;
    const { feature, threshold, child } = this.trees;
    const N = feature.length;
    const nodes = new Int32Array(N * 2);
    const thr = new Float32Array(N);
    const F = this.nFeatures;
    for (let i = 0; i < N; i++) {
      const leaf = feature[i] < 0;
      nodes[2 * i] = leaf ? F : feature[i];
      nodes[2 * i + 1] = leaf ? i : child[i];
      thr[i] = leaf ? Infinity : threshold[i];
    }
    this.packedNodes = { nodes, thr };
    return this.packedNodes;
  }

  toBytes(): Uint8Array {
    const t = this.trees;
    const header = {
      format: 'wiring-random-forest',
      version: 1,
      nFeatures: this.nFeatures,
      nClasses: this.nClasses,
      nTrees: t.roots.length,
      nNodes: t.feature.length,
      nLeaves: t.leafProb.length / this.nClasses,
      params: this.params,
      importances: Array.from(t.importance), // per tree: [t * nFeatures + f]
      meta: this.meta,
    };
    const hb = new TextEncoder().encode(JSON.stringify(header));
    const hpad = (4 - ((8 + hb.length) % 4)) % 4;
    const arrays = [t.roots, t.feature, t.threshold, t.child, t.leafProb];
    const size = 8 + hb.length + hpad + arrays.reduce((s, a) => s + a.byteLength, 0);
    const out = new Uint8Array(size);
    out.set(new TextEncoder().encode('WRF1'), 0);
    new DataView(out.buffer).setUint32(4, hb.length, true);
    out.set(hb, 8);
    let o = 8 + hb.length + hpad;
    for (const a of arrays) {
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
      o += a.byteLength;
    }
    return out;
  }

  static fromBytes(bytes: Uint8Array, where = 'random forest model'): Forest {
    if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== 'WRF1') {
      throw new FormatError('not a Wiring random forest model (expected the magic bytes "WRF1")', where);
    }
    const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
    if (8 + hl > bytes.length) throw new FormatError(`header length ${hl} runs past the end of the file (${bytes.length} bytes)`, where);
    let h: Record<string, unknown>;
    try {
      h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl))) as Record<string, unknown>;
    } catch (e) {
      throw new FormatError(`header is not valid JSON (${(e as Error).message})`, where);
    }
    if (h.format !== 'wiring-random-forest') throw new FormatError(`header field "format" is ${JSON.stringify(h.format)}, expected "wiring-random-forest"`, where);
    if (h.version !== 1) throw new FormatError(`header field "version" is ${JSON.stringify(h.version)}; this build reads version 1`, where);
    const int = (k: string, min: number): number => {
      const v = h[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new FormatError(`header field "${k}" is ${JSON.stringify(v)}, expected an integer >= ${min}`, where);
      return v;
    };
    const F = int('nFeatures', 1), K = int('nClasses', 2), T = int('nTrees', 1), N = int('nNodes', 1), L = int('nLeaves', 1);
    const hpad = (4 - ((8 + hl) % 4)) % 4;
    const need = 8 + hl + hpad + 4 * (T + 3 * N + L * K);
    if (bytes.length !== need) throw new FormatError(`file has ${bytes.length} bytes, the header describes ${need}`, where);
    // copy into a fresh, aligned buffer (a Node Buffer's slice() is a view into a shared pool)
    const copy = new Uint8Array(bytes.length - (8 + hl + hpad));
    copy.set(bytes.subarray(8 + hl + hpad));
    let o = 0;
    const take = <A extends Int32Array | Float32Array>(C: new (b: ArrayBuffer, o: number, n: number) => A, len: number): A => {
      const a = new C(copy.buffer, o, len);
      o += len * 4;
      return a;
    };
    const roots = take(Int32Array, T);
    const feature = take(Int32Array, N);
    const threshold = take(Float32Array, N);
    const child = take(Int32Array, N);
    const leafProb = take(Float32Array, L * K);
    for (let i = 0; i < N; i++) {
      const f = feature[i];
      if (f >= F || f < -1) throw new FormatError(`node ${i} uses feature ${f}, the model has ${F}`, where);
      if (f >= 0 ? child[i] <= i || child[i] + 1 >= N : child[i] < 0 || child[i] >= L) {
        throw new FormatError(`node ${i} has an invalid child/leaf index ${child[i]}`, where);
      }
    }
    for (const r of roots) if (r < 0 || r >= N) throw new FormatError(`tree root ${r} outside 0..${N - 1}`, where);
    const imp = Array.isArray(h.importances) && h.importances.length === F * T ? Float64Array.from(h.importances as number[]) : new Float64Array(F * T);
    const params = resolveParams((h.params ?? {}) as Partial<ForestParams>);
    return new Forest(F, K, { roots, feature, threshold, child, leafProb, importance: imp }, params, (h.meta ?? {}) as Record<string, unknown>);
  }
}

/**
 * Rank m values of one feature (x[xo + i * xs]) among its thresholds: branch-free lower bound over the
 * 255-entry padded edge table e (8 fixed steps); xb[i * F1 + f] = rank.
 */
function rankFeature(e: Float32Array, x: Float32Array, xo: number, xs: number, m: number, xb: Uint8Array, f: number, F1: number): void {
  let i = 0;
  // four samples at a time: four independent searches overlap in the pipeline
  for (; i + 3 < m; i += 4) {
    const q = xo + i * xs;
    const v0 = x[q], v1 = x[q + xs], v2 = x[q + 2 * xs], v3 = x[q + 3 * xs];
    let j0 = ((e[127] < v0) as unknown as number) << 7, j1 = ((e[127] < v1) as unknown as number) << 7;
    let j2 = ((e[127] < v2) as unknown as number) << 7, j3 = ((e[127] < v3) as unknown as number) << 7;
    j0 += ((e[j0 + 63] < v0) as unknown as number) << 6; j1 += ((e[j1 + 63] < v1) as unknown as number) << 6;
    j2 += ((e[j2 + 63] < v2) as unknown as number) << 6; j3 += ((e[j3 + 63] < v3) as unknown as number) << 6;
    j0 += ((e[j0 + 31] < v0) as unknown as number) << 5; j1 += ((e[j1 + 31] < v1) as unknown as number) << 5;
    j2 += ((e[j2 + 31] < v2) as unknown as number) << 5; j3 += ((e[j3 + 31] < v3) as unknown as number) << 5;
    j0 += ((e[j0 + 15] < v0) as unknown as number) << 4; j1 += ((e[j1 + 15] < v1) as unknown as number) << 4;
    j2 += ((e[j2 + 15] < v2) as unknown as number) << 4; j3 += ((e[j3 + 15] < v3) as unknown as number) << 4;
    j0 += ((e[j0 + 7] < v0) as unknown as number) << 3; j1 += ((e[j1 + 7] < v1) as unknown as number) << 3;
    j2 += ((e[j2 + 7] < v2) as unknown as number) << 3; j3 += ((e[j3 + 7] < v3) as unknown as number) << 3;
    j0 += ((e[j0 + 3] < v0) as unknown as number) << 2; j1 += ((e[j1 + 3] < v1) as unknown as number) << 2;
    j2 += ((e[j2 + 3] < v2) as unknown as number) << 2; j3 += ((e[j3 + 3] < v3) as unknown as number) << 2;
    j0 += ((e[j0 + 1] < v0) as unknown as number) << 1; j1 += ((e[j1 + 1] < v1) as unknown as number) << 1;
    j2 += ((e[j2 + 1] < v2) as unknown as number) << 1; j3 += ((e[j3 + 1] < v3) as unknown as number) << 1;
    j0 += (e[j0] < v0) as unknown as number; j1 += (e[j1] < v1) as unknown as number;
    j2 += (e[j2] < v2) as unknown as number; j3 += (e[j3] < v3) as unknown as number;
    const o = i * F1 + f;
    xb[o] = j0; xb[o + F1] = j1; xb[o + 2 * F1] = j2; xb[o + 3 * F1] = j3;
  }
  for (; i < m; i++) {
    const v = x[xo + i * xs];
    let j = ((e[127] < v) as unknown as number) << 7;
    j += ((e[j + 63] < v) as unknown as number) << 6;
    j += ((e[j + 31] < v) as unknown as number) << 5;
    j += ((e[j + 15] < v) as unknown as number) << 4;
    j += ((e[j + 7] < v) as unknown as number) << 3;
    j += ((e[j + 3] < v) as unknown as number) << 2;
    j += ((e[j + 1] < v) as unknown as number) << 1;
    j += (e[j] < v) as unknown as number;
    xb[i * F1 + f] = j;
  }
}

/**
 * Add one tree's leaf distributions for m ranked samples (xb rows of F1 bytes) to acc[i * K + k].
 * w: the tree's words (node indices relative to its root r); child/leafProb: the forest's arrays.
 */
function walkTree(w: Int32Array, r: number, child: Int32Array, leafProb: Float32Array, xb: Uint8Array, acc: Float32Array, m: number, F1: number, K: number): void {
  const w0 = w[0];
  let i = 0;
  // 8 walks in lockstep, two steps per loop test (finished walks stay on their leaf)
  for (; i + 7 < m; i += 8) {
    const x0 = i * F1;
    let wa = w0, wb = w0, wc = w0, wd = w0, we = w0, wg = w0, wh = w0, wq = w0;
    while (((wa & wb & wc & wd & we & wg & wh & wq) & 255) !== 255) {
      wa = w[(wa >>> 16) + ((((wa >>> 8) & 255) - xb[x0 + (wa & 255)]) >>> 31)];
      wb = w[(wb >>> 16) + ((((wb >>> 8) & 255) - xb[x0 + F1 + (wb & 255)]) >>> 31)];
      wc = w[(wc >>> 16) + ((((wc >>> 8) & 255) - xb[x0 + 2 * F1 + (wc & 255)]) >>> 31)];
      wd = w[(wd >>> 16) + ((((wd >>> 8) & 255) - xb[x0 + 3 * F1 + (wd & 255)]) >>> 31)];
      we = w[(we >>> 16) + ((((we >>> 8) & 255) - xb[x0 + 4 * F1 + (we & 255)]) >>> 31)];
      wg = w[(wg >>> 16) + ((((wg >>> 8) & 255) - xb[x0 + 5 * F1 + (wg & 255)]) >>> 31)];
      wh = w[(wh >>> 16) + ((((wh >>> 8) & 255) - xb[x0 + 6 * F1 + (wh & 255)]) >>> 31)];
      wq = w[(wq >>> 16) + ((((wq >>> 8) & 255) - xb[x0 + 7 * F1 + (wq & 255)]) >>> 31)];
      wa = w[(wa >>> 16) + ((((wa >>> 8) & 255) - xb[x0 + (wa & 255)]) >>> 31)];
      wb = w[(wb >>> 16) + ((((wb >>> 8) & 255) - xb[x0 + F1 + (wb & 255)]) >>> 31)];
      wc = w[(wc >>> 16) + ((((wc >>> 8) & 255) - xb[x0 + 2 * F1 + (wc & 255)]) >>> 31)];
      wd = w[(wd >>> 16) + ((((wd >>> 8) & 255) - xb[x0 + 3 * F1 + (wd & 255)]) >>> 31)];
      we = w[(we >>> 16) + ((((we >>> 8) & 255) - xb[x0 + 4 * F1 + (we & 255)]) >>> 31)];
      wg = w[(wg >>> 16) + ((((wg >>> 8) & 255) - xb[x0 + 5 * F1 + (wg & 255)]) >>> 31)];
      wh = w[(wh >>> 16) + ((((wh >>> 8) & 255) - xb[x0 + 6 * F1 + (wh & 255)]) >>> 31)];
      wq = w[(wq >>> 16) + ((((wq >>> 8) & 255) - xb[x0 + 7 * F1 + (wq & 255)]) >>> 31)];
    }
    const ab = i * K;
    // a leaf's word holds its own node index (relative to the root) in the child field
    const la = child[r + (wa >>> 16)] * K, lb = child[r + (wb >>> 16)] * K, lc = child[r + (wc >>> 16)] * K, ld = child[r + (wd >>> 16)] * K;
    const le = child[r + (we >>> 16)] * K, lg = child[r + (wg >>> 16)] * K, lh = child[r + (wh >>> 16)] * K, lq = child[r + (wq >>> 16)] * K;
    for (let k = 0; k < K; k++) {
      acc[ab + k] += leafProb[la + k];
      acc[ab + K + k] += leafProb[lb + k];
      acc[ab + 2 * K + k] += leafProb[lc + k];
      acc[ab + 3 * K + k] += leafProb[ld + k];
      acc[ab + 4 * K + k] += leafProb[le + k];
      acc[ab + 5 * K + k] += leafProb[lg + k];
      acc[ab + 6 * K + k] += leafProb[lh + k];
      acc[ab + 7 * K + k] += leafProb[lq + k];
    }
  }
  for (; i < m; i++) {
    const xa = i * F1;
    let a = 0;
    let ww = w0;
    while ((ww & 255) !== 255) {
      a = (ww >>> 16) + ((((ww >>> 8) & 255) - xb[xa + (ww & 255)]) >>> 31);
      ww = w[a];
    }
    const la = child[r + a] * K;
    const ab = i * K;
    for (let k = 0; k < K; k++) acc[ab + k] += leafProb[la + k];
  }
}

function writeOut(acc: Float32Array, out: Float32Array, n: number, c0: number, m: number, K: number, inv: number): void {
  for (let k = 0; k < K; k++) {
    const ob = k * n + c0;
    for (let i = 0; i < m; i++) out[ob + i] = acc[i * K + k] * inv;
  }
}

export function resolveParams(p: Partial<ForestParams>): ForestParams {
  const defined = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Partial<ForestParams>;
  const r = { ...DEFAULT_FOREST_PARAMS, ...defined };
  if (!Number.isInteger(r.nTrees) || r.nTrees < 1) throw new UsageError(`random forest: trees must be a positive integer, got ${r.nTrees}`);
  if (!Number.isInteger(r.maxDepth) || r.maxDepth < 0) throw new UsageError(`random forest: max depth must be >= 0, got ${r.maxDepth}`);
  if (!Number.isInteger(r.minSamplesLeaf) || r.minSamplesLeaf < 1) throw new UsageError(`random forest: min samples per leaf must be >= 1, got ${r.minSamplesLeaf}`);
  if (!(r.sampleFraction > 0)) throw new UsageError(`random forest: sample fraction must be > 0, got ${r.sampleFraction}`);
  return r;
}
