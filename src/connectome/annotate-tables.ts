/**
 * Tables the annotate stage writes (docs/ANNOTATION.md), beside the CAVE tables of store.ts:
 *  - skeleton_nodes       pt_root_id, node (skeleton vertex index), x, y, z (nm), radius (nm),
 *                         compartment, compartment_probability, mito_count, mito_volume (nm^3),
 *                         vesicle_count, vesicle_volume (within the organelle radius), syn_in,
 *                         syn_out (synapses attached to this node)
 *  - cell_annotations     pt_root_id, cable_length_um, volume_um3, organelle and synapse counts
 *                         and densities per µm of cable and per µm^3, cell_type,
 *                         cell_type_probability, classification_system
 *  - synapse_compartments synapse_id, pre_compartment, post_compartment, pre_node, post_node
 *                         (the skeleton vertex each side is attached to)
 * Rewriting a cell replaces its rows (one transaction). The post compartment is also written to
 * the store's compartment_tags table, which the type-matrix queries read.
 */
import type { DuckDBAppender } from '@duckdb/node-api';
import type { ConnectomeStore } from './store.js';

type Col = { name: string; type: 'UBIGINT' | 'INTEGER' | 'DOUBLE' | 'VARCHAR' };

export const ANNOTATE_TABLES: Record<'skeleton_nodes' | 'cell_annotations' | 'synapse_compartments', readonly Col[]> = {
  skeleton_nodes: [
    { name: 'pt_root_id', type: 'UBIGINT' },
    { name: 'node', type: 'INTEGER' },
    { name: 'x', type: 'DOUBLE' },
    { name: 'y', type: 'DOUBLE' },
    { name: 'z', type: 'DOUBLE' },
    { name: 'radius', type: 'DOUBLE' },
    { name: 'compartment', type: 'VARCHAR' },
    { name: 'compartment_probability', type: 'DOUBLE' },
    { name: 'mito_count', type: 'INTEGER' },
    { name: 'mito_volume', type: 'DOUBLE' },
    { name: 'vesicle_count', type: 'INTEGER' },
    { name: 'vesicle_volume', type: 'DOUBLE' },
    { name: 'syn_in', type: 'INTEGER' },
    { name: 'syn_out', type: 'INTEGER' },
  ],
  cell_annotations: [
    { name: 'pt_root_id', type: 'UBIGINT' },
    { name: 'cable_length_um', type: 'DOUBLE' },
    { name: 'volume_um3', type: 'DOUBLE' },
    { name: 'mito_count', type: 'INTEGER' },
    { name: 'mito_volume_um3', type: 'DOUBLE' },
    { name: 'vesicle_count', type: 'INTEGER' },
    { name: 'vesicle_volume_um3', type: 'DOUBLE' },
    { name: 'syn_in', type: 'INTEGER' },
    { name: 'syn_out', type: 'INTEGER' },
    { name: 'mito_per_um', type: 'DOUBLE' },
    { name: 'vesicle_per_um', type: 'DOUBLE' },
    { name: 'syn_in_per_um', type: 'DOUBLE' },
    { name: 'syn_out_per_um', type: 'DOUBLE' },
    { name: 'mito_volume_fraction', type: 'DOUBLE' },
    { name: 'syn_in_per_um3', type: 'DOUBLE' },
    { name: 'syn_out_per_um3', type: 'DOUBLE' },
    { name: 'cell_type', type: 'VARCHAR' },
    { name: 'cell_type_probability', type: 'DOUBLE' },
    { name: 'classification_system', type: 'VARCHAR' },
  ],
  synapse_compartments: [
    { name: 'synapse_id', type: 'UBIGINT' },
    { name: 'pre_compartment', type: 'VARCHAR' },
    { name: 'post_compartment', type: 'VARCHAR' },
    { name: 'pre_node', type: 'INTEGER' },
    { name: 'post_node', type: 'INTEGER' },
  ],
};
export type AnnotateTable = keyof typeof ANNOTATE_TABLES;

