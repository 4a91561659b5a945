// `wiring connectome materialize --at <op|time>`: the connectome tables as of a proofreading version.
import * as path from 'node:path';
import { writeVersionAnnotationTables, writeVersionProofreading, writeVersionTables, synapsePoints, type VersionStatusRow, type VersionSynapse } from '../connectome/proofread-versions.js';
import type { GraphState } from '../stages/proofread/state.js';
import type { ConnectomeStore } from '../connectome/store.js';
import { Proofread } from '../stages/proofread/io.js';
import { cellRows, rootLookup } from '../stages/proofread/versions.js';
import { parseAt } from './at-option.js';

export async function materializeAt(
  store: ConnectomeStore,
  db: string,
  at: string,
  dataset?: string,
): Promise<{ op: number; cells: number; synapses: number; statuses: number; tables: { cells: string; synapses: string; proofreading: string }; annotations: Array<{ name: string; table: string; rows: number; changed: number }> }> {
  const p = await Proofread.open(dataset ?? path.dirname(path.resolve(db)));
  try {
    const state = await p.version(parseAt(at));
    const look = rootLookup(state);
    const cells = cellRows(state);
    const syn: VersionSynapse[] = [];
    if (p.synapses) {
      const s = p.synapses;
      for (let i = 0; i < s.ids.length; i++) syn.push({ id: s.ids[i], pre_pt_supervoxel_id: s.pre[i], post_pt_supervoxel_id: s.post[i], pre_pt_root_id: look(s.pre[i]), post_pt_root_id: look(s.post[i]) });
    } else {
      // no synapses.bin: supervoxels from the table, else under the points
      for (const r of await synapsePoints(store)) {
        const pre = r.pre_pt_supervoxel_id ?? (await p.supervoxelAt(r.pre_pt_position).catch(() => 0n));
        const post = r.post_pt_supervoxel_id ?? (await p.supervoxelAt(r.post_pt_position).catch(() => 0n));
        syn.push({ id: r.id, pre_pt_supervoxel_id: pre, post_pt_supervoxel_id: post, pre_pt_root_id: look(pre), post_pt_root_id: look(post) });
      }
    }
    const written = await writeVersionTables(store, state.op, cells, syn);
    // the proofreading statuses set on this version's roots (status.jsonl as of the version)
    const statuses = await statusRows(p, state);
    const tables = { ...written, proofreading: await writeVersionProofreading(store, state.op, statuses) };
    // annotation tables: root ids again from each row's supervoxel, else from the point under it
    const annotations = await writeVersionAnnotationTables(store, state.op, async (sv, pos) => {
      const s = sv ?? (pos ? await p.supervoxelAt(pos).catch(() => 0n) : 0n);
      if (s === 0n) return 0n;
      try {
        return look(s);
      } catch {
        return 0n; // a supervoxel this segmentation does not have
      }
    });
    return { op: state.op, cells: cells.length, synapses: syn.length, statuses: statuses.length, tables, annotations };
  } finally {
    await p.close();
  }
}

/** The statuses of a version's roots as rows of the store's proofreading table. */
export async function statusRows(p: Proofread, state: GraphState): Promise<VersionStatusRow[]> {
  return (await p.statuses(state)).map((c) => ({ pt_root_id: BigInt(c.root), status_axon: c.status_axon, status_dendrite: c.status_dendrite }));
}
