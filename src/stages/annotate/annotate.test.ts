import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeData, dataPath, tempDir } from '../../../test/data.js';
import { readSwc } from '../../formats/swc.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { organelleRows, replaceAnnotateRows, writeAnnotateRows, writeCellTypes } from '../../connectome/annotate-tables.js';
import { checkSamples, classificationScores, modelBytes, modelFromBytes, predict, trainClassifier } from './classify.js';
import { C, RULE_DEFAULTS, ruleCompartments } from './compartments.js';
import { checkLabelIds, readCellLabels } from './labels.js';
import { type CellInput, EMPTY_POINTS, cellOrganelles, nodeOrganelles } from './organelles.js';
import { roiAccuracy } from './roi.js';
import { type LoadedCells, annotateCell, encodeAnnotatedSkeleton, outputTargetCounts } from './run.js';
import { CELL_FEATURE_NAMES, setOutputTargets } from './features.js';
import { decodeSkeleton } from '../../formats/mesh/skeleton.js';

/**
 * A synthetic neuron along x: soma (radius 2000 nm) at x = 0..400, a dendrite to -x (radius 300)
 * with two thin short side branches (spines: neck radius 50, head radius 150), an axon to +x
 * (radius 60). Inputs on the dendrite, outputs on the axon.
 */
function neuron(): { cell: CellInput; truth: number[] } {
  const v: number[] = [], r: number[] = [], e: number[] = [], truth: number[] = [];
  const add = (x: number, y: number, rad: number, t: number, parent: number) => {
    const i = r.length;
    v.push(x, y, 0);
    r.push(rad);
    truth.push(t);
    if (parent >= 0) e.push(parent, i);
    return i;
  };
  let p = add(0, 0, 2000, C.soma, -1);
  p = add(200, 0, 2000, C.soma, p);
  const somaEnd = add(400, 0, 2000, C.soma, p);
  // dendrite: x = -200 .. -4000 every 200 nm
  let d = add(-200, 0, 300, C.dendrite, 0);
  const dendrite: number[] = [d];
  for (let x = -400; x >= -4000; x -= 200) dendrite.push((d = add(x, 0, 300, C.dendrite, d)));
  for (const at of [dendrite[6], dendrite[12]]) {
    const x = v[3 * at];
    let s = add(x, 400, 50, C.spineNeck, at);
    s = add(x, 600, 50, C.spineNeck, s);
    s = add(x, 800, 150, C.spineHead, s);
    add(x, 950, 150, C.spineHead, s);
  }
  let a = add(600, 0, 60, C.axon, somaEnd);
  const axon: number[] = [a];
  for (let x = 800; x <= 6000; x += 200) axon.push((a = add(x, 0, 60, C.axon, a)));
  const pts = (xs: number[][]) => ({ positions: Float64Array.from(xs.flat()), size: new Float64Array(xs.length).fill(10) });
  const synIn = pts(dendrite.filter((_, k) => k % 2 === 0).map((i) => [v[3 * i], 310, 0]));
  const synOut = pts(axon.filter((_, k) => k % 3 === 0).map((i) => [v[3 * i], 70, 0]));
  const mito = pts([[100, 0, 0], [300, 100, 0], [-1000, 0, 0]]);
  const cell: CellInput = {
    id: 7n,
    skeleton: { vertices: Float32Array.from(v), edges: Uint32Array.from(e), radius: Float32Array.from(r) },
    synIn,
    synOut,
    mito,
    vesicle: pts([[3000, 0, 0]]),
  };
  return { cell, truth };
}

