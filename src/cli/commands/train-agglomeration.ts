import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { boxEquals } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import type { LabelArray } from '../../kernels/components.js';
import { compactLabels } from '../../kernels/components.js';
import { readWhole } from '../../stages/segment/io.js';
import { type TrainingVolume, prepareVolume, trainWithCrossFitCuts } from '../../stages/segment/cross-fit.js';
import { EDGE_FEATURE_NAMES, type EdgeFeatureSet } from '../../stages/segment/edge-features.js';
import { AGGLOMERATION_TRAINING_DEFAULTS, trainAgglomeration } from '../../stages/segment/learned.js';
import { DEFAULT_CONTACT, boundaryMaps, denseSupervoxels } from '../../stages/segment/pipeline.js';
import { emit } from '../output.js';
import { affinityOrder, boundaryChannel, parseNumberOption } from '../segment-options.js';

export function register(program: Command): Command {
  return program
    .command('train-agglomeration')
    .description('train the learned agglomeration edge classifier (random forest) against ground truth')
    .requiredOption('--supervoxels <source>', 'supervoxel labels')
    .requiredOption('--boundaries <source>', 'boundary probability map or affinities, same grid')
    .requiredOption('--gt <source>', 'ground-truth labels, same grid (0 = unlabelled)')
    .requiredOption('-o, --output <model>', 'model file to write')
    .option('--trees <n>', `number of trees (default ${AGGLOMERATION_TRAINING_DEFAULTS.trees})`)
    .option('--rounds <n>', `active-learning rounds: replay the agglomeration with the previous round's classifier, label every merge it considers by the ground truth, retrain (default ${AGGLOMERATION_TRAINING_DEFAULTS.rounds}; 0 = the mean-policy episode only)`)
    .option('--features <set>', `edge features: rich (default: contact quantiles and histogram, sizes, contact area, shape) or basic (the 18 of older models)`)
    .option('--no-cross-fit', 'do not choose the cuts by cross-fitting on halves of the training volume (the model then carries no cut: learned 0.5)')
    .option('--seed <n>', 'random seed (default 0)')
    .option('--affinity-order <o>', '3-channel input: channel order xyz or zyx', 'xyz')
    .option('--channel <c>', 'use channel c of a multi-channel map as the boundary probability')
    .option('--2d', 'only in-section contacts')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const t0 = performance.now();
      const [{ vol: svVol }, { vol: bVol }, { vol: gtVol }] = await Promise.all([readWhole(opts.supervoxels), readWhole(opts.boundaries), readWhole(opts.gt)]);
      for (const [v, name] of [[bVol, '--boundaries'], [gtVol, '--gt']] as const) {
        if (!boxEquals(v.box, svVol.box)) throw new UsageError(`${name} covers [${v.box.min}]..[${v.box.max}] but --supervoxels covers [${svVol.box.min}]..[${svVol.box.max}]; they must share one grid`);
      }
      if (gtVol.dtype === 'float32' || gtVol.channels !== 1) throw new UsageError(`--gt ${opts.gt}: expected a 1-channel integer label volume`);
      const sv = denseSupervoxels(svVol);
      const maps = boundaryMaps(bVol, { affinityOrder: affinityOrder(opts.affinityOrder), channel: boundaryChannel(opts.channel) });
      const trees = parseNumberOption(opts.trees, '--trees', { min: 1, integer: true }) ?? AGGLOMERATION_TRAINING_DEFAULTS.trees;
      const seed = parseNumberOption(opts.seed, '--seed', { min: 0, integer: true }) ?? 0;
      const rounds = parseNumberOption(opts.rounds, '--rounds', { min: 0, integer: true }) ?? AGGLOMERATION_TRAINING_DEFAULTS.rounds;
      const features = (opts.features ?? AGGLOMERATION_TRAINING_DEFAULTS.features) as EdgeFeatureSet;
      if (!(features in EDGE_FEATURE_NAMES)) throw new UsageError(`--features: expected rich or basic, got ${JSON.stringify(opts.features)}`);
      const volume: TrainingVolume = {
        sv: sv.labels, boundary: maps.boundary, affinities: maps.affinities, shape: maps.shape, twoD: !!opts['2d'], contact: DEFAULT_CONTACT,
        gt: compactLabels(gtVol.data as Exclude<LabelArray, Float32Array>).labels,
      };
      const meta = { contact: DEFAULT_CONTACT, twoD: !!opts['2d'], trained_on: { supervoxels: opts.supervoxels, boundaries: opts.boundaries, gt: opts.gt } };
      const train = { rounds, features };
      const res = opts.crossFit === false
        ? (() => { const pv = prepareVolume(volume); return { ...trainAgglomeration([{ rag: pv.rag, body: pv.body }], { nTrees: trees, seed }, meta, train), cuts: undefined, edges: pv.rag.nEdges }; })()
        : trainWithCrossFitCuts(volume, { nTrees: trees, seed }, meta, train);
      await writeFileAtomic(opts.output, res.forest.toBytes());
      const imp = res.forest.importances();
      const top = [...EDGE_FEATURE_NAMES[features]].map((f, i) => [f, +imp[i].toFixed(4)] as const).sort((a, b) => b[1] - a[1]).slice(0, 5);
      const cuts = res.cuts ? Object.fromEntries(Object.entries(res.cuts).map(([m, c]) => [m, { threshold: c.threshold, cross_fit_voi: c.voi }])) : null;
      const result = {
        model: opts.output, samples: res.samples, different_body_samples: res.positives, rounds: res.rounds, features, supervoxels: sv.count, trees, cuts,
        top_features: Object.fromEntries(top), seconds: +((performance.now() - t0) / 1000).toFixed(3),
      };
      const cutText = res.cuts ? `; cuts chosen by cross-fitting: learned ${res.cuts.learned.threshold}, mutex ${res.cuts.mutex.threshold}, multicut ${res.cuts.multicut.threshold}` : '';
      emit(opts, result, () => `${opts.output}: ${trees} trees on ${res.samples} edge samples (${res.positives} between different bodies, ${rounds} active-learning round(s))${cutText}; top features ${top.map((t) => t[0]).join(', ')}`);
    });
}
