import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { spineSizeVsHead, targeting } from './annotate-analyses.js';
import { replaceAnnotateRows } from './annotate-tables.js';
import { ConnectomeStore } from './store.js';

describe('analyses on annotate columns', () => {
  it('inhibitory targeting fractions per post type, and spine size vs head volume', async () => {
    const store = await ConnectomeStore.open(path.join(await tempDir(), 'a.duckdb'));
    try {
      await expect(targeting(store)).rejects.toThrow(/no synapse_compartments table: run `wiring annotate/);
      await store.insertCells([
        { id: 1n, pt_position: [0, 0, 0], cell_type: 'basket' },
        { id: 2n, pt_position: [0, 0, 0], cell_type: 'pyramidal' },
        { id: 3n, pt_position: [0, 0, 0], cell_type: 'stellate' },
      ]);
      const syn = (id: bigint, pre: bigint, post: bigint, size: number) => ({ id, pre_pt_root_id: pre, post_pt_root_id: post, pre_pt_position: [0, 0, 0] as [number, number, number], post_pt_position: [0, 0, 0] as [number, number, number], ctr_pt_position: [0, 0, 0] as [number, number, number], size });
      await store.insertSynapses([syn(10n, 1n, 2n, 5), syn(11n, 1n, 2n, 5), syn(12n, 1n, 3n, 5), syn(13n, 1n, 2n, 5), syn(20n, 2n, 3n, 10), syn(21n, 3n, 2n, 40), syn(22n, 2n, 3n, 20)]);
      await replaceAnnotateRows(store, 'synapse_compartments', [
        { synapse_id: 10n, post_compartment: 'soma' },
        { synapse_id: 11n, post_compartment: 'dendrite' },
        { synapse_id: 12n, post_compartment: 'soma' },
        { synapse_id: 13n, post_compartment: 'soma' },
        { synapse_id: 20n, post_compartment: 'spine_head', post_node: 0 },
        { synapse_id: 21n, post_compartment: 'spine_head', post_node: 1 },
        { synapse_id: 22n, post_compartment: 'spine_head', post_node: 2 },
      ]);
      await replaceAnnotateRows(store, 'skeleton_nodes', [
        { pt_root_id: 3n, node: 0, radius: 100 },
        { pt_root_id: 3n, node: 2, radius: 150 },
        { pt_root_id: 2n, node: 1, radius: 200 },
      ]);
      const t = await targeting(store, { preTypes: ['basket'] });
      const toPyr = t.find((r) => r.pre_type === 'basket' && r.post_type === 'pyramidal')!;
      expect(toPyr.synapses).toBe(3);
      expect(toPyr.fractions.soma).toBeCloseTo(2 / 3, 12);
      expect(toPyr.fractions.shaft).toBeCloseTo(1 / 3, 12);
      const all = t.find((r) => r.pre_type === 'basket' && r.post_type === '*')!;
      expect(all.synapses).toBe(4);
      expect(all.fractions.soma).toBe(0.75);
      expect(t.every((r) => r.pre_type === 'basket')).toBe(true);
      const s = await spineSizeVsHead(store);
      expect(s.n).toBe(3);
      expect(s.pairs.map((p) => p.size)).toEqual([10, 40, 20]);
      expect(s.pairs[0].head_volume_nm3).toBeCloseTo((4 / 3) * Math.PI * 1e6, 3);
      expect(s.spearman).toBeCloseTo(1, 12);
    } finally {
      await store.close();
    }
  });
});
