import type { DuckDBDataChunk, DuckDBValue } from '@duckdb/node-api';
import { listValue } from '@duckdb/node-api';
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import type { ConnectomeStore } from './store.js';

/**
 * Typed queries over a connectome store. Every query takes a `SynapseFilter`: which version
 * (default: the live tables), and which synapses count. Ids in and out are bigint.
 */
export interface SynapseFilter {
  /** Read a materialized version instead of the live tables. */
  version?: number;
  /** Drop synapses whose pre and post root ids are equal (autapses / self-synapses). */
  excludeSelf?: boolean;
  /** Drop synapses with an unknown partner (root id 0). */
  excludeUnassigned?: boolean;
  /** Keep synapses whose presynaptic cell's proofreading status_axon is one of these. */
  preProofread?: string[];
  /** Keep synapses whose postsynaptic cell's proofreading status_dendrite is one of these. */
  postProofread?: string[];
  /** Keep synapses tagged with one of these target compartments. */
  compartments?: string[];
  /** Keep synapses of this synapse_type (chemical/electrical for edge lists). */
  synapseType?: string;
}

export interface SynapseQuery extends SynapseFilter {
  /** Presynaptic root ids (any of). */
  pre_ids?: bigint[];
  /** Postsynaptic root ids (any of). Both given: both must hold (AND). */
  post_ids?: bigint[];
  /** Synapses whose ctr_pt_position lies in this half-open box, nm [x, y, z]. */
  box?: { min: Vec3; max: Vec3 };
  limit?: number;
  /** Add the columns an import kept in `synapses_extra` (e.g. spine_vol_um3) to each record. */
  extra?: boolean;
}

export interface SynapseRecord {
  id: bigint;
  pre_pt_root_id: bigint;
  post_pt_root_id: bigint;
  pre_pt_supervoxel_id: bigint | null;
  post_pt_supervoxel_id: bigint | null;
  pre_pt_position: Vec3 | null;
  post_pt_position: Vec3 | null;
  ctr_pt_position: Vec3 | null;
  size: number | null;
  synapse_type: string | null;
  /** Columns kept from the imported table (with `extra`). */
  extra?: Record<string, unknown>;
}

export interface Connection {
  pre_pt_root_id: bigint;
  post_pt_root_id: bigint;
  /** Number of synapses from pre to post. */
  count: number;
  /** Summed synapse size (voxels); 0 when sizes are unknown. */
  size_sum: number;
  /** Cell names (edge-list cells), when the cells table has them. */
  pre_name?: string | null;
  post_name?: string | null;
}

/** Tabular result: column names and rows (for table/CSV/JSON output). */
export interface Table {
  columns: string[];
  rows: unknown[][];
}

/** A LIST parameter of ids (as decimal strings; cast to UBIGINT[] in SQL). */
export function idList(ids: bigint[]): DuckDBValue {
  return listValue(ids.map((i) => i.toString(10)));
}

interface Built {
  from: string;
  where: string[];
  params: DuckDBValue[];
}

