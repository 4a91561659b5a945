/**
 * Analyses on the annotate stage's columns (docs/ANNOTATION.md): inhibitory targeting (the
 * fraction of each presynaptic type's output synapses on soma, dendritic shaft, spine, axon, per
 * postsynaptic type) and spine synapse size versus spine head volume (4/3 pi r^3 of the head node
 * the synapse is attached to). Connectivity by type split by target compartment is
 * query.ts's typeMatrixByCompartment, which reads the compartment_tags annotate writes.
 */
import { UsageError } from '../core/errors.js';
import { hasAnnotateTable } from './annotate-tables.js';
import { pearson, spearman } from './function/stats.js';
import type { ConnectomeStore } from './store.js';

export const TARGET_GROUPS = ['soma', 'shaft', 'spine', 'axon', 'unknown'] as const;
const GROUP_SQL = `CASE sc.post_compartment WHEN 'soma' THEN 'soma' WHEN 'dendrite' THEN 'shaft' WHEN 'spine_head' THEN 'spine' WHEN 'spine_neck' THEN 'spine' WHEN 'axon' THEN 'axon' ELSE 'unknown' END`;

export interface TargetingRow {
  pre_type: string;
  post_type: string;
  synapses: number;
  /** fraction of these synapses per target group */
  fractions: Record<(typeof TARGET_GROUPS)[number], number>;
}

async function needTables(store: ConnectomeStore): Promise<void> {
  if (!(await hasAnnotateTable(store, 'synapse_compartments'))) throw new UsageError('no synapse_compartments table: run `wiring annotate <segmentation> <db>` first', store.file);
}

/**
 * For each presynaptic type (all, or `preTypes`), per postsynaptic type and over all targets
 * (post_type '*'): synapse count and the fractions on soma / shaft / spine / axon / unknown.
 */
export async function targeting(store: ConnectomeStore, opts: { preTypes?: string[] } = {}): Promise<TargetingRow[]> {
  await needTables(store);
  const filter = opts.preTypes?.length ? `AND cp.cell_type IN (${opts.preTypes.map((t) => `'${t.replace(/'/g, "''")}'`).join(', ')})` : '';
  const rows = await store.all(`
    WITH t AS (
      SELECT cp.cell_type AS pre_type, coalesce(cq.cell_type, 'untyped') AS post_type, ${GROUP_SQL} AS grp
      FROM synapses s JOIN synapse_compartments sc ON sc.synapse_id = s.id
      JOIN cells cp ON cp.pt_root_id = s.pre_pt_root_id
      LEFT JOIN cells cq ON cq.pt_root_id = s.post_pt_root_id
      WHERE cp.cell_type IS NOT NULL ${filter})
    SELECT pre_type, post_type, grp, count(*) AS n FROM t GROUP BY ALL
    UNION ALL SELECT pre_type, '*' AS post_type, grp, count(*) AS n FROM t GROUP BY ALL
    ORDER BY pre_type, post_type, grp`);
  const out = new Map<string, TargetingRow>();
  for (const r of rows) {
    const k = `${r.pre_type}\u0000${r.post_type}`;
    let row = out.get(k);
    if (!row) out.set(k, (row = { pre_type: String(r.pre_type), post_type: String(r.post_type), synapses: 0, fractions: { soma: 0, shaft: 0, spine: 0, axon: 0, unknown: 0 } }));
    row.synapses += Number(r.n);
    row.fractions[r.grp as (typeof TARGET_GROUPS)[number]] += Number(r.n);
  }
  for (const row of out.values()) for (const g of TARGET_GROUPS) row.fractions[g] = row.synapses ? row.fractions[g] / row.synapses : 0;
  return [...out.values()];
}

export interface SpineSizeResult {
  n: number;
  /** per synapse: size (voxels) and head volume (nm^3) */
  pairs: Array<{ synapse_id: bigint; size: number; head_volume_nm3: number }>;
  pearson: number;
  spearman: number;
}

/** Spine synapses (post side on a spine head): size vs the head node's sphere volume. */
export async function spineSizeVsHead(store: ConnectomeStore): Promise<SpineSizeResult> {
  await needTables(store);
  const rows = await store.all(`
    SELECT s.id AS synapse_id, s.size AS size, n.radius AS r
    FROM synapses s JOIN synapse_compartments sc ON sc.synapse_id = s.id
    JOIN skeleton_nodes n ON n.pt_root_id = s.post_pt_root_id AND n.node = sc.post_node
    WHERE sc.post_compartment = 'spine_head' AND s.size IS NOT NULL ORDER BY s.id`);
  const pairs = rows.map((r) => ({ synapse_id: r.synapse_id as bigint, size: Number(r.size), head_volume_nm3: (4 / 3) * Math.PI * Number(r.r) ** 3 }));
  const x = pairs.map((p) => p.size), y = pairs.map((p) => p.head_volume_nm3);
  return { n: pairs.length, pairs, pearson: pearson(x, y), spearman: spearman(x, y) };
}