describe('organelles on nodes and cells', () => {
  it('counts organelles within the radius, attaches synapses to their nearest node, densities per µm', () => {
    const { cell } = neuron();
    const o = nodeOrganelles(cell, 250);
    // node 0 at (0,0,0): mitochondria at distance 100 and hypot(300,100)=316 -> one within 250 nm
    expect(o.mitoCount[0]).toBe(1);
    expect(o.mitoVolume[0]).toBe(10);
    // node 1 at (200,0,0): 100 and 141 -> two
    expect(o.mitoCount[1]).toBe(2);
    let sIn = 0, sOut = 0;
    for (let i = 0; i < o.synIn.length; i++) { sIn += o.synIn[i]; sOut += o.synOut[i]; }
    expect(sIn).toBe(cell.synIn.size.length);
    expect(sOut).toBe(cell.synOut.size.length);
    const c = cellOrganelles(cell);
    expect(c.mito_count).toBe(3);
    expect(c.syn_in_per_um).toBeCloseTo(cell.synIn.size.length / c.cable_length_um, 9);
    expect(c.mito_volume_um3).toBeCloseTo(30 / 1e9, 15);
  });
  it('rejects a radius that is not positive', () => {
    expect(() => nodeOrganelles(neuron().cell, 0)).toThrow(/radius must be > 0/);
  });
});

describe('rule-based compartments', () => {
  it('finds soma, axon, dendrite and spines on a synthetic neuron', () => {
    const { cell, truth } = neuron();
    const o = nodeOrganelles(cell);
    const r = ruleCompartments(cell.skeleton, o.synOut, o.synIn, RULE_DEFAULTS);
    expect(r.root).toBe(0);
    const got = Array.from(r.compartment);
    // every node right except possibly the spine head/neck boundary
    const wrong = got.map((g, i) => (g === truth[i] ? -1 : i)).filter((i) => i >= 0);
    expect(wrong.every((i) => truth[i] === C.spineHead || truth[i] === C.spineNeck)).toBe(true);
    expect(wrong.length).toBeLessThanOrEqual(2);
    for (let i = 0; i < got.length; i++) if (truth[i] === C.spineHead || truth[i] === C.spineNeck) expect([C.spineHead, C.spineNeck]).toContain(got[i]);
  });
  it('a cell without synapses is axon when thin, dendrite when thick', () => {
    const sk = { vertices: Float32Array.from([0, 0, 0, 100, 0, 0, 200, 0, 0]), edges: Uint32Array.from([0, 1, 1, 2]), radius: Float32Array.from([40, 40, 40]) };
    const z = new Float64Array(3);
    expect(Array.from(ruleCompartments(sk, z, z).compartment)).toEqual([C.axon, C.axon, C.axon]);
    sk.radius.fill(200);
    expect(Array.from(ruleCompartments(sk, z, z).compartment)).toEqual([C.dendrite, C.dendrite, C.dendrite]);
  });
});

