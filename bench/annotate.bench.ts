// Annotation speed on a phantom (default 256x256x96 at 16x16x40 nm; ANNOTATE_BENCH_SIZE=X,Y,Z to
// change, e.g. 512,512,512 for the size on an idle machine): skeletonization (whole volume
// as one block, as the scores in docs/ANNOTATION.md use) beside annotation of every cell and node
// (organelles, synapses, rule compartments, node and cell features) and the compartment forest's
// prediction (a 30-tree model trained on the same phantom: speed only). There is no reference
// implementation to compare with (SyConn's code needs its own data layout and GPU models): the
// record is seconds per thousand skeleton nodes and per cell, beside skeletonization's.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConnectomeStore } from '../src/connectome/store.js';
import { runTasks } from '../src/scheduler/index.js';
import { trainClassifier } from '../src/stages/annotate/classify.js';
import { compartmentSamples } from '../src/stages/annotate/labels.js';
import { writeAnnotateRows } from '../src/connectome/annotate-tables.js';
import { annotateCell, annotateDataset, loadCells, skeletonSource } from '../src/stages/annotate/run.js';
import { LabelSampler } from '../src/stages/annotate/truth.js';
import { finishSkeletons, planSkeletons } from '../src/stages/morphology/tasks.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { parseVec3 } from '../src/core/box.js';

export default async function bench(): Promise<unknown> {
  const size = parseVec3(process.env.ANNOTATE_BENCH_SIZE ?? '256,256,96', 'ANNOTATE_BENCH_SIZE', { integer: true, positive: true });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wiring-annotate-bench-'));
  try {
    await generatePhantom(dir, { seed: 3, size, voxelSize: [16, 16, 40], shiftedSections: 0, missingSections: 0, maxShift: 0, noise: 30 });
    const layer = path.join(dir, 'neurons');
    let t = performance.now();
    const task = await planSkeletons(layer, { blockShape: size });
    await runTasks([task], { stateDir: path.join(layer, '.wiring-run') });
    const sk = await finishSkeletons(layer, task, {});
    const skeletonSeconds = (performance.now() - t) / 1000;
    const store = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'), { readOnly: true });
    t = performance.now();
    const loaded = await loadCells(await skeletonSource(layer), store);
    const loadSeconds = (performance.now() - t) / 1000;
    await store.close();
    const nodes = loaded.cells.reduce((s, c) => s + c.skeleton.radius.length, 0);
    t = performance.now();
    const ann = new Map(loaded.cells.map((c) => [c.id, annotateCell(c)]));
    const ruleSeconds = (performance.now() - t) / 1000;
    const samples = await compartmentSamples(loaded, ann, { sampler: await LabelSampler.open(path.join(dir, 'compartments')), where: 'bench' });
    const model = trainClassifier('compartments', samples, { nTrees: 30, folds: 1 });
    t = performance.now();
    for (const c of loaded.cells) annotateCell(c, { compartmentModel: model });
    const modelSeconds = (performance.now() - t) / 1000;
    // the whole command (wiring annotate, rules): batches read from the store, annotated, tables
    // and annotated skeletons written; its own count of nodes and cells must agree
    const rw = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'));
    t = performance.now();
    let whole;
    try {
      whole = await annotateDataset(await skeletonSource(layer), rw, { writeTables: (tb, rows) => writeAnnotateRows(rw, tb, rows) });
    } finally {
      await rw.close();
    }
    const datasetSeconds = (performance.now() - t) / 1000;
    if (whole.nodes !== nodes || whole.cells !== loaded.cells.length) throw new Error(`annotateDataset saw ${whole.cells} cells / ${whole.nodes} nodes, loadCells ${loaded.cells.length} / ${nodes}`);
    const rec = {
      size,
      cells: loaded.cells.length,
      nodes,
      skeletonize_seconds: skeletonSeconds,
      skeletonize_ms_per_1000_nodes: (skeletonSeconds * 1e6) / sk.vertices,
      load_seconds: loadSeconds,
      annotate_rules_seconds: ruleSeconds,
      annotate_rules_ms_per_1000_nodes: (ruleSeconds * 1e6) / nodes,
      annotate_rules_ms_per_cell: (ruleSeconds * 1e3) / loaded.cells.length,
      annotate_forest_seconds: modelSeconds,
      annotate_forest_ms_per_1000_nodes: (modelSeconds * 1e6) / nodes,
      annotate_forest_ms_per_cell: (modelSeconds * 1e3) / loaded.cells.length,
      annotate_dataset_seconds: datasetSeconds,
      annotate_dataset_batches: whole.batches,
      annotate_dataset_ms_per_1000_nodes: (datasetSeconds * 1e6) / nodes,
      annotate_dataset_ms_per_cell: (datasetSeconds * 1e3) / loaded.cells.length,
    };
    console.log(
      `phantom ${size.join('x')}: ${rec.cells} cells, ${nodes} nodes; skeletonize ${skeletonSeconds.toFixed(2)} s (${rec.skeletonize_ms_per_1000_nodes.toFixed(1)} ms / 1000 nodes); ` +
        `annotate (rules) ${ruleSeconds.toFixed(2)} s = ${rec.annotate_rules_ms_per_1000_nodes.toFixed(1)} ms / 1000 nodes, ${rec.annotate_rules_ms_per_cell.toFixed(2)} ms / cell; ` +
        `with the forest ${modelSeconds.toFixed(2)} s = ${rec.annotate_forest_ms_per_1000_nodes.toFixed(1)} ms / 1000 nodes; ` +
        `whole annotate command (rules, ${whole.batches} batches, tables written) ${datasetSeconds.toFixed(2)} s = ${rec.annotate_dataset_ms_per_1000_nodes.toFixed(1)} ms / 1000 nodes, ${rec.annotate_dataset_ms_per_cell.toFixed(2)} ms / cell; annotate/skeletonize ${(ruleSeconds / skeletonSeconds).toFixed(3)}`,
    );
    return rec;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