/** FROM + WHERE for synapses `s` under a filter (and id lists). */
export async function synapseSource(store: ConnectomeStore, q: SynapseQuery = {}): Promise<Built> {
  const syn = await store.tableRef('synapses', q.version);
  const where: string[] = [];
  const params: DuckDBValue[] = [];
  const p = (v: DuckDBValue) => {
    params.push(v);
    return `$${params.length}`;
  };
  // An empty id list matches nothing (and DuckDB cannot bind an untyped empty list).
  if (q.pre_ids) where.push(q.pre_ids.length ? `s.pre_pt_root_id IN (SELECT unnest(${p(idList(q.pre_ids))}::VARCHAR[]::UBIGINT[]))` : 'FALSE');
  if (q.post_ids) where.push(q.post_ids.length ? `s.post_pt_root_id IN (SELECT unnest(${p(idList(q.post_ids))}::VARCHAR[]::UBIGINT[]))` : 'FALSE');
  if (q.box) {
    for (let a = 0; a < 3; a++) {
      const lo = q.box.min[a];
      const hi = q.box.max[a];
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new UsageError(`box [${q.box.min}]..[${q.box.max}] must be finite numbers (nm)`);
      const c = `s.ctr_pt_position_${'xyz'[a]}`;
      where.push(`${c} >= ${p(lo)}::DOUBLE AND ${c} < ${p(hi)}::DOUBLE`);
    }
  }
  if (q.excludeSelf) where.push('s.pre_pt_root_id <> s.post_pt_root_id');
  if (q.excludeUnassigned) where.push('s.pre_pt_root_id <> 0 AND s.post_pt_root_id <> 0');
  if (q.synapseType !== undefined) where.push(`s.synapse_type = ${p(q.synapseType)}`);
  if (q.preProofread?.length || q.postProofread?.length) {
    const pr = await store.tableRef('proofreading', q.version);
    if (q.preProofread?.length) {
      where.push(`s.pre_pt_root_id IN (SELECT pt_root_id FROM ${pr} WHERE status_axon IN (SELECT unnest(${p(listValue(q.preProofread))}::VARCHAR[])))`);
    }
    if (q.postProofread?.length) {
      where.push(`s.post_pt_root_id IN (SELECT pt_root_id FROM ${pr} WHERE status_dendrite IN (SELECT unnest(${p(listValue(q.postProofread))}::VARCHAR[])))`);
    }
  }
  if (q.compartments?.length) {
    const ct = await store.tableRef('compartment_tags', q.version);
    where.push(`s.id IN (SELECT synapse_id FROM ${ct} WHERE compartment IN (SELECT unnest(${p(listValue(q.compartments))}::VARCHAR[])))`);
  }
  return { from: `${syn} s`, where, params };
}

function whereSql(b: Built): string {
  return b.where.length ? `WHERE ${b.where.join(' AND ')}` : '';
}

function vec(r: Record<string, unknown>, p: string): Vec3 | null {
  const x = r[`${p}_x`];
  if (x === null || x === undefined) return null;
  return [x as number, r[`${p}_y`] as number, r[`${p}_z`] as number];
}

function toRecord(r: Record<string, unknown>): SynapseRecord {
  return {
    id: r.id as bigint,
    pre_pt_root_id: r.pre_pt_root_id as bigint,
    post_pt_root_id: r.post_pt_root_id as bigint,
    pre_pt_supervoxel_id: (r.pre_pt_supervoxel_id as bigint | null) ?? null,
    post_pt_supervoxel_id: (r.post_pt_supervoxel_id as bigint | null) ?? null,
    pre_pt_position: vec(r, 'pre_pt_position'),
    post_pt_position: vec(r, 'post_pt_position'),
    ctr_pt_position: vec(r, 'ctr_pt_position'),
    size: (r.size as number | null) ?? null,
    synapse_type: (r.synapse_type as string | null) ?? null,
  };
}

/**
 * CAVE's synapse_query: synapses from any of `pre_ids` to any of `post_ids` (both given: AND),
 * ordered by id. `excludeSelf` drops pre == post.
 */
export async function synapseQuery(store: ConnectomeStore, q: SynapseQuery = {}): Promise<SynapseRecord[]> {
  const b = await synapseSource(store, q);
  const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
  const hasExtra = q.extra && (await store.all(`SELECT 1 AS x FROM information_schema.tables WHERE table_name = 'synapses_extra'`)).length > 0;
  if (!hasExtra) {
    const rows = await store.all(`SELECT s.* FROM ${b.from} ${whereSql(b)} ORDER BY s.id ${limit}`, b.params);
    return q.extra ? rows.map((r) => ({ ...toRecord(r), extra: {} })) : rows.map(toRecord);
  }
  const extraCols = (await store.all(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'synapses_extra' AND column_name <> 'id' ORDER BY ordinal_position`)).map((r) => String(r.c));
  const sel = extraCols.map((c, i) => `e."${c.replace(/"/g, '""')}" AS _x${i}`).join(', ');
  const rows = await store.all(`SELECT s.*${sel ? `, ${sel}` : ''} FROM ${b.from} LEFT JOIN synapses_extra e ON e.id = s.id ${whereSql(b)} ORDER BY s.id ${limit}`, b.params);
  return rows.map((r) => ({ ...toRecord(r), extra: Object.fromEntries(extraCols.map((c, i) => [c, r[`_x${i}`] ?? null])) }));
}

