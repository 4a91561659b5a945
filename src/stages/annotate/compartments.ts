/**
 * Compartment of every skeleton node by rules that need no labels: soma = the connected run of
 * nodes around the thickest node whose radius is at least `somaRadiusNm`; axon/dendrite by synapse
 * flow centrality rooted at the soma (src/kernels/skeleton-tree.ts; a cell with flow only on one
 * side is axon when it has more outputs than inputs, dendrite when more inputs, else unknown);
 * spines = terminal branches of the dendrite no longer than `spineMaxLengthNm` and thinner than
 * the shaft where they leave it and reaching at least `spineMinExcessNm` beyond its surface (a
 * cell without synapses: axon when thin, else dendrite); the distal part (within `headFactor` x its widest radius of the
 * tip) is the head, the rest the neck.
 */
import { splitAxonDendrite } from '../../kernels/skeleton-tree.js';
import { type Adjacency, type Skeleton, adjacency, nodeCount } from './tree.js';

/** Compartment codes: the same numbers as the phantom's compartments layer (0 = unknown). */
export const COMPARTMENTS = ['unknown', 'soma', 'axon', 'dendrite', 'spine_head', 'spine_neck'] as const;
export type CompartmentName = (typeof COMPARTMENTS)[number];
export const C = { unknown: 0, soma: 1, axon: 2, dendrite: 3, spineHead: 4, spineNeck: 5 } as const;

export function compartmentCode(name: string, where: string): number {
  const k = COMPARTMENTS.indexOf(name.trim().toLowerCase().replace(/[ -]/g, '_') as CompartmentName);
  if (k < 0) throw new RangeError(`${where}: compartment ${JSON.stringify(name)}; expected one of ${COMPARTMENTS.join(', ')}`);
  return k;
}

export interface RuleParams {
  /** a node at least this thick (nm) may be soma */
  somaRadiusNm: number;
  /** longest terminal branch (nm, from tip to the branch point) taken as a spine */
  spineMaxLengthNm: number;
  /** a spine's median radius is below this fraction of the shaft radius where it leaves */
  spineRadiusRatio: number;
  /** head = nodes within headFactor x (largest radius near the tip) of the tip */
  headFactor: number;
  /** a spine reaches at least this far (nm) beyond the shaft surface: length - shaft radius */
  spineMinExcessNm: number;
  /** a cell without synapses is axon when its median radius is below this (nm), else dendrite */
  axonRadiusNm: number;
}

/** Defaults chosen on phantom seed 1 (384x384x96 at 8x8x30 nm), measured on seed 2 (docs/ANNOTATION.md). */
export const RULE_DEFAULTS: RuleParams = {
  somaRadiusNm: 1200,
  spineMaxLengthNm: 1600,
  spineRadiusRatio: 0.6,
  headFactor: 2,
  spineMinExcessNm: 350,
  axonRadiusNm: 75,
};

export interface RuleResult {
  compartment: Uint8Array;
  /** the soma root node (thickest node), -1 when the cell has no soma node */
  root: number;
  /** synapse flow through each node's parent edge, normalised to the cell's maximum (0..1) */
  flow: Float32Array;
  /** 1 on the flow split's axon side, 2 on its dendrite side, 0 without a cut */
  side: Uint8Array;
  /** length (nm) of the terminal branch a node lies on (0 if none) */
  terminalLength: Float32Array;
}

