import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { FormatError, UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import { PixelModel } from '../../stages/predict/model.js';
import { CLASS } from '../../stages/classes/classes.js';
import { emit } from '../output.js';
import { voxelSizeAssumed, voxelSizeWarning } from '../voxel-size.js';
import { type PipelineStep, runPipeline } from '../pipeline.js';

/**
 * `wiring run <config.json>`: the demo's stages on a user's own volume. The config names the
 * raw volume, where the dataset goes, and the voxel classifier (a forest from train-pixels or an
 * ONNX network); ground truth is optional and, when given, every run is scored.
 */
export interface RunConfig {
  /** Any source `wiring import` reads. */
  raw: string;
  /** The dataset folder to write. */
  out: string;
  /** Voxel size [x, y, z] in nm, when the file does not say. */
  voxel_size?: [number, number, number];
  /** A forest from `wiring train-pixels` (classes 1 boundary, 3 cleft, 4 vesicle, 5 mitochondrion as `wiring classes` makes them)... */
  pixel_model?: string;
  /** ...or an ONNX network whose output channels are named by the *_channel fields. */
  onnx?: string;
  boundary_channel?: number;
  cleft_channel?: number;
  vesicle_channel?: number;
  mitochondria_channel?: number;
  /** Extra arguments per step, e.g. {"segment": ["--2d"], "predict": ["--tile", "64,64,16"]}. */
  args?: Record<string, string[]>;
  /** Optional ground truth: a segmentation and/or a database with a synapses table. */
  ground_truth?: { neurons?: string; database?: string };
  /** Leave out meshes/skeletons (e.g. ["mesh", "skeletonize"]). */
  skip?: string[];
  /** Serial sections: align them after import (`wiring align`, into ds/raw; the import goes to ds/raw-unaligned). */
  align?: boolean;
}

function check(cfg: any, file: string): RunConfig {
  const where = file;
  if (typeof cfg !== 'object' || cfg === null) throw new FormatError('the config must be a JSON object', where);
  for (const k of ['raw', 'out']) if (typeof cfg[k] !== 'string' || !cfg[k]) throw new FormatError(`field "${k}" must be a non-empty string`, where);
  if (!cfg.pixel_model === !cfg.onnx) throw new FormatError('give exactly one of "pixel_model" (wiring train-pixels) or "onnx"', where);
  if (cfg.voxel_size !== undefined && !(Array.isArray(cfg.voxel_size) && cfg.voxel_size.length === 3 && cfg.voxel_size.every((v: unknown) => typeof v === 'number' && v > 0))) {
    throw new FormatError('field "voxel_size" must be [x, y, z] positive numbers (nm)', where);
  }
  for (const k of ['boundary_channel', 'cleft_channel', 'vesicle_channel', 'mitochondria_channel']) {
    if (cfg[k] !== undefined && !(Number.isInteger(cfg[k]) && cfg[k] >= 0)) throw new FormatError(`field "${k}" must be a whole number >= 0`, where);
  }
  if (cfg.align !== undefined && typeof cfg.align !== 'boolean') throw new FormatError('field "align" must be true or false', where);
  const known = new Set(['raw', 'out', 'voxel_size', 'pixel_model', 'onnx', 'boundary_channel', 'cleft_channel', 'vesicle_channel', 'mitochondria_channel', 'args', 'ground_truth', 'skip', 'align']);
  for (const k of Object.keys(cfg)) if (!known.has(k)) throw new FormatError(`unknown field "${k}" (known: ${[...known].join(', ')})`, where);
  return cfg as RunConfig;
}

/** Output channels of the classifier for each map, from the config or the forest's classes. */
async function channels(cfg: RunConfig): Promise<{ boundary: number; cleft?: number; vesicle?: number; mito?: number }> {
  let fromModel: (cls: number) => number | undefined = () => undefined;
  if (cfg.pixel_model) {
    const m = await PixelModel.load(cfg.pixel_model);
    // A model trained with --gt writes one channel, the boundary probability.
    if (m.meta.target === 'gt') fromModel = (cls) => (cls === CLASS.boundary ? 0 : undefined);
    else fromModel = (cls) => { const i = m.meta.labelValues.indexOf(String(cls)); return i < 0 ? undefined : i; };
  }
  return {
    boundary: cfg.boundary_channel ?? fromModel(CLASS.boundary) ?? 0,
    cleft: cfg.cleft_channel ?? fromModel(CLASS.cleft),
    vesicle: cfg.vesicle_channel ?? fromModel(CLASS.vesicle),
    mito: cfg.mitochondria_channel ?? fromModel(CLASS.mitochondrion),
  };
}

/** Steps `run` leaves out and why (printed, and listed in the summary). */
export interface SkippedStep {
  step: string;
  why: string;
}

/** Refuse a raw volume without a recorded voxel size unless the config gives one. */
async function checkVoxelSize(cfg: RunConfig, where: string): Promise<void> {
  if (cfg.voxel_size) return;
  const src = await openSource(cfg.raw);
  await src.close();
  if (voxelSizeAssumed(src)) throw new UsageError(voxelSizeWarning(cfg.raw, '"voxel_size": [x, y, z] in the config').replace('is assumed', 'would be assumed') + '; refusing to go on without it', where);
}

export async function runSteps(cfg: RunConfig, skipped: SkippedStep[] = []): Promise<PipelineStep[]> {
  const ds = cfg.out;
  const probs = path.join(ds, 'probabilities');
  const seg = path.join(ds, 'segmentation');
  const db = path.join(ds, 'connectome.duckdb');
  const ch = await channels(cfg);
  const extra = (k: string) => cfg.args?.[k] ?? [];
  const steps: PipelineStep[] = [
    { name: 'import', title: `import ${cfg.raw}`, args: ['import', cfg.raw, path.join(ds, cfg.align ? 'raw-unaligned' : 'raw'), ...(cfg.voxel_size ? ['--voxel-size', cfg.voxel_size.join(',')] : []), ...extra('import')] },
    ...(cfg.align ? [{ name: 'align', title: 'align the serial sections', args: ['align', path.join(ds, 'raw-unaligned'), path.join(ds, 'raw'), ...extra('align')] }] : []),
    { name: 'predict', title: 'voxel predictions', args: ['predict', '--raw', path.join(ds, 'raw'), ...(cfg.pixel_model ? ['--model', cfg.pixel_model, '--dtype', 'uint8'] : ['--onnx', cfg.onnx!]), probs, ...extra('predict')] },
    { name: 'segment', title: 'supervoxels + agglomeration', args: ['segment', '--boundaries', `${probs}?channel=${ch.boundary}`, seg, '--supervoxels-out', path.join(ds, 'supervoxels'), ...extra('segment')] },
  ];
  if (cfg.ground_truth?.neurons) steps.push({ name: 'evaluate', title: 'score the segmentation', args: ['evaluate', seg, cfg.ground_truth.neurons, ...extra('evaluate')] });
  if (ch.cleft !== undefined) {
    const sa = ['synapses', db, '--clefts', `${probs}?channel=${ch.cleft}`, '--segmentation', seg, '--supervoxels', path.join(ds, 'supervoxels')];
    if (ch.vesicle !== undefined) sa.push('--vesicles', `${probs}?channel=${ch.vesicle}`);
    if (ch.mito !== undefined) sa.push('--mitochondria', `${probs}?channel=${ch.mito}`);
    if (cfg.ground_truth?.database) sa.push('--ground-truth', cfg.ground_truth.database, ...(cfg.ground_truth.neurons ? ['--gt-segmentation', cfg.ground_truth.neurons] : []));
    steps.push({ name: 'synapses', title: 'synapses and organelles', args: [...sa, ...extra('synapses')] });
  } else {
    skipped.push({ step: 'synapses', why: `the pixel model has no cleft class (class ${CLASS.cleft}) and the config gives no "cleft_channel": no synapses are detected` });
  }
  steps.push({ name: 'cells', title: 'cells table', args: ['cells', seg, db, '--replace', ...extra('cells')] });
  steps.push({ name: 'mesh', title: 'meshes', args: ['mesh', seg, ...extra('mesh')] });
  steps.push({ name: 'skeletonize', title: 'skeletons', args: ['skeletonize', seg, ...extra('skeletonize')] });
  // Multiscale pyramids of the layers written, so viewers can zoom out of large volumes (last:
  // the stages above read scale 0 only).
  for (const layer of [path.join(ds, 'raw'), probs, seg]) {
    steps.push({ name: `downsample-${path.basename(layer)}`, title: `pyramid of ${path.basename(layer)}`, args: ['downsample', layer, ...extra('downsample')] });
  }
  for (const s of steps) if ((cfg.skip ?? []).includes(s.name)) skipped.push({ step: s.name, why: 'listed in "skip"' });
  return steps.filter((s) => !(cfg.skip ?? []).includes(s.name));
}

export function register(program: Command): Command {
  return program
    .command('run')
    .description('run the pipeline (import, predict, segment, synapses, cells, meshes, skeletons, scores) on your own volume from a JSON config; then `wiring serve <out>`')
    .argument('<config>', 'JSON config: {"raw": "vol.h5#raw", "out": "my-dataset", "pixel_model": "model.forest", "voxel_size": [8,8,30], ...}')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new FormatError(`not a readable JSON config: ${(err as Error).message}`, file);
      }
      const cfg = check(parsed, file);
      await checkVoxelSize(cfg, file);
      const started = Date.now();
      const skipped: SkippedStep[] = [];
      const steps = await runSteps(cfg, skipped);
      for (const s of skipped) process.stderr.write(`note: skipping ${s.step}: ${s.why}\n`);
      const { results, seconds } = await runPipeline(steps, { quiet: !!opts.json });
      const summary = { dataset: cfg.out, seconds_total: (Date.now() - started) / 1000, seconds, skipped, evaluation: results.evaluate ?? null, synapses: results.synapses ?? null };
      emit(opts, summary, () =>
        [
          `dataset ${cfg.out} ready in ${summary.seconds_total.toFixed(0)} s — view it with: wiring serve ${cfg.out}`,
          ...(results.evaluate ? [`VOI split ${results.evaluate.voi_split.toFixed(3)}, merge ${results.evaluate.voi_merge.toFixed(3)}, ARAND ${results.evaluate.arand.toFixed(3)}`] : []),
          ...(results.synapses ? [`${results.synapses.synapses} synapses${results.synapses.partners ? `, partner F1 ${results.synapses.partners.fscore.toFixed(3)}` : ''}`] : []),
        ].join('\n'),
      );
    });
}
