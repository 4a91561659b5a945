import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { type SynapseFilter, pairSource } from '../query.js';
import { type ConnectomeStore, sqlIdent } from '../store.js';
import { annotationInfo } from './tables.js';
import { angleDifference, percentileInterval, quantileSorted, spearman, wilson } from './stats.js';

/**
 * Structure–function analyses over a store with a coregistration table (cell <-> imaging
 * unit) and functional tables keyed by (session, scan_idx, unit_id):
 *
 *  - functionalJoin: one row per coregistered cell with its soma, type and tuning values;
 *  - likeToLike: connection probability and synapses per pair versus the similarity of the
 *    two cells' tuning (orientation/direction preference difference, signal or noise
 *    correlation, or the difference of any tuning column), with Wilson and bootstrap (over
 *    presynaptic cells) intervals and a distance-matched null: the probability expected in
 *    each similarity bin if connection depended on soma distance alone,
 *        null(f) = Σ_d P(connected | distance bin d) · pairs(f, d) / pairs(f),
 *    since like-to-like is confounded by proximity (nearby cells share inputs and tuning);
 *  - featureVsFunction: a cell column (e.g. volume) against a tuning value (Spearman + CI);
 *  - targetFunction: per presynaptic cell type, the synapse-weighted mean tuning value of its
 *    coregistered targets against all coregistered cells.
 */

export const FUNCTION_DEFAULTS = {
  /** Similarity bins. */
  bins: 4,
  /** Distance bins of the matched null (quantiles of pair distance). */
  distanceBins: 10,
  /** Bootstrap resamples (over presynaptic cells). */
  bootstrap: 1000,
  seed: 1,
  /** Axes of soma distance for the null (all three; MICrONS lateral is 'xz'). */
  axes: 'xyz',
  minSynapses: 1,
  /** Refuse more ordered cell pairs than this. */
  maxPairs: 5e7,
};

export interface FunctionalJoinOptions {
  coregistration: string;
  tuning?: string;
  version?: number;
}

export interface FunctionalCell {
  id: bigint;
  session: number;
  scan_idx: number;
  unit_id: number;
  position: Vec3 | null;
  cell_type: string | null;
  values: Record<string, number | null>;
}

export interface FunctionalJoinReport {
  coregistration_rows: number;
  /** Coregistered cells whose pt_root_id is not in the cells table (left out). */
  cells_not_in_store: number;
  /** Units matched to more than one cell (left out: ambiguous). */
  ambiguous_units: number;
  /** Cells matched to several units (the best-scoring match kept). */
  cells_with_several_units: number;
  tuning_rows?: number;
  /** Tuning rows whose unit is not coregistered to a cell. */
  tuning_without_cell?: number;
  cells: number;
}