/** Synapses onto a cell (it is postsynaptic). */
export async function cellInputs(store: ConnectomeStore, id: bigint, f: SynapseFilter = {}): Promise<SynapseRecord[]> {
  return synapseQuery(store, { ...f, post_ids: [id] });
}

/** Synapses made by a cell (it is presynaptic). */
export async function cellOutputs(store: ConnectomeStore, id: bigint, f: SynapseFilter = {}): Promise<SynapseRecord[]> {
  return synapseQuery(store, { ...f, pre_ids: [id] });
}

/** Connections as columns (typed arrays), in the order of `connections`. */
export interface ConnectionColumns {
  length: number;
  pre: BigUint64Array;
  post: BigUint64Array;
  count: Float64Array;
  size_sum: Float64Array;
  /** Cell names from the cells table (null where unknown); null when no cell has a name. */
  pre_name: (string | null)[] | null;
  post_name: (string | null)[] | null;
}

/**
 * A subquery of connected pairs under a filter, with columns pre_pt_root_id, post_pt_root_id,
 * n (synapses) and size_sum: the store's pair table when the filter is about pairs only, else
 * the filtered synapses grouped by pair. For analyses that start from per-pair counts.
 */
export async function pairSource(store: ConnectomeStore, q: SynapseQuery = {}): Promise<{ sql: string; params: DuckDBValue[] }> {
  const b = await synapseSource(store, q);
  const pairs = pairLevel(q) ? await store.pairTableRef(q.version) : undefined;
  const sql = pairs
    ? `SELECT s.pre_pt_root_id, s.post_pt_root_id, s.n, s.size_sum FROM ${pairs} s ${whereSql(b)}`
    : `SELECT s.pre_pt_root_id, s.post_pt_root_id, count(*) AS n, coalesce(sum(s.size), 0)::DOUBLE AS size_sum FROM ${b.from} ${whereSql(b)} GROUP BY 1, 2`;
  return { sql, params: b.params };
}

/** True when every condition of `q` is a property of the (pre, post) pair, so the pair table can answer it. */
function pairLevel(q: SynapseQuery): boolean {
  return q.box === undefined && !q.compartments?.length && q.synapseType === undefined;
}

/**
 * Per pre/post pair, as typed-array columns, ordered by count (desc) then ids. When the filter
 * is about pairs only (ids, self, unassigned, proofreading, version), this reads the store's
 * pair table (`connections`, kept in that order by every insert and copied with each version):
 * a scan, not a group-by of the synapses. Otherwise (box, compartments, synapse type, or a pair
 * table that does not match the synapses) it aggregates the synapses and sorts in SQL. Result
 * chunks are read column by column with typed copies, no row objects.
 */
