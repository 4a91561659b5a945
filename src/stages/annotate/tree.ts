/**
 * Graph helpers on one skeleton (vertices nm, undirected edges): adjacency, degrees, edge
 * lengths, multi-source geodesic distances (Dijkstra) and geodesic windows.
 */
export interface Skeleton {
  vertices: Float32Array;
  edges: Uint32Array;
  radius: Float32Array;
}

export interface Adjacency {
  /** neighbours of v: nbr[start[v] .. start[v+1]), with edge lengths len[] (nm) */
  start: Int32Array;
  nbr: Int32Array;
  len: Float64Array;
  degree: Int32Array;
}

export function nodeCount(s: { vertices: Float32Array }): number {
  return s.vertices.length / 3;
}

export function adjacency(s: { vertices: Float32Array; edges: Uint32Array }): Adjacency {
  const n = nodeCount(s);
  const start = new Int32Array(n + 1);
  for (let k = 0; k < s.edges.length; k++) start[s.edges[k] + 1]++;
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const degree = new Int32Array(n);
  for (let i = 0; i < n; i++) degree[i] = start[i + 1] - start[i];
  const fill = start.slice();
  const nbr = new Int32Array(s.edges.length);
  const len = new Float64Array(s.edges.length);
  const v = s.vertices;
  for (let k = 0; k < s.edges.length; k += 2) {
    const a = s.edges[k], b = s.edges[k + 1];
    const d = Math.hypot(v[3 * a] - v[3 * b], v[3 * a + 1] - v[3 * b + 1], v[3 * a + 2] - v[3 * b + 2]);
    nbr[fill[a]] = b;
    len[fill[a]++] = d;
    nbr[fill[b]] = a;
    len[fill[b]++] = d;
  }
  return { start, nbr, len, degree };
}

/** Geodesic distance (nm) from the nearest source to every vertex; Infinity where unreachable. */
export function geodesicFrom(adj: Adjacency, sources: ArrayLike<number>): Float64Array {
  const n = adj.degree.length;
  const dist = new Float64Array(n).fill(Infinity);
  // binary heap of (distance, vertex)
  const hd: number[] = [];
  const hv: number[] = [];
  const push = (d: number, v: number) => {
    let i = hd.length;
    hd.push(d);
    hv.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (hd[p] <= hd[i]) break;
      [hd[p], hd[i]] = [hd[i], hd[p]];
      [hv[p], hv[i]] = [hv[i], hv[p]];
      i = p;
    }
  };
  const pop = (): [number, number] => {
    const top: [number, number] = [hd[0], hv[0]];
    const ld = hd.pop()!, lv = hv.pop()!;
    if (hd.length > 0) {
      hd[0] = ld;
      hv[0] = lv;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < hd.length && hd[l] < hd[m]) m = l;
        if (r < hd.length && hd[r] < hd[m]) m = r;
        if (m === i) break;
        [hd[m], hd[i]] = [hd[i], hd[m]];
        [hv[m], hv[i]] = [hv[i], hv[m]];
        i = m;
      }
    }
    return top;
  };
  for (let k = 0; k < sources.length; k++) {
    const s = sources[k];
    if (dist[s] > 0) {
      dist[s] = 0;
      push(0, s);
    }
  }
  while (hd.length > 0) {
    const [d, u] = pop();
    if (d > dist[u]) continue;
    for (let k = adj.start[u]; k < adj.start[u + 1]; k++) {
      const v = adj.nbr[k];
      const nd = d + adj.len[k];
      if (nd < dist[v]) {
        dist[v] = nd;
        push(nd, v);
      }
    }
  }
  return dist;
}

/**
 * The vertices within geodesic distance `w` nm of `v` (including v), by a bounded search;
 * `seen` is scratch (length n, all -1 on entry and left so), `out` receives the vertices.
 */
export function geodesicWindow(adj: Adjacency, v: number, w: number, seen: Float64Array, out: number[]): number[] {
  out.length = 0;
  out.push(v);
  seen[v] = 0;
  for (let h = 0; h < out.length; h++) {
    const u = out[h];
    for (let k = adj.start[u]; k < adj.start[u + 1]; k++) {
      const x = adj.nbr[k];
      const d = seen[u] + adj.len[k];
      if (d > w) continue;
      if (seen[x] < 0) {
        seen[x] = d;
        out.push(x);
      } else if (d < seen[x]) seen[x] = d;
    }
  }
  for (const u of out) seen[u] = -1;
  return out;
}