/** One row per coregistered cell (with its tuning values when a tuning table is given). */
export async function functionalJoin(store: ConnectomeStore, o: FunctionalJoinOptions): Promise<{ cells: FunctionalCell[]; report: FunctionalJoinReport; columns: string[] }> {
  const co = await annotationInfo(store, o.coregistration, 'coregistration');
  const tu = o.tuning ? await annotationInfo(store, o.tuning) : undefined;
  const cellsRef = await store.tableRef('cells', o.version);
  const order = co.columns.score ? 'score DESC NULLS LAST' : co.columns.residual ? 'residual ASC NULLS LAST' : 'session';
  const base = `(SELECT * FROM ${co.table} WHERE pt_root_id IS NOT NULL AND session IS NOT NULL AND scan_idx IS NOT NULL AND unit_id IS NOT NULL)`;
  const ambSql = `SELECT session, scan_idx, unit_id FROM ${base} GROUP BY session, scan_idx, unit_id HAVING count(DISTINCT pt_root_id) > 1`;
  const n = async (sql: string) => Number((await store.all(`SELECT count(*) AS n FROM (${sql})`))[0].n);
  const report: FunctionalJoinReport = {
    coregistration_rows: await n(`SELECT * FROM ${co.table}`),
    cells_not_in_store: await n(`SELECT DISTINCT pt_root_id FROM ${base} c ANTI JOIN ${cellsRef} k ON k.pt_root_id = c.pt_root_id`),
    ambiguous_units: await n(ambSql),
    cells_with_several_units: await n(`SELECT pt_root_id FROM ${base} GROUP BY pt_root_id HAVING count(DISTINCT (session, scan_idx, unit_id)) > 1`),
    cells: 0,
  };
  const tuneCols = tu ? Object.entries(tu.columns).filter(([c, t]) => t === 'DOUBLE' && !['session', 'scan_idx', 'unit_id'].includes(c)).map(([c]) => c) : [];
  const best = `SELECT *, row_number() OVER (PARTITION BY pt_root_id ORDER BY ${order}, session, scan_idx, unit_id) AS _r FROM ${base} c ANTI JOIN (${ambSql}) a USING (session, scan_idx, unit_id)`;
  const sql = `SELECT b.pt_root_id AS id, b.session::DOUBLE AS session, b.scan_idx::DOUBLE AS scan_idx, b.unit_id::DOUBLE AS unit_id,
      k.pt_position_x AS x, k.pt_position_y AS y, k.pt_position_z AS z, k.cell_type AS cell_type
      ${tuneCols.map((c) => `, t.${sqlIdent(c)} AS ${sqlIdent(`v_${c}`)}`).join('')}
    FROM (${best}) b JOIN ${cellsRef} k ON k.pt_root_id = b.pt_root_id
    ${tu ? `JOIN ${tu.table} t ON t.session = b.session AND t.scan_idx = b.scan_idx AND t.unit_id = b.unit_id` : ''}
    WHERE b._r = 1 ORDER BY b.pt_root_id`;
  const rows = await store.all(sql);
  if (tu) {
    report.tuning_rows = await n(`SELECT * FROM ${tu.table}`);
    report.tuning_without_cell = await n(`SELECT * FROM ${tu.table} t ANTI JOIN ${base} c ON c.session = t.session AND c.scan_idx = t.scan_idx AND c.unit_id = t.unit_id`);
  }
  const seen = new Set<bigint>();
  const cells: FunctionalCell[] = [];
  for (const r of rows) {
    const id = BigInt(r.id as bigint);
    if (seen.has(id)) continue; // a unit with two tuning rows: the first
    seen.add(id);
    cells.push({
      id,
      session: Number(r.session),
      scan_idx: Number(r.scan_idx),
      unit_id: Number(r.unit_id),
      position: r.x === null || r.x === undefined ? null : [Number(r.x), Number(r.y), Number(r.z)],
      cell_type: (r.cell_type as string | null) ?? null,
      values: Object.fromEntries(tuneCols.map((c) => [c, r[`v_${c}`] === null || r[`v_${c}`] === undefined ? null : Number(r[`v_${c}`])])),
    });
  }
  report.cells = cells.length;
  return { cells, report, columns: tuneCols };
}

export interface LikeToLikeOptions extends SynapseFilter {
  coregistration: string;
  tuning?: string;
  correlations?: string;
  /** orientation | direction | signal_correlation | noise_correlation | any tuning column (absolute difference). */
  feature: string;
  /** Tuning column of the preference (default pref_ori / pref_dir). */
  column?: string;
  /** Unit of the preference angles; 'auto' = degrees when any value exceeds 2π. */
  angleUnit?: 'deg' | 'rad' | 'auto';
  bins?: number;
  distanceBins?: number;
  axes?: string;
  minSynapses?: number;
  bootstrap?: number;
  seed?: number;
  maxPairs?: number;
  preType?: string;
  postType?: string;
}

export interface LikeBin {
  from: number;
  to: number;
  pairs: number;
  connected: number;
  p: number;
  wilson: [number, number];
  bootstrap: [number, number];
  /** Connection probability expected from soma distance alone. */
  null_p: number;
  /** p / null_p. */
  ratio: number;
  synapses_per_pair: number;
}

