/**
 * Blockwise meshing and skeletonization.
 *
 * Blocks share a one-voxel overlap: a block computes cubes / voxels over [box.min, box.max + 1)
 * (clipped to the volume), so the plane box.max is seen by both neighbours. Mesh vertices on that
 * plane are computed identically by both and weld by position (no cracks). Skeleton blocks anchor
 * one vertex per 2-D connected piece of every label on each shared plane (the piece's deepest
 * voxel by its in-plane distance transform, ties to the lowest index): both neighbours compute
 * the same anchors from the same plane, trace their skeletons through them, and the pieces weld.
 *
 * Per-block results go to binary files (one per block, written atomically) in a work folder; the
 * merge step groups them by segment id.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Box, Vec3 } from '../../core/box.js';
import { boxContains, boxShape, boxToString } from '../../core/box.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { FormatError, WiringError } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';
import { edtLabels } from '../../kernels/edt.js';
import { coarseMeshLabels, coarseMeshMargin, meshDownsampleFactor } from './coarse-mesh.js';
import { type Mesh, compactRegion, marchingCubesLabels } from './mesh.js';
import { type Skeleton, labelBoxes, skeletonizeLabels } from './skeleton.js';
import { type MeshPart, countAndBoxes, fineLabelMesh } from './small-full-res.js';

/** The block's voxels over [box.min, box.max + overlap) ∩ bounds (overlap: one voxel per axis by default), as compact labels. */
export function overlapLabels(vol: Volume, box: Box, bounds: Box, overlap: Vec3 = [1, 1, 1]): { labels: Uint32Array; ids: bigint[]; origin: Vec3; shape: Vec3 } {
  const hi: Vec3 = [0, 1, 2].map((i) => Math.min(box.max[i] + overlap[i], bounds.max[i], vol.box.max[i])) as unknown as Vec3;
  const region = { min: box.min, max: hi };
  const { labels, ids } = compactBox(vol, region);
  return { labels, ids, origin: region.min, shape: boxShape(region) };
}

/** Compact labels of the box `region` of a one-channel volume (compactRegion: no cropped copy; the same labels and ids as compactLabels of vol.crop(region)). */
export function compactBox(vol: Volume, region: Box): { labels: Uint32Array; ids: bigint[] } {
  if (!boxContains(vol.box, region)) throw new WiringError(`mesh block: region (${boxToString(region)}) is outside the volume (${boxToString(vol.box)})`);
  if (vol.channels !== 1) throw new WiringError(`mesh block: a segmentation has one channel, this volume ${vol.channels}`);
  const lo = [0, 1, 2].map((k) => region.min[k] - vol.box.min[k]) as unknown as Vec3;
  return compactRegion(vol.data as ArrayLike<number | bigint> & { length: number }, boxShape(vol.box), lo, boxShape(region));
}

// ------------------------------------------------------------------ block files

/** A block's mesh item: the segment id and its part (small-full-res.ts MeshPart: the mesh, and when counted, its voxels in the block and its full-resolution piece). */
export type MeshItem = { id: bigint } & MeshPart;

/** Marks the second layout of a mesh block section (the first began with the item count, never this large). */
const MESH_BLOCK_V2 = 0xfffffff2;

/**
 * Binary per-block mesh section: u32 0xfffffff2, u32 count, then per item: u64 id, f64 voxels in
 * the block (NaN: not counted), u32 vertices, u32 triangles, the arrays (f32 xyz, u32 triangles),
 * then u32 fine vertices, u32 fine triangles (0xffffffff, 0: no full-resolution piece) and its
 * arrays. Sections of the first layout (u32 count, then per item u64 id, u32 vertices, u32
 * triangles, the arrays) still decode.
 */
