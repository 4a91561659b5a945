/**
 * Meshing a block at a coarser scale than its voxels (the field meshes at mip 1-2: fewer
 * marching-cubes triangles from the start).
 *
 * The coarse grid is anchored at the volume's lower corner: coarse voxel g covers the voxels
 * [bounds.min + g * f, bounds.min + (g + 1) * f) per axis (clipped to the volume), and takes their
 * most frequent label (background counted like a label; ties to the tied label met first in x,
 * then y, then z order, so a segment keeps its volume on average and is shifted by at most one
 * voxel). The value of a coarse voxel depends on its own voxels only, so two blocks that both see
 * it (the one-coarse-voxel overlap) agree, and their meshes weld as at full resolution.
 *
 * Vertices stay in nm in the same frame: the surface between coarse voxels g and g + 1 passes
 * through (bounds.min + (g + 1) * f) * voxelSize. At the volume's upper faces a partial coarse voxel
 * is closed at the volume's face (its vertices clamped to it), never beyond.
 *
 * Thin parts the coarse grid loses (a process one voxel across, a sheet on the losing side of the
 * mode vote, a segment that wins no coarse voxel at all) are meshed at full resolution as patches
 * (thinPatches): a voxel of a segment whose coarse voxel and that voxel's 6 neighbours all belong to
 * other labels is lost, and the patch is the segment's voxels outside its coarse voxels in and next
 * to the lost voxels' coarse voxels, so it meets the coarse surface face to face. Patch membership
 * depends only on the labels within three coarse voxels (coarseMeshMargin), so neighbouring blocks
 * agree on it; patches are meshed like full-resolution blocks (one voxel of overlap, open on
 * interior block faces, closed on the volume's) and weld across blocks; each block's result is the
 * same as one block over the whole volume. A patch and its segment's coarse mesh are separate
 * closed surfaces that touch (their union is the segment; no hole edges).
 *
 * The converse, cavities the mode vote fills (cavityVoxels): a background or other-label voxel whose
 * coarse voxel and that coarse voxel's 6 neighbours all belong to one segment is meshed at full
 * resolution too, turned inside out, into that segment (a closed surface inside the segment's coarse
 * volume that takes the voxel out of it). Without it a boundary of the segment next to such a voxel
 * can lie a z-section and more from the coarse surface (phantom seed 13: 32.3 nm against a 32.06 nm
 * voxel diagonal, docs/THROUGHPUT.md). Membership depends on the labels within one coarse voxel, so
 * blocks agree, and cavities weld across blocks like patches.
 */
