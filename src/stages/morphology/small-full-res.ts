/**
 * Small segments at full resolution when meshing at a coarser scale.
 *
 * The coarse grid chamfers a segment's corners by up to a coarse voxel; for a small segment that is
 * a large share of its volume (phantom seed 7: every segment over 2 % at the marching-cubes level
 * had fewer than 2,600 voxels). So a segment whose total voxel count is below `smallVoxels` is
 * meshed at full resolution, the rest coarse.
 *
 * A block does not know a segment's total size. Every block sends, beside the coarse mesh, the
 * segment's voxel count in its own box and, when that count is below the threshold, the segment's
 * full-resolution mesh over the block's one-voxel overlap region (the same surface the
 * full-resolution path would send). The finishing step sums the counts: a segment small in total
 * is small in every block, so every block sent its full-resolution piece, and the merged pieces are
 * the full-resolution mesh (the same for any blocking); otherwise the coarse pieces are merged.
 */
import type { Vec3 } from '../../core/box.js';
import { type Mesh, emptyMesh, marchingCubesLabels, mergeMeshes } from './mesh.js';

/** One block's result for one segment when meshing coarse with small segments at full resolution. */
export interface MeshPart {
  /** the coarse mesh (with its thin patches); may be empty */
  mesh: Mesh;
  /** the segment's voxels in the block's own box (absent: not counted, the coarse mesh is used) */
  voxels?: number;
  /** the full-resolution mesh over the block's overlap region, sent when `voxels` < the threshold (may be empty) */
  fine?: Mesh;
}

/**
 * Per compact label: voxels in the block's own box [ownLo, ownHi) and the bounding box (inclusive
 * lower, exclusive upper, 6 numbers per label) over the overlap region [ownLo, fineHi), both in
 * read-region coordinates of `labels` (shape `shape`).
 */
export function countAndBoxes(labels: Uint32Array, shape: Vec3, maxLabel: number, ownLo: Vec3, ownHi: Vec3, fineHi: Vec3): { counts: Float64Array; boxes: Int32Array } {
  const [sx, sy] = shape;
  const counts = new Float64Array(maxLabel + 1);
  const boxes = new Int32Array(6 * (maxLabel + 1));
  for (let l = 0; l <= maxLabel; l++) {
    boxes[6 * l] = boxes[6 * l + 1] = boxes[6 * l + 2] = 0x7fffffff;
    boxes[6 * l + 3] = boxes[6 * l + 4] = boxes[6 * l + 5] = -1;
  }
  for (let z = ownLo[2]; z < fineHi[2]; z++) {
    const zIn = z < ownHi[2];
    for (let y = ownLo[1]; y < fineHi[1]; y++) {
      const yzIn = zIn && y < ownHi[1];
      const row = sx * (y + sy * z);
      for (let x = ownLo[0]; x < fineHi[0]; x++) {
        const l = labels[row + x];
        if (l === 0) continue;
        if (yzIn && x < ownHi[0]) counts[l]++;
        const o = 6 * l;
        if (x < boxes[o]) boxes[o] = x;
        if (y < boxes[o + 1]) boxes[o + 1] = y;
        if (z < boxes[o + 2]) boxes[o + 2] = z;
        if (x >= boxes[o + 3]) boxes[o + 3] = x + 1;
        if (y >= boxes[o + 4]) boxes[o + 4] = y + 1;
        if (z >= boxes[o + 5]) boxes[o + 5] = z + 1;
      }
    }
  }
  return { counts, boxes };
}

/**
 * Full-resolution mesh of compact label `l` over the overlap region [ownLo, fineHi) of the read
 * region, marched over the label's own box there (`box`: 6 numbers as countAndBoxes gives): the
 * same surface as marching cubes over the whole region (a box face inside the region is closed, as
 * the voxel beyond it is not `l`; a face on the region's edge is open unless `closeLo`/`closeHi`
 * say the region's face is the volume's), vertices in nm from the read region's `origin`.
 */
export function fineLabelMesh(labels: Uint32Array, shape: Vec3, l: number, box: ArrayLike<number>, ownLo: Vec3, fineHi: Vec3, closeLo: boolean[], closeHi: boolean[], origin: Vec3, res: Vec3): Mesh {
  const [sx, sy] = shape;
  const lo = [box[0], box[1], box[2]];
  const s: Vec3 = [box[3] - box[0], box[4] - box[1], box[5] - box[2]];
  if (s.some((v) => v <= 0)) return emptyMesh();
  const sub = new Uint32Array(s[0] * s[1] * s[2]);
  let o = 0;
  for (let z = lo[2]; z < box[5]; z++) {
    for (let y = lo[1]; y < box[4]; y++) {
      const row = sx * (y + sy * z);
      for (let x = lo[0]; x < box[3]; x++, o++) if (labels[row + x] === l) sub[o] = 1;
    }
  }
  const closeBorder = [0, 1, 2].flatMap((k) => [lo[k] > ownLo[k] || closeLo[k], box[k + 3] < fineHi[k] || closeHi[k]]);
  return marchingCubesLabels(sub, s, 1, { voxelSize: res, offset: [origin[0] + lo[0], origin[1] + lo[1], origin[2] + lo[2]], closeBorder })[1];
}

/**
 * The mesh of one segment from its blocks' parts: the merged full-resolution pieces when the
 * segment's total voxel count is below `smallVoxels` (and every part counted it and sent its piece,
 * which a segment small in total always does), else the merged coarse meshes. One part's mesh is
 * returned as is (one block's marching cubes is welded already).
 */
export function chooseSegmentMesh(parts: MeshPart[], smallVoxels: number): { mesh: Mesh; fine: boolean } {
  let total = 0;
  let allFine = parts.length > 0;
  for (const p of parts) {
    if (p.voxels === undefined || p.fine === undefined) allFine = false;
    else total += p.voxels;
  }
  const fine = allFine && total < smallVoxels;
  const meshes = parts.map((p) => (fine ? p.fine! : p.mesh));
  const mesh = meshes.length === 0 ? emptyMesh() : meshes.length === 1 ? meshes[0] : mergeMeshes(meshes);
  return { mesh, fine };
}
