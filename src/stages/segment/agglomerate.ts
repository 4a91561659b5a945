/**
 * Agglomeration of supervoxels over a region adjacency graph, keeping the merge tree.
 *
 * `agglomerate(rag, scorer)` is greedy hierarchical merging (waterz / gala style): the edge with the
 * lowest score is merged first; merging two regions adds their edge statistics to the edges they
 * share with a third region, and the affected edges are rescored. Every merge is recorded in order
 * with its score; running to `until` (default: no more edges) once gives the whole hierarchy, and
 * `cutTree(tree, T)` returns the segmentation greedy merging with threshold T would have produced
 * (the longest prefix of merges whose scores are all <= T), without recomputing.
 *
 * Scorers: `meanScorer` (mean boundary value on the contact, waterz's MeanAffinity on boundaries),
 * `quantileScorer(q)` (histogram quantile, waterz's QuantileAffinity), and learned scorers built
 * from `edgeFeatures` + a random forest (see learned.ts).
 *
 * `mutexWatershed(rag, ...)` is the mutex watershed (Wolf et al. 2018) on the RAG: edges sorted by
 * |w - bias| strength; attractive edges (mean boundary < bias) merge unless the regions are mutually
 * exclusive; repulsive edges add a mutex constraint. Parameter-free beyond the bias.
 */
import { UsageError } from '../../core/errors.js';
import { type Rag, histQuantile } from './rag.js';

/** Mutable edge statistics during agglomeration (arrays indexed by edge id). */
export interface EdgeState {
  rag: Rag;
  u: Uint32Array;
  v: Uint32Array;
  area: Float64Array;
  sum: Float64Array;
  sumSq: Float64Array;
  min: Float32Array;
  max: Float32Array;
  hist: Float32Array;
  nodeSize: Float64Array;
  nodeSum: Float64Array;
  /** number of original supervoxels in each region */
  nodeCount: Float64Array;
  /** contact area of each region with all its neighbours (its surface inside the graph) */
  nodeSurface: Float64Array;
}

/** Lower = merge earlier. */
export type Scorer = (s: EdgeState, e: number) => number;

export const meanScorer: Scorer = (s, e) => s.sum[e] / s.area[e];

export function quantileScorer(q: number): Scorer {
  return (s, e) => histQuantile(s.hist, e * s.rag.bins, s.rag.bins, s.area[e], q);
}

export interface MergeTree {
  nNodes: number;
  /** merges in order: region a absorbs region b (both named by an original supervoxel id) */
  a: Uint32Array;
  b: Uint32Array;
  score: Float64Array;
  count: number;
}

/** Binary min-heap of (key, edge, version) with growable typed arrays; lazy deletion by version. */
class EdgeHeap {
  key = new Float64Array(1024);
  id = new Int32Array(1024);
  ver = new Uint32Array(1024);
  size = 0;
  push(k: number, e: number, v: number): void {
    if (this.size === this.key.length) {
      const c = this.size * 2;
      const k2 = new Float64Array(c); k2.set(this.key); this.key = k2;
      const i2 = new Int32Array(c); i2.set(this.id); this.id = i2;
      const v2 = new Uint32Array(c); v2.set(this.ver); this.ver = v2;
    }
    let i = this.size++;
    const K = this.key, I = this.id, V = this.ver;
    while (i > 0) {
      const p = (i - 1) >> 1;
      // ties: smaller edge id first (deterministic)
      if (K[p] < k || (K[p] === k && I[p] <= e)) break;
      K[i] = K[p]; I[i] = I[p]; V[i] = V[p];
      i = p;
    }
    K[i] = k; I[i] = e; V[i] = v;
  }
  /** pops into (this.topKey, this.topId, this.topVer) */
  topKey = 0;
  topId = 0;
  topVer = 0;
  pop(): boolean {
    if (this.size === 0) return false;
    const K = this.key, I = this.id, V = this.ver;
    this.topKey = K[0]; this.topId = I[0]; this.topVer = V[0];
    const n = --this.size;
    const k = K[n], e = I[n], v = V[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (K[c + 1] < K[c] || (K[c + 1] === K[c] && I[c + 1] < I[c]))) c++;
      if (K[c] > k || (K[c] === k && I[c] >= e)) break;
      K[i] = K[c]; I[i] = I[c]; V[i] = V[c];
      i = c;
    }
    K[i] = k; I[i] = e; V[i] = v;
    return true;
  }
}