import type { Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { type Mesh, emptyMesh, marchingCubesLabels, weldVertices } from './mesh.js';
import { placeByFraction } from './partial-volume.js';

/**
 * Mode (majority) downsampling of compact labels by `factor` per axis: coarse shape
 * ceil(shape / factor), coarse voxel c = the most frequent label of its voxels inside `shape`
 * (ties: the tied label whose first voxel comes first, x fastest).
 */
export function modeDownsample(labels: Uint32Array, shape: Vec3, factor: Vec3): { labels: Uint32Array; shape: Vec3 } {
  const [sx, sy, sz] = shape;
  const [fx, fy, fz] = factor;
  if (labels.length !== sx * sy * sz) throw new WiringError(`mode downsample: ${labels.length} labels do not fill shape [${shape}]`);
  const cs: Vec3 = [Math.ceil(sx / fx), Math.ceil(sy / fy), Math.ceil(sz / fz)];
  const out = new Uint32Array(cs[0] * cs[1] * cs[2]);
  const n = fx * fy * fz;
  const vals = new Uint32Array(n);
  const counts = new Uint32Array(n);
  const quad = fx === 2 && fy === 2 && fz === 1;
  let o = 0;
  for (let cz = 0; cz < cs[2]; cz++) {
    const z0 = cz * fz;
    const z1 = Math.min(z0 + fz, sz);
    for (let cy = 0; cy < cs[1]; cy++) {
      const y0 = cy * fy;
      const y1 = Math.min(y0 + fy, sy);
      for (let cx = 0; cx < cs[0]; cx++, o++) {
        const x0 = cx * fx;
        const x1 = Math.min(x0 + fx, sx);
        if (quad && x1 - x0 === 2 && y1 - y0 === 2) {
          // 2x2x1, the common case: the same rule (most frequent, ties to the first met) by comparisons
          const i = x0 + sx * (y0 + sy * z0);
          const a = labels[i], b = labels[i + 1], c = labels[i + sx], d = labels[i + sx + 1];
          out[o] = a === b || a === c || a === d ? a : b === c || b === d ? b : c === d ? c : a;
          continue;
        }
        // distinct values in first-met order with their counts (n is small: 2-16)
        let k = 0;
        for (let z = z0; z < z1; z++) {
          for (let y = y0; y < y1; y++) {
            const row = sx * (y + sy * z);
            for (let x = x0; x < x1; x++) {
              const v = labels[row + x];
              let j = 0;
              while (j < k && vals[j] !== v) j++;
              if (j === k) {
                vals[k] = v;
                counts[k++] = 1;
              } else counts[j]++;
            }
          }
        }
        let best = 0;
        for (let j = 1; j < k; j++) if (counts[j] > counts[best]) best = j;
        out[o] = vals[best];
      }
    }
  }
  return { labels: out, shape: cs };
}

/**
 * The mesh downsampling factor for a voxel size: per axis the largest power of two <= `maxFactor`
 * that keeps the axis at most half as long as the longest (8x8x30 nm -> [2,2,1]: 16x16x30 nm;
 * isotropic volumes -> [1,1,1]); 1 where the block shape is not a multiple of it (blocks must lie
 * on the coarse grid).
 */
export function meshDownsampleFactor(voxelSize: Vec3, blockShape: Vec3, maxFactor: number): Vec3 {
  const longest = Math.max(...voxelSize);
  return [0, 1, 2].map((k) => {
    let s = 1;
    while (s * 2 <= maxFactor && voxelSize[k] * s * 2 <= longest) s *= 2;
    return blockShape[k] % s === 0 ? s : 1;
  }) as unknown as Vec3;
}

/** Whether `f` is a downsampling factor the mesh stage takes: a power of two 1..16. */
export function isDownsampleFactor(f: number): boolean {
  return Number.isInteger(f) && f >= 1 && f <= 16 && (f & (f - 1)) === 0;
}

export function checkFactor(factor: Vec3, where = 'mesh downsample factor'): void {
  for (const f of factor) {
    if (!isDownsampleFactor(f)) {
      throw new WiringError(`${where} [${factor}]: expected powers of two 1..16 per axis`);
    }
  }
}

/**
 * The read margin a coarse mesh block needs per axis: three coarse voxels (the marching cubes need
 * one past the block's upper corner; a patch voxel depends on lost voxels one coarse voxel away,
 * and whether a voxel is lost on the coarse voxels next to its own), so each block decides the same
 * as one block over the volume.
 */
export function coarseMeshMargin(factor: Vec3): Vec3 {
  return factor.map((f) => 3 * f) as unknown as Vec3;
}

export interface CoarseBlockInput {
  /** Compact labels over the block's read region [origin, origin + shape) (0 = background). */
  labels: Uint32Array;
  maxLabel: number;
  origin: Vec3;
  shape: Vec3;
  /** The block's own box (without the overlap). */
  boxMin: Vec3;
  boxMax: Vec3;
  bounds: { min: Vec3; max: Vec3 };
  voxelSize: Vec3;
  factor: Vec3;
  /** Mesh thin parts at full resolution (thinPatches; default true). False: only segments without any coarse voxel near them. */
  thinPatches?: boolean;
  /** Mesh the cavities the coarse grid fills (cavityVoxels) at full resolution (default: thinPatches). */
  cavities?: boolean;
  /** Move each coarse vertex along its edge to the segment's partial-volume crossing (partial-volume.ts placeByFraction; default false). */
  partialVolume?: boolean;
  /** With partialVolume: the largest move in coarse voxels (default PV_REACH). */
  partialVolumeReach?: number;
  /** With partialVolume: keep each vertex within the farthest crossing's distance (placeByFraction's keepWithin; default true). */
  partialVolumeWithin?: boolean;
}

export interface CoarseBlockResult {
  /** One mesh per compact label (entry 0 empty). */
  meshes: Mesh[];
  /** Labels meshed by their full-resolution patches alone (no coarse surface in the block). */
  fallback: number;
  /** Voxels meshed at full resolution (thinPatches) and the labels they belong to. */
  patchVoxels: number;
  patchedLabels: number;
  /** Cavity voxels (cavityVoxels) meshed at full resolution, turned inside out, into their coarse voxel's label. */
  cavityVoxels: number;
}

/**
 * Meshes of every compact label of one block at the coarse scale, plus full-resolution patches where
 * the coarse grid loses a segment's thin parts (thinPatches; a segment without a coarse voxel near
 * it is all patch). The read region must start on the coarse grid at or before the block's own
 * corner and reach at least one coarse voxel past its upper corner (or the volume's border); with
 * coarseMeshMargin's two coarse voxels on every side the result does not depend on the blocking.
 */
export function coarseMeshLabels(inp: CoarseBlockInput): CoarseBlockResult {
  const { labels, maxLabel, origin, shape, bounds, voxelSize: res, factor: f, boxMin, boxMax } = inp;
  checkFactor(f);
  const b = bounds;
  const hi = [0, 1, 2].map((k) => origin[k] + shape[k]);
  // the coarse cubes this block marches: from its own corner to one coarse voxel past its upper corner
  const mcHi = [0, 1, 2].map((k) => Math.min(boxMax[k] + f[k], b.max[k]));
  for (let k = 0; k < 3; k++) {
    if ((origin[k] - b.min[k]) % f[k] !== 0 || (boxMin[k] - b.min[k]) % f[k] !== 0 || (boxMax[k] < b.max[k] && (boxMax[k] - b.min[k]) % f[k] !== 0)) {
      throw new WiringError(`mesh block [${boxMin}]-[${boxMax}] does not lie on the coarse grid of factor [${f}] from [${b.min}]`);
    }
    if (origin[k] > boxMin[k] || hi[k] < mcHi[k]) {
      throw new WiringError(`mesh block [${boxMin}]-[${boxMax}]: read region [${origin}]-[${hi}] on axis ${k}, expected from the block's corner to one coarse voxel (${f[k]}) past it`);
    }
  }
  const coarse = modeDownsample(labels, shape, f);
  const c0 = [0, 1, 2].map((k) => (boxMin[k] - origin[k]) / f[k]);
  const c1 = [0, 1, 2].map((k) => Math.ceil((mcHi[k] - origin[k]) / f[k]));
  const mcShape: Vec3 = [c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2]];
  let mcLabels = coarse.labels;
  if (mcShape.some((s, k) => s !== coarse.shape[k])) {
    mcLabels = new Uint32Array(mcShape[0] * mcShape[1] * mcShape[2]);
    const [cx, cy] = coarse.shape;
    for (let z = 0; z < mcShape[2]; z++) {
      for (let y = 0; y < mcShape[1]; y++) {
        const src = c0[0] + cx * (c0[1] + y + cy * (c0[2] + z));
        mcLabels.set(coarse.labels.subarray(src, src + mcShape[0]), mcShape[0] * (y + mcShape[1] * z));
      }
    }
  }
  const closeBorder = [boxMin[0] === b.min[0], mcHi[0] === b.max[0], boxMin[1] === b.min[1], mcHi[1] === b.max[1], boxMin[2] === b.min[2], mcHi[2] === b.max[2]];
  const cres = res.map((r, k) => r * f[k]) as unknown as Vec3;
  const meshes = marchingCubesLabels(mcLabels, mcShape, maxLabel, {
    voxelSize: cres,
    offset: boxMin.map((o, k) => o / f[k]) as unknown as Vec3,
    closeBorder,
  });
  if (inp.partialVolume) placeByFraction(meshes, { labels, shape, origin, coarse: coarse.labels, cshape: coarse.shape, factor: f, voxelSize: res, boundsMin: b.min }, inp.partialVolumeReach, inp.partialVolumeWithin ?? true);
  // a partial coarse voxel at the volume's upper face: close it on the face, not beyond
  const clampAt = [0, 1, 2].map((k) => (mcHi[k] === b.max[k] && (b.max[k] - b.min[k]) % f[k] !== 0 ? b.max[k] * res[k] : Infinity));
  if (clampAt.some((c) => c < Infinity)) {
    for (let l = 1; l <= maxLabel; l++) meshes[l] = clampMesh(meshes[l], clampAt);
  }
  // the block's own box in the read region
  const ownLo: Vec3 = [0, 1, 2].map((k) => boxMin[k] - origin[k]) as unknown as Vec3;
  const ownHi: Vec3 = [0, 1, 2].map((k) => Math.min(boxMax[k], b.max[k]) - origin[k]) as unknown as Vec3;
  // patches are meshed like full-resolution blocks: over the own box and one voxel past it, open on
  // interior block faces (the neighbour decides the same voxels the same way), closed on the volume's
  const maskHi: Vec3 = [0, 1, 2].map((k) => Math.min(ownHi[k] + 1, shape[k])) as unknown as Vec3;
  const patch = thinPatches(labels, shape, coarse.labels, coarse.shape, f, ownLo, maskHi, inp.thinPatches ?? true);
  const cav = inp.cavities ?? inp.thinPatches ?? true ? cavityVoxels(labels, shape, coarse.labels, coarse.shape, f, ownLo, maskHi) : { list: [], owner: [] };
  if (patch.voxels === 0 && cav.list.length === 0) return { meshes, fallback: 0, patchVoxels: 0, patchedLabels: 0, cavityVoxels: 0 };
  const closeLo = [0, 1, 2].map((k) => origin[k] + ownLo[k] === b.min[k]);
  const closeHi = [0, 1, 2].map((k) => origin[k] + maskHi[k] === b.max[k]);
  let patched = 0;
  let fallback = 0;
  if (patch.voxels > 0) {
    const patchMeshes = meshPatches(patch, (i) => labels[i], shape, ownLo, maskHi, closeLo, closeHi, maxLabel, origin, res);
    for (let l = 1; l <= maxLabel; l++) {
      const pm = patchMeshes[l];
      if (!pm || pm.indices.length === 0) continue;
      patched++;
      if (meshes[l].indices.length === 0) fallback++;
      meshes[l] = concatMeshes(meshes[l], pm);
    }
  }
  if (cav.list.length > 0) {
    // each cavity marched as a piece of its owner's label, then turned inside out (winding reversed):
    // a closed surface inside the owner's coarse volume that takes the cavity's voxels out of it
    const owner = new Map<number, number>();
    cav.list.forEach((i, j) => owner.set(i, cav.owner[j]));
    const mask = new Uint8Array(labels.length);
    for (const i of cav.list) mask[i] = 1;
    const cavMeshes = meshPatches({ mask, list: cav.list }, (i) => owner.get(i)!, shape, ownLo, maskHi, closeLo, closeHi, maxLabel, origin, res);
    for (let l = 1; l <= maxLabel; l++) {
      const cm = cavMeshes[l];
      if (!cm || cm.indices.length === 0) continue;
      const idx = cm.indices;
      for (let t = 0; t < idx.length; t += 3) {
        const x = idx[t + 1];
        idx[t + 1] = idx[t + 2];
        idx[t + 2] = x;
      }
      meshes[l] = concatMeshes(meshes[l], cm);
    }
  }
  return { meshes, fallback, patchVoxels: patch.voxels, patchedLabels: patched, cavityVoxels: cav.list.length };
}

