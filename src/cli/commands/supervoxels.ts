import type { Command } from 'commander';
import { createProgress } from '../../core/progress.js';
import { readWhole, writeSegmentation } from '../../stages/segment/io.js';
import { boundaryMaps, computeSupervoxels } from '../../stages/segment/pipeline.js';
import { blockwiseSupervoxels } from '../../stages/segment/run.js';
import { emit } from '../output.js';
import { addShardingOption, shardingChoice } from '../sharding-options.js';
import { addSchedulerOptions } from '../scheduler-options.js';
import { addSupervoxelOptions, applyCarriedSeeds, blockwiseSupervoxelOptions, DEFAULT_MARGIN_TEXT, DEFAULT_TILE_TEXT, mapReading, supervoxelParams } from '../segment-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('supervoxels')
    .description('watershed supervoxels of a boundary (1 channel) or affinity (3 channels) map, written as a uint64 segmentation layer')
    .requiredOption('--boundaries <source>', 'boundary probability map or affinities (any readable volume, e.g. file.h5#stack)')
    .argument('<out-layer>', 'output precomputed segmentation layer folder')
    .option('--overwrite', 'replace an existing layer')
    .option('--block <x,y,z>', 'blockwise through the scheduler with blocks of this shape (rounded up to whole tiles; the result does not depend on it)')
    .option('--tile <x,y,z>', `with --block: the supervoxels are computed per tile of this shape, each from the map over the tile grown by --margin (default ${DEFAULT_TILE_TEXT})`)
    .option('--margin <x,y,z>', `with --block: context read around each tile (default ${DEFAULT_MARGIN_TEXT})`)
    .option('--json', 'machine-readable output');
  addSupervoxelOptions(cmd);
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts, command: Command) => {
    const t0 = performance.now();
    // seeds carried by the boundary layer (train-pixels --gt's choice) unless a seed option is given
    const carried = applyCarriedSeeds(opts, command);
    if (opts.block) {
      const result = await blockwiseSupervoxels(blockwiseSupervoxelOptions(out, opts));
      emit(opts, { ...result, ...(carried ? { carried_seeds: carried } : {}), seconds: +((performance.now() - t0) / 1000).toFixed(3) }, () => `${out}: ${result.supervoxels} supervoxels on tiles of ${result.tile.join(',')} (margin ${result.margin.join(',')}) in ${result.blocks} blocks (${result.computed} computed, ${result.resumed} resumed)`);
      return;
    }
    const progress = createProgress({ json: opts.json, label: 'supervoxels' });
    progress.start(3);
    const { vol } = await readWhole(opts.boundaries);
    progress.increment();
    const maps = boundaryMaps(vol, mapReading(opts));
    const params = supervoxelParams(opts, vol.voxelSize);
    const sv = computeSupervoxels(maps, params);
    progress.increment();
    await writeSegmentation(out, sv.labels, { shape: vol.shape, offset: vol.box.min, voxelSize: vol.voxelSize }, { overwrite: !!opts.overwrite, sharding: shardingChoice(opts) });
    progress.increment();
    progress.stop();
    const result = { layer: out, supervoxels: sv.count, shape: vol.shape, input: maps.affinities ? 'affinities' : 'boundaries', params, ...(carried ? { carried_seeds: carried } : {}), seconds: +((performance.now() - t0) / 1000).toFixed(3) };
    emit(opts, result, () => `${out}: ${sv.count} supervoxels over ${vol.shape.join('x')} voxels (${result.seconds} s)`);
  });
}