export function initState(rag: Rag): EdgeState {
  const nodeCount = new Float64Array(rag.nNodes + 1).fill(1);
  const nodeSurface = new Float64Array(rag.nNodes + 1);
  for (let e = 0; e < rag.nEdges; e++) {
    nodeSurface[rag.u[e]] += rag.area[e];
    nodeSurface[rag.v[e]] += rag.area[e];
  }
  return {
    rag,
    u: Uint32Array.from(rag.u),
    v: Uint32Array.from(rag.v),
    area: Float64Array.from(rag.area),
    sum: Float64Array.from(rag.sum),
    sumSq: Float64Array.from(rag.sumSq),
    min: Float32Array.from(rag.min),
    max: Float32Array.from(rag.max),
    hist: Float32Array.from(rag.hist),
    nodeSize: Float64Array.from(rag.nodeSize),
    nodeSum: Float64Array.from(rag.nodeSum),
    nodeCount,
    nodeSurface,
  };
}

export interface AgglomerateOptions {
  /** Stop when the lowest score exceeds this (default Infinity: build the whole hierarchy). */
  until?: number;
  /** Rescore every edge of a merged region (needed when the score depends on region size). Default false. */
  rescoreNeighbourhood?: boolean;
  /**
   * Called for every edge taken from the queue (regions a, b); returning false drops the edge without
   * merging (used by oracle-guided training). Default: merge.
   */
  accept?: (s: EdgeState, e: number, a: number, b: number, score: number) => boolean;
}

/** Greedy hierarchical merging; returns the merge tree. */
export function agglomerate(rag: Rag, scorer: Scorer = meanScorer, opts: AgglomerateOptions = {}): MergeTree {
  const until = opts.until ?? Infinity;
  const s = initState(rag);
  const nE = rag.nEdges;
  const alive = new Uint8Array(nE).fill(1);
  const version = new Uint32Array(nE);
  const adj: Array<Map<number, number>> = new Array(rag.nNodes + 1);
  for (let i = 0; i <= rag.nNodes; i++) adj[i] = new Map();
  const heap = new EdgeHeap();
  for (let e = 0; e < nE; e++) {
    adj[s.u[e]].set(s.v[e], e);
    adj[s.v[e]].set(s.u[e], e);
    heap.push(scorer(s, e), e, 0);
  }
  const mA: number[] = [];
  const mB: number[] = [];
  const mS: number[] = [];
  const bins = rag.bins;
  while (heap.pop()) {
    const e = heap.topId;
    if (!alive[e] || heap.topVer !== version[e]) continue;
    const score = heap.topKey;
    if (score > until) break;
    let a = s.u[e];
    let b = s.v[e];
    if (opts.accept && !opts.accept(s, e, a, b, score)) {
      // drop the edge: the regions stay apart (the edge leaves the graph)
      alive[e] = 0;
      adj[a].delete(b);
      adj[b].delete(a);
      continue;
    }
    // keep the region with more neighbours; b merges into a
    if (adj[b].size > adj[a].size) {
      const t = a;
      a = b;
      b = t;
    }
    mA.push(a);
    mB.push(b);
    mS.push(score);
    alive[e] = 0;
    s.nodeSize[a] += s.nodeSize[b];
    s.nodeSum[a] += s.nodeSum[b];
    s.nodeCount[a] += s.nodeCount[b];
    s.nodeSurface[a] += s.nodeSurface[b] - 2 * s.area[e];
    const adjA = adj[a];
    adjA.delete(b);
    for (const [c, e2] of adj[b]) {
      if (c === a) continue;
      const adjC = adj[c];
      adjC.delete(b);
      const e3 = adjA.get(c);
      if (e3 !== undefined) {
        // fold e2 into e3
        s.area[e3] += s.area[e2];
        s.sum[e3] += s.sum[e2];
        s.sumSq[e3] += s.sumSq[e2];
        if (s.min[e2] < s.min[e3]) s.min[e3] = s.min[e2];
        if (s.max[e2] > s.max[e3]) s.max[e3] = s.max[e2];
        const o2 = e2 * bins;
        const o3 = e3 * bins;
        for (let k = 0; k < bins; k++) s.hist[o3 + k] += s.hist[o2 + k];
        alive[e2] = 0;
        if (!opts.rescoreNeighbourhood) {
          version[e3]++;
          heap.push(scorer(s, e3), e3, version[e3]);
        }
      } else {
        if (s.u[e2] === b) s.u[e2] = a;
        else s.v[e2] = a;
        adjA.set(c, e2);
        adjC.set(a, e2);
        if (!opts.rescoreNeighbourhood) {
          // statistics unchanged; the score can only change through node terms
          const sc = scorer(s, e2);
          version[e2]++;
          heap.push(sc, e2, version[e2]);
        }
      }
    }
    adj[b] = new Map();
    if (opts.rescoreNeighbourhood) {
      for (const e4 of adjA.values()) {
        version[e4]++;
        heap.push(scorer(s, e4), e4, version[e4]);
      }
    }
  }
  return { nNodes: rag.nNodes, a: Uint32Array.from(mA), b: Uint32Array.from(mB), score: Float64Array.from(mS), count: mA.length };
}

