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
 * A segment that wins no coarse voxel in a block (a small or thin piece) would lose its mesh there;
 * its voxels inside the block's own box are meshed at full resolution instead, closed on the box's
 * faces. That keeps every segment meshed and every mesh closed: such a segment has no coarse voxel
 * in the block's coarse region, which includes the first coarse plane of each upper neighbour, so
 * the neighbours' coarse pieces of it are closed there too.
 */
import type { Vec3 } from '../../core/box.js';
import { WiringError } from '../../core/errors.js';
import { type Mesh, emptyMesh, marchingCubesLabels, weldVertices } from './mesh.js';

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
}

/**
 * Meshes of every compact label of one block at the coarse scale, plus the full-resolution
 * fallback for labels without a coarse voxel in the block (see the file comment). The read region
 * must start at the block's own corner and reach one coarse voxel past its upper corner (or the
 * volume's border). Returns one mesh per compact label (entry 0 empty) and how many labels fell back.
 */
export function coarseMeshLabels(inp: CoarseBlockInput): { meshes: Mesh[]; fallback: number } {
  const { labels, maxLabel, origin, shape, bounds, voxelSize: res, factor: f } = inp;
  checkFactor(f);
  const b = bounds;
  const hi = [0, 1, 2].map((k) => origin[k] + shape[k]);
  for (let k = 0; k < 3; k++) {
    if ((origin[k] - b.min[k]) % f[k] !== 0 || (inp.boxMax[k] < b.max[k] && (inp.boxMax[k] - b.min[k]) % f[k] !== 0)) {
      throw new WiringError(`mesh block [${inp.boxMin}]-[${inp.boxMax}] does not lie on the coarse grid of factor [${f}] from [${b.min}]`);
    }
    if (hi[k] < Math.min(inp.boxMax[k] + f[k], b.max[k])) {
      throw new WiringError(`mesh block [${inp.boxMin}]-[${inp.boxMax}]: read region ends at ${hi[k]} on axis ${k}, expected one coarse voxel (${f[k]}) past the block`);
    }
  }
  const coarse = modeDownsample(labels, shape, f);
  const closeBorder = [origin[0] === b.min[0], hi[0] === b.max[0], origin[1] === b.min[1], hi[1] === b.max[1], origin[2] === b.min[2], hi[2] === b.max[2]];
  const cres = res.map((r, k) => r * f[k]) as unknown as Vec3;
  const meshes = marchingCubesLabels(coarse.labels, coarse.shape, maxLabel, {
    voxelSize: cres,
    offset: origin.map((o, k) => o / f[k]) as unknown as Vec3,
    closeBorder,
  });
  // a partial coarse voxel at the volume's upper face: close it on the face, not beyond
  const clampAt = [0, 1, 2].map((k) => (hi[k] === b.max[k] && (b.max[k] - b.min[k]) % f[k] !== 0 ? b.max[k] * res[k] : Infinity));
  if (clampAt.some((c) => c < Infinity)) {
    for (let l = 1; l <= maxLabel; l++) meshes[l] = clampMesh(meshes[l], clampAt);
  }
  // labels with voxels in the block's own box but no coarse voxel in its coarse region
  const hasCoarse = new Uint8Array(maxLabel + 1);
  for (let i = 0; i < coarse.labels.length; i++) hasCoarse[coarse.labels[i]] = 1;
  const own = [0, 1, 2].map((k) => Math.min(inp.boxMax[k], b.max[k]) - origin[k]);
  // bounding box of each lost label's voxels in the own box: [x0, y0, z0, x1, y1, z1] (exclusive)
  const lost = new Map<number, number[]>();
  for (let z = 0; z < own[2]; z++) {
    for (let y = 0; y < own[1]; y++) {
      const row = shape[0] * (y + shape[1] * z);
      for (let x = 0; x < own[0]; x++) {
        const l = labels[row + x];
        if (l === 0 || hasCoarse[l]) continue;
        const bb = lost.get(l);
        if (!bb) lost.set(l, [x, y, z, x + 1, y + 1, z + 1]);
        else {
          if (x < bb[0]) bb[0] = x;
          if (y < bb[1]) bb[1] = y;
          if (x >= bb[3]) bb[3] = x + 1;
          if (y >= bb[4]) bb[4] = y + 1;
          bb[5] = z + 1;
        }
      }
    }
  }
  // each lost label alone over its bounding box, closed all round (nothing of it lies outside)
  for (const [l, bb] of lost) {
    const s: Vec3 = [bb[3] - bb[0], bb[4] - bb[1], bb[5] - bb[2]];
    const sub = new Uint32Array(s[0] * s[1] * s[2]);
    for (let z = 0; z < s[2]; z++) {
      for (let y = 0; y < s[1]; y++) {
        const row = bb[0] + shape[0] * (bb[1] + y + shape[1] * (bb[2] + z));
        const o = s[0] * (y + s[1] * z);
        for (let x = 0; x < s[0]; x++) if (labels[row + x] === l) sub[o + x] = 1;
      }
    }
    const offset: Vec3 = [origin[0] + bb[0], origin[1] + bb[1], origin[2] + bb[2]];
    meshes[l] = marchingCubesLabels(sub, s, 1, { voxelSize: res, offset, closeBorder: true })[1];
  }
  const nLost = lost.size;
  return { meshes, fallback: nLost };
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
