/**
 * Connectome tables as of a proofreading version (`wiring connectome materialize --at`): the
 * cells and synapses of the segmentation after operation N, as tables `cells_op<N>` and
 * `synapses_op<N>` beside the live ones. The synapse rows are the live rows with their root ids
 * (and supervoxel ids) replaced by the version's, so the tables are a function of the log prefix;
 * computing them again gives the same rows. The store's own tables are never changed.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { listAnnotationTables } from './function/tables.js';
import type { ConnectomeStore } from './store.js';

export interface VersionSynapse {
  id: bigint;
  pre_pt_supervoxel_id: bigint;
  post_pt_supervoxel_id: bigint;
  pre_pt_root_id: bigint;
  post_pt_root_id: bigint;
}

export interface VersionCellRow {
  pt_root_id: bigint;
  pt_position: Vec3;
  volume: number;
}

/** The live synapses' ids, points (nm) and supervoxel ids (null when not stored). */
export async function synapsePoints(store: ConnectomeStore): Promise<Array<{ id: bigint; pre_pt_position: Vec3; post_pt_position: Vec3; pre_pt_supervoxel_id: bigint | null; post_pt_supervoxel_id: bigint | null }>> {
  const rows = await store.all('SELECT id, pre_pt_position_x AS ax, pre_pt_position_y AS ay, pre_pt_position_z AS az, post_pt_position_x AS bx, post_pt_position_y AS by, post_pt_position_z AS bz, pre_pt_supervoxel_id AS psv, post_pt_supervoxel_id AS qsv FROM synapses ORDER BY id');
  return rows.map((r) => ({
    id: BigInt(r.id as bigint),
    pre_pt_position: [Number(r.ax), Number(r.ay), Number(r.az)],
    post_pt_position: [Number(r.bx), Number(r.by), Number(r.bz)],
    pre_pt_supervoxel_id: r.psv === null || r.psv === undefined ? null : BigInt(r.psv as bigint),
    post_pt_supervoxel_id: r.qsv === null || r.qsv === undefined ? null : BigInt(r.qsv as bigint),
  }));
}