/**
 * Segment of every supervoxel (index 0..nNodes; 0 stays 0) after applying the merges of the longest
 * prefix whose scores are all <= threshold. Segments are numbered 1..k by their smallest supervoxel.
 */
export function cutTree(tree: MergeTree, threshold: number): { map: Uint32Array; count: number } {
  const n = tree.nNodes;
  const parent = new Uint32Array(n + 1);
  for (let i = 0; i <= n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let m = 0; m < tree.count; m++) {
    if (tree.score[m] > threshold) break;
    const ra = find(tree.a[m]);
    const rb = find(tree.b[m]);
    if (ra === rb) continue;
    if (ra < rb) parent[rb] = ra;
    else parent[ra] = rb;
  }
  const map = new Uint32Array(n + 1);
  let count = 0;
  for (let i = 1; i <= n; i++) {
    const r = find(i);
    map[i] = r === i ? ++count : map[r];
  }
  return { map, count };
}

/** Apply a supervoxel -> segment map to a label volume (in place unless `out`). */
export function relabel(labels: Uint32Array, map: Uint32Array, out: Uint32Array = labels): Uint32Array {
  for (let i = 0; i < labels.length; i++) out[i] = map[labels[i]];
  return out;
}

/**
 * Mutex watershed on the RAG. Edge weight w = score (e.g. mean boundary, 0..1): attractive when
 * w < bias with strength bias - w, repulsive otherwise with strength w - bias. Edges are processed by
 * decreasing strength; an attractive edge merges its two regions unless a mutex separates them; a
 * repulsive edge records a mutex between them. Returns the merges (a merge tree whose scores are the
 * edge weights, in processing order) and the final map.
 */
export function mutexWatershed(rag: Rag, scorer: Scorer = meanScorer, bias = 0.5): { tree: MergeTree; map: Uint32Array; count: number } {
  if (!(bias > 0 && bias < 1)) throw new UsageError(`mutex watershed: bias must be in (0, 1), got ${bias}`);
  const s = initState(rag);
  const nE = rag.nEdges;
  const w = new Float64Array(nE);
  for (let e = 0; e < nE; e++) w[e] = scorer(s, e);
  const order = Array.from({ length: nE }, (_, i) => i);
  order.sort((p, q) => Math.abs(w[q] - bias) - Math.abs(w[p] - bias) || p - q);
  const n = rag.nNodes;
  const parent = new Uint32Array(n + 1);
  for (let i = 0; i <= n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  const mutex: Array<Set<number> | undefined> = new Array(n + 1);
  const mA: number[] = [];
  const mB: number[] = [];
  const mS: number[] = [];
  for (const e of order) {
    const ra = find(rag.u[e]);
    const rb = find(rag.v[e]);
    if (ra === rb) continue;
    const ma = mutex[ra];
    const mb = mutex[rb];
    if (w[e] < bias) {
      if (ma && ma.has(rb)) continue;
      // union: keep the root with the larger mutex set
      let keep = ra;
      let gone = rb;
      if ((mb?.size ?? 0) > (ma?.size ?? 0)) {
        keep = rb;
        gone = ra;
      }
      parent[gone] = keep;
      mA.push(keep);
      mB.push(gone);
      mS.push(w[e]);
      const mg = mutex[gone];
      if (mg) {
        let mk = mutex[keep];
        if (!mk) mk = mutex[keep] = new Set();
        for (const c of mg) {
          mk.add(c);
          const mc = mutex[c]!;
          mc.delete(gone);
          mc.add(keep);
        }
        mutex[gone] = undefined;
      }
    } else {
      (mutex[ra] ??= new Set()).add(rb);
      (mutex[rb] ??= new Set()).add(ra);
    }
  }
  const tree: MergeTree = { nNodes: n, a: Uint32Array.from(mA), b: Uint32Array.from(mB), score: Float64Array.from(mS), count: mA.length };
  const { map, count } = cutTree(tree, Infinity);
  return { tree, map, count };
}
