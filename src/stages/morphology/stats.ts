/**
 * Skeleton statistics and compartments on skeleton graphs (vertices nm, undirected edges):
 * cable length, branch points (degree >= 3), end points (degree 1), Strahler order, synapse
 * attachment to the nearest vertex, synapse flow centrality and the axon/dendrite split with the
 * segregation index (Schneider-Mizell et al. 2016, eLife 5:e12059).
 */
import type { Vec3 } from '../../core/box.js';
import { orient } from '../../formats/swc.js';
import { PointGrid } from '../../kernels/point-grid.js';

export interface Graph {
  vertices: Float32Array;
  edges: Uint32Array;
}

export interface SkeletonStats {
  nodes: number;
  edges: number;
  components: number;
  cable_length_nm: number;
  branch_points: number;
  end_points: number;
  /** Strahler order of the root(s) = the largest order in the skeleton. */
  strahler_order: number;
}

function leaves(deg: Int32Array): number[] {
  const out: number[] = [];
  for (let v = 0; v < deg.length; v++) if (deg[v] === 1) out.push(v);
  return out;
}

export function degrees(g: Graph): Int32Array {
  const deg = new Int32Array(g.vertices.length / 3);
  for (let k = 0; k < g.edges.length; k++) deg[g.edges[k]]++;
  return deg;
}

export function cableLength(g: Graph): number {
  let len = 0;
  const v = g.vertices;
  for (let e = 0; e < g.edges.length; e += 2) {
    const a = 3 * g.edges[e];
    const b = 3 * g.edges[e + 1];
    len += Math.hypot(v[a] - v[b], v[a + 1] - v[b + 1], v[a + 2] - v[b + 2]);
  }
  return len;
}

/**
 * Strahler order per vertex (rooted at `root`, default each component's first vertex): a leaf has
 * order 1; a vertex takes its children's largest order, plus one when two or more children share it.
 */
export function strahler(g: Graph, root: number | readonly number[] = -1): Int32Array {
  const { parent, order } = orient(g, root);
  const n = parent.length;
  const best = new Int32Array(n);
  const ties = new Int32Array(n);
  const out = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const v = order[i];
    out[v] = best[v] === 0 ? 1 : ties[v] >= 2 ? best[v] + 1 : best[v];
    const p = parent[v];
    if (p >= 0) {
      if (out[v] > best[p]) {
        best[p] = out[v];
        ties[p] = 1;
      } else if (out[v] === best[p]) ties[p]++;
    }
  }
  return out;
}

/**
 * Statistics of a skeleton. Strahler order depends on the root: by default each component is
 * rooted at an end point (so an unbranched path has order 1); pass SWC roots or a soma to override.
 */
export function skeletonStats(g: Graph, rootArg: number | readonly number[] = -1): SkeletonStats {
  const nv = g.vertices.length / 3;
  const deg = degrees(g);
  const root: number | readonly number[] = rootArg === -1 ? leaves(deg) : rootArg;
  let branch = 0;
  let ends = 0;
  for (let i = 0; i < nv; i++) {
    if (deg[i] >= 3) branch++;
    else if (deg[i] === 1) ends++;
  }
  const { parent } = orient(g, root);
  let comps = 0;
  for (let i = 0; i < nv; i++) if (parent[i] === -1) comps++;
  const s = nv > 0 ? strahler(g, root) : new Int32Array(0);
  let so = 0;
  for (let i = 0; i < s.length; i++) if (s[i] > so) so = s[i];
  return {
    nodes: nv,
    edges: g.edges.length / 2,
    components: comps,
    cable_length_nm: cableLength(g),
    branch_points: branch,
    end_points: ends,
    strahler_order: so,
  };
}

/**
 * Index of the nearest vertex for each point (nm), lowest index on ties, -1 for an empty graph;
 * exact (a uniform grid over the vertices, cell = `cell` nm, default from the mean edge length x 4).
 */
export function nearestVertex(g: Graph, points: ReadonlyArray<Vec3>, cell?: number): Int32Array {
  const out = new Int32Array(points.length).fill(-1);
  if (g.vertices.length < 3) return out;
  const c = cell ?? Math.max(1e-6, (cableLength(g) / Math.max(1, g.edges.length / 2)) * 4);
  const grid = new PointGrid(g.vertices, { cell: c });
  for (let p = 0; p < points.length; p++) out[p] = grid.nearest(points[p][0], points[p][1], points[p][2]);
  return out;
}

export { type AxonDendriteSplit, segregationIndex, splitAxonDendrite } from '../../kernels/skeleton-tree.js';
