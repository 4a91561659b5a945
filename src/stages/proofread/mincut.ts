/**
 * Minimum s-t cut on an undirected capacitated graph (Dinic's max flow), as the ChunkedGraph's
 * split does on one root's supervoxel graph. Several sources and sinks are tied to a super
 * source and super sink. Pure: nodes are 0..n-1, edges (u[e], v[e], cap[e]).
 */
import { UsageError } from '../../core/errors.js';

export interface CutResult {
  /** 1 = on the source side (reachable from a source in the residual graph) */
  sourceSide: Uint8Array;
  /** indices of the input edges crossing the cut */
  cut: number[];
  flow: number;
}

export function minCut(n: number, u: ArrayLike<number>, v: ArrayLike<number>, cap: ArrayLike<number>, sources: number[], sinks: number[]): CutResult {
  const m = u.length;
  const S = n, T = n + 1, N = n + 2;
  const arcs = 2 * m + 2 * (sources.length + sinks.length);
  const head = new Int32Array(N).fill(-1);
  const next = new Int32Array(arcs);
  const to = new Int32Array(arcs);
  const res = new Float64Array(arcs);
  let k = 0;
  const arc = (a: number, b: number, ca: number, cb: number): void => {
    to[k] = b; res[k] = ca; next[k] = head[a]; head[a] = k++;
    to[k] = a; res[k] = cb; next[k] = head[b]; head[b] = k++;
  };
  for (let e = 0; e < m; e++) {
    if (!(cap[e] >= 0)) throw new UsageError(`minCut: edge ${e} has capacity ${cap[e]}`);
    arc(u[e], v[e], cap[e], cap[e]);
  }
  for (const s of sources) arc(S, s, Infinity, 0);
  for (const t of sinks) arc(t, T, Infinity, 0);
  const level = new Int32Array(N);
  const it = new Int32Array(N);
  const queue = new Int32Array(N);
  const bfs = (): boolean => {
    level.fill(-1);
    level[S] = 0;
    let qh = 0, qt = 0;
    queue[qt++] = S;
    while (qh < qt) {
      const x = queue[qh++];
      for (let a = head[x]; a >= 0; a = next[a]) if (res[a] > 1e-12 && level[to[a]] < 0) { level[to[a]] = level[x] + 1; queue[qt++] = to[a]; }
    }
    return level[T] >= 0;
  };
  // iterative DFS for blocking flow (roots may have many supervoxels: no recursion)
  const stack = new Int32Array(N);
  const viaArc = new Int32Array(N);
  const push = (): number => {
    let depth = 0;
    stack[0] = S;
    let total = 0;
    while (true) {
      const x = stack[depth];
      if (x === T) {
        let f = Infinity;
        for (let d = 1; d <= depth; d++) f = Math.min(f, res[viaArc[d]]);
        for (let d = 1; d <= depth; d++) { res[viaArc[d]] -= f; res[viaArc[d] ^ 1] += f; }
        total += f;
        if (!isFinite(f)) return Infinity;
        depth = 0;
        continue;
      }
      let a = it[x];
      while (a >= 0 && !(res[a] > 1e-12 && level[to[a]] === level[x] + 1)) a = next[a];
      it[x] = a;
      if (a < 0) {
        if (depth === 0) return total;
        level[x] = -1; // dead end
        depth--;
        it[stack[depth]] = next[it[stack[depth]]];
        continue;
      }
      depth++;
      stack[depth] = to[a];
      viaArc[depth] = a;
    }
  };
  let flow = 0;
  while (bfs()) {
    for (let x = 0; x < N; x++) it[x] = head[x];
    const f = push();
    flow += f;
    if (!isFinite(flow)) break;
  }
  const sourceSide = new Uint8Array(N);
  if (isFinite(flow)) {
    const q = [S];
    sourceSide[S] = 1;
    while (q.length) {
      const x = q.pop()!;
      for (let a = head[x]; a >= 0; a = next[a]) if (res[a] > 1e-12 && !sourceSide[to[a]]) { sourceSide[to[a]] = 1; q.push(to[a]); }
    }
  }
  const cut: number[] = [];
  for (let e = 0; e < m; e++) if (sourceSide[u[e]] !== sourceSide[v[e]]) cut.push(e);
  return { sourceSide: sourceSide.subarray(0, n), cut, flow };
}