export interface LikeToLikeResult {
  feature: string;
  /** 'deg' for angle differences, else the feature's own unit. */
  unit: string;
  /** Whether the first bin holds the most similar pairs (angles) or the last (correlations). */
  similar_first: boolean;
  cells: number;
  pairs: number;
  connected: number;
  bins: LikeBin[];
  /** (p_similar - p_dissimilar) - (null_similar - null_dissimilar), with its bootstrap interval. */
  excess: number;
  excess_ci: [number, number];
  distance_edges: number[];
  report: FunctionalJoinReport & { pairs_without_value?: number };
}

type JoinedCell = Awaited<ReturnType<typeof functionalJoin>>['cells'][number];

/** The similarity value of a pair of cells (NaN when it has none) and its unit. */
async function pairValues(store: ConnectomeStore, o: LikeToLikeOptions, cells: JoinedCell[], column: string | undefined): Promise<{ value: (i: number, j: number) => number; unit: string }> {
  const feature = o.feature;
  if (feature === 'orientation' || feature === 'direction') {
    const raw = cells.map((c) => c.values[column!]!);
    const deg = o.angleUnit === 'deg' || ((o.angleUnit ?? 'auto') === 'auto' && raw.some((v) => Math.abs(v) > 2 * Math.PI + 1e-9));
    const a = raw.map((v) => (deg ? v : (v * 180) / Math.PI));
    const period = feature === 'orientation' ? 180 : 360;
    return { value: (i, j) => angleDifference(a[i], a[j], period), unit: 'deg' };
  }
  if (feature === 'signal_correlation' || feature === 'noise_correlation') {
    const info = await annotationInfo(store, o.correlations!, 'correlations');
    const colA = ['unit_id_a', 'unit_a', 'unit_id_1'].find((c) => info.columns[c]);
    const colB = ['unit_id_b', 'unit_b', 'unit_id_2'].find((c) => info.columns[c]);
    const val = feature === 'signal_correlation' ? 'signal_corr' : 'noise_corr';
    if (!info.columns[val]) throw new UsageError(`correlations table ${o.correlations} has no column ${val}`);
    const rows = await store.all(`SELECT session::DOUBLE AS s, scan_idx::DOUBLE AS k, ${sqlIdent(colA!)}::DOUBLE AS a, ${sqlIdent(colB!)}::DOUBLE AS b, ${val} AS v FROM ${info.table} WHERE ${val} IS NOT NULL`);
    const key = (s: number, k: number, u: number) => `${s}/${k}/${u}`;
    const cellOf = new Map(cells.map((c, i) => [key(c.session, c.scan_idx, c.unit_id), i]));
    const m = new Map<number, number>();
    for (const r of rows) {
      const i = cellOf.get(key(Number(r.s), Number(r.k), Number(r.a)));
      const j = cellOf.get(key(Number(r.s), Number(r.k), Number(r.b)));
      if (i === undefined || j === undefined) continue;
      m.set(i * cells.length + j, Number(r.v));
      m.set(j * cells.length + i, Number(r.v));
    }
    return { value: (i, j) => m.get(i * cells.length + j) ?? NaN, unit: 'r' };
  }
  const v = cells.map((c) => c.values[column!]!);
  return { value: (i, j) => Math.abs(v[i] - v[j]), unit: column! };
}

/** Synapse counts of the connected ordered pairs among `cells` (a dense N x N table when small, else a map). */
async function pairSynapses(store: ConnectomeStore, o: LikeToLikeOptions, cells: JoinedCell[]): Promise<(i: number, j: number) => number> {
  const fids = cells.map((c) => c.id);
  const p = await pairSource(store, { ...o, excludeSelf: true, excludeUnassigned: true, pre_ids: fids, post_ids: fids });
  const { columns } = await store.columns(`SELECT pre_pt_root_id AS a, post_pt_root_id AS b, n FROM (${p.sql}) WHERE n >= ${Math.max(1, Math.floor(o.minSynapses ?? FUNCTION_DEFAULTS.minSynapses))}`, p.params);
  const index = new Map(cells.map((c, i) => [c.id, i]));
  const N = cells.length;
  const dense = N * N <= 2 ** 25 ? new Float32Array(N * N) : undefined;
  const sparse = dense ? undefined : new Map<number, number>();
  const ca = columns.a as bigint[], cb = columns.b as bigint[], cn = columns.n as unknown[];
  for (let k = 0; k < ca.length; k++) {
    const i = index.get(BigInt(ca[k])), j = index.get(BigInt(cb[k]));
    if (i === undefined || j === undefined) continue;
    if (dense) dense[i * N + j] = Number(cn[k]);
    else sparse!.set(i * N + j, Number(cn[k]));
  }
  return dense ? (i, j) => dense[i * N + j] : (i, j) => sparse!.get(i * N + j) ?? 0;
}