/**
 * Cavities the coarse grid loses: voxels in [ownLo, ownHi) whose label differs from their coarse
 * voxel's label l (l not background) while that coarse voxel's 6 neighbours are all l too (a
 * background or other-label voxel, or a run of them, that the mode vote filled: l's coarse surface
 * does not come near it, and a boundary of l next to it may lie a z-section and more from that
 * surface). `owner` is l for each. Coarse neighbours outside the read region count as not l (the
 * read region ends before the volume's border only where coarseMeshMargin leaves three coarse voxels).
 * Membership depends on the labels within one coarse voxel, so neighbouring blocks agree on it.
 */
export function cavityVoxels(labels: Uint32Array, shape: Vec3, coarse: Uint32Array, cshape: Vec3, f: Vec3, ownLo: Vec3, ownHi: Vec3): { list: number[]; owner: number[] } {
  checkFactor(f);
  const [sx, sy] = shape;
  const [cx, cy, cz] = cshape;
  const cxy = cx * cy;
  const bx = Math.log2(f[0]), by = Math.log2(f[1]), bz = Math.log2(f[2]);
  const list: number[] = [];
  const owner: number[] = [];
  for (let z = ownLo[2]; z < ownHi[2]; z++) {
    const gz = z >> bz;
    for (let y = ownLo[1]; y < ownHi[1]; y++) {
      const gy = y >> by;
      const row = sx * (y + sy * z);
      const crow = cx * (gy + cy * gz);
      for (let x = ownLo[0]; x < ownHi[0]; x++) {
        const gx = x >> bx;
        const c = crow + gx;
        const l = coarse[c];
        if (l === 0 || labels[row + x] === l) continue;
        if (gx === 0 || gx + 1 >= cx || gy === 0 || gy + 1 >= cy || gz === 0 || gz + 1 >= cz) continue;
        if (coarse[c - 1] !== l || coarse[c + 1] !== l || coarse[c - cx] !== l || coarse[c + cx] !== l || coarse[c - cxy] !== l || coarse[c + cxy] !== l) continue;
        list.push(row + x);
        owner.push(l);
      }
    }
  }
  return { list, owner };
}

