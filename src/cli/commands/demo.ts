import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseXyz } from '../xyz.js';
import { type Box, type Vec3, boxEquals, boxFromShape } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { FormatError, UsageError } from '../../core/errors.js';
import type { LabelArray } from '../../kernels/components.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { type MergeTree, cutTree, relabel } from '../../stages/segment/agglomerate.js';
import { readWhole, writeSegmentation } from '../../stages/segment/io.js';
import { denseSupervoxels } from '../../stages/segment/pipeline.js';
import { type SweepResult, type SweepVolume, sweepSynapseParams } from '../../stages/synapses/tune.js';
import { defaultPartnerRadius } from '../../stages/synapses/detect.js';
import { CLEFT_OUTPUT, carriedObjectRule } from '../object-rules.js';
import { partnerScorer, partnersOf } from '../synapse-scoring.js';
import { CLASS } from '../../stages/classes/classes.js';
import { ConnectomeStore } from '../../connectome/store.js';
import { emit } from '../output.js';
import { type PipelineStep, runPipeline, runWiring } from '../pipeline.js';
import { serveUntilStopped, startServer } from '../serving.js';

/** Channel of the pixel classifier's output that holds class `cls` (train-pixels reports its classes in channel order). */
export function classChannel(train: { classes?: unknown[]; labelValues?: unknown[] }, cls: number): number {
  const values = (train.labelValues ?? train.classes ?? []).map(String);
  const c = values.indexOf(String(cls));
  if (c < 0) throw new UsageError(`the pixel classifier has no class ${cls} (classes: ${values.join(', ')})`);
  return c;
}

/** Organelle rows of a connectome database by kind (empty when it has none). */
async function organelleCounts(db: string): Promise<Record<string, number>> {
  if (!existsSync(db)) return {};
  const s = await ConnectomeStore.open(db);
  try {
    return await s.organelleCounts();
  } finally {
    await s.close();
  }
}

/**
 * The demo's defaults (the CLI help reads them). The training phantom is large enough for the
 * cleft object filter (`wiring train-pixels --segmentation`): it needs CLEFT_FILTER_DEFAULTS.minTrueClefts
 * (50) true clefts, and at synapse density 3 a 160x160x48 phantom of seed 2 holds 24 (26-connected
 * components), 256x256x48 43, 256x256x64 56, 320x320x48 72 (docs/ACCURACY.md, the demo section).
 * The validation phantom only chooses the agglomeration cut (and the cleft threshold when the
 * model carries no filter), so it keeps the smaller size.
 */
