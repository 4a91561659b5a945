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
import { EdgeHeap } from './edge-heap.js';
import { EdgeIndex } from './edge-index.js';
import { type EdgeColumns, type Rag, histQuantile } from './rag.js';

/** Mutable edge statistics during agglomeration (arrays indexed by edge id). */
export interface EdgeState extends EdgeColumns {
  rag: Rag;
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
  return (s, e) => {
    if (s.rag.bins === 0) throw new UsageError(NO_HISTOGRAMS);
    return histQuantile(s.hist, e * s.rag.bins, s.rag.bins, s.area[e], q);
  };
}

/** The message of a scorer that needs contact histograms given a graph merged without them. */
export const NO_HISTOGRAMS = 'this region graph was merged without contact histograms (bins 0: enough for the mean agglomeration only); quantile scores and edge features need them';

export interface MergeTree {
  nNodes: number;
  /** merges in order: region a absorbs region b (both named by an original supervoxel id) */
  a: Uint32Array;
  b: Uint32Array;
  score: Float64Array;
  count: number;
}

/**
 * The state a scorer reads. `copy` (default): the rag's columns are copied, so the rag stays as it
 * was (training replays several episodes on one graph). `copy: false`: the state uses the rag's own
 * columns (no second copy of the edge statistics); a merge on it leaves the rag holding the final
 * regions' statistics, so only a caller done with the rag passes it (`agglomerate`'s `inPlace`), or
 * one that only reads the initial graph (edge features of the initial edges).
 */
