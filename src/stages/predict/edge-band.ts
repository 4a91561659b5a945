/**
 * Edge-band sampling (`TrainOptions.edgeBand`): labelled voxels within `width` voxels of a voxel of
 * another labelled class (the ambiguous band on both sides of a label edge: where the labeller's
 * line and the membrane's blur disagree) are drawn as training samples at the fraction `keep` of
 * the rate of the other voxels of their class (0: left out), or the others at `outside` (the band
 * then sampled more often than the rest). The choice of which band voxels stay
 * is a seeded hash of the voxel's global position, so it does not depend on how the labels are
 * read in blocks. Only the training samples change: calibration, the output smoothing choice and
 * object rules are still fitted on every labelled voxel.
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { fmix32 } from '../../core/hash.js';

export interface EdgeBand {
  /** band half-width in voxels (Euclidean, in x-y for 2-D features, x-y-z for 3-D) */
  width: number;
  /** fraction of the band's voxels kept as candidates for sampling, 0..1 */
  keep: number;
  /** fraction of the other labelled voxels kept, 0..1 (default 1; below 1 the band is sampled at 1 / outside times their rate) */
  outside?: number;
}

/** Widest band accepted (voxels). */
export const MAX_EDGE_BAND_WIDTH = 4;

/**
 * The band of `train-pixels --edge-weight w --edge-width r`: the band's voxels sampled at w times the
 * rate of the rest (w > 1: the rest thinned to 1/w; w < 1: the band to w; 1: none).
 */
export function edgeBandOf(weight: number, width: number): EdgeBand | undefined {
  if (!(Number.isFinite(weight) && weight >= 0)) throw new UsageError(`edge weight: expected a number >= 0, got ${weight}`);
  if (weight === 1) return undefined;
  const e = weight > 1 ? { width, keep: 1, outside: 1 / weight } : { width, keep: weight };
  checkEdgeBand(e);
  return e;
}

export function checkEdgeBand(e: EdgeBand): void {
  if (!(Number.isFinite(e.width) && e.width > 0 && e.width <= MAX_EDGE_BAND_WIDTH)) throw new UsageError(`edge band: width must be in (0, ${MAX_EDGE_BAND_WIDTH}] voxels, got ${e.width}`);
  if (!(Number.isFinite(e.keep) && e.keep >= 0 && e.keep <= 1)) throw new UsageError(`edge band: keep must be in 0..1, got ${e.keep}`);
  const o = e.outside ?? 1;
  if (!(Number.isFinite(o) && o > 0 && o <= 1)) throw new UsageError(`edge band: outside must be in (0, 1], got ${o}`);
}

/** Voxels of halo a block of labels needs around it to find its band exactly. */
export function edgeBandHalo(e: EdgeBand, dims: 2 | 3): Vec3 {
  const r = Math.floor(e.width);
  return [r, r, dims === 3 ? r : 0];
}

/** Offsets (dx, dy, dz) within Euclidean distance `width` (the centre excluded). */
function offsets(width: number, dims: 2 | 3): Array<[number, number, number]> {
  const r = Math.floor(width);
  const rz = dims === 3 ? r : 0;
  const out: Array<[number, number, number]> = [];
  for (let dz = -rz; dz <= rz; dz++) {
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if ((dx || dy || dz) && dx * dx + dy * dy + dz * dz <= width * width + 1e-9) out.push([dx, dy, dz]);
      }
    }
  }
  return out;
}

/** 32-bit mix of (seed, global voxel position) to [0, 1). */
function hash01(seed: number, x: number, y: number, z: number): number {
  const fmix = (v: number): number => fmix32(v | 0);
  let h = fmix(seed ^ 0x9e3779b9);
  h = fmix(h ^ x);
  h = fmix((h + 0x6b43a9b5) ^ y);
  h = fmix((h + 0x27d4eb2f) ^ z);
  return (h >>> 0) / 4294967296;
}

/**
 * Class ids for sampling: `ids` (over `shape`, a block grown by `edgeBandHalo`; -1 unlabelled) with
 * the band voxels that are not kept set to -1, cropped to the inner box `[lo, lo + inner)`. `origin`
 * is the global position of ids' first voxel (for the seeded hash). Voxels outside `shape` count as
 * unlabelled (a label edge at the volume's face is no edge).
 */
export function edgeBandIds(ids: Int16Array, shape: Vec3, lo: Vec3, inner: Vec3, origin: Vec3, e: EdgeBand, dims: 2 | 3, seed: number): Int16Array {
  const [sx, sy, sz] = shape;
  const offs = offsets(e.width, dims);
  const outside = e.outside ?? 1;
  const out = new Int16Array(inner[0] * inner[1] * inner[2]);
  for (let z = 0, o = 0; z < inner[2]; z++) {
    const gz = z + lo[2];
    for (let y = 0; y < inner[1]; y++) {
      const gy = y + lo[1];
      for (let x = 0; x < inner[0]; x++, o++) {
        const gx = x + lo[0];
        const id = ids[gx + sx * (gy + sy * gz)];
        out[o] = id;
        if (id < 0) continue;
        let band = false;
        for (const [dx, dy, dz] of offs) {
          const nx = gx + dx, ny = gy + dy, nz = gz + dz;
          if (nx < 0 || ny < 0 || nz < 0 || nx >= sx || ny >= sy || nz >= sz) continue;
          const v = ids[nx + sx * (ny + sy * nz)];
          if (v >= 0 && v !== id) { band = true; break; }
        }
        const keep = band ? e.keep : outside;
        if (keep < 1 && !(keep > 0 && hash01(seed, origin[0] + gx, origin[1] + gy, origin[2] + gz) < keep)) out[o] = -1;
      }
    }
  }
  return out;
}
