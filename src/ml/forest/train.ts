/** Training: grows trees [t0, t1) of a forest on binned data (deterministic per tree), and concatenates tree sets. */
import type { BinnedData, ForestParams, TreeArrays } from './params.js';
import { makeRng } from './random.js';

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

/** The best split of a node found so far: feature, bin (x bin <= bin goes left), score, left class counts. */
interface Best {
  f: number;
  bin: number;
  /** sum over children of (class count^2) / child size; any valid split beats none (-1), zero-gain splits allowed as in scikit-learn */
  score: number;
  left: Int32Array;
}

/** Work buffers of one trainTrees call, shared by its trees. */
interface Work {
  idx: Int32Array;
  tmp: Int32Array;
  hist: Int32Array;
  keys: Int32Array;
  featPerm: Int32Array;
  left: Int32Array;
}

/** Sample indices of each class (for the balanced bootstrap). */
function samplesByClass(y: Uint8Array, n: number, K: number): Int32Array[] {
  const byClass: Int32Array[] = [];
  const counts = new Int32Array(K);
  for (let i = 0; i < n; i++) counts[y[i]]++;
  for (let k = 0; k < K; k++) byClass.push(new Int32Array(counts[k]));
  const fill = new Int32Array(K);
  for (let i = 0; i < n; i++) byClass[y[i]][fill[y[i]]++] = i;
  return byClass;
}

/** Scores a split with nL samples (class counts `left`) on the left: sum of count^2 / size over both children. */
function splitScore(left: Int32Array, counts: Int32Array, K: number, nL: number, nR: number): number {
  let sl = 0, sr = 0;
  for (let k = 0; k < K; k++) {
    const l = left[k];
    const rr = counts[k] - l;
    sl += l * l;
    sr += rr * rr;
  }
  return sl / nL + sr / nR;
}

/** Small nodes: sorts the node's (bin, class) keys of feature f and scans the cuts between distinct bins. */
function searchSorted(data: BinnedData, w: Work, f: number, lo: number, size: number, counts: Int32Array, minLeaf: number, best: Best): void {
  const { bins, y, nClasses: K } = data;
  const { idx, keys, left } = w;
  const base = f * data.n;
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
    const score = splitScore(left, counts, K, nL, nR);
    if (score > best.score) {
      best.score = score; best.f = f; best.bin = b;
      best.left.set(left);
    }
  }
}

/** Large nodes: a class histogram over feature f's bins, then the cuts between bins in order. */
function searchHistogram(data: BinnedData, w: Work, f: number, lo: number, hi: number, counts: Int32Array, minLeaf: number, best: Best): void {
  const { bins, y, nClasses: K } = data;
  const { idx, hist, left } = w;
  const base = f * data.n;
  const size = hi - lo;
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
    const score = splitScore(left, counts, K, nL, nR);
    if (score > best.score) {
      best.score = score; best.f = f; best.bin = b;
      best.left.set(left);
    }
  }
  hist.fill(0, minB * K, (maxB + 1) * K);
}

/** Tries features in a random order (at least mtry, more until one splits); fills `best` (best.f = -1: none splits). */
function bestSplit(data: BinnedData, w: Work, rng: () => number, mtry: number, lo: number, hi: number, counts: Int32Array, minLeaf: number, best: Best): void {
  const F = data.nFeatures;
  const featPerm = w.featPerm;
  best.f = -1;
  best.bin = -1;
  best.score = -1;
  for (let f = 0; f < F; f++) featPerm[f] = f;
  let tried = 0;
  for (let j = 0; j < F; j++) {
    if (tried >= mtry && best.f >= 0) break;
    const r = j + (rng() % (F - j));
    const f = featPerm[r];
    featPerm[r] = featPerm[j];
    featPerm[j] = f;
    tried++;
    if (hi - lo < SMALL_NODE) searchSorted(data, w, f, lo, hi - lo, counts, minLeaf, best);
    else searchHistogram(data, w, f, lo, hi, counts, minLeaf, best);
  }
}

/** Partitions idx[lo, hi) by bin <= bestBin of feature f (stable, via tmp); returns the first index of the right part. */
function partition(data: BinnedData, w: Work, f: number, bin: number, lo: number, hi: number): number {
  const { idx, tmp } = w;
  const base = f * data.n;
  let a = lo;
  let bq = 0;
  for (let s = lo; s < hi; s++) {
    const i = idx[s];
    if (data.bins[base + i] <= bin) idx[a++] = i;
    else tmp[bq++] = i;
  }
  idx.set(tmp.subarray(0, bq), a);
  return a;
}

/**
 * Train trees [t0, t1) of a forest on binned data. Deterministic in (params.seed, tree index).
 * Each tree: a bootstrap sample (balanced per class or plain), then nodes grown depth-first from
 * an explicit stack: the best split (bestSplit), or a leaf with the class distribution.
 */
export function trainTrees(data: BinnedData, params: ForestParams, t0: number, t1: number): TreeArrays {
  const { n, nFeatures: F, nClasses: K, y, edges } = data;
  const mtry = Math.max(1, Math.min(F, params.mtry ?? Math.floor(Math.sqrt(F))));
  const minLeaf = Math.max(1, params.minSamplesLeaf);
  const maxDepth = params.maxDepth;
  const g = new Growable();
  const roots = new Int32Array(t1 - t0);
  const importance = new Float64Array((t1 - t0) * F);

  const byClass = samplesByClass(y, n, K);
  const present = byClass.filter((c) => c.length > 0).length;
  const m = Math.max(1, Math.round(n * params.sampleFraction));
  const perClass = Math.max(1, Math.round(m / Math.max(1, present)));
  const total = params.balanced ? perClass * present : m;
  const w: Work = {
    idx: new Int32Array(total),
    tmp: new Int32Array(total),
    hist: new Int32Array(256 * K),
    keys: new Int32Array(SMALL_NODE),
    featPerm: new Int32Array(F),
    left: new Int32Array(K),
  };
  const idx = w.idx;
  const best: Best = { f: -1, bin: -1, score: -1, left: new Int32Array(K) };
  // explicit stack: lo, hi, depth, node, class counts
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
      best.f = -1;
      if (nonzero > 1 && depth < maxDepth && size >= 2 * minLeaf) bestSplit(data, w, rng, mtry, lo, hi, counts, minLeaf, best);
      if (best.f < 0) {
        const at = g.addLeafValues(K);
        for (let k = 0; k < K; k++) g.leafProb[at + k] = counts[k] / size;
        g.feature[node] = -1;
        g.threshold[node] = 0;
        g.child[node] = at / K;
        continue;
      }
      importance[(t - t0) * F + best.f] += Math.max(0, best.score - parentScore); // = size * (gini(parent) - weighted gini(children))
      const a = partition(data, w, best.f, best.bin, lo, hi);
      g.ensureNodes(2);
      const l = g.nNodes;
      g.nNodes += 2;
      g.feature[node] = best.f;
      const e = edges[best.f];
      g.threshold[node] = best.bin < e.length ? e[best.bin] : Infinity;
      g.child[node] = l;
      const lc = Int32Array.from(best.left);
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
