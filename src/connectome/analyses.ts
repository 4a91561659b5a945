import { UsageError } from '../core/errors.js';
import { type Digraph, type NullComparison, TRIAD_NAMES, type TriadName, compareToNull, edgeSwapNull, makeDigraph, reciprocalPairs, seededRandom, triadCensus } from './graph.js';
import { wilson } from './function/stats.js';
import { type SynapseFilter, type Table, pairSource, synapseSource } from './query.js';
import type { ConnectomeStore } from './store.js';

/**
 * The analyses a course on MICrONS / V1DD runs, over the store. Each returns plain data (for
 * JSON), and `*Table` helpers turn it into rows for table/CSV output. Self-synapses and
 * unknown partners (root id 0) are left out of graph analyses.
 */

// ------------------------------------------------------------------------------------------
// Synapses per connection

export interface ConnectionHistogram {
  /** bins[k] = number of connected (pre, post) pairs with exactly `synapses` synapses. */
  bins: { synapses: number; pairs: number }[];
  pairs: number;
  synapses: number;
  mean: number;
  max: number;
}

export async function connectionHistogram(store: ConnectomeStore, f: SynapseFilter = {}): Promise<ConnectionHistogram> {
  const p = await pairSource(store, { ...f, excludeUnassigned: f.excludeUnassigned ?? true });
  const rows = await store.all(`SELECT n, count(*) AS pairs FROM (${p.sql}) GROUP BY n ORDER BY n`, p.params);
  const bins = rows.map((r) => ({ synapses: Number(r.n), pairs: Number(r.pairs) }));
  const pairs = bins.reduce((a, x) => a + x.pairs, 0);
  const synapses = bins.reduce((a, x) => a + x.pairs * x.synapses, 0);
  return { bins, pairs, synapses, mean: pairs ? synapses / pairs : 0, max: bins.length ? bins[bins.length - 1].synapses : 0 };
}

// ------------------------------------------------------------------------------------------
// Graph of connections

export interface ConnectionGraph extends Digraph {
  ids: bigint[];
}

/**
 * Binary directed graph of cells: an edge pre -> post when they share at least `minSynapses`
 * synapses (default 1). Self-connections and root id 0 are dropped. Nodes are every cell that
 * takes part in an edge, plus (with `allCells`) every cell of the cells table.
 */
export async function loadGraph(store: ConnectomeStore, f: SynapseFilter & { minSynapses?: number; allCells?: boolean } = {}): Promise<ConnectionGraph> {
  const p = await pairSource(store, { ...f, excludeSelf: true, excludeUnassigned: true });
  const min = Math.max(1, Math.floor(f.minSynapses ?? 1));
  const { columns } = await store.columns(`SELECT pre_pt_root_id AS a, post_pt_root_id AS b FROM (${p.sql}) WHERE n >= ${min} ORDER BY 1, 2`, p.params);
  const a = columns.a as bigint[];
  const c = columns.b as bigint[];
  const index = new Map<bigint, number>();
  const ids: bigint[] = [];
  const add = (id: bigint) => {
    let i = index.get(id);
    if (i === undefined) {
      i = ids.length;
      ids.push(id);
      index.set(id, i);
    }
    return i;
  };
  if (f.allCells) {
    const t = await store.tableRef('cells', f.version);
    for (const r of await store.all(`SELECT pt_root_id FROM ${t} ORDER BY pt_root_id`)) add(r.pt_root_id as bigint);
  }
  const src = new Int32Array(a.length);
  const dst = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    src[i] = add(a[i]);
    dst[i] = add(c[i]);
  }
  const g = makeDigraph(ids.length, src, dst);
  return { ...g, ids };
}

export interface MotifResult {
  nodes: number;
  edges: number;
  null_samples: number;
  swaps_per_sample: number;
  seed: number;
  reciprocal_pairs: NullComparison;
  /** Triad census, observed vs the degree-preserving null. */
  triads: Record<TriadName, NullComparison>;
}

export interface MotifOptions extends SynapseFilter {
  minSynapses?: number;
  /** Null samples (default 100). */
  samples?: number;
  /** Attempted swaps per sample as a multiple of the edge count (default 10). */
  swapFactor?: number;
  seed?: number;
}