export async function connectionColumns(store: ConnectomeStore, q: SynapseQuery = {}): Promise<ConnectionColumns> {
  const b = await synapseSource(store, q);
  const limit = q.limit !== undefined ? `LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
  const cellsT = await store.tableRef('cells', q.version);
  const pairs = pairLevel(q) ? await store.pairTableRef(q.version) : undefined;
  // The name join only when some cell has a name (edge-list imports); otherwise every name is null.
  const named = (await store.all(`SELECT 1 AS x FROM ${cellsT} WHERE name IS NOT NULL LIMIT 1`)).length > 0;
  const inner = pairs
    ? `SELECT s.pre_pt_root_id AS pre, s.post_pt_root_id AS post, s.n AS n, s.size_sum AS sz FROM ${pairs} s ${whereSql(b)}`
    : `SELECT s.pre_pt_root_id AS pre, s.post_pt_root_id AS post, count(*) AS n, coalesce(sum(s.size), 0)::DOUBLE AS sz
       FROM ${b.from} ${whereSql(b)} GROUP BY 1, 2`;
  const sorted = (order: boolean) =>
    named
      ? `WITH c AS (${inner} ORDER BY n DESC, pre, post ${limit})
       SELECT c.pre, c.post, c.n::DOUBLE AS n, c.sz, a.name AS pre_name, p.name AS post_name FROM c
       LEFT JOIN ${cellsT} a ON a.pt_root_id = c.pre LEFT JOIN ${cellsT} p ON p.pt_root_id = c.post
       ORDER BY c.n DESC, c.pre, c.post`
      : `SELECT pre, post, n::DOUBLE AS n, sz FROM (${inner}) ${order ? 'ORDER BY n DESC, pre, post' : ''} ${limit}`;
  // The pair table is stored in pair order and a filtered scan keeps it; checked below, and
  // sorted in SQL if some operator did not keep it.
  const scan = pairs !== undefined && !named;
  let out = await readConnections(store, sorted(!scan), b.params, named, scan);
  if (scan && !inPairOrder(out)) out = await readConnections(store, sorted(true), b.params, named);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Whether rows are ordered by count desc, then pre, then post. Compares the 64-bit ids as two
 * 32-bit words (no BigInt per element: this runs over every pair of a 10M-synapse connectome).
 */
export function inPairOrder(c: Pick<ConnectionColumns, 'length' | 'count' | 'pre' | 'post'>): boolean {
  const n = c.length;
  if (!LITTLE_ENDIAN) {
    for (let i = 1; i < n; i++) {
      const a = c.count[i - 1];
      const z = c.count[i];
      if (a !== z) {
        if (a < z) return false;
        continue;
      }
      if (c.pre[i - 1] !== c.pre[i]) {
        if (c.pre[i - 1] > c.pre[i]) return false;
        continue;
      }
      if (c.post[i - 1] >= c.post[i]) return false;
    }
    return true;
  }
  const count = c.count;
  const p = new Uint32Array(c.pre.buffer, c.pre.byteOffset, 2 * n);
  const q = new Uint32Array(c.post.buffer, c.post.byteOffset, 2 * n);
  for (let i = 1; i < n; i++) {
    const a = count[i - 1];
    const z = count[i];
    if (a !== z) {
      if (a < z) return false;
      continue;
    }
    // word 2i+1 is the high half of element i, 2i the low half
    const ph = p[2 * i - 1];
    const ph1 = p[2 * i + 1];
    if (ph !== ph1) {
      if (ph > ph1) return false;
      continue;
    }
    const pl = p[2 * i - 2];
    const pl1 = p[2 * i];
    if (pl !== pl1) {
      if (pl > pl1) return false;
      continue;
    }
    const qh = q[2 * i - 1];
    const qh1 = q[2 * i + 1];
    if (qh !== qh1) {
      if (qh > qh1) return false;
      continue;
    }
    if (q[2 * i - 2] >= q[2 * i]) return false;
  }
  return true;
}

/**
 * Run the query and read its result: every chunk is fetched first, then each column is copied
 * once into a typed array of the exact length (no growing and re-copying).
 */
async function readConnections(store: ConnectomeStore, sql: string, params: DuckDBValue[], named: boolean, scan = false): Promise<ConnectionColumns> {
  // A plain scan of the stored pair table is streamed on one DuckDB thread: two threads buy
  // nothing for a scan whose order must be kept, and cost about half again in CPU (0.12 vs
  // 0.08 s for 1.9M pairs) and more in wall time on a busy machine.
  const chunks: DuckDBDataChunk[] = scan
    ? await store.streamChunks(sql, params, { singleThread: true })
    : await (await store.connection.run(sql, params)).fetchAllChunks();
  let len = 0;
  for (const chunk of chunks) len += chunk.rowCount;
  const pre = new BigUint64Array(len);
  const post = new BigUint64Array(len);
  const count = new Float64Array(len);
  const size = new Float64Array(len);
  const preName: (string | null)[] | null = named ? new Array<string | null>(len) : null;
  const postName: (string | null)[] | null = named ? new Array<string | null>(len) : null;
  let at = 0;
  for (const chunk of chunks) {
    const m = chunk.rowCount;
    // pre/post are NOT NULL group keys, n a count, sz coalesced: no nulls, so the vectors' data is copied whole
    copyColumn(chunk.getColumnVector(0), pre, at, m);
    copyColumn(chunk.getColumnVector(1), post, at, m);
    copyColumn(chunk.getColumnVector(2), count, at, m);
    copyColumn(chunk.getColumnVector(3), size, at, m);
    if (preName && postName) {
      const va = chunk.getColumnVector(4);
      const vb = chunk.getColumnVector(5);
      for (let i = 0; i < m; i++) {
        preName[at + i] = va.getItem(i) as string | null;
        postName[at + i] = vb.getItem(i) as string | null;
      }
    }
    at += m;
  }
  return { length: len, pre, post, count, size_sum: size, pre_name: preName, post_name: postName };
}

/**
 * Copy m values of a non-null UBIGINT/DOUBLE result vector into dst at `at`: in one typed-array
 * copy of the vector's data when the node-api vector exposes it (DuckDBUBigIntVector and
 * DuckDBDoubleVector keep it as `items`), else item by item.
 */
function copyColumn(v: { getItem(i: number): unknown }, dst: BigUint64Array | Float64Array, at: number, m: number): void {
  const items = (v as unknown as { items?: unknown }).items;
  if (items instanceof dst.constructor && (items as BigUint64Array | Float64Array).length >= m) {
    dst.set((items as BigUint64Array | Float64Array).subarray(0, m) as never, at);
    return;
  }
  for (let i = 0; i < m; i++) dst[at + i] = v.getItem(i) as never;
}

/** Per pre/post pair: synapse count and summed size, ordered by count (desc) then ids. */
export async function connections(store: ConnectomeStore, q: SynapseQuery = {}): Promise<Connection[]> {
  const c = await connectionColumns(store, q);
  const out = new Array<Connection>(c.length);
  for (let i = 0; i < c.length; i++) {
    out[i] = { pre_pt_root_id: c.pre[i], post_pt_root_id: c.post[i], count: c.count[i], size_sum: c.size_sum[i], pre_name: c.pre_name?.[i] ?? null, post_name: c.post_name?.[i] ?? null };
  }
  return out;
}

export type MatrixMeasure = 'count' | 'binary' | 'size' | 'probability' | 'per_pre_cell' | 'output_fraction' | 'input_fraction';
export const MATRIX_MEASURES: readonly MatrixMeasure[] = ['count', 'binary', 'size', 'probability', 'per_pre_cell', 'output_fraction', 'input_fraction'];

export interface TypeMatrix {
  measure: MatrixMeasure;
  /** Row labels: presynaptic cell types. */
  preTypes: string[];
  /** Column labels: postsynaptic cell types. */
  postTypes: string[];
  /** values[i][j] from preTypes[i] to postTypes[j]. count: synapses; binary: connected cell pairs; size: summed size;
   * probability: connected pairs / ordered pairs of distinct cells of the two types in the cells table;
   * per_pre_cell: synapses / cells of the presynaptic type (in the cells table);
   * output_fraction: synapses / all synapses of the presynaptic type (rows sum to 1);
   * input_fraction: synapses / all synapses onto the postsynaptic type (columns sum to 1). */
  values: number[][];
}

export interface TypeMatrixOptions extends SynapseQuery {
  measure?: MatrixMeasure;
  /** Cells without a type are grouped as this label; default: left out. */
  untyped?: string;
  /** Restrict to cells of this classification_system. */
  classificationSystem?: string;
}

/** The cell types a query uses (for `untyped` grouping and classification filter). */
async function typeJoin(store: ConnectomeStore, o: TypeMatrixOptions): Promise<{ cells: string; typeExpr: (a: string) => string }> {
  const cells = await store.tableRef('cells', o.version);
  const cs = o.classificationSystem !== undefined ? ` AND classification_system = '${o.classificationSystem.replaceAll("'", "''")}'` : '';
  const untyped = o.untyped;
  return {
    cells: `(SELECT pt_root_id, cell_type FROM ${cells} WHERE TRUE${cs})`,
    typeExpr: (a) => (untyped !== undefined ? `coalesce(${a}.cell_type, '${untyped.replaceAll("'", "''")}')` : `${a}.cell_type`),
  };
}

