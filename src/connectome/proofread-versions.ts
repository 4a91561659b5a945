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
