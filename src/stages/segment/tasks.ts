/**
 * Blockwise supervoxels through the scheduler.
 *
 * Each block reads the boundary map over the block grown by a margin, runs the same watershed as
 * the whole-volume path on that context, and keeps the block's own voxels. Supervoxel ids are
 * global and unique: (block linear index + 1) * 2^32 + local label, as uint64.
 *
 * Stitching across block faces happens in the agglomeration (`wiring agglomerate` on the
 * supervoxel layer): a supervoxel cut by a block face meets its other part across the face on
 * interior voxels, so the contact has a low boundary value and is merged first. The final
 * segmentation therefore depends only weakly on the block size (measured in docs/SEGMENTATION.md);
 * the supervoxels themselves do depend on it (they are cut at block faces).
 */
import type { Vec3 } from '../../core/box.js';
import { boxShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { type SupervoxelParams, boundaryMaps, computeSupervoxels } from './pipeline.js';

export interface SupervoxelBlockParams {
  supervoxels: SupervoxelParams;
  affinityOrder?: 'xyz' | 'zyx';
  invert?: boolean;
  channel?: number;
  /** block grid shape [x, y, z] of the task (for the block's linear index) */
  grid: Vec3;
}

/** Block function: supervoxels of ctx.box from the boundary map over ctx.readBox. */
export function supervoxelBlock(ctx: BlockContext<SupervoxelBlockParams>): BlockResult {
  const p = ctx.params;
  const input = ctx.inputs.boundaries;
  const maps = boundaryMaps(input, { affinityOrder: p.affinityOrder, invert: p.invert, channel: p.channel });
  const sv = computeSupervoxels(maps, p.supervoxels);
  // crop to the block and renumber the labels present there 1..k
  const [bx, by, bz] = boxShape(ctx.box);
  const [rx, ry] = maps.shape;
  const ox = ctx.box.min[0] - ctx.readBox.min[0];
  const oy = ctx.box.min[1] - ctx.readBox.min[1];
  const oz = ctx.box.min[2] - ctx.readBox.min[2];
  const local = new Uint32Array(sv.count + 1);
  let k = 0;
  const out = new BigUint64Array(bx * by * bz);
  const words = new Uint32Array(out.buffer);
  const [gx, gy] = p.grid;
  const hi = ctx.blockIndex[0] + gx * (ctx.blockIndex[1] + gy * ctx.blockIndex[2]) + 1;
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++)
      for (let x = 0; x < bx; x++) {
        const l = sv.labels[x + ox + rx * (y + oy + ry * (z + oz))];
        if (l === 0) continue;
        if (local[l] === 0) local[l] = ++k;
        const i = x + bx * (y + by * z);
        words[2 * i] = local[l];
        words[2 * i + 1] = hi;
      }
  return { volumes: { supervoxels: new Volume('uint64', ctx.box, out, 1, input.voxelSize) }, data: { supervoxels: k } };
}

export interface SupervoxelTaskOptions {
  boundaries: string;
  out: string;
  bounds: BlockTask['bounds'];
  blockShape: Vec3;
  margin: Vec3;
  params: Omit<SupervoxelBlockParams, 'grid'>;
}

/** The scheduler task of blockwise supervoxels (the output layer must exist, uint64 segmentation). */
export function supervoxelTask(o: SupervoxelTaskOptions): BlockTask<SupervoxelBlockParams> {
  const shape = boxShape(o.bounds);
  const grid: Vec3 = [0, 1, 2].map((i) => Math.ceil(shape[i] / o.blockShape[i])) as unknown as Vec3;
  return {
    name: 'supervoxels',
    module: import.meta.url,
    fn: 'supervoxelBlock',
    params: { ...o.params, grid },
    inputs: { boundaries: o.boundaries },
    outputs: { supervoxels: { layer: o.out } },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin: o.margin,
  };
}

/** Chunk size for a layer written by blocks of `block` voxels: the largest divisor <= 64 per axis. */
export function chunkForBlock(block: Vec3): Vec3 {
  return block.map((b) => {
    for (let c = Math.min(64, b); c >= 1; c--) if (b % c === 0) return c;
    return 1;
  }) as unknown as Vec3;
}