/**
 * The thin parts of each segment that the coarse grid loses, as a mask over the read region (1 =
 * meshed at full resolution). A voxel of label l is *lost* when neither its coarse voxel nor any of
 * that coarse voxel's 6 neighbours has label l (l's coarse surface is then more than one coarse
 * voxel away: a thin process, a sheet on the losing side of the mode vote, a segment with no coarse
 * voxel at all). The patch is the voxels of l in [ownLo, ownHi) whose coarse voxel is not l (so it
 * never overlaps l's coarse volume) and is a lost voxel's coarse voxel or one of its 6 neighbours
 * (so it reaches the coarse face where l's coarse surface lies). A voxel's membership depends on
 * the labels within three coarse voxels of it (coarseMeshMargin). `thin` false: only labels without
 * any coarse voxel in the read region are lost (the coarse surface alone otherwise). Returns the mask
 * (empty when nothing is lost), the patch voxels as indices into the read region, and their count.
 */
export function thinPatches(labels: Uint32Array, shape: Vec3, coarse: Uint32Array, cshape: Vec3, f: Vec3, ownLo: Vec3, ownHi: Vec3, thin = true): { mask: Uint8Array; voxels: number; list: number[] } {
  checkFactor(f);
  const [sx, sy, sz] = shape;
  const [cx, cy, cz] = cshape;
  const [fx, fy, fz] = f;
  const cxy = cx * cy;
  // factors are powers of two: coarse coordinates by shifts
  const bx = Math.log2(fx), by = Math.log2(fy), bz = Math.log2(fz);
  let hasCoarse: Uint8Array | undefined;
  if (!thin) {
    let maxL = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i] > maxL) maxL = labels[i];
    hasCoarse = new Uint8Array(maxL + 1);
    for (let i = 0; i < coarse.length; i++) hasCoarse[coarse[i]] = 1;
  }
  // lost voxels over the patch region grown by one coarse voxel (the reach of the patch's growth)
  const lo = [0, 1, 2].map((k) => Math.max(0, (((ownLo[k] / f[k]) | 0) - 1) * f[k]));
  const hi = [0, 1, 2].map((k) => Math.min(shape[k], (Math.ceil(ownHi[k] / f[k]) + 1) * f[k]));
  const lost: number[] = [];
  for (let z = lo[2]; z < hi[2]; z++) {
    const gz = z >> bz;
    for (let y = lo[1]; y < hi[1]; y++) {
      const gy = y >> by;
      const row = sx * (y + sy * z);
      const crow = cx * (gy + cy * gz);
      for (let x = lo[0]; x < hi[0]; x++) {
        const l = labels[row + x];
        if (l === 0) continue;
        const gx = x >> bx;
        const c = crow + gx;
        if (coarse[c] === l) continue;
        if (hasCoarse) {
          if (!hasCoarse[l]) lost.push(row + x);
          continue;
        }
        if ((gx > 0 && coarse[c - 1] === l) || (gx + 1 < cx && coarse[c + 1] === l)) continue;
        if ((gy > 0 && coarse[c - cx] === l) || (gy + 1 < cy && coarse[c + cx] === l)) continue;
        if ((gz > 0 && coarse[c - cxy] === l) || (gz + 1 < cz && coarse[c + cxy] === l)) continue;
        lost.push(row + x);
      }
    }
  }
  // the patch: voxels of l, not in a coarse voxel of l, in the coarse voxel of a lost voxel of l or
  // in one of its 6 neighbours (so it reaches the face where l's coarse surface lies)
  let voxels = 0;
  const list: number[] = [];
  const mask = new Uint8Array(lost.length > 0 ? labels.length : 0);
  const grow = (l: number, gx: number, gy: number, gz: number): void => {
    if (gx < 0 || gy < 0 || gz < 0 || gx >= cx || gy >= cy || gz >= cz) return;
    if (coarse[gx + cx * (gy + cy * gz)] === l) return;
    const z1 = Math.min(ownHi[2], (gz + 1) * fz), y1 = Math.min(ownHi[1], (gy + 1) * fy), x1 = Math.min(ownHi[0], (gx + 1) * fx);
    for (let z = Math.max(ownLo[2], gz * fz); z < z1; z++) {
      for (let y = Math.max(ownLo[1], gy * fy); y < y1; y++) {
        const row = sx * (y + sy * z);
        for (let x = Math.max(ownLo[0], gx * fx); x < x1; x++) {
          if (labels[row + x] !== l || mask[row + x]) continue;
          mask[row + x] = 1;
          list.push(row + x);
          voxels++;
        }
      }
    }
  };
  for (const i of lost) {
    const l = labels[i];
    const gx = ((i % sx) / fx) | 0;
    const gy = ((((i / sx) | 0) % sy) / fy) | 0;
    const gz = (((i / (sx * sy)) | 0) / fz) | 0;
    grow(l, gx, gy, gz);
    grow(l, gx - 1, gy, gz);
    grow(l, gx + 1, gy, gz);
    grow(l, gx, gy - 1, gz);
    grow(l, gx, gy + 1, gz);
    grow(l, gx, gy, gz - 1);
    grow(l, gx, gy, gz + 1);
  }
  return { mask, voxels, list };
}

