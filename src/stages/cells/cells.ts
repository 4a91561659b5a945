import type { Box, Vec3 } from '../../core/box.js';
import { boxShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { compactLabels } from '../../kernels/components.js';
import { edtLabels } from '../../kernels/edt.js';

/**
 * Cells from a segmentation: per segment its voxel count and an anchor point inside it, the
 * voxel deepest inside the segment (largest distance to another label), which lands in the soma
 * of a neuron — where the viewer should fly to and what CAVE calls pt_position.
 *
 * Blockwise and exact: distances are computed on the block plus a margin and clipped at the
 * margin's physical width, so every clipped value is the true clipped distance whatever the
 * block size; ties go to the smallest global voxel index.
 */
export interface CellStats {
  id: bigint;
  voxels: number;
  /** Clipped distance (nm) of the anchor to the segment's surface. */
  depth: number;
  /** Anchor voxel [x, y, z]. */
  anchor: Vec3;
  /** Global linear index of the anchor (tie-break). */
  order: number;
}

/** Statistics of the segments in `box` (inside the volume `bounds`), from `seg` covering box grown by the margin. */
export function blockCellStats(seg: Volume, box: Box, bounds: Box, clipNm: number): CellStats[] {
  const { labels, count, ids } = compactLabels(seg.data as BigUint64Array | Uint32Array);
  // only the block's voxels are read: the transform's y and z passes run only on their lines
  const sb = seg.box.min;
  const region = { min: [box.min[0] - sb[0], box.min[1] - sb[1], box.min[2] - sb[2]] as Vec3, max: [box.max[0] - sb[0], box.max[1] - sb[1], box.max[2] - sb[2]] as Vec3 };
  const depth = edtLabels(labels, seg.shape, { sampling: seg.voxelSize, borderIsBoundary: false, region });
  const voxels = new Float64Array(count + 1);
  const best = new Float64Array(count + 1).fill(-1);
  const bestOrder = new Float64Array(count + 1);
  const [bx, by, bz] = boxShape(box);
  const [X, Y] = boxShape(bounds);
  const [ox, oy, oz] = bounds.min;
  for (let z = 0; z < bz; z++) {
    const gz = box.min[2] + z;
    for (let y = 0; y < by; y++) {
      const gy = box.min[1] + y;
      let i = seg.index(box.min[0], gy, gz);
      for (let x = 0; x < bx; x++, i++) {
        const l = labels[i];
        if (l === 0) continue;
        voxels[l]++;
        const d = Math.min(depth[i], clipNm);
        const order = box.min[0] + x - ox + X * (gy - oy + Y * (gz - oz));
        if (d > best[l] || (d === best[l] && order < bestOrder[l])) {
          best[l] = d;
          bestOrder[l] = order;
        }
      }
    }
  }
  const out: CellStats[] = [];
  for (let l = 1; l <= count; l++) {
    if (voxels[l] === 0) continue;
    const o = bestOrder[l];
    out.push({ id: ids[l], voxels: voxels[l], depth: best[l], order: o, anchor: [ox + (o % X), oy + (Math.floor(o / X) % Y), oz + Math.floor(o / (X * Y))] });
  }
  return out;
}

/** Merge per-block statistics: counts add up, the deepest anchor wins (smallest index on ties). */
export function mergeCellStats(blocks: Iterable<CellStats[]>): CellStats[] {
  const byId = new Map<bigint, CellStats>();
  for (const block of blocks) {
    for (const s of block) {
      const cur = byId.get(s.id);
      if (!cur) byId.set(s.id, { ...s, anchor: [...s.anchor] as unknown as Vec3 });
      else {
        cur.voxels += s.voxels;
        if (s.depth > cur.depth || (s.depth === cur.depth && s.order < cur.order)) {
          cur.depth = s.depth;
          cur.order = s.order;
          cur.anchor = s.anchor;
        }
      }
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
