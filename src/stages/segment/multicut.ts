/**
 * Multicut on the region graph by greedy additive edge contraction (GAEC, Keuper et al. 2015), the
 * usual fast approximate solver (no Kernighan-Lin refinement here).
 *
 * Each initial edge gets a cost from p = P(different bodies) (a learned classifier on the initial
 * graph, or the mean boundary): w = log((1 - p) / p) - log((1 - bias) / bias) (0 at p = bias), scaled by the
 * contact area (`weighting: 'area'`, default) so a large contact outweighs a small one; w > 0 pulls
 * the regions together. GAEC contracts the edge of largest positive cost, adds the costs of the
 * parallel edges it creates, and stops when no positive edge is left. The result is a merge tree
 * whose scores are 2 bias / (1 + e^w) of the contracted (summed) edge (< bias for every merge), so
 * `cutTree(tree, bias)` is the solution, as for the other methods' trees at their threshold.
 */
import { UsageError } from '../../core/errors.js';
import type { MergeTree } from './agglomerate.js';
import { cutTree } from './agglomerate.js';
import type { Rag } from './rag.js';

export interface MulticutOptions {
  /** the p at which an edge is indifferent (default 0.5) */
  bias?: number;
  /** scale each edge's cost by its contact area (default 'area') */
  weighting?: 'area' | 'none';
}

/** Multicut (GAEC) of the region graph with p[e] = P(different) per initial edge. */
export function multicutGaec(rag: Rag, p: Float64Array, opts: MulticutOptions = {}): { tree: MergeTree; map: Uint32Array; count: number } {
  const bias = opts.bias ?? 0.5;
  if (!(bias > 0 && bias < 1)) throw new UsageError(`multicut: bias must be in (0, 1), got ${bias}`);
  const area = (opts.weighting ?? 'area') === 'area';
  const n = rag.nNodes;
  const eps = 1e-4;
  const off = Math.log(bias / (1 - bias));
  // adjacency: node -> (neighbour -> summed cost)
  const adj: Array<Map<number, number>> = new Array(n + 1);
  for (let i = 0; i <= n; i++) adj[i] = new Map();
  for (let e = 0; e < rag.nEdges; e++) {
    const q = Math.min(1 - eps, Math.max(eps, p[e]));
    const w = (Math.log((1 - q) / q) + off) * (area ? rag.area[e] : 1);
    const a = rag.u[e];
    const b = rag.v[e];
    adj[a].set(b, (adj[a].get(b) ?? 0) + w);
    adj[b].set(a, (adj[b].get(a) ?? 0) + w);
  }
  // max-heap of (cost, a, b) with lazy deletion (an entry is stale when the pair's cost changed)
  const hc: number[] = [];
  const ha: number[] = [];
  const hb: number[] = [];
  const less = (i: number, j: number) => hc[i] < hc[j] || (hc[i] === hc[j] && (ha[i] > ha[j] || (ha[i] === ha[j] && hb[i] > hb[j])));
  const swap = (i: number, j: number) => {
    [hc[i], hc[j]] = [hc[j], hc[i]];
    [ha[i], ha[j]] = [ha[j], ha[i]];
    [hb[i], hb[j]] = [hb[j], hb[i]];
  };
  const push = (c: number, a: number, b: number) => {
    if (a > b) [a, b] = [b, a];
    hc.push(c); ha.push(a); hb.push(b);
    let i = hc.length - 1;
    while (i > 0) {
      const q = (i - 1) >> 1;
      if (!less(q, i)) break;
      swap(i, q);
      i = q;
    }
  };
  const pop = (): [number, number, number] | undefined => {
    if (hc.length === 0) return undefined;
    const top: [number, number, number] = [hc[0], ha[0], hb[0]];
    const last = hc.length - 1;
    swap(0, last);
    hc.pop(); ha.pop(); hb.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < hc.length && less(m, l)) m = l;
      if (r < hc.length && less(m, r)) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
    return top;
  };
  for (let a = 1; a <= n; a++) for (const [b, c] of adj[a]) if (a < b && c > 0) push(c, a, b);
  const mA: number[] = [];
  const mB: number[] = [];
  const mS: number[] = [];
  for (;;) {
    const t = pop();
    if (!t) break;
    const [c, x, y] = t;
    if (c <= 0) break;
    if (adj[x].get(y) !== c) continue; // stale (contracted or changed since pushed)
    // b merges into a: keep the node with more neighbours
    let a = x;
    let b = y;
    if (adj[b].size > adj[a].size) [a, b] = [b, a];
    mA.push(a);
    mB.push(b);
    mS.push((2 * bias) / (1 + Math.exp(Math.min(700, c))));
    adj[a].delete(b);
    for (const [d, w] of adj[b]) {
      if (d === a) continue;
      adj[d].delete(b);
      const nw = (adj[a].get(d) ?? 0) + w;
      adj[a].set(d, nw);
      adj[d].set(a, nw);
      if (nw > 0) push(nw, a, d);
    }
    adj[b] = new Map();
  }
  const tree: MergeTree = { nNodes: n, a: Uint32Array.from(mA), b: Uint32Array.from(mB), score: Float64Array.from(mS), count: mA.length };
  const { map, count } = cutTree(tree, Infinity);
  return { tree, map, count };
}