export function initState(rag: Rag, copy = true): EdgeState {
  const nodeCount = new Float64Array(rag.nNodes + 1).fill(1);
  const nodeSurface = new Float64Array(rag.nNodes + 1);
  for (let e = 0; e < rag.nEdges; e++) {
    nodeSurface[rag.u[e]] += rag.area[e];
    nodeSurface[rag.v[e]] += rag.area[e];
  }
  const c = <T extends Float64Array | Float32Array | Uint32Array>(x: T): T => (copy ? (x.slice() as T) : x);
  return {
    rag,
    u: c(rag.u),
    v: c(rag.v),
    area: c(rag.area),
    sum: c(rag.sum),
    sumSq: c(rag.sumSq),
    min: c(rag.min),
    max: c(rag.max),
    hist: c(rag.hist),
    nodeSize: c(rag.nodeSize),
    nodeSum: c(rag.nodeSum),
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
  /**
   * Merge in the rag's own columns instead of a copy (default false): the rag is spent afterwards
   * (its edge and node statistics are those of the final regions). Same merge tree.
   */
  inPlace?: boolean;
}

/**
 * Greedy hierarchical merging; returns the merge tree.
 *
 * Memory is typed arrays over the edges, no object per region: the edge statistics (copied unless
 * `inPlace`), each region's incident edges as a linked list of edge ends (`next[2e]`: end u of edge e,
 * `next[2e + 1]`: end v; dead edges are unlinked lazily when a list is walked), the edge between two
 * regions in an `EdgeIndex`, and the queue in an `EdgeHeap` (lazy deletion by version, compacted
 * when stale entries outnumber the live edges). Regions are named by the supervoxel that absorbed
 * the others (the merge tree's names), so no union-find is needed while merging.
 */
export function agglomerate(rag: Rag, scorer: Scorer = meanScorer, opts: AgglomerateOptions = {}): MergeTree {
  const until = opts.until ?? Infinity;
  const rescore = opts.rescoreNeighbourhood ?? false;
  const accept = opts.accept;
  const s = initState(rag, !opts.inPlace);
  const nE = rag.nEdges;
  const nN = rag.nNodes;
  const U = s.u;
  const V = s.v;
  const alive = new Uint8Array(nE).fill(1);
  const version = new Uint32Array(nE);
  const head = new Int32Array(nN + 1).fill(-1);
  const next = new Int32Array(2 * nE);
  /** distinct neighbours of each region (the old Map's size) */
  const deg = new Uint32Array(nN + 1);
  const index = new EdgeIndex(U, V, nE);
  const scores = new Float64Array(nE);
  for (let e = 0; e < nE; e++) {
    const a = U[e];
    const b = V[e];
    if (a === b || a < 1 || b < 1 || a > nN || b > nN) throw new UsageError(`agglomerate: edge ${e} joins nodes ${a} and ${b}; edges must join two different nodes in 1..${nN}`);
    if (index.find(a, b) >= 0) throw new UsageError(`agglomerate: nodes ${a} and ${b} are joined by two edges; a region graph has one edge per pair`);
    index.insert(e);
    next[2 * e] = head[a];
    head[a] = 2 * e;
    next[2 * e + 1] = head[b];
    head[b] = 2 * e + 1;
    deg[a]++;
    deg[b]++;
    scores[e] = scorer(s, e);
  }
  const heap = EdgeHeap.build(scores, nE);
  let liveEdges = nE;
  const current = (e: number, v: number): boolean => alive[e] === 1 && version[e] === v;
  // `scores[e]`: the key of edge e's live heap entry. A rescored edge whose score did not change
  // keeps that entry (the pop order depends only on (score, edge), so a new entry would change
  // nothing): most relabelled edges under the mean score, whose statistics stay as they were.
  const push = (e: number): void => {
    const k = scorer(s, e);
    if (k === scores[e]) return;
    scores[e] = k;
    version[e]++;
    heap.push(k, e, version[e]);
    if (heap.size > 2 * liveEdges + 1024) heap.compact(current);
  };
  const mA = new Uint32Array(Math.max(1, nN));
  const mB = new Uint32Array(Math.max(1, nN));
  const mS = new Float64Array(Math.max(1, nN));
  let count = 0;
  const bins = rag.bins;
  const { area, sum, sumSq, min, max, hist } = s;
  while (heap.pop()) {
    const e = heap.topId;
    if (!alive[e] || heap.topVer !== version[e]) continue;
    const score = heap.topKey;
    if (score > until) break;
    let a = U[e];
    let b = V[e];
    alive[e] = 0;
    liveEdges--;
    index.remove(e);
    if (accept && !accept(s, e, a, b, score)) {
      // drop the edge: the regions stay apart (the edge leaves the graph)
      deg[a]--;
      deg[b]--;
      continue;
    }
    // keep the region with more neighbours; b merges into a
    if (deg[b] > deg[a]) {
      const t = a;
      a = b;
      b = t;
    }
    mA[count] = a;
    mB[count] = b;
    mS[count] = score;
    count++;
    s.nodeSize[a] += s.nodeSize[b];
    s.nodeSum[a] += s.nodeSum[b];
    s.nodeCount[a] += s.nodeCount[b];
    s.nodeSurface[a] += s.nodeSurface[b] - 2 * area[e];
    deg[a]--;
    for (let sl = head[b]; sl !== -1; ) {
      const nx = next[sl];
      const e2 = sl >> 1;
      if (alive[e2]) {
        const side = sl & 1;
        const c = side === 0 ? V[e2] : U[e2];
        index.remove(e2);
        const e3 = index.find(a, c);
        if (e3 >= 0) {
          // fold e2 into e3 (c loses its neighbour b, already touches a)
          area[e3] += area[e2];
          sum[e3] += sum[e2];
          sumSq[e3] += sumSq[e2];
          if (min[e2] < min[e3]) min[e3] = min[e2];
          if (max[e2] > max[e3]) max[e3] = max[e2];
          const o2 = e2 * bins;
          const o3 = e3 * bins;
          for (let k = 0; k < bins; k++) hist[o3 + k] += hist[o2 + k];
          alive[e2] = 0;
          liveEdges--;
          deg[c]--;
          if (!rescore) push(e3);
        } else {
          // e2 now joins a and c: relabel its end b, move the end to a's list
          if (side === 0) U[e2] = a;
          else V[e2] = a;
          index.insert(e2);
          next[sl] = head[a];
          head[a] = sl;
          deg[a]++;
          // statistics unchanged; the score can only change through node terms
          if (!rescore) push(e2);
        }
      }
      sl = nx;
    }
    head[b] = -1;
    deg[b] = 0;
    if (rescore) {
      // every live edge of a, dead ends unlinked on the way
      let prev = -1;
      for (let sl = head[a]; sl !== -1; ) {
        const nx = next[sl];
        const e4 = sl >> 1;
        if (alive[e4]) {
          push(e4);
          prev = sl;
        } else if (prev === -1) head[a] = nx;
        else next[prev] = nx;
        sl = nx;
      }
    }
  }
  return { nNodes: nN, a: mA.slice(0, count), b: mB.slice(0, count), score: mS.slice(0, count), count };
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
  const s = initState(rag, false);
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