/** Every ordered (pre, post) pair with a value: value, soma distance over `axes`, the two cells (typed arrays). */
function pairTable(cells: JoinedCell[], preIdx: number[], postIdx: number[], axes: string, value: (i: number, j: number) => number) {
  const N = cells.length;
  const xyz = new Float64Array(N * 3);
  cells.forEach((c, i) => {
    for (let q = 0; q < 3; q++) xyz[3 * i + q] = axes.includes('xyz'[q]) ? c.position![q] : 0;
  });
  const cap = preIdx.length * postIdx.length;
  const vals = new Float64Array(cap);
  const dists = new Float64Array(cap);
  const pi = new Int32Array(cap);
  const pj = new Int32Array(cap);
  let m = 0;
  let withoutValue = 0;
  for (const i of preIdx)
    for (const j of postIdx) {
      if (i === j) continue;
      const v = value(i, j);
      if (!Number.isFinite(v)) {
        withoutValue++;
        continue;
      }
      vals[m] = v;
      const dx = xyz[3 * i] - xyz[3 * j], dy = xyz[3 * i + 1] - xyz[3 * j + 1], dz = xyz[3 * i + 2] - xyz[3 * j + 2];
      dists[m] = Math.sqrt(dx * dx + dy * dy + dz * dz);
      pi[m] = i;
      pj[m] = j;
      m++;
    }
  return { vals, dists, pi, pj, m, withoutValue };
}

/** Pairs, connected pairs and synapses per presynaptic cell x similarity bin x distance bin. */
interface BinCounts {
  P: number;
  nb: number;
  nd: number;
  pairs: Float64Array;
  conn: Float64Array;
  /** per presynaptic cell x similarity bin */
  syns: Float64Array;
}

interface BinSummary {
  n: number;
  c: number;
  p: number;
  nul: number;
  syn: number;
}

/** Per similarity bin, over presynaptic cells weighted by `weights` (1 each, or bootstrap counts): P(connected), its distance-matched null, synapses per pair. */
function summarizeBins(k: BinCounts, weights: Float64Array): BinSummary[] {
  const { P, nb, nd, pairs, conn, syns } = k;
  const pr = new Float64Array(nb * nd), co = new Float64Array(nb * nd), sy = new Float64Array(nb);
  for (let s = 0; s < P; s++) {
    const w = weights[s];
    if (!w) continue;
    for (let q = 0; q < nb * nd; q++) {
      pr[q] += w * pairs[s * nb * nd + q];
      co[q] += w * conn[s * nb * nd + q];
    }
    for (let f = 0; f < nb; f++) sy[f] += w * syns[s * nb + f];
  }
  // P(connected | distance bin), over all similarity bins: the null
  const pd = new Float64Array(nd);
  for (let d = 0; d < nd; d++) {
    let a = 0, b = 0;
    for (let f = 0; f < nb; f++) {
      a += co[f * nd + d];
      b += pr[f * nd + d];
    }
    pd[d] = b ? a / b : 0;
  }
  const out: BinSummary[] = [];
  for (let f = 0; f < nb; f++) {
    let n = 0, c = 0, nul = 0;
    for (let d = 0; d < nd; d++) {
      n += pr[f * nd + d];
      c += co[f * nd + d];
      nul += pd[d] * pr[f * nd + d];
    }
    out.push({ n, c, p: n ? c / n : NaN, nul: n ? nul / n : NaN, syn: n ? sy[f] / n : NaN });
  }
  return out;
}

