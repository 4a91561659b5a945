import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { relabel } from '../../stages/segment/agglomerate.js';
import { readWhole, writeJsonAtomic, writeSegmentation } from '../../stages/segment/io.js';
import { boundaryMaps, computeAgglomeration, computeSupervoxels, mergeTreeJson } from '../../stages/segment/pipeline.js';
import { addSchedulerOptions, parseSize } from '../scheduler-options.js';
import { emit } from '../output.js';
import { addShardingOption, shardingChoice } from '../sharding-options.js';
import { openSource } from '../../formats/open.js';
import { blockwiseSegment, SEGMENT_DEFAULTS } from '../../stages/segment/run.js';
import {
  addAgglomerationOptions, addSupervoxelOptions, agglomerationParams, applyCarriedSeeds, blockwiseSupervoxelOptions, DEFAULT_MARGIN_TEXT, DEFAULT_TILE_TEXT, mapReading, supervoxelParams, supervoxelsIn2d,
} from '../segment-options.js';

export function register(program: Command): Command {
  const cmd = program
    .command('segment')
    .description('boundary or affinity map -> supervoxels -> agglomerated segmentation (uint64 layer + merge_tree.json)')
    .requiredOption('--boundaries <source>', 'boundary probability map (1 channel) or affinities (3 channels)')
    .argument('<out-layer>', 'output precomputed segmentation layer folder')
    .option('--supervoxels-out <layer>', 'also write the supervoxels as a layer')
    .option('--overwrite', 'replace existing layers')
    .option('--block <x,y,z>', 'bounded memory: supervoxels (written to --supervoxels-out, default <out-layer>-supervoxels), region graph and segmentation block by block through the scheduler')
    .option('--tile <x,y,z>', `with --block: supervoxel tile (the result depends on it, not on --block; default ${DEFAULT_TILE_TEXT})`)
    .option('--margin <x,y,z>', `with --block: context read around each supervoxel tile (default ${DEFAULT_MARGIN_TEXT})`)
    .option('--json', 'machine-readable output');
  addSupervoxelOptions(cmd);
  addAgglomerationOptions(cmd);
  addShardingOption(cmd);
  addSchedulerOptions(cmd);
  return cmd.action(async (out: string, opts, command: Command) => {
    const t0 = performance.now();
    // seeds carried by the boundary layer (train-pixels --gt's choice) unless a seed option is given
    const carried = applyCarriedSeeds(opts, command);
    const carriedOut = carried ? { carried_seeds: carried } : {};
    const aparams = await agglomerationParams(opts);
    const autoBlock = opts.block ? undefined : await blockIfTooLarge(opts);
    if (autoBlock) {
      opts.block = autoBlock.block;
      if (!opts.json) process.stderr.write(`note: ${autoBlock.note}\n`);
    }
    if (opts.block) {
      const src = await openSource(opts.boundaries);
      await src.close();
      aparams.anisotropic = supervoxelsIn2d(opts, src.voxelSize);
      // bounded memory: supervoxels, region graph and relabelling all blockwise
      opts.supervoxelsOut ??= `${out.replace(/[\\/]+$/, '')}-supervoxels`;
      const { supervoxels: s, segmentation: r } = await blockwiseSegment({
        ...blockwiseSupervoxelOptions(opts.supervoxelsOut, opts), out, supervoxelsOut: opts.supervoxelsOut, agglomeration: aparams, model: opts.model,
      });
      const result = { layer: out, supervoxels: r.supervoxels, segments: r.segments, method: r.method, threshold: r.threshold, merges: r.merges, blocks: r.blocks, resumed: { supervoxels: s.resumed, segmentation: r.resumed }, block: s.block, tile: s.tile, margin: s.margin, ...(s.note ? { note: s.note } : {}), ...(autoBlock ? { auto_block: autoBlock.note } : {}), supervoxels_layer: opts.supervoxelsOut, ...carriedOut, seconds: +((performance.now() - t0) / 1000).toFixed(3) };
      emit(opts, result, () => `${out}: ${r.segments} segments (${r.supervoxels} supervoxels in ${r.blocks} blocks, ${r.method} agglomeration at ${r.threshold}) in ${result.seconds} s`);
      return;
    }
    const { vol } = await readWhole(opts.boundaries);
    const maps = boundaryMaps(vol, mapReading(opts));
    const sparams = supervoxelParams(opts, vol.voxelSize);
    aparams.anisotropic = !!sparams.twoD;
    // 2-D supervoxels (--2d) are still agglomerated in 3-D: contacts across sections join them into objects.
    const like = { shape: vol.shape, offset: vol.box.min, voxelSize: vol.voxelSize };
    const sv = computeSupervoxels(maps, sparams);
    const ids: BigUint64Array | null = null;
    if (opts.supervoxelsOut) await writeSegmentation(opts.supervoxelsOut, sv.labels, like, { overwrite: !!opts.overwrite, sharding: shardingChoice(opts) });
    const res = computeAgglomeration(sv.labels, maps, aparams);
    const seg = relabel(sv.labels, res.map, new Uint32Array(sv.labels.length));
    const layer = await writeSegmentation(out, seg, like, { overwrite: !!opts.overwrite, sharding: shardingChoice(opts) });
    await writeJsonAtomic(path.join(layer.dir, 'merge_tree.json'), mergeTreeJson(res.tree, ids, { method: res.method, threshold: res.threshold, supervoxels_layer: opts.supervoxelsOut ?? null }));
    const result = { layer: out, supervoxels: sv.count, segments: res.count, method: res.method, threshold: res.threshold, merges: res.tree.count, ...carriedOut, seconds: +((performance.now() - t0) / 1000).toFixed(3) };
    emit(opts, result, () => `${out}: ${res.count} segments (${sv.count} supervoxels, ${res.method} agglomeration at ${res.threshold}) in ${result.seconds} s`);
  });
}

/** Peak bytes per voxel of the whole-volume path (measured 44 on a 4.2 Mvox float32 map, RSS over node's own), plus 4 per extra channel. */
const WHOLE_VOLUME_BYTES_PER_VOXEL = 48;
/** The block the whole-volume path falls back to (whole default supervoxel tiles). */
const AUTO_BLOCK = SEGMENT_DEFAULTS.autoBlock.join(',');

/**
 * Without --block the map, the supervoxels and the segmentation are held in memory. A volume that
 * would not fit the memory budget (--memory, default half the RAM, as for the scheduler's blocks)
 * goes blockwise instead, with a note: a user who gives `segment` a large volume gets a result,
 * not an out-of-memory crash.
 */
async function blockIfTooLarge(opts: Record<string, any>): Promise<{ block: string; note: string } | undefined> {
  const src = await openSource(opts.boundaries);
  await src.close();
  const voxels = src.shape[0] * src.shape[1] * src.shape[2];
  const need = voxels * (WHOLE_VOLUME_BYTES_PER_VOXEL + 4 * (src.channels - 1));
  const budget = opts.memory !== undefined ? parseSize(String(opts.memory)) : Math.floor(os.totalmem() / 2);
  if (need <= budget) return undefined;
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return {
    block: AUTO_BLOCK,
    note: `${opts.boundaries} has ${voxels} voxels: about ${gb(need)} in memory, more than the budget of ${gb(budget)} (--memory); segmenting blockwise with --block ${AUTO_BLOCK} (supervoxel tiles ${opts.tile ?? DEFAULT_TILE_TEXT})`,
  };
}