function median(a: number[]): number {
  if (a.length === 0) return 0;
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** Soma nodes: the connected nodes of radius >= somaRadiusNm around the thickest node. */
export function somaNodes(sk: Skeleton, adj: Adjacency, somaRadiusNm: number): { root: number; soma: Uint8Array } {
  const n = nodeCount(sk);
  const soma = new Uint8Array(n);
  let root = -1;
  for (let i = 0; i < n; i++) if (sk.radius[i] >= somaRadiusNm && (root < 0 || sk.radius[i] > sk.radius[root])) root = i;
  if (root < 0) return { root, soma };
  const stack = [root];
  soma[root] = 1;
  while (stack.length) {
    const u = stack.pop()!;
    for (let k = adj.start[u]; k < adj.start[u + 1]; k++) {
      const v = adj.nbr[k];
      if (!soma[v] && sk.radius[v] >= somaRadiusNm) {
        soma[v] = 1;
        stack.push(v);
      }
    }
  }
  return { root, soma };
}

/**
 * Terminal branches: for each tip (degree 1), the path to the first node of degree >= 3 (the
 * branch point, excluded). Returns each branch's nodes tip first, and its length (nm).
 */
export function terminalBranches(adj: Adjacency): Array<{ nodes: number[]; length: number; base: number }> {
  const out: Array<{ nodes: number[]; length: number; base: number }> = [];
  const n = adj.degree.length;
  for (let tip = 0; tip < n; tip++) {
    if (adj.degree[tip] !== 1) continue;
    const nodes = [tip];
    let prev = -1, u = tip, length = 0, base = -1;
    for (;;) {
      let next = -1, el = 0;
      for (let k = adj.start[u]; k < adj.start[u + 1]; k++) if (adj.nbr[k] !== prev) { next = adj.nbr[k]; el = adj.len[k]; break; }
      if (next < 0) break; // an isolated path: no branch point
      length += el;
      if (adj.degree[next] >= 3) { base = next; break; }
      prev = u;
      u = next;
      nodes.push(u);
    }
    if (base >= 0) out.push({ nodes, length, base });
  }
  return out;
}

/** Rule-based compartments of one cell; `pre`/`post` are attached synapse counts per node. */
export function ruleCompartments(sk: Skeleton, pre: ArrayLike<number>, post: ArrayLike<number>, params: RuleParams = RULE_DEFAULTS, adjIn?: Adjacency): RuleResult {
  const n = nodeCount(sk);
  const adj = adjIn ?? adjacency(sk);
  const { root, soma } = somaNodes(sk, adj, params.somaRadiusNm);
  const split = splitAxonDendrite(sk, pre, post, root >= 0 ? root : -1);
  let maxFlow = 0;
  for (let i = 0; i < n; i++) if (split.flow[i] > maxFlow) maxFlow = split.flow[i];
  const flow = new Float32Array(n);
  if (maxFlow > 0) for (let i = 0; i < n; i++) flow[i] = split.flow[i] / maxFlow;
  const side = new Uint8Array(n);
  const comp = new Uint8Array(n);
  let nPre = 0, nPost = 0;
  for (let i = 0; i < n; i++) {
    nPre += pre[i] ?? 0;
    nPost += post[i] ?? 0;
  }
  const whole = nPre > nPost ? C.axon : nPost > nPre ? C.dendrite : n > 0 && median(Array.from(sk.radius)) < params.axonRadiusNm ? C.axon : n > 0 ? C.dendrite : C.unknown;
  for (let i = 0; i < n; i++) {
    if (split.cut >= 0) {
      side[i] = split.compartment[i];
      comp[i] = split.compartment[i] === 1 ? C.axon : C.dendrite;
    } else comp[i] = whole;
    if (soma[i]) comp[i] = C.soma;
  }
  const terminalLength = new Float32Array(n);
  for (const b of terminalBranches(adj)) {
    for (const v of b.nodes) terminalLength[v] = b.length;
    if (b.length > params.spineMaxLengthNm || b.length - sk.radius[b.base] < params.spineMinExcessNm) continue;
    if (!b.nodes.every((v) => comp[v] === C.dendrite)) continue;
    const rs = b.nodes.map((v) => sk.radius[v]);
    if (!(median(rs) < params.spineRadiusRatio * sk.radius[b.base])) continue;
    // head: from the tip while within headFactor x the widest radius seen near the tip
    const v = sk.vertices;
    const tip = b.nodes[0];
    let rmax = 0;
    for (const u of b.nodes) {
      const d = Math.hypot(v[3 * u] - v[3 * tip], v[3 * u + 1] - v[3 * tip + 1], v[3 * u + 2] - v[3 * tip + 2]);
      if (d <= b.length / 2) rmax = Math.max(rmax, sk.radius[u]);
    }
    for (const u of b.nodes) {
      const d = Math.hypot(v[3 * u] - v[3 * tip], v[3 * u + 1] - v[3 * tip + 1], v[3 * u + 2] - v[3 * tip + 2]);
      comp[u] = d <= params.headFactor * rmax ? C.spineHead : C.spineNeck;
    }
  }
  return { compartment: comp, root, flow, side, terminalLength };
}