/** Connection probability versus functional similarity, against a distance-matched null. */
export async function likeToLike(store: ConnectomeStore, o: LikeToLikeOptions): Promise<LikeToLikeResult> {
  const D = FUNCTION_DEFAULTS;
  const nb = o.bins ?? D.bins;
  const nd = o.distanceBins ?? D.distanceBins;
  const B = o.bootstrap ?? D.bootstrap;
  const axes = o.axes ?? D.axes;
  if (!(Number.isInteger(nb) && nb >= 2)) throw new UsageError(`bins ${nb}: expected a whole number >= 2`);
  if (!(Number.isInteger(nd) && nd >= 1)) throw new UsageError(`distance bins ${nd}: expected a whole number >= 1`);
  if (!/^[xyz]{1,3}$/.test(axes)) throw new UsageError(`axes ${JSON.stringify(axes)}: expected letters from xyz`);
  const feature = o.feature;
  const isAngle = feature === 'orientation' || feature === 'direction';
  const isCorr = feature === 'signal_correlation' || feature === 'noise_correlation';
  if (!isCorr && !o.tuning) throw new UsageError(`feature ${feature} needs a tuning table (--tuning)`);
  if (isCorr && !o.correlations) throw new UsageError(`feature ${feature} needs a correlations table (--correlations)`);
  const join = await functionalJoin(store, { coregistration: o.coregistration, tuning: isCorr ? undefined : o.tuning, version: o.version });
  let cells = join.cells.filter((c) => c.position !== null);
  const column = isAngle ? (o.column ?? (feature === 'orientation' ? 'pref_ori' : 'pref_dir')) : isCorr ? undefined : feature;
  if (column !== undefined) {
    if (!join.columns.includes(column)) throw new UsageError(`tuning table ${o.tuning} has no numeric column ${column} (numeric columns: ${join.columns.join(', ') || 'none'})`);
    cells = cells.filter((c) => c.values[column] !== null && Number.isFinite(c.values[column]!));
  }
  const preIdx = cells.map((c, i) => (o.preType === undefined || c.cell_type === o.preType ? i : -1)).filter((i) => i >= 0);
  const postIdx = cells.map((c, i) => (o.postType === undefined || c.cell_type === o.postType ? i : -1)).filter((i) => i >= 0);
  const maxPairs = o.maxPairs ?? D.maxPairs;
  if (preIdx.length * postIdx.length > maxPairs) throw new UsageError(`${preIdx.length} x ${postIdx.length} cell pairs is more than ${maxPairs}; restrict with --pre-type/--post-type`);
  if (preIdx.length === 0 || postIdx.length === 0) throw new UsageError(`no coregistered cells with a soma position${column ? ` and a value of ${column}` : ''} (coregistration ${o.coregistration}: ${join.report.coregistration_rows} rows, ${join.report.cells} cells joined)`);

  const { value, unit } = await pairValues(store, o, cells, column);
  const synOf = await pairSynapses(store, o, cells);
  const { vals, dists, pi, pj, m, withoutValue } = pairTable(cells, preIdx, postIdx, axes, value);
  if (m === 0) throw new UsageError(`no cell pairs with a value of ${feature}`);
  // similarity bins: equal angle steps, else quantiles; distance bins: quantiles
  const edges: number[] = [];
  if (isAngle) {
    const max = feature === 'orientation' ? 90 : 180;
    for (let k = 0; k <= nb; k++) edges.push((max * k) / nb);
  } else {
    const sortedV = vals.slice(0, m).sort();
    for (let k = 0; k <= nb; k++) edges.push(quantileSorted(sortedV, k / nb));
  }
  const sortedD = dists.slice(0, m).sort();
  const dEdges: number[] = [];
  for (let k = 0; k <= nd; k++) dEdges.push(quantileSorted(sortedD, k / nd));
  const binOf = (v: number, e: number[]) => {
    let k = 0;
    while (k < e.length - 2 && v >= e[k + 1]) k++;
    return k;
  };
  const preSlot = new Int32Array(cells.length).fill(-1);
  preIdx.forEach((i, s) => (preSlot[i] = s));
  const P = preIdx.length;
  const counts: BinCounts = { P, nb, nd, pairs: new Float64Array(P * nb * nd), conn: new Float64Array(P * nb * nd), syns: new Float64Array(P * nb) };
  for (let k = 0; k < m; k++) {
    const s = preSlot[pi[k]];
    const f = binOf(vals[k], edges);
    const d = binOf(dists[k], dEdges);
    const c = synOf(pi[k], pj[k]);
    counts.pairs[(s * nb + f) * nd + d]++;
    if (c > 0) counts.conn[(s * nb + f) * nd + d]++;
    counts.syns[s * nb + f] += c;
  }
  // small differences (angles, tuning columns) are similar: first bin; high correlations: last bin
  const simFirst = !isCorr;
  const excessOf = (b: BinSummary[]) => {
    const [sim, dis] = simFirst ? [b[0], b[nb - 1]] : [b[nb - 1], b[0]];
    return sim.p - dis.p - (sim.nul - dis.nul);
  };
  const obs = summarizeBins(counts, new Float64Array(P).fill(1));
  // bootstrap over presynaptic cells
  const rnd = mulberry32(o.seed ?? D.seed);
  const boot: number[][] = Array.from({ length: nb }, () => []);
  const bootExcess: number[] = [];
  const w = new Float64Array(P);
  for (let b = 0; b < B; b++) {
    w.fill(0);
    for (let k = 0; k < P; k++) w[Math.floor(rnd() * P)]++;
    const s = summarizeBins(counts, w);
    s.forEach((x, f) => boot[f].push(x.p));
    bootExcess.push(excessOf(s));
  }
  const bins: LikeBin[] = obs.map((x, f) => ({
    from: edges[f],
    to: edges[f + 1],
    pairs: x.n,
    connected: x.c,
    p: x.p,
    wilson: wilson(x.c, x.n),
    bootstrap: B > 0 ? percentileInterval(boot[f]) : [NaN, NaN],
    null_p: x.nul,
    ratio: x.nul > 0 ? x.p / x.nul : NaN,
    synapses_per_pair: x.syn,
  }));
  return {
    feature,
    unit,
    similar_first: simFirst,
    cells: cells.length,
    pairs: m,
    connected: bins.reduce((s, b) => s + b.connected, 0),
    bins,
    excess: excessOf(obs),
    excess_ci: B > 0 ? percentileInterval(bootExcess) : [NaN, NaN],
    distance_edges: dEdges,
    report: { ...join.report, pairs_without_value: withoutValue },
  };
}