/**
 * Reciprocal pairs and the 16 three-cell motifs (triad census) of the connection graph,
 * against a degree-preserving null (seeded double-edge swaps that keep every in/out degree).
 */
export async function motifs(store: ConnectomeStore, o: MotifOptions = {}): Promise<MotifResult> {
  const g = await loadGraph(store, o);
  return motifsOfGraph(g, o);
}

export function motifsOfGraph(g: Digraph, o: MotifOptions = {}): MotifResult {
  const samples = o.samples ?? 100;
  const factor = o.swapFactor ?? 10;
  const seed = o.seed ?? 1;
  if (!(samples >= 1) || !Number.isInteger(samples)) throw new UsageError(`samples ${samples} must be a whole number >= 1`);
  const swaps = Math.round(factor * g.src.length);
  const random = seededRandom(seed);
  const obsT = triadCensus(g);
  const obsR = reciprocalPairs(g);
  const nullR: number[] = [];
  const nullT: Record<string, number[]> = Object.fromEntries(TRIAD_NAMES.map((t) => [t, []]));
  for (let s = 0; s < samples; s++) {
    const h = edgeSwapNull(g, swaps, random);
    nullR.push(reciprocalPairs(h));
    const c = triadCensus(h);
    for (const t of TRIAD_NAMES) nullT[t].push(c[t]);
  }
  const triads = {} as Record<TriadName, NullComparison>;
  for (const t of TRIAD_NAMES) triads[t] = compareToNull(obsT[t], nullT[t]);
  return {
    nodes: g.n,
    edges: g.src.length,
    null_samples: samples,
    swaps_per_sample: swaps,
    seed,
    reciprocal_pairs: compareToNull(obsR, nullR),
    triads,
  };
}

// ------------------------------------------------------------------------------------------
// Connection probability vs soma distance

export interface DistanceBin {
  /** Bin [from, to) in nm. */
  from: number;
  to: number;
  /** Ordered cell pairs (i != j) in the bin. */
  pairs: number;
  /** Of those, pairs with a connection i -> j. */
  connected: number;
  p: number;
  /** Binomial standard error sqrt(p(1-p)/pairs). */
  se: number;
  /** 95 % Wilson score interval of p. */
  ci_low: number;
  ci_high: number;
}

export interface DistanceOptions extends SynapseFilter {
  /** Bin width in nm (default 25,000). */
  binWidth?: number;
  /** Largest distance in nm (default: the largest pair distance). */
  maxDistance?: number;
  /** Axes that count, e.g. 'xz' for lateral distance in MICrONS (y = cortical depth). Default 'xyz'. */
  axes?: string;
  minSynapses?: number;
  /** Pre cells restricted to this cell type; post cells to postType. */
  preType?: string;
  postType?: string;
  /** Refuse more ordered cell pairs than this (the scan is O(pre x post)); default 4e8. */
  maxPairs?: number;
}

/**
 * Connection probability versus soma distance: over every ordered pair of cells that have a
 * soma position (and the chosen types), the fraction connected, per distance bin.
 */