/**
 * Full-resolution meshes of the patch voxels, per label. The patch voxels are split into 26-connected
 * pieces (of any labels); each piece is marched over its own bounding box with only its own voxels
 * (two pieces share no marching cube, so this is the surface of all patches at once, at the cost of
 * the pieces' boxes rather than the block's). A box face closes unless it is an interior face of
 * the meshed region [ownLo, ownHi), where the neighbouring block goes on.
 */
function meshPatches(patch: { mask: Uint8Array; list: number[] }, labelOf: (i: number) => number, shape: Vec3, ownLo: Vec3, ownHi: Vec3, closeLo: boolean[], closeHi: boolean[], maxLabel: number, origin: Vec3, res: Vec3): Mesh[] {
  const [sx, sy] = shape;
  const sxy = sx * sy;
  const mask = patch.mask;
  const out: Mesh[] = new Array(maxLabel + 1);
  // piece of each patch voxel (1-based), by flood fill over the mask
  const piece = new Int32Array(mask.length);
  let pieces = 0;
  const stack: number[] = [];
  for (const seed of patch.list) {
    if (piece[seed]) continue;
    pieces++;
    piece[seed] = pieces;
    stack.push(seed);
    const members: number[] = [];
    const bb = [Infinity, Infinity, Infinity, 0, 0, 0];
    while (stack.length) {
      const i = stack.pop()!;
      members.push(i);
      const x = i % sx;
      const y = ((i / sx) | 0) % sy;
      const z = (i / sxy) | 0;
      if (x < bb[0]) bb[0] = x;
      if (y < bb[1]) bb[1] = y;
      if (z < bb[2]) bb[2] = z;
      if (x >= bb[3]) bb[3] = x + 1;
      if (y >= bb[4]) bb[4] = y + 1;
      if (z >= bb[5]) bb[5] = z + 1;
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < ownLo[2] || zz >= ownHi[2]) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < ownLo[1] || yy >= ownHi[1]) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < ownLo[0] || xx >= ownHi[0]) continue;
            const j = xx + sx * yy + sxy * zz;
            if (mask[j] && !piece[j]) {
              piece[j] = pieces;
              stack.push(j);
            }
          }
        }
      }
    }
    // the piece alone over its box, its labels compacted to 1..k
    const s: Vec3 = [bb[3] - bb[0], bb[4] - bb[1], bb[5] - bb[2]];
    const lab = new Uint32Array(s[0] * s[1] * s[2]);
    const local = new Map<number, number>();
    const ids: number[] = [0];
    for (const i of members) {
      const l = labelOf(i);
      let k = local.get(l);
      if (k === undefined) {
        k = ids.length;
        local.set(l, k);
        ids.push(l);
      }
      const x = (i % sx) - bb[0];
      const y = (((i / sx) | 0) % sy) - bb[1];
      const z = ((i / sxy) | 0) - bb[2];
      lab[x + s[0] * (y + s[1] * z)] = k;
    }
    const closeBorder = [0, 1, 2].flatMap((k) => [bb[k] > ownLo[k] || closeLo[k], bb[k + 3] < ownHi[k] || closeHi[k]]);
    const meshes = marchingCubesLabels(lab, s, ids.length - 1, { voxelSize: res, offset: [origin[0] + bb[0], origin[1] + bb[1], origin[2] + bb[2]], closeBorder });
    for (let k = 1; k < ids.length; k++) {
      const l = ids[k];
      out[l] = out[l] ? concatMeshes(out[l], meshes[k]) : meshes[k];
    }
  }
  return out;
}

