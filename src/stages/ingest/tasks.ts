import { type Vec3, boxTranslate } from '../../core/box.js';
import type { DataType } from '../../core/dtype.js';
import { Volume } from '../../core/volume.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import type { BlockContext, BlockResult } from '../../scheduler/index.js';
import { convertBlock } from './convert.js';

export interface IngestParams {
  source: string;
  dtype: DataType;
  voxelSize: Vec3;
  /** Layer offset minus source offset: layer voxel p holds source voxel p - shift. */
  shift: Vec3;
}

// One open source per worker thread and spec (opening HDF5/Zarr costs more than a block read).
const sources = new Map<string, Promise<VolumeSource>>();

/** Block function of `wiring import`: the source block, moved to the layer's offset and converted to its data type. */
export async function ingestBlock(ctx: BlockContext<IngestParams>): Promise<BlockResult> {
  const { source, dtype, voxelSize, shift } = ctx.params;
  let src = sources.get(source);
  if (!src) sources.set(source, (src = openSource(source)));
  const read = await (await src).read(boxTranslate(ctx.box, [-shift[0], -shift[1], -shift[2]]));
  const placed = new Volume(read.dtype, ctx.box, read.data, read.channels, voxelSize);
  return { volumes: { out: convertBlock(placed, dtype, source) } };
}