describe('classifiers', () => {
  const samples = (n: number, labels: (i: number) => string, feat: (i: number) => number[]) => {
    const F = feat(0).length;
    const x = new Float32Array(n * F);
    for (let i = 0; i < n; i++) x.set(feat(i), i * F);
    return { x, features: Array.from({ length: F }, (_, f) => `f${f}`), labels: Array.from({ length: n }, (_, i) => labels(i)), groups: Array.from({ length: n }, (_, i) => i % 10), name: (i: number) => `cell ${i}`, where: 'labels.csv' };
  };
  it('cross-validates a separable problem perfectly and keeps the report in the model file', () => {
    const s = samples(60, (i) => (i % 2 ? 'a' : 'b'), (i) => [i % 2 ? 1 : 0, Math.floor(i / 10) % 3]);
    const m = trainClassifier('cell-types', s, { nTrees: 10, folds: 5, classification_system: 'sys' });
    expect(m.cv!.accuracy).toBe(1);
    expect(m.cv!.confusion).toEqual([[30, 0], [0, 30]]);
    const back = modelFromBytes(modelBytes(m), 'm.forest', 'cell-types');
    expect(back.cv).toEqual(m.cv);
    expect(back.classification_system).toBe('sys');
    expect(predict(back, Float32Array.from([1, 0, 0, 0]), ['f0', 'f1']).label).toEqual(['a', 'b']);
    expect(() => modelFromBytes(modelBytes(m), 'm.forest', 'compartments')).toThrow(/m\.forest.*cell-types model, expected a compartments model/);
  });
  it('refuses one class, NaN features and a feature mismatch with clear errors', () => {
    expect(() => checkSamples(samples(5, () => 'a', () => [1]))).toThrow(/labels\.csv.*only one class \("a"\)/);
    expect(() => checkSamples(samples(5, (i) => (i ? 'a' : 'b'), (i) => [i === 3 ? NaN : 1]))).toThrow(/labels\.csv.*cell 3: feature f0 is NaN/);
    const m = trainClassifier('compartments', samples(20, (i) => (i % 2 ? 'a' : 'b'), (i) => [i % 2]), { nTrees: 3 });
    expect(() => predict(m, new Float32Array(2), ['g0', 'g1'])).toThrow(/model features differ/);
    // at prediction time too (a forest would send NaN down an arbitrary branch)
    expect(predict(m, Float32Array.from([0, 1]), ['f0']).label).toEqual(['b', 'a']);
    expect(() => predict(m, Float32Array.from([1, NaN]), ['f0'], (i) => `cell ${i + 10}`)).toThrow(/cell 11: feature f0 is NaN/);
  });
  it('balanced accuracy is the mean recall over the classes present', () => {
    const s = classificationScores(['a', 'a', 'a', 'b'], ['a', 'a', 'a', 'a'], ['a', 'b', 'c']);
    expect(s.accuracy).toBe(0.75);
    expect(s.balanced_accuracy).toBe(0.5);
  });
});