export async function connectionProbabilityByDistance(store: ConnectomeStore, o: DistanceOptions = {}): Promise<{ bins: DistanceBin[]; cells_pre: number; cells_post: number; axes: string }> {
  const axes = o.axes ?? 'xyz';
  if (!/^[xyz]{1,3}$/.test(axes)) throw new UsageError(`axes ${JSON.stringify(axes)}: expected letters from xyz, e.g. xz`);
  const width = o.binWidth ?? 25000;
  if (!(width > 0)) throw new UsageError(`bin width ${width} must be positive`);
  const t = await store.tableRef('cells', o.version);
  const load = async (type?: string) =>
    store.all(
      `SELECT pt_root_id AS id, pt_position_x AS x, pt_position_y AS y, pt_position_z AS z FROM ${t} WHERE pt_position_x IS NOT NULL${type !== undefined ? ' AND cell_type = $1' : ''} ORDER BY pt_root_id`,
      type !== undefined ? [type] : undefined,
    );
  const pre = await load(o.preType);
  const post = await load(o.postType);
  const maxPairs = o.maxPairs ?? 4e8;
  if (pre.length * post.length > maxPairs) {
    throw new UsageError(`${pre.length} x ${post.length} cell pairs is more than ${maxPairs}; restrict with pre/post cell types (or raise maxPairs)`);
  }
  const g = await loadGraph(store, o);
  const gi = new Map(g.ids.map((id, i) => [id, i]));
  const edges = new Set<number>();
  for (let i = 0; i < g.src.length; i++) edges.add(g.src[i] * g.n + g.dst[i]);
  const use = [axes.includes('x'), axes.includes('y'), axes.includes('z')];
  const P = (rows: Record<string, unknown>[]) => {
    const xyz = new Float64Array(rows.length * 3);
    rows.forEach((r, i) => {
      xyz[3 * i] = use[0] ? (r.x as number) : 0;
      xyz[3 * i + 1] = use[1] ? (r.y as number) : 0;
      xyz[3 * i + 2] = use[2] ? (r.z as number) : 0;
    });
    return xyz;
  };
  const a = P(pre);
  const b = P(post);
  const ga = pre.map((r) => gi.get(r.id as bigint) ?? -1);
  const gb = post.map((r) => gi.get(r.id as bigint) ?? -1);
  const ida = pre.map((r) => r.id as bigint);
  const idb = post.map((r) => r.id as bigint);
  let maxD = o.maxDistance ?? 0;
  if (o.maxDistance === undefined) {
    for (let i = 0; i < pre.length; i++)
      for (let j = 0; j < post.length; j++) {
        const d = Math.hypot(a[3 * i] - b[3 * j], a[3 * i + 1] - b[3 * j + 1], a[3 * i + 2] - b[3 * j + 2]);
        if (d > maxD) maxD = d;
      }
  }
  const nb = Math.max(1, Math.ceil((maxD + 1e-9) / width));
  const pairs = new Float64Array(nb);
  const conn = new Float64Array(nb);
  for (let i = 0; i < pre.length; i++) {
    for (let j = 0; j < post.length; j++) {
      if (ida[i] === idb[j]) continue;
      const d = Math.hypot(a[3 * i] - b[3 * j], a[3 * i + 1] - b[3 * j + 1], a[3 * i + 2] - b[3 * j + 2]);
      const k = Math.floor(d / width);
      if (k >= nb) continue;
      pairs[k]++;
      if (ga[i] >= 0 && gb[j] >= 0 && edges.has(ga[i] * g.n + gb[j])) conn[k]++;
    }
  }
  const bins: DistanceBin[] = [];
  for (let k = 0; k < nb; k++) {
    const p = pairs[k] ? conn[k] / pairs[k] : 0;
    const [lo, hi] = wilson(conn[k], pairs[k]);
    bins.push({ from: k * width, to: (k + 1) * width, pairs: pairs[k], connected: conn[k], p, se: pairs[k] ? Math.sqrt((p * (1 - p)) / pairs[k]) : 0, ci_low: lo, ci_high: hi });
  }
  return { bins, cells_pre: pre.length, cells_post: post.length, axes };
}

// ------------------------------------------------------------------------------------------
// Synapse sizes

export interface SizeDistribution {
  group: string;
  count: number;
  mean: number;
  quantiles: { q: number; value: number }[];
  /** Histogram over [from, to) bins (log10 bins with `log`). */
  bins: { from: number; to: number; count: number }[];
}

export interface SizeOptions extends SynapseFilter {
  bins?: number;
  log?: boolean;
  /** Split by 'pre_type', 'post_type' or 'compartment'. */
  by?: 'pre_type' | 'post_type' | 'compartment';
}

