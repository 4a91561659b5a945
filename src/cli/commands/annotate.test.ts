import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { runInProcess } from '../../../test/cli-in-process.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { generatePhantom } from '../../stages/phantom/generate.js';
import { register as registerAnnotate } from './annotate.js';
import { register as registerQuery } from './query.js';
import { register as registerSkel } from './skeletonize.js';
import { register as registerTypes } from './train-cell-types.js';
import { register as registerComp } from './train-compartments.js';

const cli = async (args: string[]): Promise<unknown> => JSON.parse(await runInProcess([registerAnnotate, registerQuery, registerSkel, registerTypes, registerComp], args));

describe('wiring annotate / train-compartments / train-cell-types on a small phantom', () => {
  it('trains, annotates, writes tables, tags and skeletons; refuses bad labels', async () => {
    const dir = await tempDir('wiring-annotate-');
    await generatePhantom(dir, { seed: 5, size: [96, 96, 40], voxelSize: [16, 16, 40] });
    const seg = path.join(dir, 'neurons');
    const db = path.join(dir, 'connectome.duckdb');
    await cli(['skeletonize', seg, '--block-shape', '96,96,40', '--workers', '1', '--json']);
    const model = path.join(dir, 'comp.forest');
    const tr = (await cli(['train-compartments', seg, db, '--truth', path.join(dir, 'compartments'), '-o', model, '--trees', '5', '--folds', '2', '--json'])) as { samples: number; cv: { accuracy: number; confusion: number[][] } };
    expect(tr.samples).toBeGreaterThan(100);
    expect(tr.cv.confusion.flat().reduce((a, b) => a + b, 0)).toBe(tr.samples);
    const types = path.join(dir, 'types.forest');
    const tt = (await cli(['train-cell-types', seg, db, '-o', types, '--trees', '5', '--folds', '2', '--json'])) as { classes: string[]; classification_system: string };
    expect(tt.classification_system).toBe('phantom');
    const a = (await cli(['annotate', seg, db, '--compartment-model', model, '--cell-type-model', types, '--truth', path.join(dir, 'compartments'), '--json'])) as {
      cells: number; nodes: number; synapse_sides: { pre: number; post: number }; skeleton_dir: string; scores: { nodes: { n: number; accuracy: number } };
    };
    expect(a.cells).toBeGreaterThan(5);
    expect(a.scores.nodes.n).toBeGreaterThan(0);
    const info = JSON.parse(await fs.readFile(path.join(seg, 'info'), 'utf8'));
    expect(info.skeletons).toBe('skeletons_annotated');
    const skInfo = JSON.parse(await fs.readFile(path.join(a.skeleton_dir, 'info'), 'utf8'));
    expect(skInfo.vertex_attributes.map((v: { id: string }) => v.id)).toEqual(['radius', 'compartment']);
    const tables = async () => {
      const store = await ConnectomeStore.open(db, { readOnly: true });
      try {
        return await Promise.all(['skeleton_nodes ORDER BY pt_root_id, node', 'synapse_compartments ORDER BY synapse_id', 'cell_annotations ORDER BY pt_root_id', 'compartment_tags ORDER BY synapse_id'].map((q) => store.all(`SELECT * FROM ${q}`)));
      } finally {
        await store.close();
      }
    };
    const first = await tables();
    // a rerun in batches of 3 cells (several batches, synapses whose sides are in different batches) writes the same rows
    const batched = (await cli(['annotate', seg, db, '--compartment-model', model, '--cell-type-model', types, '--batch-cells', '3', '--json'])) as { nodes: number; batches: number };
    expect(batched.batches).toBe(Math.ceil(a.cells / 3));
    expect(await tables()).toEqual(first);
    expect(first[1].some((r) => r.pre_compartment !== null && r.post_compartment !== null), 'synapses with both sides tagged').toBe(true);
    // a rerun reads the original skeletons and replaces the rows
    const again = (await cli(['annotate', seg, db, '--json'])) as { nodes: number };
    expect(again.nodes).toBe(a.nodes);
    const store = await ConnectomeStore.open(db, { readOnly: true });
    try {
      expect(Number((await store.all('SELECT count(*) AS n FROM skeleton_nodes'))[0].n)).toBe(a.nodes);
      const synapses = Number((await store.all('SELECT count(*) AS n FROM synapses'))[0].n);
      const tags = Number((await store.all('SELECT count(*) AS n FROM compartment_tags'))[0].n);
      expect(tags).toBeGreaterThan(0);
      expect(tags).toBeLessThanOrEqual(synapses);
      // phantom truth types are kept (another classification system)
      expect((await store.all(`SELECT DISTINCT classification_system AS s FROM cells`)).map((r) => r.s)).toEqual(['phantom']);
    } finally {
      await store.close();
    }
    const org = (await cli(['query', db, 'organelles', '--json'])) as Array<{ pt_root_id: string; mito_per_um: number }>;
    expect(org.length).toBe(a.cells);
    // labels whose ids are not in the store
    const bad = path.join(dir, 'bad.csv');
    await fs.writeFile(bad, 'pt_root_id,cell_type\n18446744073709551615,x\n');
    await expect(cli(['train-cell-types', seg, db, '-o', types, '--labels', bad, '--json'])).rejects.toThrow(/bad\.csv.*not in the store's cells table/);
  }, 120_000);
});