describe('labels and the store', () => {
  it('a labels table whose ids are not in the store is refused, naming the first line', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'types.csv');
    await fs.writeFile(f, 'pt_root_id,cell_type,classification_system\n1,basket,x\n99,pyramidal,x\n');
    const labels = await readCellLabels(f);
    expect(labels.map((l) => l.id)).toEqual([1n, 99n]);
    expect(() => checkLabelIds(labels, new Set([1n]), f)).toThrow(/types\.csv.*1 of 2 labelled cells are not in the store.*pt_root_id 99 at line 3/);
    await fs.writeFile(f, 'pt_root_id,type\n1,a\n');
    await expect(readCellLabels(f)).rejects.toThrow(/types\.csv.*no "cell_type" column/);
    await fs.writeFile(f, 'pt_root_id,cell_type\n-1,a\n');
    await expect(readCellLabels(f)).rejects.toThrow(/line 2: pt_root_id "-1"/);
  });

  it('writes node, cell and synapse compartment rows, tags, cell types; queryable', async () => {
    const dir = await tempDir();
    const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
    try {
      const big = (1n << 63n) + 5n;
      await store.insertCells([{ id: big, pt_position: [0, 0, 0] }, { id: 2n, pt_position: [0, 0, 0], cell_type: 'kept', classification_system: 'other' }]);
      await store.insertSynapses([{ id: 10n, pre_pt_root_id: 2n, post_pt_root_id: big, pre_pt_position: [0, 0, 0], post_pt_position: [0, 0, 0], ctr_pt_position: [0, 0, 0], size: 3 }]);
      const { cell } = neuron();
      const a = annotateCell({ ...cell, id: big });
      await replaceAnnotateRows(store, 'cell_annotations', [{ pt_root_id: big, ...cellOrganelles(cell), cell_type: 'pyr', cell_type_probability: 0.9, classification_system: 's:predicted' }]);
      await replaceAnnotateRows(store, 'synapse_compartments', [{ synapse_id: 10n, pre_compartment: 'axon', post_compartment: 'spine_head' }]);
      // rewriting replaces
      await replaceAnnotateRows(store, 'synapse_compartments', [{ synapse_id: 10n, pre_compartment: 'axon', post_compartment: 'soma' }]);
      expect(await store.all('SELECT compartment FROM compartment_tags')).toEqual([{ compartment: 'soma' }]);
      const rows = await organelleRows(store, [big]);
      expect(rows).toHaveLength(1);
      expect(rows[0].pt_root_id).toBe(big);
      expect(rows[0].mito_count).toBe(3);
      expect(await writeCellTypes(store, [{ id: big, cell_type: 'pyr', classification_system: 's:predicted' }, { id: 2n, cell_type: 'pyr', classification_system: 's:predicted' }])).toBe(1);
      const cells = await store.all('SELECT pt_root_id, cell_type FROM cells ORDER BY pt_root_id');
      expect(cells).toEqual([{ pt_root_id: 2n, cell_type: 'kept' }, { pt_root_id: big, cell_type: 'pyr' }]);
      expect(a.cellFeatures.every((x) => Number.isFinite(x))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('out_* features: the compartments and spininess of the targets of a cell\'s outputs', () => {
    const { cell, truth } = neuron();
    // two post cells: a spiny one (the neuron, its truth compartments) and a smooth one (all shaft)
    const spiny = { ...cell, id: 1n };
    const smooth = { ...cell, id: 2n };
    const at = (c: CellInput, node: number) => [cell.skeleton.vertices[3 * node], cell.skeleton.vertices[3 * node + 1], 0];
    const head = truth.indexOf(C.spineHead), shaft = truth.indexOf(C.dendrite);
    const pts = (xs: number[][]) => ({ positions: Float64Array.from(xs.flat()), size: new Float64Array(xs.length) });
    spiny.synIn = pts([at(spiny, head), at(spiny, head), at(spiny, shaft)]);
    smooth.synIn = pts([at(smooth, shaft), at(smooth, shaft)]);
    const loaded: LoadedCells = {
      cells: [spiny, smooth],
      synInIds: new Map([[1n, [1n, 2n, 3n]], [2n, [4n, 5n]]]),
      synOutIds: new Map([[1n, []], [2n, []]]),
      // pre cell 100 (excitatory-like): spine heads of the spiny cell and the smooth cell's shafts;
      // pre cell 200 (inhibitory-like): the spiny cell's shaft
      synInPre: new Map([[1n, [100n, 100n, 200n]], [2n, [100n, 100n]]]),
    };
    const ann = new Map(loaded.cells.map((c) => {
      const a = annotateCell(c);
      return [c.id, { ...a, compartment: c.id === 1n ? Uint8Array.from(truth) : new Uint8Array(truth.length).fill(C.dendrite) }];
    }));
    const counts = outputTargetCounts(loaded, ann);
    const spininess = truth.filter((k) => k === C.spineHead || k === C.spineNeck).length / truth.length;
    expect(Array.from(counts.get(100n)!.slice(0, 6))).toEqual([0, 0, 0, 2, 2, 0]);
    expect(Array.from(counts.get(200n)!.slice(0, 6))).toEqual([0, 0, 0, 1, 0, 0]);
    const f = (pre: bigint) => {
      const x = new Float32Array(CELL_FEATURE_NAMES.length).fill(-1);
      setOutputTargets(x, counts.get(pre));
      return Object.fromEntries(CELL_FEATURE_NAMES.map((n, i) => [n, x[i]]).filter(([n]) => String(n).startsWith('out_') && n !== 'out_fraction'));
    };
    expect(f(100n)).toEqual({ out_on_spine_frac: 0.5, out_on_shaft_frac: 0.5, out_on_soma_frac: 0, out_target_spininess: Math.fround(spininess / 2), out_shaft_target_spininess: 0 });
    expect(f(200n)).toEqual({ out_on_spine_frac: 0, out_on_shaft_frac: 1, out_on_soma_frac: 0, out_target_spininess: Math.fround(spininess), out_shaft_target_spininess: Math.fround(spininess) });
    // no tagged outputs: zeros
    expect(Object.values(f(300n))).toEqual([0, 0, 0, 0, 0]);
  });

  it('synapse sides written by different batches merge into one row; the post side tags', async () => {
    const dir = await tempDir();
    const store = await ConnectomeStore.open(path.join(dir, 'c.duckdb'));
    try {
      await writeAnnotateRows(store, 'synapse_pre', [{ synapse_id: 5n, compartment: 'axon', node: 3 }]);
      await writeAnnotateRows(store, 'synapse_post', [{ synapse_id: 5n, compartment: 'spine_head', node: 8 }, { synapse_id: 6n, compartment: 'dendrite', node: 1 }]);
      await writeAnnotateRows(store, 'synapse_post', [{ synapse_id: 5n, compartment: 'dendrite', node: 9 }]);
      expect(await store.all('SELECT * FROM synapse_compartments ORDER BY synapse_id')).toEqual([
        { synapse_id: 5n, pre_compartment: 'axon', post_compartment: 'dendrite', pre_node: 3, post_node: 9 },
        { synapse_id: 6n, pre_compartment: null, post_compartment: 'dendrite', pre_node: null, post_node: 1 },
      ]);
      expect(await store.all('SELECT synapse_id, compartment FROM compartment_tags ORDER BY synapse_id')).toEqual([{ synapse_id: 5n, compartment: 'dendrite' }, { synapse_id: 6n, compartment: 'dendrite' }]);
    } finally {
      await store.close();
    }
  });

  it('annotated skeletons decode with radius and compartment attributes', () => {
    const { cell } = neuron();
    const a = annotateCell(cell);
    const bytes = encodeAnnotatedSkeleton(cell.skeleton, a.compartment);
    const back = decodeSkeleton(bytes, 's', [{ id: 'radius', data_type: 'float32', num_components: 1 }, { id: 'compartment', data_type: 'float32', num_components: 1 }]);
    expect(Array.from(back.radius)).toEqual(Array.from(cell.skeleton.radius));
    const dv = new DataView(bytes.buffer);
    const n = cell.skeleton.radius.length;
    const off = 8 + n * 12 + cell.skeleton.edges.length * 4 + n * 4;
    expect(Array.from({ length: n }, (_, i) => dv.getFloat32(off + 4 * i, true))).toEqual(Array.from(a.compartment));
  });
});

describeData('hemibrain-da1', 'rule-based axon/dendrite on hemibrain DA1 projection neurons (AL = dendrite, LH/CA = axon)', () => {
  it('scores synapse-level axon/dendrite accuracy of the flow split', async () => {
    const names = (await fs.readdir(dataPath('hemibrain-da1', 'swc'))).map((f) => f.replace('.swc', '')).sort();
    let n = 0, ok = 0;
    const side = (roi: string) => (roi.startsWith('AL') ? 'dendrite' : roi.startsWith('LH') || roi.startsWith('CA') ? 'axon' : undefined) as 'axon' | 'dendrite' | undefined;
    for (const name of names) {
      const g = await readSwc(dataPath('hemibrain-da1', 'swc', `${name}.swc`), { scale: 8 });
      const lines = (await fs.readFile(dataPath('hemibrain-da1', 'synapses', `${name}.csv`), 'utf8')).trim().split('\n').slice(1);
      const syn = lines.map((l) => {
        const w = l.split(',');
        return { pre: w[2] === 'pre', p: [Number(w[3]) * 8, Number(w[4]) * 8, Number(w[5]) * 8] as [number, number, number], roi: w[6] };
      });
      const s = roiAccuracy({ vertices: g.vertices, edges: g.edges, radius: g.radius ?? new Float32Array(g.vertices.length / 3) }, syn, side);
      console.log(`hemibrain ${name}: ${s.correct}/${s.n} = ${s.accuracy.toFixed(4)} (axon ${s.axon.join('/')}, dendrite ${s.dendrite.join('/')})`);
      n += s.n;
      ok += s.correct;
    }
    console.log(`hemibrain DA1 synapse-level axon/dendrite accuracy: ${ok}/${n} = ${(ok / n).toFixed(4)}`);
    expect(n).toBeGreaterThan(14000);
    expect(ok / n).toBeGreaterThan(0.9);
  });
});
