import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { extraTable, importCave, parseColumnMap } from './import.js';
import { synapseQuery, synapsesTable } from './query.js';
import { ConnectomeStore } from './store.js';

const open: ConnectomeStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** A synapse table as pinky100 published it: other names, the centre in nm, the partners' points in voxels. */
const PINKY = [
  'id,pre_root_id,post_root_id,cleft_vx,spine_vol_um3,ctr_pt_x_nm,ctr_pt_y_nm,ctr_pt_z_nm,pre_pos_x_vx,pre_pos_y_vx,pre_pos_z_vx,post_pos_x_vx,post_pos_y_vx,post_pos_z_vx',
  '1,648518346349539437,648518346349538711,152,0.031,40000,80000,12000,9990,20000,300,10010,20000,300',
  '2,648518346349539437,648518346349538712,88,,40400,80400,12040,10090,20100,301,10110,20100,301',
  '3,648518346349538711,648518346349539437,310,0.12,41000,81000,12400,10240,20250,310,10260,20250,310',
].join('\n');

describe('CAVE import with a column mapping (tables as people publish them)', () => {
  it('imports a pinky100-style synapse table through --map, keeps the extra columns queryable and saves the mapping', async () => {
    const dir = await tempDir('wiring-map-');
    const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
    open.push(store);
    const f = path.join(dir, 'pinky100_synapses.csv');
    await fs.writeFile(f, PINKY + '\n');
    // without a mapping the centre/partner points have no place, but the root ids are recognised
    const map = parseColumnMap(
      'size=cleft_vx, ctr_pt_position_x=ctr_pt_x_nm*1,ctr_pt_position_y=ctr_pt_y_nm*1,ctr_pt_position_z=ctr_pt_z_nm*1,' +
        'pre_pt_position_x=pre_pos_x_vx,pre_pt_position_y=pre_pos_y_vx,pre_pt_position_z=pre_pos_z_vx,' +
        'post_pt_position_x=post_pos_x_vx,post_pt_position_y=post_pos_y_vx,post_pt_position_z=post_pos_z_vx',
    );
    const rep = await importCave(store, [f], { resolution: [4, 4, 40], map });
    expect(rep[0]).toMatchObject({ table: 'synapses', inserted: 3, extraColumns: ['spine_vol_um3'], ignoredColumns: [] });
    const rows = await store.all('SELECT id, pre_pt_root_id, size, ctr_pt_position_x AS cx, ctr_pt_position_z AS cz, pre_pt_position_x AS px, pre_pt_position_z AS pz FROM synapses ORDER BY id');
    expect(rows[0]).toEqual({ id: 1n, pre_pt_root_id: 648518346349539437n, size: 152, cx: 40000, cz: 12000, px: 39960, pz: 12000 });
    // extra columns kept by synapse id, numbers as numbers, empty as NULL
    const extra = await store.all(`SELECT s.id, e.spine_vol_um3 FROM synapses s LEFT JOIN ${extraTable('synapses')} e USING (id) ORDER BY s.id`);
    expect(extra).toEqual([{ id: 1n, spine_vol_um3: 0.031 }, { id: 2n, spine_vol_um3: null }, { id: 3n, spine_vol_um3: 0.12 }]);
    const q = await synapseQuery(store, { extra: true, pre_ids: [648518346349539437n] });
    expect(q.map((r) => r.extra)).toEqual([{ spine_vol_um3: 0.031 }, { spine_vol_um3: null }]);
    expect(synapsesTable(q).columns.at(-1)).toBe('spine_vol_um3');
    expect((await synapseQuery(store, {}))[0].extra).toBeUndefined();
    const saved = await store.all('SELECT target_table, mapping_json, resolution_json FROM import_mappings');
    expect(saved).toEqual([{ target_table: 'synapses', mapping_json: JSON.stringify(map), resolution_json: '[4,4,40]' }]);
  });

  it('refuses a mapping to an unknown target or from a missing column, and bad --map text', async () => {
    const dir = await tempDir('wiring-map-');
    const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
    open.push(store);
    const f = path.join(dir, 'p.csv');
    await fs.writeFile(f, PINKY + '\n');
    await expect(importCave(store, [f], { map: { spine: 'spine_vol_um3' } })).rejects.toThrow(/table synapses has no column spine/);
    await expect(importCave(store, [f], { map: { size: 'cleft_size' } })).rejects.toThrow(/p.csv.*no column cleft_size/);
    expect(() => parseColumnMap('size')).toThrow(/expected target=source/);
    expect(() => parseColumnMap('size=a,size=b')).toThrow(/mapped twice/);
    expect(await store.count('synapses')).toBe(0);
    // an unrecognisable table names --map in its error
    const g = path.join(dir, 'q.csv');
    await fs.writeFile(g, 'a,b\n1,2\n');
    await expect(importCave(store, [g])).rejects.toThrow(/--map target=source/);
  });
});
