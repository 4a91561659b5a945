/** Trees on graphs of vertices and undirected edges (skeletons): shared by formats (SWC) and kernels. */

/**
 * Orient a skeleton graph as a forest: parent[v] (-1 for roots), visiting order (parents before
 * children). Each component is rooted at the first of `root` (a vertex or a preference list) that
 * lies in it, else at its first vertex.
 */
export function orientForest(g: { vertices: Float32Array; edges: Uint32Array }, root: number | readonly number[] = -1): { parent: Int32Array; order: Int32Array } {
  const nv = g.vertices.length / 3;
  const deg = new Int32Array(nv + 1);
  for (let k = 0; k < g.edges.length; k++) deg[g.edges[k] + 1]++;
  for (let i = 0; i < nv; i++) deg[i + 1] += deg[i];
  const adj = new Int32Array(g.edges.length);
  const fill = deg.slice();
  for (let k = 0; k < g.edges.length; k += 2) {
    const a = g.edges[k], b = g.edges[k + 1];
    adj[fill[a]++] = b;
    adj[fill[b]++] = a;
  }
  const parent = new Int32Array(nv).fill(-2);
  const order = new Int32Array(nv);
  let n = 0;
  const starts = (typeof root === 'number' ? [root] : [...root]).filter((r) => r >= 0 && r < nv);
  for (let s = 0; s < nv; s++) starts.push(s);
  for (const s of starts) {
    if (parent[s] !== -2) continue;
    parent[s] = -1;
    let head = n;
    order[n++] = s;
    while (head < n) {
      const u = order[head++];
      for (let k = deg[u]; k < deg[u + 1]; k++) {
        const v = adj[k];
        if (parent[v] === -2) {
          parent[v] = u;
          order[n++] = v;
        }
      }
    }
  }
  return { parent, order };
}