export interface FeatureVsFunction {
  feature: string;
  property: string;
  cells: number;
  spearman: number;
  ci: [number, number];
}

/** A cells-table column (volume) or annotation column against a tuning value, over coregistered cells. */
export async function featureVsFunction(
  store: ConnectomeStore,
  o: { coregistration: string; tuning: string; property: string; feature: string; bootstrap?: number; seed?: number; version?: number },
): Promise<FeatureVsFunction> {
  const join = await functionalJoin(store, o);
  if (!join.columns.includes(o.property)) throw new UsageError(`tuning table ${o.tuning} has no numeric column ${o.property}`);
  const cellsRef = await store.tableRef('cells', o.version);
  const allowed = ['volume'];
  if (!allowed.includes(o.feature)) throw new UsageError(`feature ${o.feature}: expected one of ${allowed.join(', ')}`);
  const rows = await store.all(`SELECT pt_root_id AS id, ${sqlIdent(o.feature)} AS v FROM ${cellsRef} WHERE ${sqlIdent(o.feature)} IS NOT NULL`);
  const fv = new Map(rows.map((r) => [BigInt(r.id as bigint), Number(r.v)]));
  const a: number[] = [], b: number[] = [];
  for (const c of join.cells) {
    const x = fv.get(c.id), y = c.values[o.property];
    if (x !== undefined && y !== null && Number.isFinite(x) && Number.isFinite(y)) {
      a.push(x);
      b.push(y);
    }
  }
  if (a.length < 3) throw new UsageError(`only ${a.length} coregistered cells have both ${o.feature} and ${o.property}`);
  const rnd = mulberry32(o.seed ?? FUNCTION_DEFAULTS.seed);
  const boots: number[] = [];
  for (let k = 0; k < (o.bootstrap ?? FUNCTION_DEFAULTS.bootstrap); k++) {
    const ia = a.map(() => Math.floor(rnd() * a.length));
    boots.push(spearman(ia.map((i) => a[i]), ia.map((i) => b[i])));
  }
  return { feature: o.feature, property: o.property, cells: a.length, spearman: spearman(a, b), ci: percentileInterval(boots) };
}