/**
 * Connectivity matrix by cell type: `count` synapses, `binary` connected cell pairs (a pair
 * with at least one synapse counts once), or `size` summed synapse size.
 * Optional `splitBy: 'compartment'` is in `typeMatrixByCompartment`.
 */
export async function typeMatrix(store: ConnectomeStore, o: TypeMatrixOptions = {}): Promise<TypeMatrix> {
  const measure = o.measure ?? 'count';
  if (measure === 'probability') {
    const bin = assembleMatrix(await typeMatrixRows(store, { ...o, measure: 'binary', excludeSelf: true }, undefined), 'binary');
    const cellsT = await store.tableRef('cells', o.version);
    const cs = o.classificationSystem !== undefined ? ` AND classification_system = $1` : '';
    const counts = new Map<string, number>();
    const label = o.untyped !== undefined ? `coalesce(cell_type, $${cs ? 2 : 1})` : 'cell_type';
    const params = [...(cs ? [o.classificationSystem!] : []), ...(o.untyped !== undefined ? [o.untyped] : [])];
    for (const r of await store.all(`SELECT ${label} AS t, count(*) AS n FROM ${cellsT} WHERE TRUE${cs} GROUP BY 1`, params)) {
      if (r.t !== null) counts.set(String(r.t), Number(r.n));
    }
    const values = bin.preTypes.map((a, i) =>
      bin.postTypes.map((b, j) => {
        const pairs = (counts.get(a) ?? 0) * (counts.get(b) ?? 0) - (a === b ? (counts.get(a) ?? 0) : 0);
        return pairs > 0 ? bin.values[i][j] / pairs : 0;
      }),
    );
    return { measure, preTypes: bin.preTypes, postTypes: bin.postTypes, values };
  }
  if (measure === 'per_pre_cell' || measure === 'output_fraction' || measure === 'input_fraction') {
    const m = assembleMatrix(await typeMatrixRows(store, { ...o, measure: 'count' }, undefined), 'count');
    let values: number[][];
    if (measure === 'per_pre_cell') {
      const cellsT = await store.tableRef('cells', o.version);
      const counts = new Map<string, number>();
      const params = [...(o.untyped !== undefined ? [o.untyped] : []), ...(o.classificationSystem !== undefined ? [o.classificationSystem] : [])];
      const label = o.untyped !== undefined ? 'coalesce(cell_type, $1)' : 'cell_type';
      const cs = o.classificationSystem !== undefined ? ` AND classification_system = $${params.length}` : '';
      for (const r of await store.all(`SELECT ${label} AS t, count(*) AS n FROM ${cellsT} WHERE TRUE${cs} GROUP BY 1`, params)) if (r.t !== null) counts.set(String(r.t), Number(r.n));
      values = m.values.map((row, i) => row.map((v) => (counts.get(m.preTypes[i]) ? v / counts.get(m.preTypes[i])! : 0)));
    } else if (measure === 'output_fraction') {
      values = m.values.map((row) => {
        const t = row.reduce((a, b) => a + b, 0);
        return row.map((v) => (t ? v / t : 0));
      });
    } else {
      const col = m.postTypes.map((_, j) => m.values.reduce((a, row) => a + row[j], 0));
      values = m.values.map((row) => row.map((v, j) => (col[j] ? v / col[j] : 0)));
    }
    return { measure, preTypes: m.preTypes, postTypes: m.postTypes, values };
  }
  const rows = await typeMatrixRows(store, o, undefined);
  return assembleMatrix(rows, measure);
}