export function encodeMeshBlock(items: MeshItem[]): Uint8Array {
  let n = 8;
  for (const it of items) n += 8 + 8 + 8 + it.mesh.vertices.byteLength + it.mesh.indices.byteLength + 8 + (it.fine ? it.fine.vertices.byteLength + it.fine.indices.byteLength : 0);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MESH_BLOCK_V2, true);
  dv.setUint32(4, items.length, true);
  let o = 8;
  const put = (m: Mesh) => {
    out.set(new Uint8Array(m.vertices.buffer, m.vertices.byteOffset, m.vertices.byteLength), o);
    o += m.vertices.byteLength;
    out.set(new Uint8Array(m.indices.buffer, m.indices.byteOffset, m.indices.byteLength), o);
    o += m.indices.byteLength;
  };
  for (const it of items) {
    dv.setBigUint64(o, it.id, true);
    dv.setFloat64(o + 8, it.voxels ?? NaN, true);
    dv.setUint32(o + 16, it.mesh.vertices.length / 3, true);
    dv.setUint32(o + 20, it.mesh.indices.length / 3, true);
    o += 24;
    put(it.mesh);
    dv.setUint32(o, it.fine ? it.fine.vertices.length / 3 : 0xffffffff, true);
    dv.setUint32(o + 4, it.fine ? it.fine.indices.length / 3 : 0, true);
    o += 8;
    if (it.fine) put(it.fine);
  }
  return out;
}

/** Items in an encodeMeshBlock section from its first bytes (either layout). */
export function meshBlockItemCount(head: Uint8Array): number {
  if (head.length < 4) return 0;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const v2 = dv.getUint32(0, true) === MESH_BLOCK_V2;
  return v2 ? (head.length >= 8 ? dv.getUint32(4, true) : 0) : dv.getUint32(0, true);
}

export function decodeMeshBlock(bytes: Uint8Array, where: string): MeshItem[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: MeshItem[] = [];
  let o = 0;
  const take = (nv: number, nt: number): Mesh => {
    const vertices = new Float32Array(bytes.slice(o, o + nv * 12).buffer);
    o += nv * 12;
    const indices = new Uint32Array(bytes.slice(o, o + nt * 12).buffer);
    o += nt * 12;
    if (vertices.length !== nv * 3 || indices.length !== nt * 3) throw new RangeError('short');
    return { vertices, indices };
  };
  try {
    const v2 = dv.getUint32(0, true) === MESH_BLOCK_V2;
    const n = dv.getUint32(v2 ? 4 : 0, true);
    o = v2 ? 8 : 4;
    for (let i = 0; i < n; i++) {
      const id = dv.getBigUint64(o, true);
      if (!v2) {
        const nv = dv.getUint32(o + 8, true);
        const nt = dv.getUint32(o + 12, true);
        o += 16;
        out.push({ id, mesh: take(nv, nt) });
        continue;
      }
      const voxels = dv.getFloat64(o + 8, true);
      const nv = dv.getUint32(o + 16, true);
      const nt = dv.getUint32(o + 20, true);
      o += 24;
      const item: MeshItem = { id, mesh: take(nv, nt) };
      if (!Number.isNaN(voxels)) item.voxels = voxels;
      const fv = dv.getUint32(o, true);
      const ft = dv.getUint32(o + 4, true);
      o += 8;
      if (fv !== 0xffffffff) item.fine = take(fv, ft);
      out.push(item);
    }
  } catch (err) {
    if (err instanceof RangeError) throw new FormatError('truncated mesh block file', where);
    throw err;
  }
  return out;
}

/** Items in an encodeSkeletonBlock section from its first bytes (a uint32 count first). */
export function skeletonBlockItemCount(head: Uint8Array): number {
  return head.length >= 4 ? new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) : 0;
}