/** Two meshes as one (vertices appended, no weld: each part is closed by itself); an empty part returns the other as is. */
function concatMeshes(a: Mesh, b: Mesh): Mesh {
  if (a.indices.length === 0) return b;
  if (b.indices.length === 0) return a;
  const nv = a.vertices.length / 3;
  const vertices = new Float32Array(a.vertices.length + b.vertices.length);
  vertices.set(a.vertices);
  vertices.set(b.vertices, a.vertices.length);
  const indices = new Uint32Array(a.indices.length + b.indices.length);
  indices.set(a.indices);
  for (let i = 0; i < b.indices.length; i++) indices[a.indices.length + i] = b.indices[i] + nv;
  return { vertices, indices };
}

/** Clamp vertex coordinates to at most `clampAt` per axis, weld and drop triangles that became degenerate. */
function clampMesh(m: Mesh, clampAt: number[]): Mesh {
  if (m.indices.length === 0) return m;
  let moved = false;
  const v = m.vertices;
  for (let i = 0; i < v.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      if (v[i + k] > clampAt[k]) {
        v[i + k] = clampAt[k];
        moved = true;
      }
    }
  }
  if (!moved) return m;
  const w = weldVertices(m);
  const idx = w.indices;
  let n = 0;
  for (let t = 0; t < idx.length; t += 3) {
    const a = idx[t], c = idx[t + 1], d = idx[t + 2];
    if (a === c || c === d || a === d) continue;
    idx[n++] = a;
    idx[n++] = c;
    idx[n++] = d;
  }
  return n === 0 ? emptyMesh() : { vertices: w.vertices, indices: idx.slice(0, n) };
}