async function typeMatrixRows(store: ConnectomeStore, o: TypeMatrixOptions, extraSelect: string | undefined): Promise<Record<string, unknown>[]> {
  const measure = o.measure ?? 'count';
  if (!['count', 'binary', 'size'].includes(measure)) throw new UsageError(`measure ${JSON.stringify(measure)}: expected one of ${MATRIX_MEASURES.join(', ')}${o.measure && MATRIX_MEASURES.includes(o.measure) ? ' (not split by compartment)' : ''}`);
  const b = await synapseSource(store, o);
  const t = await typeJoin(store, o);
  // Without a per-synapse split or filter, the pair table answers: one row per connected pair
  // with its count and summed size (1.9M rows instead of 10M synapses in the benchmark).
  const pairs = !extraSelect && pairLevel(o) ? await store.pairTableRef(o.version) : undefined;
  const ex = extraSelect ? `, ${extraSelect} AS g` : ', NULL AS g';
  const joinC = extraSelect ? `LEFT JOIN ${await store.tableRef('compartment_tags', o.version)} ct ON ct.synapse_id = s.id` : '';
  const base = `SELECT ${t.typeExpr('a')} AS pre_t, ${t.typeExpr('c')} AS post_t, s.pre_pt_root_id AS pre, s.post_pt_root_id AS post, ${pairs ? 's.n AS w, s.size_sum' : '1 AS w, s.size'} AS size${ex}
    FROM ${pairs ? `${pairs} s` : b.from} LEFT JOIN ${t.cells} a ON a.pt_root_id = s.pre_pt_root_id LEFT JOIN ${t.cells} c ON c.pt_root_id = s.post_pt_root_id ${joinC}
    ${whereSql(b)}`;
  const cond = o.untyped !== undefined ? '' : 'WHERE pre_t IS NOT NULL AND post_t IS NOT NULL';
  const agg =
    measure === 'count' ? (pairs ? 'sum(w)::BIGINT' : 'count(*)') : measure === 'size' ? 'coalesce(sum(size), 0)' : pairs ? 'count(*)' : 'count(DISTINCT (pre, post))';
  return store.all(`SELECT pre_t, post_t, g, ${agg} AS v FROM (${base}) ${cond} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2`, b.params);
}

