/**
 * Node features (for the compartment classifier) and cell features (for the cell-type
 * classifier). Every feature is finite by construction; the names are saved with each model.
 */
import { C, type RuleResult, terminalBranches } from './compartments.js';
import { type CellInput, type NodeOrganelles, cableLengthNm, cellOrganelles } from './organelles.js';
import { type Adjacency, geodesicFrom, geodesicWindow, nodeCount } from './tree.js';

export const FEATURE_DEFAULTS = {
  /** geodesic window (nm) for the radius statistics and histogram around each node */
  windowNm: 1500,
  /** radius histogram bin edges (nm) */
  radiusBins: [60, 120, 250, 500, 1000] as readonly number[],
};

/** distance used for "unreachable / no soma", nm */
const FAR = 1e6;

export function nodeFeatureNames(bins: readonly number[] = FEATURE_DEFAULTS.radiusBins): string[] {
  return [
    'radius',
    'win_radius_mean',
    'win_radius_std',
    'win_radius_min',
    'win_radius_max',
    ...[...bins, Infinity].map((b, i) => `win_radius_hist_${i === 0 ? 0 : bins[i - 1]}_${b}`),
    'dist_soma',
    'has_soma',
    'degree',
    'dist_tip',
    'dist_branch',
    'terminal_length',
    'mito_count',
    'mito_volume',
    'vesicle_count',
    'vesicle_volume',
    'syn_in_near',
    'syn_out_near',
    'flow',
    'flow_side_axon',
    'flow_side_dendrite',
    'cell_out_fraction',
    'rule_code',
  ];
}

/** Node features, sample-major (n x F). */
export function nodeFeatures(cell: CellInput, org: NodeOrganelles, rule: RuleResult, adj: Adjacency, opts: Partial<typeof FEATURE_DEFAULTS> = {}): { x: Float32Array; names: string[] } {
  const o = { ...FEATURE_DEFAULTS, ...opts };
  const sk = cell.skeleton;
  const n = nodeCount(sk);
  const names = nodeFeatureNames(o.radiusBins);
  const F = names.length;
  const x = new Float32Array(n * F);
  const tips: number[] = [];
  const branches: number[] = [];
  for (let i = 0; i < n; i++) {
    if (adj.degree[i] <= 1) tips.push(i);
    if (adj.degree[i] >= 3) branches.push(i);
  }
  const somaSrc: number[] = [];
  for (let i = 0; i < n; i++) if (rule.compartment[i] === C.soma) somaSrc.push(i);
  const dSoma = somaSrc.length ? geodesicFrom(adj, somaSrc) : null;
  const dTip = geodesicFrom(adj, tips);
  const dBranch = geodesicFrom(adj, branches);
  const nIn = cell.synIn.size.length, nOut = cell.synOut.size.length;
  const outFrac = nIn + nOut > 0 ? nOut / (nIn + nOut) : 0.5;
  const seen = new Float64Array(n).fill(-1);
  const win: number[] = [];
  const nb = o.radiusBins.length + 1;
  const cap = (d: number) => (Number.isFinite(d) ? Math.min(d, FAR) : FAR);
  for (let i = 0; i < n; i++) {
    geodesicWindow(adj, i, o.windowNm, seen, win);
    let s = 0, s2 = 0, mn = Infinity, mx = -Infinity;
    const hist = new Float64Array(nb);
    for (const u of win) {
      const r = sk.radius[u];
      s += r;
      s2 += r * r;
      if (r < mn) mn = r;
      if (r > mx) mx = r;
      let b = 0;
      while (b < o.radiusBins.length && r >= o.radiusBins[b]) b++;
      hist[b]++;
    }
    const m = s / win.length;
    const row = [
      sk.radius[i],
      m,
      Math.sqrt(Math.max(0, s2 / win.length - m * m)),
      mn,
      mx,
      ...Array.from(hist, (h) => h / win.length),
      dSoma ? cap(dSoma[i]) : FAR,
      dSoma ? 1 : 0,
      adj.degree[i],
      cap(dTip[i]),
      cap(dBranch[i]),
      rule.terminalLength[i],
      org.mitoCount[i],
      org.mitoVolume[i],
      org.vesicleCount[i],
      org.vesicleVolume[i],
      org.synInNear[i],
      org.synOutNear[i],
      rule.flow[i],
      rule.side[i] === 1 ? 1 : 0,
      rule.side[i] === 2 ? 1 : 0,
      outFrac,
      rule.compartment[i],
    ];
    for (let f = 0; f < F; f++) x[i * F + f] = row[f];
  }
  return { x, names };
}

export const CELL_FEATURE_NAMES = [
  'cable_length_um',
  'nodes',
  'branch_points_per_um',
  'tips_per_um',
  'radius_mean',
  'radius_std',
  'radius_p90',
  'soma_radius',
  'has_soma',
  'spines_per_um',
  'frac_soma',
  'frac_axon',
  'frac_dendrite',
  'frac_spine',
  'volume_um3',
  'mito_per_um',
  'mito_volume_fraction',
  'mito_per_um_axon',
  'mito_per_um_dendrite',
  'vesicle_per_um',
  'syn_in_per_um',
  'syn_out_per_um',
  'out_fraction',
  'syn_in_size_mean',
  'syn_out_size_mean',
  'in_on_soma_frac',
  'in_on_spine_frac',
  // filled by setOutputTargets from the partners' compartments (run.ts outputTargetCounts)
  'out_on_spine_frac',
  'out_on_shaft_frac',
  'out_on_soma_frac',
  'out_target_spininess',
  'out_shaft_target_spininess',
] as const;

const OUT_TARGETS = CELL_FEATURE_NAMES.indexOf('out_on_spine_frac');

