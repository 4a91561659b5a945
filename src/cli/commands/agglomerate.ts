import * as path from 'node:path';
import { parseXyz } from '../xyz.js';
import type { Command } from 'commander';
import { boxEquals } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { relabel } from '../../stages/segment/agglomerate.js';
import { readWhole, writeJsonAtomic, writeSegmentation } from '../../stages/segment/io.js';
import { boundaryMaps, computeAgglomeration, denseSupervoxels, mergeTreeJson } from '../../stages/segment/pipeline.js';
import { anisotropic, blockwiseAgglomeration } from '../../stages/segment/run.js';
import { emit } from '../output.js';
import { addShardingOption, shardingChoice } from '../sharding-options.js';
import { addSchedulerOptions, schedulerOptions } from '../scheduler-options.js';
import { addAgglomerationOptions, affinityOrder, agglomerationParams, boundaryChannel, mapReading } from '../segment-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('agglomerate')
    .description('merge supervoxels into segments over their region adjacency graph; writes the segmentation and its merge tree (merge_tree.json)')
    .requiredOption('--supervoxels <source>', 'supervoxel labels (any readable label volume)')
    .requiredOption('--boundaries <source>', 'boundary probability map or affinities, same grid')
    .argument('<out-layer>', 'output precomputed segmentation layer folder')
    .option('--affinity-order <o>', '3-channel input: channel order xyz or zyx', 'xyz')
    .option('--channel <c>', 'use channel c of a multi-channel map as the boundary probability')
    .option('--2d', 'only in-section contacts')
    .option('--overwrite', 'replace an existing layer')
    .option('--block <x,y,z>', 'bounded memory: accumulate the region graph and write the segmentation block by block through the scheduler')
    .option('--json', 'machine-readable output');
  addAgglomerationOptions(cmd);
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts) => {
    const t0 = performance.now();
    const params = await agglomerationParams(opts);
    params.twoD = !!opts['2d'];
    if (opts.block) {
      const r = await blockwiseAgglomeration({
        out, supervoxels: opts.supervoxels, boundaries: opts.boundaries, block: parseXyz(String(opts.block), '--block', 'size'), params, reading: mapReading(opts),
        model: opts.model, overwrite: !!opts.overwrite, sharding: shardingChoice(opts), run: schedulerOptions(opts, path.join(path.resolve(out), '.wiring-run')),
      });
      const result = { ...r, seconds: +((performance.now() - t0) / 1000).toFixed(3) };
      emit(opts, result, () => `${out}: ${r.segments} segments from ${r.supervoxels} supervoxels (${r.method}, threshold ${r.threshold}; ${r.merges} merges in the tree; ${r.blocks} blocks)`);
      return;
    }
    const [{ vol: svVol }, { vol: bVol }] = await Promise.all([readWhole(opts.supervoxels), readWhole(opts.boundaries)]);
    if (!boxEquals(svVol.box, bVol.box)) {
      throw new UsageError(`--supervoxels ${opts.supervoxels} covers [${svVol.box.min}]..[${svVol.box.max}] but --boundaries ${opts.boundaries} covers [${bVol.box.min}]..[${bVol.box.max}]; they must share one grid`);
    }
    const sv = denseSupervoxels(svVol);
    const maps = boundaryMaps(bVol, { affinityOrder: affinityOrder(opts.affinityOrder), channel: boundaryChannel(opts.channel) });
    params.anisotropic = anisotropic(svVol.voxelSize);
    const res = computeAgglomeration(sv.labels, maps, params);
    const seg = relabel(sv.labels, res.map, new Uint32Array(sv.labels.length));
    const layer = await writeSegmentation(out, seg, { shape: svVol.shape, offset: svVol.box.min, voxelSize: svVol.voxelSize }, { overwrite: !!opts.overwrite, sharding: shardingChoice(opts) });
    await writeJsonAtomic(path.join(layer.dir, 'merge_tree.json'), mergeTreeJson(res.tree, sv.ids, { method: res.method, threshold: res.threshold, supervoxels_source: opts.supervoxels }));
    const result = { layer: out, method: res.method, threshold: res.threshold, supervoxels: sv.count, edges: res.rag.nEdges, merges: res.tree.count, segments: res.count, merge_tree: path.join(out, 'merge_tree.json'), seconds: +((performance.now() - t0) / 1000).toFixed(3) };
    emit(opts, result, () => `${out}: ${res.count} segments from ${sv.count} supervoxels (${res.method}, threshold ${res.threshold}; ${res.tree.count} merges in the tree)`);
  });
}
