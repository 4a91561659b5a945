// A small proofread dataset on disk for the tests (no test-framework imports).
import * as path from 'node:path';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';

export const BLOCKS_SHAPE: Vec3 = [16, 16, 8];
/** supervoxel id of block (bx, by, bz) of 4^3 voxels: 64-bit ids (blocks 4 x 4 x n; other grids: blockSvIn) */
export const blockSv = (bx: number, by: number, bz: number): bigint => (1n << 40n) + BigInt(1 + bx + 4 * by + 16 * bz);
export const blockSvIn = (blocks: Vec3, bx: number, by: number, bz: number): bigint => (1n << 40n) + BigInt(1 + bx + blocks[0] * (by + blocks[1] * bz));
/** start segment: two blocks along x (bx 0-1 and 2-3) per (by, bz) */
export const blockSeg = (bx: number, by: number, bz: number): bigint => BigInt(100 + 2 * by + (bx >= 2 ? 1 : 0) + 8 * bz);

/**
 * Layers sv/ (uint64 supervoxels: 4^3 blocks), seg/ (start segmentation) and boundary/ (float32:
 * 0.9 on the x faces between bx 1 and 2, 0.5 on other block faces, 0.1 inside) under `dir`.
 */
export async function writeBlocksDataset(dir: string, o: { blocks?: Vec3; seg?: (bx: number, by: number, bz: number) => bigint } = {}): Promise<{ sv: string; seg: string; boundary: string }> {
  const shape: Vec3 = o.blocks ? [4 * o.blocks[0], 4 * o.blocks[1], 4 * o.blocks[2]] : BLOCKS_SHAPE;
  const segOf = o.seg ?? blockSeg;
  const [sx, sy, sz] = shape;
  const N = sx * sy * sz;
  const sv = new BigUint64Array(N), seg = new BigUint64Array(N), b = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % sx, y = Math.floor(i / sx) % sy, z = Math.floor(i / (sx * sy));
    const bx = x >> 2, by = y >> 2, bz = z >> 2;
    sv[i] = o.blocks ? blockSvIn(o.blocks, bx, by, bz) : blockSv(bx, by, bz);
    seg[i] = segOf(bx, by, bz);
    const face = (v: number) => v % 4 === 0 || v % 4 === 3;
    b[i] = !o.blocks && (x === 7 || x === 8) ? 0.9 : face(x) || face(y) || face(z) ? 0.5 : 0.1;
  }
  const out = { sv: path.join(dir, 'sv'), seg: path.join(dir, 'seg'), boundary: path.join(dir, 'boundary') };
  const voxelSize: Vec3 = [8, 8, 30];
  const box = boxFromShape(shape);
  for (const [d, data] of [[out.sv, sv], [out.seg, seg]] as const) {
    const layer = await PrecomputedLayer.create(d, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize, chunkSize: [8, 8, 8] }), { overwrite: true });
    await layer.writeBox(new Volume('uint64', box, data, 1, voxelSize));
  }
  const bl = await PrecomputedLayer.create(out.boundary, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize, chunkSize: [8, 8, 8] }), { overwrite: true });
  await bl.writeBox(new Volume('float32', box, b, 1, voxelSize));
  return out;
}