/**
 * Set a cell's out_* features from `counts` (its output synapses by the compartment code of
 * their post-side node on the target cell, then the TARGET_SPINY sums): the fractions of those tagged outputs that land on
 * spines (head or neck), dendritic shafts and somata; 0 without tagged outputs. Excitatory axons
 * target spines, inhibitory ones shafts and somata: the axon fragments that make up most cells of
 * a small volume are told apart by this.
 */
export function setOutputTargets(features: Float32Array, counts: ArrayLike<number> | undefined): void {
  let n = 0;
  if (counts) for (let k = 1; k < TARGET_SPINY; k++) n += counts[k];
  const frac = (v: number) => (n > 0 ? v / n : 0);
  features[OUT_TARGETS] = frac(counts ? counts[C.spineHead] + counts[C.spineNeck] : 0);
  features[OUT_TARGETS + 1] = frac(counts ? counts[C.dendrite] : 0);
  features[OUT_TARGETS + 2] = frac(counts ? counts[C.soma] : 0);
  // the targets' spininess (fraction of their nodes on spines): inhibitory axons hit the shafts of
  // spiny cells, excitatory axons the shafts of smooth ones
  features[OUT_TARGETS + 3] = frac(counts ? counts[TARGET_SPINY] : 0);
  const shaft = counts ? counts[C.dendrite] : 0;
  features[OUT_TARGETS + 4] = shaft > 0 ? counts![TARGET_SPINY_SHAFT] / shaft : 0;
}

/** Slots of an output-target count row after the compartment codes: sums of the targets' spininess (all outputs, shaft outputs). */
export const TARGET_SPINY = 6;
export const TARGET_SPINY_SHAFT = 7;
export const TARGET_COUNT_SLOTS = 8;

/**
 * Cell features from the node compartments and organelles. `inComp`: the compartment of each input
 * synapse's node (codes), used for the fractions of inputs on soma and on spines.
 */
export function cellFeatures(cell: CellInput, org: NodeOrganelles, comp: Uint8Array, adj: Adjacency): Float32Array {
  const sk = cell.skeleton;
  const n = nodeCount(sk);
  const co = cellOrganelles(cell);
  const cable = Math.max(cableLengthNm(sk) / 1000, 1e-3);
  let bp = 0, tips = 0;
  for (let i = 0; i < n; i++) {
    if (adj.degree[i] >= 3) bp++;
    if (adj.degree[i] === 1) tips++;
  }
  const rs = Array.from(sk.radius).sort((a, b) => a - b);
  const rm = rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : 0;
  const rsd = rs.length ? Math.sqrt(rs.reduce((a, b) => a + (b - rm) ** 2, 0) / rs.length) : 0;
  const cnt = new Float64Array(6);
  for (let i = 0; i < n; i++) cnt[comp[i]]++;
  let somaR = 0;
  for (let i = 0; i < n; i++) if (comp[i] === C.soma) somaR = Math.max(somaR, sk.radius[i]);
  const spines = terminalBranches(adj).filter((b) => comp[b.nodes[0]] === C.spineHead || comp[b.nodes[0]] === C.spineNeck).length;
  // organelles per µm by compartment: cable per compartment = half of each edge to each end's compartment
  const cableBy = new Float64Array(6);
  const v = sk.vertices;
  for (let e = 0; e < sk.edges.length; e += 2) {
    const a = sk.edges[e], b = sk.edges[e + 1];
    const L = Math.hypot(v[3 * a] - v[3 * b], v[3 * a + 1] - v[3 * b + 1], v[3 * a + 2] - v[3 * b + 2]) / 1000;
    cableBy[comp[a]] += L / 2;
    cableBy[comp[b]] += L / 2;
  }
  const mitoBy = new Float64Array(6);
  for (const a of org.attachMito) if (a >= 0) mitoBy[comp[a]]++;
  const dendCable = cableBy[C.dendrite] + cableBy[C.spineHead] + cableBy[C.spineNeck];
  const dendMito = mitoBy[C.dendrite] + mitoBy[C.spineHead] + mitoBy[C.spineNeck];
  let onSoma = 0, onSpine = 0;
  for (const a of org.attachIn) {
    if (a < 0) continue;
    if (comp[a] === C.soma) onSoma++;
    if (comp[a] === C.spineHead || comp[a] === C.spineNeck) onSpine++;
  }
  const mean = (a: Float64Array) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : 0);
  const nIn = co.syn_in, nOut = co.syn_out;
  const f = [
    cable,
    n,
    bp / cable,
    tips / cable,
    rm,
    rsd,
    rs.length ? rs[Math.min(rs.length - 1, Math.floor(rs.length * 0.9))] : 0,
    somaR,
    cnt[C.soma] > 0 ? 1 : 0,
    spines / cable,
    cnt[C.soma] / Math.max(1, n),
    cnt[C.axon] / Math.max(1, n),
    cnt[C.dendrite] / Math.max(1, n),
    (cnt[C.spineHead] + cnt[C.spineNeck]) / Math.max(1, n),
    co.volume_um3,
    co.mito_per_um,
    co.mito_volume_fraction,
    cableBy[C.axon] > 0 ? mitoBy[C.axon] / cableBy[C.axon] : 0,
    dendCable > 0 ? dendMito / dendCable : 0,
    co.vesicle_per_um,
    co.syn_in_per_um,
    co.syn_out_per_um,
    nIn + nOut > 0 ? nOut / (nIn + nOut) : 0.5,
    mean(cell.synIn.size),
    mean(cell.synOut.size),
    nIn > 0 ? onSoma / nIn : 0,
    nIn > 0 ? onSpine / nIn : 0,
    0, // out_on_*, out_*_spininess: setOutputTargets
    0,
    0,
    0,
    0,
  ];
  return Float32Array.from(f);
}
