/**
 * Trees on skeleton graphs (vertices nm, undirected edges), shared by the morphology and annotate
 * stages: `orientTree` (BFS parents from roots, parent-first order), `splitAxonDendrite` (synapse
 * flow centrality, Schneider-Mizell et al. 2016, eLife 5:e12059) and `segregationIndex`.
 * Pure: no I/O. Moved here from src/stages/morphology/stats.ts (which re-exports it).
 */
import { orientForest } from '../core/tree.js';

export interface TreeGraph {
  vertices: Float32Array;
  edges: Uint32Array;
}

/** Parent of every vertex (-1 for roots) and a parent-first order (src/core/tree.ts). */
export const orientTree = orientForest;

export interface AxonDendriteSplit {
  /** 1 = axon, 2 = dendrite (SWC types), per vertex. */
  compartment: Uint8Array;
  /** synapse flow centrality per vertex (flow across the edge to its parent). */
  flow: Float64Array;
  /** the cut vertex: its subtree is one compartment, the rest the other. -1 if no synapse flow. */
  cut: number;
  segregation_index: number;
  axon: { pre: number; post: number; vertices: number };
  dendrite: { pre: number; post: number; vertices: number };
}

/** Entropy of a two-class split with fraction p (natural log). */
function h(p: number): number {
  return p <= 0 || p >= 1 ? 0 : -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
}

/**
 * Segregation index (Schneider-Mizell et al. 2016) of compartments given their pre (output) and
 * post (input) synapse counts: 1 - (sum_i n_i H(pre_i/n_i) / N) / H(PRE/N). 0 = mixed, 1 = segregated.
 */
export function segregationIndex(parts: Array<{ pre: number; post: number }>): number {
  let N = 0;
  let P = 0;
  let s = 0;
  for (const c of parts) {
    const n = c.pre + c.post;
    N += n;
    P += c.pre;
    if (n > 0) s += n * h(c.pre / n);
  }
  if (N === 0) return 0;
  const norm = h(P / N);
  return norm === 0 ? 0 : 1 - s / N / norm;
}

/**
 * Split a neuron into axon and dendrite by synapse flow centrality: flow(v) = pre_below * post_above
 * + post_below * pre_above for the edge from v to its parent (Schneider-Mizell's centrifugal flow
 * counts paths from each input to each output through the edge). Among the vertices of maximal
 * flow, cut at the one giving the highest segregation index; the side with the larger fraction of
 * outputs (pre) is the axon. `pre`/`post` are synapse counts per vertex.
 */
export function splitAxonDendrite(g: TreeGraph, pre: ArrayLike<number>, post: ArrayLike<number>, root: number | readonly number[] = -1): AxonDendriteSplit {
  const { parent, order } = orientTree(g, root);
  const n = parent.length;
  const preDown = new Float64Array(n);
  const postDown = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    preDown[i] = pre[i] ?? 0;
    postDown[i] = post[i] ?? 0;
  }
  for (let i = n - 1; i >= 0; i--) {
    const v = order[i];
    const p = parent[v];
    if (p >= 0) {
      preDown[p] += preDown[v];
      postDown[p] += postDown[v];
    }
  }
  // totals per component (root of v's tree)
  const compRoot = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = order[i];
    compRoot[v] = parent[v] < 0 ? v : compRoot[parent[v]];
  }
  const flow = new Float64Array(n);
  let maxFlow = 0;
  for (let v = 0; v < n; v++) {
    if (parent[v] < 0) continue;
    const r = compRoot[v];
    const preUp = preDown[r] - preDown[v];
    const postUp = postDown[r] - postDown[v];
    flow[v] = preDown[v] * postUp + postDown[v] * preUp;
    if (flow[v] > maxFlow) maxFlow = flow[v];
  }
  let cut = -1;
  let bestSi = -Infinity;
  if (maxFlow > 0) {
    for (let v = 0; v < n; v++) {
      if (flow[v] !== maxFlow) continue;
      const r = compRoot[v];
      const si = segregationIndex([
        { pre: preDown[v], post: postDown[v] },
        { pre: preDown[r] - preDown[v], post: postDown[r] - postDown[v] },
      ]);
      if (si > bestSi) {
        bestSi = si;
        cut = v;
      }
    }
  }
  const compartment = new Uint8Array(n).fill(2);
  const below = new Uint8Array(n);
  if (cut >= 0) {
    // mark the cut vertex's subtree
    for (let i = 0; i < n; i++) {
      const v = order[i];
      below[v] = v === cut ? 1 : parent[v] >= 0 ? below[parent[v]] : 0;
    }
  }
  const sum = (side: number) => {
    let p = 0, q = 0, c = 0;
    for (let v = 0; v < n; v++) {
      if (below[v] !== side) continue;
      p += pre[v] ?? 0;
      q += post[v] ?? 0;
      c++;
    }
    return { pre: p, post: q, vertices: c };
  };
  const inSub = sum(1);
  const outSub = sum(0);
  const fracIn = inSub.pre / Math.max(1, inSub.pre + inSub.post);
  const fracOut = outSub.pre / Math.max(1, outSub.pre + outSub.post);
  const axonSide = fracIn >= fracOut ? 1 : 0;
  for (let v = 0; v < n; v++) compartment[v] = cut >= 0 && below[v] === axonSide ? 1 : 2;
  const axon = axonSide === 1 ? inSub : outSub;
  const dendrite = axonSide === 1 ? outSub : inSub;
  return {
    compartment,
    flow,
    cut,
    segregation_index: cut >= 0 ? segregationIndex([axon, dendrite]) : 0,
    axon: cut >= 0 ? axon : { pre: 0, post: 0, vertices: 0 },
    dendrite: cut >= 0 ? dendrite : { ...sum(0), pre: inSub.pre + outSub.pre, post: inSub.post + outSub.post, vertices: n },
  };
}