export async function synapseSizes(store: ConnectomeStore, o: SizeOptions = {}): Promise<SizeDistribution[]> {
  const nb = o.bins ?? 30;
  if (!(nb >= 1 && Number.isInteger(nb))) throw new UsageError(`bins ${nb} must be a whole number >= 1`);
  const b = await synapseSource(store, o);
  const where = [...b.where, 's.size IS NOT NULL', ...(o.log ? ['s.size > 0'] : [])];
  let group = `'all'`;
  let join = '';
  if (o.by === 'pre_type' || o.by === 'post_type') {
    const cells = await store.tableRef('cells', o.version);
    join = `LEFT JOIN ${cells} c ON c.pt_root_id = s.${o.by === 'pre_type' ? 'pre' : 'post'}_pt_root_id`;
    group = `coalesce(c.cell_type, 'untyped')`;
  } else if (o.by === 'compartment') {
    join = `LEFT JOIN ${await store.tableRef('compartment_tags', o.version)} ct ON ct.synapse_id = s.id`;
    group = `coalesce(ct.compartment, 'untagged')`;
  } else if (o.by !== undefined) throw new UsageError(`by ${JSON.stringify(o.by)}: expected pre_type, post_type or compartment`);
  const val = o.log ? 'log10(s.size)' : 's.size';
  const base = `SELECT ${group} AS g, s.size AS size, ${val} AS v FROM ${b.from} ${join} WHERE ${where.join(' AND ')}`;
  const stats = await store.all(
    `SELECT g, count(*) AS n, avg(size) AS mean, quantile_cont(size, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q, min(v) AS lo, max(v) AS hi FROM (${base}) GROUP BY g ORDER BY g`,
    b.params,
  );
  const all = await store.all(`SELECT min(v) AS lo, max(v) AS hi FROM (${base})`, b.params);
  const lo = Number(all[0].lo ?? 0);
  const hi = Number(all[0].hi ?? 0);
  const w = hi > lo ? (hi - lo) / nb : 1;
  const hist = await store.all(
    `SELECT g, least(${nb - 1}, CAST(floor((v - ${lo}) / ${w}) AS INTEGER)) AS k, count(*) AS n FROM (${base}) GROUP BY 1, 2`,
    b.params,
  );
  const qs = [0.05, 0.25, 0.5, 0.75, 0.95];
  return stats.map((s) => {
    const counts = new Array<number>(nb).fill(0);
    for (const h of hist) if (h.g === s.g) counts[Number(h.k)] += Number(h.n);
    const edge = (k: number) => (o.log ? 10 ** (lo + k * w) : lo + k * w);
    return {
      group: String(s.g),
      count: Number(s.n),
      mean: Number(s.mean),
      quantiles: (s.q as number[]).map((v, i) => ({ q: qs[i], value: v })),
      bins: counts.map((c, k) => ({ from: edge(k), to: edge(k + 1), count: c })),
    };
  });
}

// ------------------------------------------------------------------------------------------
// Tables

export function histogramTable(h: ConnectionHistogram): Table {
  return { columns: ['synapses_per_connection', 'pairs'], rows: h.bins.map((b) => [b.synapses, b.pairs]) };
}

export function motifTable(m: MotifResult): Table {
  const row = (name: string, c: NullComparison) => [name, c.observed, round(c.null_mean), round(c.null_sd), c.z === null ? null : round(c.z), round(c.p_greater), round(c.p_less)];
  return {
    columns: ['motif', 'observed', 'null_mean', 'null_sd', 'z', 'p_greater', 'p_less'],
    rows: [row('reciprocal_pairs', m.reciprocal_pairs), ...TRIAD_NAMES.map((t) => row(t, m.triads[t]))],
  };
}

export function distanceTable(d: { bins: DistanceBin[] }): Table {
  return { columns: ['from_nm', 'to_nm', 'pairs', 'connected', 'p', 'se', 'ci_low', 'ci_high'], rows: d.bins.map((b) => [b.from, b.to, b.pairs, b.connected, round(b.p, 6), round(b.se, 6), round(b.ci_low, 6), round(b.ci_high, 6)]) };
}

export function sizeTable(s: SizeDistribution[]): Table {
  return {
    columns: ['group', 'count', 'mean', 'q05', 'q25', 'median', 'q75', 'q95'],
    rows: s.map((g) => [g.group, g.count, round(g.mean), ...g.quantiles.map((q) => round(q.value))]),
  };
}

function round(v: number, digits = 4): number {
  return Number(v.toPrecision(digits + 2));
}
