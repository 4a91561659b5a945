import { type Vec3, boxFromShape } from '../../core/box.js';
import { bytesPerElement } from '../../core/dtype.js';
import { WiringError } from '../../core/errors.js';
import { PrecomputedLayer, type ScaleInfo, type ShardingChoice, chooseSharding } from '../../formats/precomputed/index.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { downsampleMean, downsampleMode, downsampledBox, nextFactor, upsampledBox } from './downsample.js';

export interface DownsampleParams {
  layer: string;
  /** The finer scale read; the block is written to scale + 1. */
  scale: number;
  factor: Vec3;
  method: 'mean' | 'mode';
}

/**
 * Block function: one block of scale s+1 from the matching region of scale s. It reads the
 * finer scale itself because the two scales have different voxel grids (the scheduler's margin
 * reads are in the output grid).
 */
export async function downsampleBlock(ctx: BlockContext<DownsampleParams>): Promise<BlockResult> {
  const { layer, scale, factor, method } = ctx.params;
  const src = (await PrecomputedLayer.open(layer)).source(scale);
  const fineBounds = boxFromShape(src.shape, src.offset);
  const fine = await src.read(upsampledBox(ctx.box, factor, fineBounds));
  const coarse = method === 'mode' ? downsampleMode(fine, factor) : downsampleMean(fine, factor);
  // Blocks are aligned to the factor, so the reduced block is exactly ctx.box.
  return { volumes: { out: coarse.crop(ctx.box) } };
}

export interface PyramidOptions {
  /** Number of scales above scale 0 (default: until every axis fits in one chunk). */
  levels?: number;
  /** Chunk blocks per scheduler block along each axis (default [2,2,2]; [4,4,4] for a sharded scale). */
  chunksPerBlock?: Vec3;
  /**
   * The sharding of each new scale (shards fit the block, so each block writes its own shards
   * once). Default: sharded when the finer scale is, else one file per chunk.
   */
  sharding?: ShardingChoice;
}

/**
 * Add the missing scales of a pyramid to a layer and return one task per scale above 0 (each
 * depending on the previous). Images are mean-reduced, segmentations mode-reduced.
 */
export async function planPyramid(layerDir: string, opts: PyramidOptions = {}): Promise<BlockTask<DownsampleParams>[]> {
  const layer = await PrecomputedLayer.open(layerDir);
  const method = layer.info.type === 'segmentation' ? 'mode' : 'mean';
  if (method === 'mean' && layer.info.data_type === 'uint64') {
    throw new WiringError('an image layer of uint64 cannot be mean-downsampled; is it a segmentation?', layerDir);
  }
  const tasks: BlockTask<DownsampleParams>[] = [];
  // Plan from scale 0 so that a rerun after a crash reuses the scales already added and the
  // scheduler's resume records skip the blocks already written.
  let s = 0;
  const wanted = opts.levels ?? Infinity;
  while (tasks.length < wanted) {
    const fine = layer.info.scales[s];
    const chunk = fine.chunk_sizes[0];
    const done = fine.size.every((n, i) => n <= chunk[i]);
    if (done && opts.levels === undefined) break;
    const factor = nextFactor(fine.resolution);
    const fineBox = boxFromShape(fine.size, fine.voxel_offset);
    const coarseBox = downsampledBox(fineBox, factor);
    const size = coarseBox.max.map((v, i) => v - coarseBox.min[i]) as unknown as Vec3;
    const resolution = fine.resolution.map((r, i) => r * factor[i]) as unknown as Vec3;
    const coarseChunk = chunk.map((c, i) => Math.min(c, size[i])) as unknown as Vec3;
    const kind = layer.info.type === 'segmentation' ? 'segmentation' : 'image';
    const choose: ShardingChoice = opts.sharding ?? ((k, sh, c, b) => chooseSharding(fine.sharding ? true : false, k, sh, c, b));
    const sharded = choose(kind, size, coarseChunk) !== undefined;
    const per = opts.chunksPerBlock ?? (sharded ? [4, 4, 4] : [2, 2, 2]);
    const blockShape = coarseChunk.map((c, i) => c * per[i]) as unknown as Vec3;
    const { sharding: _fineSharding, ...rest } = fine;
    const sharding = choose(kind, size, coarseChunk, blockShape);
    const coarse: ScaleInfo = {
      ...rest,
      key: resolution.join('_'),
      size,
      voxel_offset: coarseBox.min,
      resolution,
      chunk_sizes: [coarseChunk],
      ...(sharding ? { sharding } : {}),
    };
    if (fine.size.every((n) => n <= 1)) break;
    const existing = layer.info.scales[s + 1];
    if (!existing) await layer.addScale(coarse);
    else if (existing.key !== coarse.key || existing.size.some((n, i) => n !== size[i]) || !!existing.sharding !== !!sharding) {
      throw new WiringError(
        `scale ${s + 1} exists as ${existing.key} [${existing.size}]${existing.sharding ? ' sharded' : ''}, expected ${coarse.key} [${size}]${sharding ? ' sharded' : ''} for the pyramid; remove it first`,
        layerDir,
      );
    }
    const blockVoxels = blockShape[0] * blockShape[1] * blockShape[2];
    const bytes = bytesPerElement(layer.info.data_type) * layer.info.num_channels;
    tasks.push({
      name: `downsample:${coarse.key}`,
      module: import.meta.url,
      fn: 'downsampleBlock',
      params: { layer: layerDir, scale: s, factor, method },
      outputs: { out: { layer: layerDir, scale: s + 1 } },
      bounds: coarseBox,
      blockShape,
      // The block reads the finer scale itself (factor^3 times its own size), which the
      // scheduler cannot see from declared inputs.
      memoryPerBlock: blockVoxels * bytes * (1 + factor[0] * factor[1] * factor[2]),
      dependsOn: tasks.length ? [tasks[tasks.length - 1].name] : [],
    });
    s++;
  }
  return tasks;
}