export function encodeSkeletonBlock(items: Array<{ id: bigint; skel: Skeleton }>): Uint8Array {
  let n = 4;
  for (const it of items) n += 16 + it.skel.vertices.byteLength + it.skel.edges.byteLength + it.skel.radius.byteLength;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, items.length, true);
  let o = 4;
  const put = (a: Float32Array | Uint32Array) => {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += a.byteLength;
  };
  for (const it of items) {
    dv.setBigUint64(o, it.id, true);
    dv.setUint32(o + 8, it.skel.radius.length, true);
    dv.setUint32(o + 12, it.skel.edges.length / 2, true);
    o += 16;
    put(it.skel.vertices);
    put(it.skel.edges);
    put(it.skel.radius);
  }
  return out;
}

export function decodeSkeletonBlock(bytes: Uint8Array, where: string): Array<{ id: bigint; skel: Skeleton }> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Array<{ id: bigint; skel: Skeleton }> = [];
  try {
    const n = dv.getUint32(0, true);
    let o = 4;
    for (let i = 0; i < n; i++) {
      const id = dv.getBigUint64(o, true);
      const nv = dv.getUint32(o + 8, true);
      const ne = dv.getUint32(o + 12, true);
      o += 16;
      const vertices = new Float32Array(bytes.slice(o, o + nv * 12).buffer);
      o += nv * 12;
      const edges = new Uint32Array(bytes.slice(o, o + ne * 8).buffer);
      o += ne * 8;
      const radius = new Float32Array(bytes.slice(o, o + nv * 4).buffer);
      o += nv * 4;
      if (vertices.length !== nv * 3 || edges.length !== ne * 2 || radius.length !== nv) throw new RangeError('short');
      out.push({ id, skel: { vertices, edges, radius } });
    }
  } catch (err) {
    if (err instanceof RangeError) throw new FormatError('truncated skeleton block file', where);
    throw err;
  }
  return out;
}

export function blockFileName(blockIndex: Vec3): string {
  return `${blockIndex[0]}_${blockIndex[1]}_${blockIndex[2]}.bin`;
}