function assembleMatrix(rows: Record<string, unknown>[], measure: MatrixMeasure, types?: { pre: string[]; post: string[] }): TypeMatrix {
  const preTypes = types?.pre ?? [...new Set(rows.map((r) => String(r.pre_t)))].sort();
  const postTypes = types?.post ?? [...new Set(rows.map((r) => String(r.post_t)))].sort();
  const pi = new Map(preTypes.map((t, i) => [t, i]));
  const qi = new Map(postTypes.map((t, i) => [t, i]));
  const values = preTypes.map(() => postTypes.map(() => 0));
  for (const r of rows) values[pi.get(String(r.pre_t))!][qi.get(String(r.post_t))!] += Number(r.v);
  return { measure, preTypes, postTypes, values };
}

/**
 * Type-to-type matrices split by the target compartment tag of each synapse (synapses
 * without a tag under `untagged`). All matrices share the same row/column labels.
 */
export async function typeMatrixByCompartment(store: ConnectomeStore, o: TypeMatrixOptions = {}): Promise<Record<string, TypeMatrix>> {
  const measure = o.measure ?? 'count';
  const rows = await typeMatrixRows(store, o, `coalesce(ct.compartment, 'untagged')`);
  const pre = [...new Set(rows.map((r) => String(r.pre_t)))].sort();
  const post = [...new Set(rows.map((r) => String(r.post_t)))].sort();
  const out: Record<string, TypeMatrix> = {};
  const groups = [...new Set(rows.map((r) => String(r.g)))].sort();
  for (const g of groups) out[g] = assembleMatrix(rows.filter((r) => String(r.g) === g), measure, { pre, post });
  return out;
}

/** Cells with their type and position (nm). */
export interface CellRecord {
  pt_root_id: bigint;
  pt_position: Vec3 | null;
  cell_type: string | null;
  classification_system: string | null;
  volume: number | null;
  name: string | null;
}