export async function createAnnotateTables(store: ConnectomeStore): Promise<void> {
  for (const [t, cols] of Object.entries(ANNOTATE_TABLES)) {
    await store.run(`CREATE TABLE IF NOT EXISTS ${t} (${cols.map((c) => `${c.name} ${c.type}`).join(', ')})`);
    // a table written by an older build: add the columns it lacks
    for (const c of cols) await store.run(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${c.name} ${c.type}`);
  }
}

export async function hasAnnotateTable(store: ConnectomeStore, t: AnnotateTable): Promise<boolean> {
  const r = await store.all(`SELECT table_name FROM information_schema.tables WHERE table_name = '${t}'`);
  return r.length > 0;
}

function append(a: DuckDBAppender, col: Col, v: unknown): void {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) {
    a.appendNull();
    return;
  }
  if (col.type === 'UBIGINT') a.appendUBigInt(BigInt(v as bigint));
  else if (col.type === 'INTEGER') a.appendInteger(Number(v));
  else if (col.type === 'DOUBLE') a.appendDouble(Number(v));
  else a.appendVarchar(String(v));
}

/**
 * Replace the rows of table `t` whose key (`pt_root_id` or `synapse_id`) is in `rows` by `rows`,
 * in one transaction (a failure leaves the table as it was).
 */
export async function replaceAnnotateRows(store: ConnectomeStore, t: AnnotateTable, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const cols = ANNOTATE_TABLES[t];
  const key = cols[0].name;
  await createAnnotateTables(store);
  await store.transaction(async () => {
    await store.run(`CREATE OR REPLACE TEMP TABLE _annotate_stage (${cols.map((c) => `${c.name} ${c.type}`).join(', ')})`);
    const a = await store.connection.createAppender('_annotate_stage', 'main', 'temp');
    try {
      for (const r of rows) {
        for (const c of cols) append(a, c, r[c.name]);
        a.endRow();
      }
      a.flushSync();
    } finally {
      a.closeSync();
    }
    await store.run(`DELETE FROM ${t} WHERE ${key} IN (SELECT DISTINCT ${key} FROM _annotate_stage)`);
    await store.run(`INSERT INTO ${t} (${cols.map((c) => c.name).join(', ')}) SELECT * FROM _annotate_stage`);
    if (t === 'synapse_compartments') {
      await store.run(`DELETE FROM compartment_tags WHERE synapse_id IN (SELECT synapse_id FROM _annotate_stage)`);
      await store.run(`INSERT INTO compartment_tags (synapse_id, compartment) SELECT synapse_id, post_compartment FROM _annotate_stage WHERE post_compartment IS NOT NULL`);
    }
    await store.run('DROP TABLE _annotate_stage');
  });
}

/**
 * Set one side (pre or post) of the synapse_compartments rows of these synapses, keeping the other
 * side (written by another batch of cells); rows missing are added. The post side also replaces
 * the synapses' compartment_tags. One transaction.
 */
export async function mergeSynapseSide(store: ConnectomeStore, side: 'pre' | 'post', rows: ReadonlyArray<{ synapse_id: bigint; compartment: string; node: number }>): Promise<void> {
  if (!rows.length) return;
  await createAnnotateTables(store);
  await store.transaction(async () => {
    await store.run('CREATE OR REPLACE TEMP TABLE _annotate_side (synapse_id UBIGINT, compartment VARCHAR, node INTEGER)');
    const a = await store.connection.createAppender('_annotate_side', 'main', 'temp');
    try {
      for (const r of rows) {
        a.appendUBigInt(BigInt(r.synapse_id));
        a.appendVarchar(String(r.compartment));
        a.appendInteger(Number(r.node));
        a.endRow();
      }
      a.flushSync();
    } finally {
      a.closeSync();
    }
    await store.run('INSERT INTO synapse_compartments (synapse_id) SELECT DISTINCT synapse_id FROM _annotate_side WHERE synapse_id NOT IN (SELECT synapse_id FROM synapse_compartments)');
    await store.run(`UPDATE synapse_compartments SET ${side}_compartment = s.compartment, ${side}_node = s.node FROM _annotate_side s WHERE synapse_compartments.synapse_id = s.synapse_id`);
    if (side === 'post') {
      await store.run('DELETE FROM compartment_tags WHERE synapse_id IN (SELECT synapse_id FROM _annotate_side)');
      await store.run('INSERT INTO compartment_tags (synapse_id, compartment) SELECT synapse_id, compartment FROM _annotate_side');
    }
    await store.run('DROP TABLE _annotate_side');
  });
}

/** The writer of the annotate stage's outputs (`annotateDataset`'s writeTables). */
export async function writeAnnotateRows(store: ConnectomeStore, t: 'skeleton_nodes' | 'cell_annotations' | 'synapse_pre' | 'synapse_post', rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  if (t === 'synapse_pre' || t === 'synapse_post') return mergeSynapseSide(store, t === 'synapse_pre' ? 'pre' : 'post', rows as ReadonlyArray<{ synapse_id: bigint; compartment: string; node: number }>);
  return replaceAnnotateRows(store, t, rows);
}

/**
 * Write predicted cell types into the cells table: only where the cell has no type yet or its
 * type came from the same classification system (an imported type of another system is kept).
 */
export async function writeCellTypes(store: ConnectomeStore, rows: ReadonlyArray<{ id: bigint; cell_type: string; classification_system: string }>): Promise<number> {
  let n = 0;
  await store.transaction(async () => {
    for (const r of rows) {
      const res = await store.all(
        `UPDATE cells SET cell_type = $t, classification_system = $s WHERE pt_root_id = $id::UBIGINT AND (cell_type IS NULL OR classification_system IS NULL OR classification_system = $s) RETURNING pt_root_id`,
        { t: r.cell_type, s: r.classification_system, id: r.id.toString() },
      );
      n += res.length;
    }
  });
  return n;
}

/** Per-cell organelle rows (`wiring query ... organelles`): one cell, or all when ids is empty. */
export async function organelleRows(store: ConnectomeStore, ids: bigint[]): Promise<Record<string, unknown>[]> {
  if (!(await hasAnnotateTable(store, 'cell_annotations'))) return [];
  const where = ids.length ? `WHERE pt_root_id IN (${ids.map((i) => `${i}::UBIGINT`).join(', ')})` : '';
  return store.all(`SELECT * FROM cell_annotations ${where} ORDER BY pt_root_id`);
}