export async function listBlockFiles(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((f) => /^\d+_\d+_\d+\.bin$/.test(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------ meshes

export interface MeshBlockOptions {
  voxelSize: Vec3;
  /** The volume's bounds: surfaces close on these faces and stay open on interior block faces. */
  bounds: Box;
  /**
   * Merge flat z-quads (marchingCubesLabels' `mergeFlat`) without crossing the lod-0 octree cells
   * of this many voxels per axis (`lod0CellVoxels`; cells start half a voxel before bounds.min,
   * as finishMeshes lays them). Absent: the plain marching-cubes mesh.
   */
  mergeFlatCell?: Vec3;
  /**
   * Mesh at a coarser scale: mode-downsample the labels by this factor per axis (powers of two;
   * coarse-mesh.ts) and mesh the coarse grid, vertices still in nm; thin parts the coarse grid
   * loses are meshed at full resolution (`thinPatches`). The block's corners must lie on the coarse
   * grid from bounds.min, and `vol` must reach at least one coarse voxel past the block; with three
   * around it (the task's margin, coarseMeshMargin) the result does not depend on the blocking.
   * Absent or [1,1,1]: full resolution. Not combined with `mergeFlatCell`.
   */
  downsample?: Vec3;
  /**
   * With `downsample`: mesh the thin parts the coarse grid loses at full resolution (coarse-mesh.ts
   * thinPatches; default true). False: only segments without a coarse voxel near them.
   */
  thinPatches?: boolean;
  /**
   * With `downsample`: mesh the cavities the mode vote fills at full resolution, turned inside out
   * into the segment that filled them (coarse-mesh.ts cavityVoxels; default: `thinPatches`).
   */
  cavities?: boolean;
  /**
   * With `downsample`: segments with fewer voxels than this in total are meshed at full resolution
   * (small-full-res.ts): each item also carries the segment's voxels in the block's own box and,
   * when below this, its full-resolution mesh over the block's one-voxel overlap (`fine`); the
   * finishing step chooses by the total (chooseSegmentMesh). Absent or 0: coarse only.
   */
  smallVoxels?: number;
  /** With `downsample`: partial-volume vertex placement on the coarse grid (partial-volume.ts; default false here, planMesh passes MESH_DEFAULTS.partialVolume). */
  partialVolume?: boolean;
  /** With partialVolume: the largest move in coarse voxels (default partial-volume.ts PV_REACH). */
  partialVolumeReach?: number;
  /** With partialVolume: no vertex farther from a boundary crossing it stands for than the coarse face (default true; false: the mean alone, for comparison). */
  partialVolumeWithin?: boolean;
}

/** The lod-0 octree cell in voxels per axis: `fragmentVoxels` of the finest axis, the same length in nm on the others. */
export function lod0CellVoxels(voxelSize: Vec3, fragmentVoxels: number): Vec3 {
  const finest = Math.min(...voxelSize);
  return voxelSize.map((r) => Math.max(1, Math.round((fragmentVoxels * finest) / r))) as unknown as Vec3;
}

/** Meshes of every segment in one block (with the one-voxel overlap), vertices in nm. */
export function meshBlock(vol: Volume, box: Box, opts: MeshBlockOptions): MeshItem[] {
  const f = opts.downsample;
  if (f && f.some((x) => x !== 1)) {
    if (opts.mergeFlatCell) throw new WiringError('mesh block: flat-quad merging and downsampling cannot be combined');
    // the read region: up to two coarse voxels around the block (coarseMeshMargin), on the coarse grid
    const m = coarseMeshMargin(f);
    const b = opts.bounds;
    const lo = [0, 1, 2].map((i) => {
      const want = Math.max(box.min[i] - m[i], b.min[i]);
      // the nearest coarse-grid plane at or above what vol holds
      return want >= vol.box.min[i] ? want : Math.min(box.min[i], b.min[i] + Math.ceil((vol.box.min[i] - b.min[i]) / f[i]) * f[i]);
    }) as unknown as Vec3;
    const hi = [0, 1, 2].map((i) => Math.min(box.max[i] + m[i], b.max[i], vol.box.max[i])) as unknown as Vec3;
    const region = { min: lo, max: hi };
    const { labels, ids } = compactBox(vol, region);
    const shape = boxShape(region);
    const { meshes } = coarseMeshLabels({ labels, maxLabel: ids.length - 1, origin: lo, shape, boxMin: box.min, boxMax: box.max, bounds: b, voxelSize: opts.voxelSize, factor: f, thinPatches: opts.thinPatches, cavities: opts.cavities, partialVolume: opts.partialVolume, partialVolumeReach: opts.partialVolumeReach, partialVolumeWithin: opts.partialVolumeWithin });
    const small = opts.smallVoxels ?? 0;
    const out: MeshItem[] = [];
    if (!(small > 0)) {
      for (let l = 1; l < ids.length; l++) if (meshes[l].indices.length > 0) out.push({ id: ids[l], mesh: meshes[l] });
      return out;
    }
    // small segments: each block's count in its own box, and the full-resolution piece over the
    // one-voxel overlap region [box.min, box.max + 1) (the full-resolution path's region) where small
    const ownLo = box.min.map((m, k) => m - lo[k]) as unknown as Vec3;
    const ownHi = box.max.map((m, k) => Math.min(m, b.max[k]) - lo[k]) as unknown as Vec3;
    const fineHi = box.max.map((m, k) => Math.min(m + 1, b.max[k], hi[k]) - lo[k]) as unknown as Vec3;
    const closeLo = [0, 1, 2].map((k) => box.min[k] === b.min[k]);
    const closeHi = [0, 1, 2].map((k) => fineHi[k] + lo[k] === b.max[k]);
    const { counts, boxes } = countAndBoxes(labels, shape, ids.length - 1, ownLo, ownHi, fineHi);
    for (let l = 1; l < ids.length; l++) {
      const voxels = counts[l];
      const fine = voxels < small ? fineLabelMesh(labels, shape, l, boxes.subarray(6 * l, 6 * l + 6), ownLo, fineHi, closeLo, closeHi, lo, opts.voxelSize) : undefined;
      if (meshes[l].indices.length === 0 && !(fine && fine.indices.length > 0)) continue;
      out.push(fine ? { id: ids[l], mesh: meshes[l], voxels, fine } : { id: ids[l], mesh: meshes[l], voxels });
    }
    return out;
  }
  const { labels, ids, origin, shape } = overlapLabels(vol, box, opts.bounds);
  const b = opts.bounds;
  const hi = [0, 1, 2].map((i) => origin[i] + shape[i]);
  const closeBorder = [origin[0] === b.min[0], hi[0] === b.max[0], origin[1] === b.min[1], hi[1] === b.max[1], origin[2] === b.min[2], hi[2] === b.max[2]];
  // octree cell faces lie on the voxel-centre planes bounds.min - 1 + k * cell (finishMeshes' lattice)
  const mergeFlat = opts.mergeFlatCell && { cell: opts.mergeFlatCell, origin: b.min.map((m) => m - 1) as unknown as Vec3 };
  const meshes = marchingCubesLabels(labels, shape, ids.length - 1, { voxelSize: opts.voxelSize, offset: origin, closeBorder, mergeFlat });
  const out: MeshItem[] = [];
  for (let l = 1; l < ids.length; l++) if (meshes[l].indices.length > 0) out.push({ id: ids[l], mesh: meshes[l] });
  return out;
}

// ------------------------------------------------------------------ skeletons

/**
 * Anchors on a plane: for each 8-connected piece of each label, the voxel with the largest
 * in-plane distance to another label (ties: lowest index). Plane is [w, h] row-major (u fastest).
 */
export function planeAnchors(plane: Uint32Array, w: number, h: number, sampling: [number, number]): number[] {
  const d = edtLabels(plane, [w, h, 1], { sampling: [sampling[0], sampling[1], 1] });
  const seen = new Uint8Array(w * h);
  const queue = new Int32Array(w * h);
  const anchors: number[] = [];
  for (let s = 0; s < w * h; s++) {
    const L = plane[s];
    if (L === 0 || seen[s]) continue;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    seen[s] = 1;
    let best = s;
    while (head < tail) {
      const p = queue[head++];
      if (d[p] > d[best] || (d[p] === d[best] && p < best)) best = p;
      const u = p % w;
      const v = (p - u) / w;
      for (let dv = -1; dv <= 1; dv++) {
        const vv = v + dv;
        if (vv < 0 || vv >= h) continue;
        for (let du = -1; du <= 1; du++) {
          const uu = u + du;
          if (uu < 0 || uu >= w) continue;
          const q = uu + w * vv;
          if (!seen[q] && plane[q] === L) {
            seen[q] = 1;
            queue[tail++] = q;
          }
        }
      }
    }
    anchors.push(best);
  }
  return anchors;
}

export interface SkeletonBlockOptions {
  voxelSize: Vec3;
  bounds: Box;
  scale?: number;
  const?: number;
  minVoxels?: number;
  /**
   * Skeletonize on every step-th voxel per axis (the voxels g with (g - bounds.min) % step = 0),
   * default [1,1,1]: the full grid. Block corners must lie on that grid (every block of the
   * stage's grid then samples the same planes, so anchors on shared planes still agree).
   * Vertices stay centres of sampled voxels; a label with no sampled voxel in the block is
   * skeletonized on the full grid. See `skeletonSampleStep`.
   */
  sampleStep?: Vec3;
}

/**
 * Skeletons of every segment in one block (one-voxel overlap, anchors on the planes shared with
 * neighbouring blocks). The volume's own border counts as the objects' end; interior faces do not.
 */
export function skeletonBlock(vol: Volume, box: Box, opts: SkeletonBlockOptions): Array<{ id: bigint; skel: Skeleton }> {
  const { labels, ids, origin, shape } = overlapLabels(vol, box, opts.bounds);
  const step = opts.sampleStep ?? [1, 1, 1];
  const b = opts.bounds;
  if (step.every((s) => s === 1)) {
    const skels = skeletonGrid(labels, shape, ids.length - 1, { origin, crop: shape, step, box, opts });
    const out: Array<{ id: bigint; skel: Skeleton }> = [];
    for (let l = 1; l < ids.length; l++) if (skels[l].radius.length > 0) out.push({ id: ids[l], skel: skels[l] });
    return out;
  }
  for (let k = 0; k < 3; k++) {
    const s = step[k];
    if (!(Number.isInteger(s) && s >= 1)) throw new WiringError(`skeleton sample step [${step}]: expected integers >= 1`);
    if ((box.min[k] - b.min[k]) % s !== 0 || (box.max[k] < b.max[k] && (box.max[k] - b.min[k]) % s !== 0)) {
      throw new WiringError(`skeleton block [${box.min}]-[${box.max}] does not lie on the sample grid of step [${step}] from [${b.min}]`);
    }
  }
  // the sampled grid: crop index i = step * c (block corners lie on the grid)
  const [sx, sy, sz] = shape;
  const cs: Vec3 = [Math.ceil(sx / step[0]), Math.ceil(sy / step[1]), Math.ceil(sz / step[2])];
  const coarse = new Uint32Array(cs[0] * cs[1] * cs[2]);
  const seen = new Uint8Array(ids.length);
  let o = 0;
  for (let z = 0; z < cs[2]; z++)
    for (let y = 0; y < cs[1]; y++) {
      const row = sx * (step[1] * y + sy * step[2] * z);
      for (let x = 0; x < cs[0]; x++, o++) {
        const l = labels[row + step[0] * x];
        coarse[o] = l;
        seen[l] = 1;
      }
    }
  const voxels = step[0] * step[1] * step[2];
  const skels = skeletonGrid(coarse, cs, ids.length - 1, {
    origin,
    crop: shape,
    step,
    box,
    opts: { ...opts, minVoxels: opts.minVoxels === undefined ? undefined : Math.max(1, Math.ceil(opts.minVoxels / voxels)) },
  });
  // labels without a sampled voxel here (thin pieces): the full grid, each label alone on its
  // bounding box grown by one voxel (clipped to the block). That box holds the label's nearest
  // voxel of any other label (the clamp of any outside voxel to the box is on its one-voxel shell,
  // which is not the label, and no farther), so its distances, plane anchors and TEASAR are those
  // of the whole block with the other labels masked out, at the cost of its box only.
  let anyMissing = false;
  for (let l = 1; l < ids.length && !anyMissing; l++) if (!seen[l]) anyMissing = true;
  if (anyMissing) {
    const bb = labelBoxes(labels, shape, ids.length - 1);
    for (let l = 1; l < ids.length; l++) {
      if (seen[l] || bb[6 * l] > bb[6 * l + 3]) continue;
      const lo = [0, 1, 2].map((k) => Math.max(0, bb[6 * l + k] - 1));
      const hi = [0, 1, 2].map((k) => Math.min(shape[k], bb[6 * l + 3 + k] + 2));
      const cs = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]] as unknown as Vec3;
      const sub = new Uint32Array(cs[0] * cs[1] * cs[2]);
      let o = 0;
      for (let z = lo[2]; z < hi[2]; z++)
        for (let y = lo[1]; y < hi[1]; y++) {
          const row = shape[0] * (y + shape[1] * z);
          for (let x = lo[0]; x < hi[0]; x++, o++) sub[o] = labels[row + x] === l ? 1 : 0;
        }
      // the box's faces are the block's shared faces only where it reaches them
      const faces = { lo: [0, 1, 2].map((k) => lo[k] === 0), hi: [0, 1, 2].map((k) => hi[k] === shape[k]) };
      const cropOrigin = [origin[0] + lo[0], origin[1] + lo[1], origin[2] + lo[2]] as unknown as Vec3;
      skels[l] = skeletonGrid(sub, cs, 1, { origin: cropOrigin, crop: cs, step: [1, 1, 1], box, opts, faces })[1];
    }
  }
  const out: Array<{ id: bigint; skel: Skeleton }> = [];
  for (let l = 1; l < ids.length; l++) if (skels[l].radius.length > 0) out.push({ id: ids[l], skel: skels[l] });
  return out;
}

/**
 * TEASAR on a block's grid (the crop itself, or its sample of `step`): background padding on the
 * volume's own faces, anchors on the planes shared with neighbours, vertices in nm at the centres
 * of the grid's voxels (global position origin + step * index).
 */
function skeletonGrid(
  labels: Uint32Array,
  shape: Vec3,
  maxLabel: number,
  g: {
    origin: Vec3;
    crop: Vec3;
    step: Vec3;
    box: Box;
    opts: SkeletonBlockOptions;
    /** For a part of the block's grid: which of its low / high planes per axis are the block's own faces (default: all). */
    faces?: { lo: boolean[]; hi: boolean[] };
  },
): Skeleton[] {
  const { origin, crop, step, box, opts } = g;
  const faces = g.faces ?? { lo: [true, true, true], hi: [true, true, true] };
  const [sx, sy, sz] = shape;
  const b = opts.bounds;
  const res = opts.voxelSize;
  const unit = step[0] === 1 && step[1] === 1 && step[2] === 1;
  const gres: Vec3 = [res[0] * step[0], res[1] * step[1], res[2] * step[2]];
  // Pad with a background layer on the sides that are the volume's border, so the distance
  // transform (run with the array border "open") sees those sides as the objects' end.
  const padLo = [origin[0] === b.min[0] ? 1 : 0, origin[1] === b.min[1] ? 1 : 0, origin[2] === b.min[2] ? 1 : 0];
  // (the crop reaches the volume's end: its last grid plane is the volume's last sampled one)
  const padHi = [0, 1, 2].map((k) => (origin[k] + crop[k] === b.max[k] ? 1 : 0));
  const px = sx + padLo[0] + padHi[0], py = sy + padLo[1] + padHi[1], pz = sz + padLo[2] + padHi[2];
  const padded = new Uint32Array(px * py * pz);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++) {
      const s = sx * (y + sy * z);
      padded.set(labels.subarray(s, s + sx), padLo[0] + px * (y + padLo[1] + py * (z + padLo[2])));
    }
  const at = (x: number, y: number, z: number) => x + padLo[0] + px * (y + padLo[1] + py * (z + padLo[2]));
  // anchors on shared planes: low faces (plane = origin, shared with the previous block's overlap)
  // and high faces (the overlap plane), on axes where a neighbour exists
  const forced = new Map<number, number[]>();
  const addAnchor = (idx: number) => {
    const L = padded[idx];
    let a = forced.get(L);
    if (!a) forced.set(L, (a = []));
    a.push(idx);
  };
  const dims = [sx, sy, sz];
  for (let axis = 0; axis < 3; axis++) {
    const u = axis === 0 ? 1 : 0;
    const v = axis === 2 ? 1 : 2;
    const w = dims[u];
    const h = dims[v];
    const sides: number[] = [];
    if (faces.lo[axis] && origin[axis] > b.min[axis]) sides.push(0);
    // the crop then ends with the overlap plane box.max, which the next block sees as its first
    // (the block's own grid has more than one plane on this axis when the part starts inside it)
    const blockDims = faces.lo[axis] ? dims[axis] : 2;
    if (faces.hi[axis] && box.max[axis] < b.max[axis] && blockDims > 1) sides.push(dims[axis] - 1);
    for (const k of sides) {
      const plane = new Uint32Array(w * h);
      const p: number[] = [0, 0, 0];
      for (let j = 0; j < h; j++)
        for (let i = 0; i < w; i++) {
          p[axis] = k;
          p[u] = i;
          p[v] = j;
          plane[i + w * j] = labels[p[0] + sx * (p[1] + sy * p[2])];
        }
      for (const a of planeAnchors(plane, w, h, [gres[u], gres[v]])) {
        p[axis] = k;
        p[u] = a % w;
        p[v] = Math.floor(a / w);
        addAnchor(at(p[0], p[1], p[2]));
      }
    }
  }
  const skels = skeletonizeLabels(padded, [px, py, pz], maxLabel, {
    voxelSize: gres,
    offset: unit ? [origin[0] - padLo[0], origin[1] - padLo[1], origin[2] - padLo[2]] : [-padLo[0], -padLo[1], -padLo[2]],
    borderIsBoundary: false,
    forcedTargets: forced,
    scale: opts.scale,
    const: opts.const,
    minVoxels: opts.minVoxels,
  });
  if (!unit) {
    // grid index -> the sampled voxel's global centre, computed as the full grid computes it, so
    // neighbouring blocks place a shared vertex bit for bit the same
    for (const s of skels) {
      const V = s.vertices;
      for (let i = 0; i < V.length; i += 3)
        for (let k = 0; k < 3; k++) {
          const c = Math.round(V[i + k] / gres[k] - 0.5);
          V[i + k] = (origin[k] + step[k] * c + 0.5) * res[k];
        }
    }
  }
  return skels;
}

