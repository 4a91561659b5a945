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