export interface TargetFunctionRow {
  pre_type: string;
  synapses: number;
  targets: number;
  mean: number;
  ci: [number, number];
  baseline: number;
}

/** Per presynaptic cell type: synapse-weighted mean of a tuning value over its coregistered targets. */
export async function targetFunction(
  store: ConnectomeStore,
  o: SynapseFilter & { coregistration: string; tuning: string; property: string; bootstrap?: number; seed?: number },
): Promise<TargetFunctionRow[]> {
  const join = await functionalJoin(store, o);
  if (!join.columns.includes(o.property)) throw new UsageError(`tuning table ${o.tuning} has no numeric column ${o.property}`);
  const val = new Map<bigint, number>();
  for (const c of join.cells) if (c.values[o.property] !== null && Number.isFinite(c.values[o.property])) val.set(c.id, c.values[o.property]!);
  const baseline = [...val.values()].reduce((s, v) => s + v, 0) / Math.max(1, val.size);
  const cellsRef = await store.tableRef('cells', o.version);
  const p = await pairSource(store, { ...o, excludeSelf: true, excludeUnassigned: true });
  const rows = await store.all(`SELECT k.cell_type AS t, q.pre_pt_root_id AS a, q.post_pt_root_id AS b, q.n AS n FROM (${p.sql}) q JOIN ${cellsRef} k ON k.pt_root_id = q.pre_pt_root_id WHERE k.cell_type IS NOT NULL`, p.params);
  const byType = new Map<string, Map<bigint, { s: number; w: number }>>();
  const targets = new Map<string, Set<bigint>>();
  for (const r of rows) {
    const v = val.get(BigInt(r.b as bigint));
    if (v === undefined) continue;
    const t = String(r.t);
    const pre = BigInt(r.a as bigint);
    const m = byType.get(t) ?? new Map();
    byType.set(t, m);
    const e = m.get(pre) ?? { s: 0, w: 0 };
    e.s += v * Number(r.n);
    e.w += Number(r.n);
    m.set(pre, e);
    (targets.get(t) ?? targets.set(t, new Set()).get(t)!).add(BigInt(r.b as bigint));
  }
  const rnd = mulberry32(o.seed ?? FUNCTION_DEFAULTS.seed);
  const out: TargetFunctionRow[] = [];
  for (const [t, m] of [...byType].sort((a, b) => a[0].localeCompare(b[0]))) {
    const per = [...m.values()];
    const S = per.reduce((a, e) => a + e.s, 0), W = per.reduce((a, e) => a + e.w, 0);
    const boots: number[] = [];
    for (let k = 0; k < (o.bootstrap ?? FUNCTION_DEFAULTS.bootstrap); k++) {
      let s = 0, w = 0;
      for (let q = 0; q < per.length; q++) {
        const e = per[Math.floor(rnd() * per.length)];
        s += e.s;
        w += e.w;
      }
      boots.push(w ? s / w : NaN);
    }
    out.push({ pre_type: t, synapses: W, targets: targets.get(t)!.size, mean: S / W, ci: percentileInterval(boots), baseline });
  }
  return out;
}
