import { type Box, type Vec3, box, boxShape } from '../../core/box.js';
import type { DataType, TypedArrayOf } from '../../core/dtype.js';
import { WiringError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';

/**
 * Multiscale pyramids: the next scale of a layer is made by reducing each [fx, fy, fz] group of
 * voxels to one. Images take the mean (rounded to nearest for integer types), labels the mode
 * (ties go to the smallest id, so the result never depends on block size or traversal order).
 * Groups cut by the volume's upper bounds reduce over the voxels that exist.
 */

/**
 * Downsampling factor [x, y, z] for the next scale: halve the axes whose resolution is less than
 * twice the finest one, so anisotropic data (4,4,40 nm) first becomes isotropic
 * (8,8,40 -> 16,16,40 -> 32,32,40) and then shrinks on all axes (64,64,80).
 */
export function nextFactor(resolution: Vec3): Vec3 {
  const finest = Math.min(resolution[0], resolution[1], resolution[2]);
  return [0, 1, 2].map((i) => (resolution[i] < 2 * finest ? 2 : 1)) as unknown as Vec3;
}

/** The box at the coarser scale that covers `b` (integer division, rounding outward). */
export function downsampledBox(b: Box, factor: Vec3): Box {
  return box(
    [Math.floor(b.min[0] / factor[0]), Math.floor(b.min[1] / factor[1]), Math.floor(b.min[2] / factor[2])],
    [Math.ceil(b.max[0] / factor[0]), Math.ceil(b.max[1] / factor[1]), Math.ceil(b.max[2] / factor[2])],
  );
}

/** The box at the finer scale that one coarse box `b` reads, clipped to the finer bounds. */
export function upsampledBox(b: Box, factor: Vec3, fineBounds: Box): Box {
  return box(
    [0, 1, 2].map((i) => Math.max(b.min[i] * factor[i], fineBounds.min[i])) as unknown as Vec3,
    [0, 1, 2].map((i) => Math.min(b.max[i] * factor[i], fineBounds.max[i])) as unknown as Vec3,
  );
}

function checkAligned(vol: Volume, factor: Vec3): void {
  for (let i = 0; i < 3; i++) {
    if (!(Number.isInteger(factor[i]) && factor[i] >= 1)) {
      throw new WiringError(`downsampling factor [${factor}] must be whole numbers >= 1`);
    }
    if (vol.box.min[i] % factor[i] !== 0) {
      throw new WiringError(`block starts at ${'xyz'[i]}=${vol.box.min[i]}, not a multiple of the factor ${factor[i]}`);
    }
  }
}

/** Mean-reduce an image volume (any number of channels) by `factor`. */
export function downsampleMean<T extends DataType>(vol: Volume<T>, factor: Vec3): Volume<T> {
  checkAligned(vol, factor);
  if (vol.dtype === 'uint64') throw new WiringError('mean downsampling of uint64 is not defined; uint64 layers are labels (use mode)');
  const outBox = downsampledBox(vol.box, factor);
  const out = Volume.zeros(vol.dtype, outBox, {
    channels: vol.channels,
    voxelSize: [vol.voxelSize[0] * factor[0], vol.voxelSize[1] * factor[1], vol.voxelSize[2] * factor[2]],
  });
  const [sx, sy, sz] = vol.shape;
  const [ox, oy, oz] = out.shape;
  const [fx, fy, fz] = factor;
  const sums = new Float64Array(ox * oy * oz);
  const counts = new Float64Array(ox);
  const src = vol.data as unknown as ArrayLike<number>;
  const dst = out.data as unknown as { [i: number]: number };
  const integer = vol.dtype !== 'float32';
  for (let c = 0; c < vol.channels; c++) {
    sums.fill(0);
    for (let z = 0; z < sz; z++) {
      const zo = Math.floor(z / fz);
      for (let y = 0; y < sy; y++) {
        const rowOut = ox * (Math.floor(y / fy) + oy * zo);
        let i = sx * (y + sy * (z + sz * c));
        for (let x = 0; x < sx; x++, i++) sums[rowOut + Math.floor(x / fx)] += src[i];
      }
    }
    // Voxels per output group: full groups have fx*fy*fz, groups cut at the upper bounds fewer.
    for (let xo = 0; xo < ox; xo++) counts[xo] = Math.min(fx, sx - xo * fx);
    const base = c * ox * oy * oz;
    for (let zo = 0; zo < oz; zo++) {
      const nz = Math.min(fz, sz - zo * fz);
      for (let yo = 0; yo < oy; yo++) {
        const nyz = nz * Math.min(fy, sy - yo * fy);
        const row = ox * (yo + oy * zo);
        for (let xo = 0; xo < ox; xo++) {
          const mean = sums[row + xo] / (nyz * counts[xo]);
          dst[base + row + xo] = integer ? Math.round(mean) : mean;
        }
      }
    }
  }
  return out;
}

/** Mode-reduce a label volume (uint8..uint64, one channel) by `factor`; ties go to the smallest label. */
export function downsampleMode<T extends DataType>(vol: Volume<T>, factor: Vec3): Volume<T> {
  checkAligned(vol, factor);
  if (vol.channels !== 1) throw new WiringError(`label volumes have one channel, got ${vol.channels}`);
  const outBox = downsampledBox(vol.box, factor);
  const out = Volume.zeros(vol.dtype, outBox, {
    voxelSize: [vol.voxelSize[0] * factor[0], vol.voxelSize[1] * factor[1], vol.voxelSize[2] * factor[2]],
  });
  const [sx, sy, sz] = vol.shape;
  const [ox, oy, oz] = boxShape(outBox);
  const [fx, fy, fz] = factor;
  const src = vol.data as unknown as ArrayLike<number | bigint>;
  const dst = out.data as unknown as { [i: number]: number | bigint };
  const group = (Volume.zeros(vol.dtype, [fx * fy * fz, 1, 1]).data as TypedArrayOf<T>) as unknown as {
    [i: number]: number | bigint;
    subarray(a: number, b: number): { sort(): unknown };
  };
  for (let zo = 0; zo < oz; zo++) {
    const z1 = Math.min(sz, (zo + 1) * fz);
    for (let yo = 0; yo < oy; yo++) {
      const y1 = Math.min(sy, (yo + 1) * fy);
      for (let xo = 0; xo < ox; xo++) {
        const x1 = Math.min(sx, (xo + 1) * fx);
        let n = 0;
        for (let z = zo * fz; z < z1; z++)
          for (let y = yo * fy; y < y1; y++) {
            const row = sx * (y + sy * z);
            for (let x = xo * fx; x < x1; x++) group[n++] = src[row + x];
          }
        // Sorting a group of at most fx*fy*fz values makes runs; the longest run (first on ties,
        // i.e. the smallest label) is the mode.
        group.subarray(0, n).sort();
        let best = group[0];
        let bestRun = 0;
        for (let i = 0; i < n; ) {
          let j = i + 1;
          while (j < n && group[j] === group[i]) j++;
          if (j - i > bestRun) {
            bestRun = j - i;
            best = group[i];
          }
          i = j;
        }
        dst[xo + ox * (yo + oy * zo)] = best;
      }
    }
  }
  return out;
}
