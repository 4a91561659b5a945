// The old greedy merge (a Map per region, copied edge statistics), kept only as the reference the
// compact merge of src/stages/segment/agglomerate.ts is checked against (agglomeration-merge.test.ts).
// Copied from agglomerate.ts as of commit 9e2a645; not used by any command.
import { type EdgeState, type MergeTree, type Scorer, meanScorer } from '../src/stages/segment/agglomerate.js';
import type { Rag } from '../src/stages/segment/rag.js';

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

function initState(rag: Rag): EdgeState {
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

interface AgglomerateOptions {
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
export function agglomerateWithMaps(rag: Rag, scorer: Scorer = meanScorer, opts: AgglomerateOptions = {}): MergeTree {
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