export const DEMO_DEFAULTS = {
  /** Test phantom size, voxels (seed `seed`, default synapse density: only scored). */
  size: [192, 192, 48] as Vec3,
  voxelSize: [8, 8, 30] as Vec3,
  seed: 1,
  /** Training phantom (seed + 1) size, voxels. */
  trainSize: [320, 320, 48] as Vec3,
  /** Validation phantom (seed + 2) size, voxels. */
  validationSize: [160, 160, 48] as Vec3,
  /** Synapse density (phantom --synapse-density) of the training and validation phantoms. */
  trainSynapseDensity: 3,
  /** Pixel classifier trees and training voxels. */
  trees: 32,
  samples: 60000,
  /** Sections of the test phantom displaced (phantom --shifted-sections) and aligned by an align step; 0: none. */
  shiftedSections: 0,
  port: 8080,
  out: 'wiring-demo',
};
/** Agglomeration cuts tried on the validation volume. */
export const CUTS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9];
/** Cleft thresholds and size filters tried on the validation volume. */
export const CLEFT_THRESHOLDS = [0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
export const CLEFT_MIN_SIZES = [5, 10, 20, 40, 80, 160];

export interface CutRow {
  threshold: number;
  segments: number;
  voi_split: number;
  voi_merge: number;
  arand: number;
}

/**
 * Choose where to cut a segmentation's merge tree (merge_tree.json next to `segLayer`, as
 * `wiring segment`/`agglomerate` write it) against ground truth: the cut with the least VOI
 * (split + merge; ties: lower adapted Rand error). Meant for a validation volume, never for
 * the volume being scored. With `writeTo`, the segmentation at the chosen cut is written there.
 */
export async function chooseCut(segLayer: string, gtSpec: string, cuts: number[], writeTo?: string): Promise<{ threshold: number; rows: CutRow[] }> {
  const file = path.join(segLayer, 'merge_tree.json');
  const tree = JSON.parse(await readFile(file, 'utf8'));
  const svSpec = tree.supervoxels_layer ?? tree.supervoxels_source;
  if (typeof svSpec !== 'string' || !Array.isArray(tree.merges)) throw new FormatError('expected a wiring merge tree with "merges" and "supervoxels_layer" (or "supervoxels_source")', file);
  const [{ vol: svVol }, { vol: gtVol }] = await Promise.all([readWhole(svSpec), readWhole(gtSpec)]);
  if (!boxEquals(svVol.box, gtVol.box)) throw new UsageError(`${gtSpec} covers [${gtVol.box.min}]..[${gtVol.box.max}], the supervoxels ${svSpec} [${svVol.box.min}]..[${svVol.box.max}]`);
  const sv = denseSupervoxels(svVol);
  const dense = new Map<string, number>();
  for (let l = 1; l < sv.ids.length; l++) dense.set(sv.ids[l].toString(), l);
  const m = tree.merges.length;
  const mt: MergeTree = { nNodes: sv.count, a: new Uint32Array(m), b: new Uint32Array(m), score: new Float64Array(m), count: m };
  tree.merges.forEach((r: [string, string, number], k: number) => {
    const a = dense.get(String(r[0]));
    const b = dense.get(String(r[1]));
    if (a === undefined || b === undefined || typeof r[2] !== 'number') throw new FormatError(`merge ${k}: expected [supervoxel id, supervoxel id, score] with ids present in ${svSpec}`, file);
    mt.a[k] = a;
    mt.b[k] = b;
    mt.score[k] = r[2];
  });
  const seg = new Uint32Array(sv.labels.length);
  const rows: CutRow[] = [];
  let best = -1;
  for (const t of cuts) {
    const { map, count } = cutTree(mt, t);
    relabel(sv.labels, map, seg);
    const sc = evaluateSegmentation(seg, gtVol.data as LabelArray);
    rows.push({ threshold: t, segments: count, voi_split: sc.voi_split, voi_merge: sc.voi_merge, arand: sc.arand });
    const r = rows[rows.length - 1];
    const b = rows[best];
    if (best < 0 || r.voi_split + r.voi_merge < b.voi_split + b.voi_merge - 1e-12 || (Math.abs(r.voi_split + r.voi_merge - (b.voi_split + b.voi_merge)) <= 1e-12 && r.arand < b.arand)) best = rows.length - 1;
  }
  const threshold = rows[best].threshold;
  if (writeTo) {
    relabel(sv.labels, cutTree(mt, threshold).map, seg);
    await writeSegmentation(writeTo, seg, { shape: svVol.shape, offset: svVol.box.min, voxelSize: svVol.voxelSize }, { overwrite: true });
  }
  return { threshold, rows };
}

/** `wiring synapses` defaults, so that the parameters chosen here are the ones used there. */
const SYNAPSE_DEFAULTS = { threshold: 0.5, minSize: 10, vesicleThreshold: 0.5, maxDistance: 400 };

/*
 * Synapse density of the training and validation phantoms (DEMO_DEFAULTS.trainSynapseDensity): at
 * the default density a 160x160x48 phantom holds 1-8 synapses (seeds 2, 3), too few to learn the
 * cleft class from or to choose its threshold on; 3x gives the forest and the choice about three
 * times the examples. The test phantom keeps the default density.
 */

/** The cleft object filter the demo's 5-class model carries (trained by `train-pixels --segmentation`), or undefined (too few true clefts in the training phantom: `filterSkipped`). */
export function carriedFilter(train: Record<string, any> | undefined): { out_of_fold: unknown; candidates: unknown; cut: unknown } | undefined {
  const f = train?.object_rules?.[CLEFT_OUTPUT]?.filter;
  return f ? { out_of_fold: f.oof, candidates: f.candidates, cut: f.cut } : undefined;
}

/** One volume for the cleft-parameter sweep: a phantom, the layer holding its out-of-sample predictions, and the box to use. */
export interface CleftSweepInput {
  phantom: string;
  /** `<layer>?channel=c` of the cleft and the vesicle class. */
  clefts: string;
  vesicles: string;
  /** Voxel box (default: the whole phantom). */
  box?: Box;
}

/**
 * Choose the cleft threshold and size filter on phantoms with ground truth (never the scored
 * one), from predictions made by classifiers that did not see those voxels: partners on the
 * phantom's true segmentation (so the choice is about the cleft map, not the segmentation),
 * ground-truth synapses whose cleft centre lies in the box, tp/fp/fn pooled over the volumes,
 * best partner F-score. Without a single true synapse found, the `wiring synapses` defaults.
 */
export async function chooseCleftParams(inputs: CleftSweepInput[], voxelSize: Vec3): Promise<{ threshold: number; min_size: number; sweep: SweepResult }> {
  const volumes: SweepVolume[] = [];
  const readBox = async (spec: string, box?: Box) => {
    const src = await openSource(spec);
    try {
      return await src.read(box ?? boxFromShape(src.shape, src.offset));
    } finally {
      await src.close();
    }
  };
  for (const inp of inputs) {
    const [clefts, vesicles, neurons] = await Promise.all([readBox(inp.clefts, inp.box), readBox(inp.vesicles, inp.box), readBox(path.join(inp.phantom, 'neurons'), inp.box)]);
    const b = neurons.box;
    const vs = neurons.voxelSize;
    const inside = (p: readonly number[]) => [0, 1, 2].every((a) => p[a] >= b.min[a] * vs[a] && p[a] < b.max[a] * vs[a]);
    const gt = (await partnersOf(path.join(inp.phantom, 'connectome.duckdb'), true)).filter((g) => inside(g.ctr ?? g.pre));
    volumes.push({
      inputs: { clefts, vesicles, segmentation: neurons },
      // the vesicle threshold `wiring synapses` will use: the rule carried by the map, else its default
      params: { threshold: 0, minSize: 1, vesicleThreshold: carriedObjectRule(inp.vesicles)?.high ?? SYNAPSE_DEFAULTS.vesicleThreshold, partnerRadius: defaultPartnerRadius(vs), voxelSize: vs, bounds: b },
      score: partnerScorer(gt, neurons, SYNAPSE_DEFAULTS.maxDistance),
    });
  }
  const sweep = sweepSynapseParams(volumes, { thresholds: CLEFT_THRESHOLDS, minSizes: CLEFT_MIN_SIZES });
  return { threshold: sweep.best?.threshold ?? SYNAPSE_DEFAULTS.threshold, min_size: sweep.best?.minSize ?? SYNAPSE_DEFAULTS.minSize, sweep };
}

/**
 * The demo's pipeline, from nothing to a scored, browsable connectome. Three phantoms with
 * different seeds: a training volume (seed + 1) that the classifiers learn from, a validation
 * volume (seed + 2) on which every threshold is chosen, and the test volume (seed) that is only
 * scored. No parameter is tuned on the test volume's ground truth.
 *
 *  - training: class labels -> a 5-class pixel forest (clefts, vesicles, mitochondria; with the
 *    cleft object filter when the phantom holds enough true clefts) and a dedicated boundary forest (`train-pixels --gt`); the boundary forest's prediction of the
 *    training volume -> 2-D supervoxels -> a learned agglomeration (`train-agglomeration`);
 *  - validation: predict, segment with the learned agglomeration, cut the merge tree where VOI
 *    against the validation truth is least; without a carried cleft filter, choose the cleft
 *    threshold and size filter by partner F-score (training phantom cross-fitted + validation);
 *  - test: import the raw as a user's volume, predict, segment at the chosen cut, detect synapses
 *    with the carried filter (else the chosen threshold), cells, meshes, skeletons; score against
 *    the test truth.
 */
export function demoSteps(out: string, size: Vec3, voxelSize: Vec3, seed: number, opts: { trees: number; samples: number; trainSize?: Vec3; validationSize?: Vec3; shiftedSections?: number; trainSynapseDensity?: number; autoContext?: boolean }): PipelineStep[] {
  const train = path.join(out, 'train');
  const val = path.join(out, 'validation');
  const truth = path.join(out, 'truth');
  const ds = path.join(out, 'dataset');
  const model = path.join(out, 'pixel-classifier.forest');
  const bmodel = path.join(out, 'boundary-classifier.forest');
  const amodel = path.join(out, 'agglomeration.forest');
  const probs = path.join(ds, 'probabilities');
  const bprobs = path.join(ds, 'boundaries');
  const seg = path.join(ds, 'segmentation');
  const db = path.join(ds, 'connectome.duckdb');
  // Training and validation volumes have their own size (not the test's), large enough to hold
  // every class, enough true clefts for the cleft filter (training) and synapses to choose the
  // fallback cleft threshold on (validation).
  const ts = opts.trainSize ?? DEMO_DEFAULTS.trainSize;
  const trainSize = ts.join(',');
  const valSize = (opts.validationSize ?? DEMO_DEFAULTS.validationSize).join(',');
  const vsz = voxelSize.join(',');
  const shifted = opts.shiftedSections ?? DEMO_DEFAULTS.shiftedSections;
  const density = opts.trainSynapseDensity ?? DEMO_DEFAULTS.trainSynapseDensity;
  const chOf = (r: Record<string, any>, layer: string, cls: number) => `${layer}?channel=${classChannel(r.train, cls)}`;
  // Organelle maps are optional for synapse detection: left out when the classifier lacks the class.
  const optional = (r: Record<string, any>, layer: string, flag: string, cls: number) => {
    const values = (r.train.labelValues ?? r.train.classes ?? []).map(String);
    return values.includes(String(cls)) ? [flag, chOf(r, layer, cls)] : [];
  };
  const forest = ['--trees', String(opts.trees), '--samples', String(opts.samples)];
  const half = Math.floor(ts[0] / 2);
  const range = (x0: number, x1: number) => `${x0}:${x1},0:${ts[1]},0:${ts[2]}`;
  const folds = [
    { name: 'a', trainOn: range(0, half), predictOn: range(half, ts[0]), box: { min: [half, 0, 0], max: [ts[0], ts[1], ts[2]] } as Box },
    { name: 'b', trainOn: range(half, ts[0]), predictOn: range(0, half), box: { min: [0, 0, 0], max: [half, ts[1], ts[2]] } as Box },
  ];
  // z is 3.75x coarser than x/y: supervoxels per section, joined across sections by the agglomeration
  const segmentArgs = (boundaries: string, out: string, sv: string, extra: string[]) => ['segment', '--boundaries', boundaries, out, '--supervoxels-out', sv, '--2d', '--overwrite', ...extra];
  const synapseArgs = (r: Record<string, any>, layer: string, dbFile: string, segLayer: string, svLayer: string, gt: string): string[] => [
    'synapses', dbFile, '--clefts', chOf(r, layer, CLASS.cleft), ...optional(r, layer, '--vesicles', CLASS.vesicle), ...optional(r, layer, '--mitochondria', CLASS.mitochondrion),
    '--segmentation', segLayer, '--supervoxels', svLayer, '--ground-truth', path.join(gt, 'connectome.duckdb'), '--gt-segmentation', path.join(gt, 'neurons'),
  ];
  return [
    { name: 'phantom_train', title: `training phantom ${trainSize} (seed ${seed + 1}, synapse density x${density})`, args: ['phantom', train, '--size', trainSize, '--voxel-size', vsz, '--seed', String(seed + 1), '--synapse-density', String(density)] },
    { name: 'phantom_val', title: `validation phantom ${valSize} (seed ${seed + 2}, synapse density x${density})`, args: ['phantom', val, '--size', valSize, '--voxel-size', vsz, '--seed', String(seed + 2), '--synapse-density', String(density)] },
    {
      name: 'phantom',
      title: `test phantom ${size.join(',')} at ${vsz} nm (seed ${seed})${shifted ? `, ${shifted} sections shifted` : ''}`,
      args: ['phantom', truth, '--size', size.join(','), '--voxel-size', vsz, '--seed', String(seed), ...(shifted ? ['--shifted-sections', String(shifted)] : [])],
    },
    {
      name: 'classes',
      title: 'training labels from the training phantom',
      args: ['classes', path.join(train, 'classes'), '--neurons', path.join(train, 'neurons'), '--clefts', path.join(train, 'clefts'), '--vesicles', path.join(train, 'vesicles'), '--mitochondria', path.join(train, 'mitochondria')],
    },
    // --segmentation: the training phantom's true neurons, so that the cleft object filter (trained
    // when the phantom holds enough true clefts) also learns from the segments across each
    // candidate; on the test volume it reads the demo's predicted segmentation
    {
      name: 'train',
      title: 'train the pixel classifier (clefts, vesicles, mitochondria) and its cleft filter',
      args: ['train-pixels', '--raw', path.join(train, 'raw'), '--labels', path.join(train, 'classes'), '--segmentation', path.join(train, 'neurons'), '-o', model, ...forest, ...(opts.autoContext ? ['--auto-context'] : [])],
    },
    // --segment-choice cut: the joint choice of seeds and smoothing scores the mean agglomeration, and
    // the demo agglomerates with a learned model instead (its supervoxels stay segment's default ones)
    { name: 'train_boundary', title: 'train the boundary classifier', args: ['train-pixels', '--raw', path.join(train, 'raw'), '--gt', path.join(train, 'neurons'), '-o', bmodel, '--segment-choice', 'cut', ...forest] },
    { name: 'predict_train', title: 'boundaries of the training phantom', args: ['predict', '--raw', path.join(train, 'raw'), '--model', bmodel, path.join(train, 'boundaries'), '--dtype', 'uint8', '--overwrite'] },
    { name: 'supervoxels_train', title: 'supervoxels of the training phantom', args: ['supervoxels', '--boundaries', path.join(train, 'boundaries'), path.join(train, 'supervoxels'), '--2d', '--overwrite'] },
    {
      name: 'train_agglomeration',
      title: 'train the agglomeration',
      args: ['train-agglomeration', '--supervoxels', path.join(train, 'supervoxels'), '--boundaries', path.join(train, 'boundaries'), '--gt', path.join(train, 'neurons'), '-o', amodel, '--trees', String(Math.max(16, opts.trees)), '--no-cross-fit'], // the cut is chosen on the validation phantom below,
    },
    // both forests in one pass: one feature stack per block (the same bits as two runs)
    { name: 'predict_val', title: 'predict the validation phantom (classes and boundaries)', args: ['predict', '--raw', path.join(val, 'raw'), '--model', model, '--model', bmodel, path.join(val, 'probabilities'), path.join(val, 'boundaries'), '--dtype', 'uint8', '--overwrite'] },
    { name: 'segment_val', title: 'segment the validation phantom', args: segmentArgs(path.join(val, 'boundaries'), path.join(val, 'segmentation'), path.join(val, 'supervoxels'), ['--model', amodel, '--method', 'learned']) },
    { name: 'cut', title: 'choose the agglomeration cut on the validation phantom', run: () => chooseCut(path.join(val, 'segmentation'), path.join(val, 'neurons'), CUTS) },
    // Fallback when the model carries no cleft filter: cross-fitting on the training phantom (a
    // classifier trained on each x-half predicts the other half), so the cleft threshold is chosen
    // on predictions of unseen voxels. Skipped (nothing run) when the filter is carried.
    ...folds.flatMap((f): PipelineStep[] => [
      {
        name: `train_${f.name}`,
        title: `pixel classifier on x ${f.trainOn} of the training phantom (only without a cleft filter)`,
        run: (r) => (carriedFilter(r.train) ? Promise.resolve({ skipped: 'the model carries a cleft filter' }) : runWiring(['train-pixels', '--raw', path.join(train, 'raw'), '--labels', path.join(train, 'classes'), '-o', path.join(out, `fold-${f.name}.forest`), '--bounds', f.trainOn, ...forest])),
      },
      {
        name: `predict_${f.name}`,
        title: `predict x ${f.predictOn} of the training phantom with it (only without a cleft filter)`,
        run: (r) => (carriedFilter(r.train) ? Promise.resolve({ skipped: 'the model carries a cleft filter' }) : runWiring(['predict', '--raw', path.join(train, 'raw'), '--model', path.join(out, `fold-${f.name}.forest`), path.join(train, `probabilities-${f.name}`), '--dtype', 'uint8', '--bounds', f.predictOn, '--overwrite'])),
      },
    ]),
    {
      name: 'cleft_params',
      title: 'the cleft filter the model carries, else choose the cleft threshold and size filter (training phantom cross-fitted + validation phantom)',
      run: (r) => {
        const filter = carriedFilter(r.train);
        if (filter) return Promise.resolve({ threshold: null, min_size: null, filter, sweep: null });
        const inputs: CleftSweepInput[] = [];
        const add = (phantom: string, layer: string, result: Record<string, any>, box?: Box) => {
          const values = (result.labelValues ?? result.classes ?? []).map(String);
          // a classifier without a cleft or vesicle class (no synapse where it was trained) is left out
          if (!values.includes(String(CLASS.cleft)) || !values.includes(String(CLASS.vesicle))) return;
          const c = (cls: number) => `${layer}?channel=${classChannel(result, cls)}`;
          inputs.push({ phantom, clefts: c(CLASS.cleft), vesicles: c(CLASS.vesicle), box });
        };
        for (const f of folds) add(train, path.join(train, `probabilities-${f.name}`), r[`train_${f.name}`], f.box);
        add(val, path.join(val, 'probabilities'), r.train);
        if (inputs.length === 0) return Promise.resolve({ threshold: SYNAPSE_DEFAULTS.threshold, min_size: SYNAPSE_DEFAULTS.minSize, sweep: { rows: [], best: null } });
        return chooseCleftParams(inputs, voxelSize);
      },
    },
    // Serial sections (--shifted-sections): imported as they are, then aligned into dataset/raw
    // (the phantom only shifts them, so a translation model; docs/ALIGNMENT.md).
    { name: 'import', title: 'import the test volume', args: ['import', path.join(truth, 'raw'), path.join(ds, shifted ? 'raw-unaligned' : 'raw')] },
    ...(shifted ? [{ name: 'align', title: 'align the serial sections', args: ['align', path.join(ds, 'raw-unaligned'), path.join(ds, 'raw'), '--model', 'translation'] }] : []),
    { name: 'predict', title: 'predict clefts, vesicles, mitochondria and boundaries', args: ['predict', '--raw', path.join(ds, 'raw'), '--model', model, '--model', bmodel, probs, bprobs, '--dtype', 'uint8'] },
    { name: 'segment', title: 'supervoxels + learned agglomeration at the chosen cut', args: (r) => segmentArgs(bprobs, seg, path.join(ds, 'supervoxels'), ['--model', amodel, '--method', 'learned', '--threshold', String(r.cut.threshold)]) },
    { name: 'evaluate', title: 'score the segmentation against the truth', args: ['evaluate', seg, path.join(truth, 'neurons')] },
    {
      name: 'synapses',
      title: 'detect synapses and organelles, score partners',
      // with a carried cleft filter no rule is passed, so `wiring synapses` applies the filter (its
      // segmentation features read the predicted segmentation); else the swept threshold
      args: (r) => [...synapseArgs(r, probs, db, seg, path.join(ds, 'supervoxels'), truth), ...(r.cleft_params.filter ? [] : ['--threshold', String(r.cleft_params.threshold), '--min-size', String(r.cleft_params.min_size)])],
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
    .option('--size <X,Y,Z>', 'test volume size in voxels', DEMO_DEFAULTS.size.join(','))
    .option('--voxel-size <X,Y,Z>', 'voxel size in nm', DEMO_DEFAULTS.voxelSize.join(','))
    .option('--seed <n>', 'phantom seed', String(DEMO_DEFAULTS.seed))
    .option('--out <dir>', 'output folder (replaced)', DEMO_DEFAULTS.out)
    .option('--train-size <X,Y,Z>', 'size of the training phantom (it needs 50 true clefts for the cleft filter; with fewer, the cleft threshold is swept instead)', DEMO_DEFAULTS.trainSize.join(','))
    .option('--validation-size <X,Y,Z>', 'size of the validation phantom (the agglomeration cut, and the cleft threshold without a filter, are chosen there)', DEMO_DEFAULTS.validationSize.join(','))
    .option('--train-synapse-density <factor>', 'synapse density of the training and validation phantoms (phantom --synapse-density)', String(DEMO_DEFAULTS.trainSynapseDensity))
    .option('--trees <n>', 'pixel classifier trees', String(DEMO_DEFAULTS.trees))
    .option('--samples <n>', 'pixel classifier training voxels', String(DEMO_DEFAULTS.samples))
    .option('--port <p>', 'port to serve on (0 = any free port)', String(DEMO_DEFAULTS.port))
    .option('--shifted-sections <n>', 'serial sections: displace n sections of the test phantom and align them (an align step before predict)', String(DEMO_DEFAULTS.shiftedSections))
    .option('--auto-context', 'train the 5-class model (clefts, vesicles, mitochondria) with auto-context (train-pixels --auto-context): measured on the default demo, same partner F1, fewer mitochondria found, its training about 3x as long (docs/ACCURACY.md)')
    .option('--no-serve', 'stop after the pipeline and the scores')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const size = parseXyz(opts.size, '--size', 'size');
      const voxelSize = parseXyz(opts.voxelSize, '--voxel-size', 'nm');
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed ${opts.seed}: expected a whole number >= 0`);
      const out = path.resolve(opts.out);
      if (existsSync(out)) await rm(out, { recursive: true, force: true });
      const started = Date.now();
      const shiftedSections = Number(opts.shiftedSections);
      if (!Number.isInteger(shiftedSections) || shiftedSections < 0) throw new UsageError(`--shifted-sections ${opts.shiftedSections}: expected a whole number >= 0`);
      const { results, seconds } = await runPipeline(demoSteps(out, size, voxelSize, seed, { trees: Number(opts.trees), samples: Number(opts.samples), trainSize: parseXyz(opts.trainSize, '--train-size', 'size'), validationSize: parseXyz(opts.validationSize, '--validation-size', 'size'), shiftedSections, trainSynapseDensity: Number(opts.trainSynapseDensity), autoContext: !!opts.autoContext }), { quiet: !!opts.json });
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
      const chosen = {
        agglomeration_threshold: results.cut.threshold as number,
        // null when the model carries a cleft filter (then `cleft_filter`: its out-of-fold scores on the training phantom)
        cleft_threshold: results.cleft_params.threshold as number | null,
        cleft_min_size: results.cleft_params.min_size as number | null,
        cleft_filter: results.cleft_params.filter ?? null,
        cleft_filter_skipped: results.train?.object_rules?.[CLEFT_OUTPUT]?.filterSkipped ?? null,
        validation_voi: results.cut.rows.find((r: CutRow) => r.threshold === results.cut.threshold),
        cleft_sweep_best: results.cleft_params.sweep?.best ?? null,
      };
      const counts = {
        segments: ev.seg_segments_in_gt ?? ev.seg_segments,
        true_cells: ev.gt_segments,
        synapses_detected: results.synapses?.synapses ?? null,
        synapses_true: partners ? partners.tp + partners.fn : null,
        cleft_candidates_filtered: results.synapses?.dropped?.filtered ?? null,
        organelles_detected: await organelleCounts(path.join(out, 'dataset', 'connectome.duckdb')),
        organelles_true: await organelleCounts(path.join(out, 'truth', 'connectome.duckdb')),
      };
      const summary = { dataset: path.join(out, 'dataset'), truth: path.join(out, 'truth'), seconds_total: (Date.now() - started) / 1000, seconds, chosen, counts, scores };
      const human = () =>
        [
          `demo dataset: ${summary.dataset} (ground truth: ${summary.truth})`,
          `chosen without the test truth: agglomeration cut ${chosen.agglomeration_threshold} (validation phantom), ` +
            (chosen.cleft_filter
              ? `clefts by the cleft filter the model carries (trained on the training phantom; out-of-fold F1 ${(chosen.cleft_filter.out_of_fold as { f1?: number })?.f1 ?? 'n/a'})`
              : `cleft threshold ${chosen.cleft_threshold} and min size ${chosen.cleft_min_size} voxels (training + validation phantoms; no cleft filter: ${chosen.cleft_filter_skipped ?? 'none carried'})`),
          `scores on the test phantom (${size.join('x')}, seed ${seed}):`,
          `  segmentation: VOI split ${scores.voi_split.toFixed(3)}, merge ${scores.voi_merge.toFixed(3)}, adapted Rand error ${scores.arand.toFixed(3)} (${counts.segments} segments, ${counts.true_cells} true cells)`,
          `  synapses: partner F1 ${scores.synapse_partner_f1 === null ? 'n/a' : Number(scores.synapse_partner_f1).toFixed(3)}` +
            (scores.synapse_partner_precision === null ? '' : ` (precision ${Number(scores.synapse_partner_precision).toFixed(3)}, recall ${Number(scores.synapse_partner_recall).toFixed(3)}; ${counts.synapses_detected} detected, ${counts.synapses_true} true)`),
          `  organelles: ${(['mitochondrion', 'vesicle_cloud'] as const).map((k) => `${counts.organelles_detected[k] ?? 0} ${k === 'mitochondrion' ? 'mitochondria' : 'vesicle clouds'} detected, ${counts.organelles_true[k] ?? 0} true`).join('; ')}`,
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