/** Create (or replace, with the same rows) `cells_op<op>` and `synapses_op<op>`. */
export async function writeVersionTables(store: ConnectomeStore, op: number, cells: VersionCellRow[], synapses: VersionSynapse[]): Promise<{ cells: string; synapses: string }> {
  if (!Number.isInteger(op) || op < 0) throw new UsageError(`operation ${op}: expected a whole number`);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-version-'));
  try {
    const cf = path.join(tmp, 'cells.csv');
    await fs.writeFile(cf, 'pt_root_id,x,y,z,volume\n' + cells.map((c) => `${c.pt_root_id},${c.pt_position[0]},${c.pt_position[1]},${c.pt_position[2]},${c.volume}`).join('\n') + '\n');
    const sf = path.join(tmp, 'synapses.csv');
    await fs.writeFile(sf, 'id,pre_sv,post_sv,pre_root,post_root\n' + synapses.map((s) => `${s.id},${s.pre_pt_supervoxel_id},${s.post_pt_supervoxel_id},${s.pre_pt_root_id},${s.post_pt_root_id}`).join('\n') + '\n');
    const q = (f: string) => `'${f.replace(/'/g, "''")}'`;
    const cellsT = `cells_op${op}`, synT = `synapses_op${op}`;
    await store.run(`CREATE OR REPLACE TABLE ${cellsT} AS SELECT pt_root_id, x AS pt_position_x, y AS pt_position_y, z AS pt_position_z, NULL::VARCHAR AS cell_type, NULL::VARCHAR AS classification_system, volume, NULL::VARCHAR AS name FROM read_csv(${q(cf)}, header = true, columns = {'pt_root_id': 'UBIGINT', 'x': 'DOUBLE', 'y': 'DOUBLE', 'z': 'DOUBLE', 'volume': 'DOUBLE'}) ORDER BY pt_root_id`);
    await store.run(`CREATE OR REPLACE TABLE ${synT} AS SELECT s.* REPLACE (m.pre_root AS pre_pt_root_id, m.post_root AS post_pt_root_id, m.pre_sv AS pre_pt_supervoxel_id, m.post_sv AS post_pt_supervoxel_id) FROM synapses s JOIN read_csv(${q(sf)}, header = true, columns = {'id': 'UBIGINT', 'pre_sv': 'UBIGINT', 'post_sv': 'UBIGINT', 'pre_root': 'UBIGINT', 'post_root': 'UBIGINT'}) m ON s.id = m.id ORDER BY s.id`);
    return { cells: cellsT, synapses: synT };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Annotation tables (nucleus, proofreading, coregistration, any with pt_root_id and a point) as
 * of a version: `<table>_op<N>`, every row kept, pt_root_id looked up again from the row's
 * supervoxel id when it has one, else from the segmentation under pt_position (nm), as CAVE
 * materializes its annotation tables; a point outside every cell gets 0. Tables without a point
 * (tuning keyed by unit, correlations) are joined through coregistration and need no copy.
 */
export async function writeVersionAnnotationTables(
  store: ConnectomeStore,
  op: number,
  rootOf: (supervoxel: bigint | null, position: Vec3 | null) => Promise<bigint>,
): Promise<Array<{ name: string; table: string; rows: number; changed: number }>> {
  if (!Number.isInteger(op) || op < 0) throw new UsageError(`operation ${op}: expected a whole number`);
  const out: Array<{ name: string; table: string; rows: number; changed: number }> = [];
  for (const t of await listAnnotationTables(store)) {
    const c = t.columns;
    const hasSv = c.pt_supervoxel_id === 'UBIGINT';
    const hasPos = c.pt_position_x === 'DOUBLE' && c.pt_position_y === 'DOUBLE' && c.pt_position_z === 'DOUBLE';
    if (c.pt_root_id !== 'UBIGINT' || (!hasSv && !hasPos)) continue;
    const rows = await store.all(
      `SELECT rowid AS _row, pt_root_id AS r, ${hasSv ? 'pt_supervoxel_id' : 'NULL'} AS sv, ${hasPos ? 'pt_position_x AS x, pt_position_y AS y, pt_position_z AS z' : 'NULL AS x, NULL AS y, NULL AS z'} FROM ${t.table} ORDER BY rowid`,
    );
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-version-'));
    try {
      let changed = 0;
      const lines: string[] = ['row,root'];
      for (const r of rows) {
        const sv = r.sv === null || r.sv === undefined || BigInt(r.sv as bigint) === 0n ? null : BigInt(r.sv as bigint);
        const pos: Vec3 | null = r.x === null || r.x === undefined ? null : [Number(r.x), Number(r.y), Number(r.z)];
        const root = sv === null && pos === null ? 0n : await rootOf(sv, pos);
        if (root !== (r.r === null || r.r === undefined ? 0n : BigInt(r.r as bigint))) changed++;
        lines.push(`${r._row},${root}`);
      }
      const f = path.join(tmp, 'roots.csv');
      await fs.writeFile(f, lines.join('\n') + '\n');
      const table = `${t.table}_op${op}`;
      await store.run(
        `CREATE OR REPLACE TABLE ${table} AS SELECT a.* REPLACE (m.root AS pt_root_id) FROM ${t.table} a JOIN read_csv('${f.replace(/'/g, "''")}', header = true, columns = {'row': 'BIGINT', 'root': 'UBIGINT'}) m ON a.rowid = m.row ORDER BY a.rowid`,
      );
      out.push({ name: t.name, table, rows: rows.length, changed });
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
  return out;
}

/** A proofreading status row of a version (the store's `proofreading` columns). */
export interface VersionStatusRow {
  pt_root_id: bigint;
  status_axon: string | null;
  status_dendrite: string | null;
}

async function statusCsv<T>(rows: VersionStatusRow[], fn: (source: string) => Promise<T>): Promise<T> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-status-'));
  try {
    const f = path.join(tmp, 'status.csv');
    // values are from a closed set (non, clean, extended): no quoting needed; empty = NULL
    await fs.writeFile(f, 'root,axon,dendrite\n' + rows.map((r) => `${r.pt_root_id},${r.status_axon ?? ''},${r.status_dendrite ?? ''}`).join('\n') + '\n');
    return await fn(`read_csv('${f.replace(/'/g, "''")}', header = true, columns = {'root': 'UBIGINT', 'axon': 'VARCHAR', 'dendrite': 'VARCHAR'})`);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * `proofreading_op<N>`: the proofreading statuses of version N's roots (the proofread dataset's
 * status.jsonl as of N), with the store's `proofreading` columns, beside `synapses_op<N>` (whose
 * root ids are the same version's). Created or replaced with the same rows.
 */
export async function writeVersionProofreading(store: ConnectomeStore, op: number, rows: VersionStatusRow[]): Promise<string> {
  if (!Number.isInteger(op) || op < 0) throw new UsageError(`operation ${op}: expected a whole number`);
  const table = `proofreading_op${op}`;
  await statusCsv(rows, (src) => store.run(`CREATE OR REPLACE TABLE ${table} AS SELECT root AS pt_root_id, axon AS status_axon, dendrite AS status_dendrite FROM ${src} ORDER BY root`));
  return table;
}

/**
 * The live `proofreading` table gets these rows: each replaces the row of its pt_root_id (rows of
 * other roots, e.g. imported from CAVE, are kept), in one transaction, so `wiring query
 * --pre-proofread/--post-proofread` on the live tables sees them. Returns how many rows it replaced.
 */
export async function mergeLiveProofreading(store: ConnectomeStore, rows: VersionStatusRow[]): Promise<{ rows: number; replaced: number }> {
  return statusCsv(rows, async (src) => {
    await store.run('BEGIN TRANSACTION');
    try {
      const before = Number((await store.all('SELECT count(*) AS n FROM proofreading'))[0].n);
      await store.run(`DELETE FROM proofreading WHERE pt_root_id IN (SELECT root FROM ${src})`);
      const replaced = before - Number((await store.all('SELECT count(*) AS n FROM proofreading'))[0].n);
      await store.run(`INSERT INTO proofreading (pt_root_id, status_axon, status_dendrite) SELECT root, axon, dendrite FROM ${src} ORDER BY root`);
      await store.run('COMMIT');
      return { rows: rows.length, replaced };
    } catch (err) {
      await store.run('ROLLBACK');
      throw err;
    }
  });
}
