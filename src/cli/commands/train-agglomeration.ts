import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { boxEquals } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import type { LabelArray } from '../../kernels/components.js';
import { readWhole } from '../../stages/segment/io.js';
import { supervoxelBodies, trainAgglomeration, EDGE_FEATURES } from '../../stages/segment/learned.js';
import { DEFAULT_CONTACT, boundaryMaps, denseSupervoxels } from '../../stages/segment/pipeline.js';
import { buildRag } from '../../stages/segment/rag.js';
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
    .option('--trees <n>', 'number of trees (default 100)')
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
      const rag = buildRag(sv.labels, maps.boundary, maps.shape, { contact: DEFAULT_CONTACT, twoD: !!opts['2d'], affinities: maps.affinities });
      const body = supervoxelBodies(sv.labels, gtVol.data as Exclude<LabelArray, Float32Array> as Uint32Array, rag.nNodes);
      const trees = parseNumberOption(opts.trees, '--trees', { min: 1, integer: true }) ?? 100;
      const seed = parseNumberOption(opts.seed, '--seed', { min: 0, integer: true }) ?? 0;
      const res = trainAgglomeration([{ rag, body }], { nTrees: trees, seed }, { contact: DEFAULT_CONTACT, twoD: !!opts['2d'], trained_on: { supervoxels: opts.supervoxels, boundaries: opts.boundaries, gt: opts.gt } });
      await writeFileAtomic(opts.output, res.forest.toBytes());
      const imp = res.forest.importances();
      const top = [...EDGE_FEATURES].map((f, i) => [f, +imp[i].toFixed(4)] as const).sort((a, b) => b[1] - a[1]).slice(0, 5);
      const result = { model: opts.output, samples: res.samples, different_body_samples: res.positives, supervoxels: sv.count, edges: rag.nEdges, trees, top_features: Object.fromEntries(top), seconds: +((performance.now() - t0) / 1000).toFixed(3) };
      emit(opts, result, () => `${opts.output}: ${trees} trees on ${res.samples} edge samples (${res.positives} between different bodies); top features ${top.map((t) => t[0]).join(', ')}`);
    });
}