export async function cells(store: ConnectomeStore, o: { version?: number; ids?: bigint[]; cellType?: string } = {}): Promise<CellRecord[]> {
  const t = await store.tableRef('cells', o.version);
  const where: string[] = [];
  const params: DuckDBValue[] = [];
  if (o.ids && o.ids.length === 0) return [];
  if (o.ids) {
    params.push(idList(o.ids));
    where.push(`pt_root_id IN (SELECT unnest($${params.length}::VARCHAR[]::UBIGINT[]))`);
  }
  if (o.cellType !== undefined) {
    params.push(o.cellType);
    where.push(`cell_type = $${params.length}`);
  }
  const rows = await store.all(`SELECT * FROM ${t} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pt_root_id`, params);
  return rows.map((r) => ({
    pt_root_id: r.pt_root_id as bigint,
    pt_position: vec(r, 'pt_position'),
    cell_type: (r.cell_type as string | null) ?? null,
    classification_system: (r.classification_system as string | null) ?? null,
    volume: (r.volume as number | null) ?? null,
    name: (r.name as string | null) ?? null,
  }));
}

/** Find cells by name (edge-list cells) or by decimal id; unknown names are an error. */
export async function resolveCells(store: ConnectomeStore, refs: string[], version?: number): Promise<bigint[]> {
  const out: bigint[] = [];
  const names = refs.filter((r) => !/^\d+$/.test(r.trim()));
  const byName = new Map<string, bigint[]>();
  if (names.length) {
    const t = await store.tableRef('cells', version);
    const rows = await store.all(`SELECT name, pt_root_id FROM ${t} WHERE name IN (SELECT unnest($1::VARCHAR[])) ORDER BY pt_root_id`, [listValue(names.map((n) => n.trim()))]);
    for (const r of rows) byName.set(String(r.name), [...(byName.get(String(r.name)) ?? []), r.pt_root_id as bigint]);
  }
  for (const r of refs) {
    const s = r.trim();
    if (/^\d+$/.test(s)) {
      const id = BigInt(s);
      if (id >= 1n << 64n) throw new UsageError(`cell id ${s} is larger than 2^64-1`);
      out.push(id);
    } else {
      const ids = byName.get(s);
      if (ids === undefined) throw new UsageError(`no cell named ${JSON.stringify(s)}`);
      if (ids.length > 1) {
        const shown = ids.slice(0, 10).join(', ') + (ids.length > 10 ? `, ... (${ids.length} in all)` : '');
        throw new UsageError(`${ids.length} cells are named ${JSON.stringify(s)}: ${shown}; give one by id`);
      }
      out.push(ids[0]);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Tables for output

export function synapsesTable(rows: SynapseRecord[]): Table {
  const columns = ['id', 'pre_pt_root_id', 'post_pt_root_id', 'size', 'ctr_pt_position', 'pre_pt_position', 'post_pt_position', 'synapse_type'];
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const fmt = (v: Vec3 | null) => (v ? `[${v.join(' ')}]` : null);
  return {
    columns: [...columns, ...extra],
    rows: rows.map((r) => [r.id, r.pre_pt_root_id, r.post_pt_root_id, r.size, fmt(r.ctr_pt_position), fmt(r.pre_pt_position), fmt(r.post_pt_position), r.synapse_type, ...extra.map((c) => r.extra?.[c] ?? null)]),
  };
}

export function connectionsTable(rows: Connection[]): Table {
  const named = rows.some((r) => r.pre_name || r.post_name);
  if (!named) return { columns: ['pre_pt_root_id', 'post_pt_root_id', 'count', 'size_sum'], rows: rows.map((r) => [r.pre_pt_root_id, r.post_pt_root_id, r.count, r.size_sum]) };
  return {
    columns: ['pre_name', 'post_name', 'pre_pt_root_id', 'post_pt_root_id', 'count', 'size_sum'],
    rows: rows.map((r) => [r.pre_name, r.post_name, r.pre_pt_root_id, r.post_pt_root_id, r.count, r.size_sum]),
  };
}

export function matrixTable(m: TypeMatrix): Table {
  return { columns: ['pre \\ post', ...m.postTypes], rows: m.preTypes.map((t, i) => [t, ...m.values[i]]) };
}