/**
 * The default sample step of the skeleton stage for a voxel size: 2 along axes at most half as
 * long as the longest axis (8x8x30 nm -> [2,2,1], 16x16x30 nm voxels; isotropic -> [1,1,1]),
 * capped by `maxStep`, and 1 where the block shape is not a multiple of it (blocks must start on
 * the sample grid).
 */
export function skeletonSampleStep(voxelSize: Vec3, blockShape: Vec3, maxStep: number): Vec3 {
  // the same rule as the meshes' downsampling factor
  return meshDownsampleFactor(voxelSize, blockShape, maxStep);
}

/**
 * Merge skeleton pieces of one segment: concatenate, weld bit-identical vertex positions
 * (keeping the larger radius), drop duplicate and self edges.
 */
export function mergeSkeletons(parts: Skeleton[]): Skeleton {
  const pos = new Map<string, number>();
  const vx: number[] = [];
  const vr: number[] = [];
  const edgeSet = new Set<string>();
  const edges: number[] = [];
  for (const s of parts) {
    const remap = new Int32Array(s.radius.length);
    for (let i = 0; i < s.radius.length; i++) {
      const key = `${s.vertices[3 * i]},${s.vertices[3 * i + 1]},${s.vertices[3 * i + 2]}`;
      let id = pos.get(key);
      if (id === undefined) {
        id = vr.length;
        pos.set(key, id);
        vx.push(s.vertices[3 * i], s.vertices[3 * i + 1], s.vertices[3 * i + 2]);
        vr.push(s.radius[i]);
      } else if (s.radius[i] > vr[id]) vr[id] = s.radius[i];
      remap[i] = id;
    }
    for (let e = 0; e < s.edges.length; e += 2) {
      let a = remap[s.edges[e]];
      let c = remap[s.edges[e + 1]];
      if (a === c) continue;
      if (a > c) [a, c] = [c, a];
      const key = `${a},${c}`;
      if (edgeSet.has(key)) continue;
      edgeSet.add(key);
      edges.push(a, c);
    }
  }
  return { vertices: Float32Array.from(vx), edges: Uint32Array.from(edges), radius: Float32Array.from(vr) };
}

export async function writeBlockFile(dir: string, blockIndex: Vec3, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, blockFileName(blockIndex));
  await writeFileAtomic(file, bytes);
  return file;
}
