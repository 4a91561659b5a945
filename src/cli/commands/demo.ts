import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { type Vec3, parseVec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { CLASS } from '../../stages/classes/classes.js';
import { emit } from '../output.js';
import { type PipelineStep, runPipeline } from '../pipeline.js';
import { serveUntilStopped, startServer } from './serve.js';

/** Channel of the pixel classifier's output that holds class `cls` (train-pixels reports its classes in channel order). */
export function classChannel(train: { classes?: unknown[]; labelValues?: unknown[] }, cls: number): number {
  const values = (train.labelValues ?? train.classes ?? []).map(String);
  const c = values.indexOf(String(cls));
  if (c < 0) throw new UsageError(`the pixel classifier has no class ${cls} (classes: ${values.join(', ')})`);
  return c;
}

/**
 * The demo's pipeline, from nothing to a scored, browsable connectome:
 * a small training phantom and a test phantom (different seeds) -> class labels from the
 * training phantom's ground truth -> a pixel classifier -> on the test volume: predict,
 * segment, synapses, cells, meshes, skeletons -> scores against the test phantom's truth.
 * The test phantom's raw is imported into a fresh dataset, as a user's volume would be.
 */
export function demoSteps(out: string, size: Vec3, voxelSize: Vec3, seed: number, opts: { trees: number; samples: number }): PipelineStep[] {
  const train = path.join(out, 'train');
  const truth = path.join(out, 'truth');
  const ds = path.join(out, 'dataset');
  const model = path.join(out, 'pixel-classifier.forest');
  const probs = path.join(ds, 'probabilities');
  const seg = path.join(ds, 'segmentation');
  const db = path.join(ds, 'connectome.duckdb');
  // The training volume has a fixed size, large enough to hold every class (vesicles, clefts).
  const trainSize = '128,128,32';
  const ch = (r: Record<string, any>, cls: number) => `${probs}?channel=${classChannel(r.train, cls)}`;
  // Organelle maps are optional for synapse detection: left out when the classifier lacks the class.
  const optional = (r: Record<string, any>, flag: string, cls: number) => {
    const values = (r.train.labelValues ?? r.train.classes ?? []).map(String);
    return values.includes(String(cls)) ? [flag, ch(r, cls)] : [];
  };
  return [
    { name: 'phantom_train', title: `training phantom ${trainSize} (seed ${seed + 1})`, args: ['phantom', train, '--size', trainSize, '--voxel-size', voxelSize.join(','), '--seed', String(seed + 1)] },
    { name: 'phantom', title: `test phantom ${size.join(',')} at ${voxelSize.join(',')} nm (seed ${seed})`, args: ['phantom', truth, '--size', size.join(','), '--voxel-size', voxelSize.join(','), '--seed', String(seed)] },
    {
      name: 'classes',
      title: 'training labels from the training phantom',
      args: ['classes', path.join(train, 'classes'), '--neurons', path.join(train, 'neurons'), '--clefts', path.join(train, 'clefts'), '--vesicles', path.join(train, 'vesicles'), '--mitochondria', path.join(train, 'mitochondria')],
    },
    { name: 'train', title: 'train the pixel classifier', args: ['train-pixels', '--raw', path.join(train, 'raw'), '--labels', path.join(train, 'classes'), '-o', model, '--trees', String(opts.trees), '--samples', String(opts.samples)] },
    { name: 'import', title: 'import the test volume', args: ['import', path.join(truth, 'raw'), path.join(ds, 'raw')] },
    { name: 'predict', title: 'predict boundaries, clefts, vesicles, mitochondria', args: ['predict', '--raw', path.join(ds, 'raw'), '--model', model, probs, '--dtype', 'uint8'] },
    // Threshold 0.5: the segment default (0.7, chosen on FIB-SEM maps) over-merges the phantom's
    // classifier output (docs/SEGMENTATION.md).
    { name: 'segment', title: 'supervoxels + agglomeration', args: (r) => ['segment', '--boundaries', ch(r, CLASS.boundary), seg, '--supervoxels-out', path.join(ds, 'supervoxels'), '--threshold', '0.5'] },
    { name: 'evaluate', title: 'score the segmentation against the truth', args: ['evaluate', seg, path.join(truth, 'neurons')] },
    {
      name: 'synapses',
      title: 'detect synapses and organelles, score partners',
      args: (r) => ['synapses', db, '--clefts', ch(r, CLASS.cleft), ...optional(r, '--vesicles', CLASS.vesicle), ...optional(r, '--mitochondria', CLASS.mitochondrion), '--segmentation', seg, '--supervoxels', path.join(ds, 'supervoxels'), '--ground-truth', path.join(truth, 'connectome.duckdb'), '--gt-segmentation', path.join(truth, 'neurons')],
    },
    { name: 'cells', title: 'cells table', args: ['cells', seg, db, '--replace'] },
    { name: 'mesh', title: 'meshes', args: ['mesh', seg] },
    { name: 'skeletonize', title: 'skeletons', args: ['skeletonize', seg] },
  ];
}

export function register(program: Command): Command {
  return program
    .command('demo')
    .description('the whole pipeline on a synthetic phantom: phantom -> predict -> segment -> synapses -> meshes, skeletons -> connectome -> scores -> serve')
    .option('--size <X,Y,Z>', 'test volume size in voxels', '192,192,48')
    .option('--voxel-size <X,Y,Z>', 'voxel size in nm', '8,8,30')
    .option('--seed <n>', 'phantom seed', '1')
    .option('--out <dir>', 'output folder (replaced)', 'wiring-demo')
    .option('--trees <n>', 'pixel classifier trees', '32')
    .option('--samples <n>', 'pixel classifier training voxels', '60000')
    .option('--port <p>', 'port to serve on (0 = any free port)', '8080')
    .option('--no-serve', 'stop after the pipeline and the scores')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const size = parseVec3(opts.size, '--size', { integer: true, positive: true });
      const voxelSize = parseVec3(opts.voxelSize, '--voxel-size', { positive: true });
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed ${opts.seed}: expected a whole number >= 0`);
      const out = path.resolve(opts.out);
      if (existsSync(out)) await rm(out, { recursive: true, force: true });
      const started = Date.now();
      const { results, seconds } = await runPipeline(demoSteps(out, size, voxelSize, seed, { trees: Number(opts.trees), samples: Number(opts.samples) }), { quiet: !!opts.json });
      const ev = results.evaluate;
      const partners = results.synapses?.partners;
      const scores = {
        voi_split: ev.voi_split,
        voi_merge: ev.voi_merge,
        arand: ev.arand,
        synapse_partner_f1: partners?.f1 ?? partners?.fscore ?? null,
        synapse_partner_precision: partners?.precision ?? null,
        synapse_partner_recall: partners?.recall ?? null,
      };
      const summary = { dataset: path.join(out, 'dataset'), truth: path.join(out, 'truth'), seconds_total: (Date.now() - started) / 1000, seconds, scores };
      const human = () =>
        [
          `demo dataset: ${summary.dataset} (ground truth: ${summary.truth})`,
          `segmentation: VOI split ${scores.voi_split.toFixed(3)}, merge ${scores.voi_merge.toFixed(3)}, adapted Rand error ${scores.arand.toFixed(3)}`,
          `synapses: partner F1 ${scores.synapse_partner_f1 === null ? 'n/a' : Number(scores.synapse_partner_f1).toFixed(3)}` +
            (scores.synapse_partner_precision === null ? '' : ` (precision ${Number(scores.synapse_partner_precision).toFixed(3)}, recall ${Number(scores.synapse_partner_recall).toFixed(3)})`),
          `pipeline: ${summary.seconds_total.toFixed(0)} s`,
        ].join('\n');
      if (!opts.serve) {
        emit(opts, summary, human);
        return;
      }
      const { app, url } = await startServer(summary.dataset, { port: Number(opts.port) });
      emit(opts, { ...summary, url }, () => `${human()}\nopen ${url}  (Ctrl-C to stop)`);
      await serveUntilStopped(app);
    });
}
