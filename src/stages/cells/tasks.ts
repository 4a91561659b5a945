import type { Box, Vec3 } from '../../core/box.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { blockCellStats } from './cells.js';

export interface CellsParams {
  bounds: Box;
  clipNm: number;
}

/** Block function: per-segment voxel counts and deepest anchor points of one block. */
export function cellsBlock(ctx: BlockContext<CellsParams>): BlockResult {
  const stats = blockCellStats(ctx.inputs.seg, ctx.box, ctx.params.bounds, ctx.params.clipNm);
  return { data: stats.map((s) => [s.id, s.voxels, s.depth, s.order]) };
}

/**
 * Default block shape of the cells stage, voxels. A block reads the clip depth around it (400 nm:
 * 50,50,14 voxels at 8x8x30 nm), so 128,128,64 blocks read 3.1x their voxels on the 512x512x128
 * phantom and 256,256,64 blocks 1.7x; the table is exact whatever the block (identical), 7.3 ->
 * 5.5 CPU s there (the synapse stage's shape, SYNAPSE_BLOCK, chosen on the 256x256x64 phantom; measured on 512x512x128;
 * docs/THROUGHPUT.md, "Skeletons, synapses, cells: third pass").
 */
export const CELLS_BLOCK: Vec3 = [256, 256, 64];

/** The task: margin = clip distance in voxels on each axis (so clipped depths are exact). */
export function cellsTask(segmentation: string, bounds: Box, voxelSize: Vec3, clipNm: number, blockShape: Vec3): BlockTask<CellsParams> {
  return {
    name: 'cells',
    module: import.meta.url,
    fn: 'cellsBlock',
    params: { bounds, clipNm },
    inputs: { seg: segmentation },
    bounds,
    blockShape,
    margin: voxelSize.map((v) => Math.ceil(clipNm / v)) as unknown as Vec3,
  };
}
