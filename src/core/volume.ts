import { type Box, type Vec3, boxContains, boxFromShape, boxIntersect, boxIsEmpty, boxShape, boxToString } from './box.js';
import { type DataType, type TypedArrayOf, allocate, dataTypeOf } from './dtype.js';
import { WiringError } from './errors.js';

/**
 * A block of voxels in memory. Shapes and positions are [x, y, z]; x varies fastest;
 * channels are slowest: index = x + sx * (y + sy * (z + sz * c)).
 * `box` is where the block sits in the volume's voxel grid (half-open, voxels);
 * `voxelSize` is nanometres per voxel [x, y, z].
 */
export class Volume<T extends DataType = DataType> {
  readonly shape: Vec3;
  constructor(
    readonly dtype: T,
    readonly box: Box,
    readonly data: TypedArrayOf<T>,
    readonly channels = 1,
    readonly voxelSize: Vec3 = [1, 1, 1],
  ) {
    this.shape = boxShape(box);
    const expected = this.shape[0] * this.shape[1] * this.shape[2] * channels;
    if (data.length !== expected) {
      throw new WiringError(
        `volume data has ${data.length} elements, expected ${expected} for shape [${this.shape}] x ${channels} channel(s)`,
      );
    }
    if (dataTypeOf(data) !== dtype) throw new WiringError(`volume data is ${dataTypeOf(data)}, declared ${dtype}`);
  }

  /** A zero-filled volume; `shared` backs it by a SharedArrayBuffer so worker threads can fill it. */
  static zeros<T extends DataType>(
    dtype: T,
    where: Box | Vec3,
    opts: { channels?: number; voxelSize?: Vec3; shared?: boolean } = {},
  ): Volume<T> {
    const b = 'min' in where ? where : boxFromShape(where);
    const s = boxShape(b);
    const channels = opts.channels ?? 1;
    return new Volume(dtype, b, allocate(dtype, s[0] * s[1] * s[2] * channels, opts.shared), channels, opts.voxelSize);
  }

  /** A volume over `data` with shape [x, y, z] placed at offset [x, y, z] (default origin). */
  static from<T extends DataType>(
    dtype: T,
    shape: Vec3,
    data: TypedArrayOf<T>,
    opts: { offset?: Vec3; channels?: number; voxelSize?: Vec3 } = {},
  ): Volume<T> {
    return new Volume(dtype, boxFromShape(shape, opts.offset), data, opts.channels ?? 1, opts.voxelSize);
  }

  get voxels(): number {
    return this.shape[0] * this.shape[1] * this.shape[2];
  }

  /** Linear index of global voxel (x, y, z) in channel c. */
  index(x: number, y: number, z: number, c = 0): number {
    const [sx, sy, sz] = this.shape;
    return x - this.box.min[0] + sx * (y - this.box.min[1] + sy * (z - this.box.min[2] + sz * c));
  }

  get(x: number, y: number, z: number, c = 0): TypedArrayOf<T>[number] {
    return this.data[this.index(x, y, z, c)] as TypedArrayOf<T>[number];
  }

  /** One channel as its own volume (a view, no copy). */
  channel(c: number): Volume<T> {
    if (c < 0 || c >= this.channels) throw new WiringError(`channel ${c} out of range 0..${this.channels - 1}`);
    const n = this.voxels;
    const view = this.data.subarray(c * n, (c + 1) * n) as TypedArrayOf<T>;
    return new Volume(this.dtype, this.box, view, 1, this.voxelSize);
  }

  /** A copy of the sub-box `b` (global voxel coordinates, must lie inside this volume). */
  crop(b: Box): Volume<T> {
    if (!boxContains(this.box, b)) {
      throw new WiringError(`crop box (${boxToString(b)}) is outside the volume (${boxToString(this.box)})`);
    }
    const out = Volume.zeros(this.dtype, b, { channels: this.channels, voxelSize: this.voxelSize });
    copyBox(this, out, b);
    return out;
  }
}

/**
 * Copy the voxels of box `b` (default: the overlap of both) from `src` to `dst`, all channels.
 * Both volumes must have the same dtype and channel count. Rows are copied with TypedArray.set.
 */
export function copyBox<T extends DataType>(src: Volume<T>, dst: Volume<T>, b?: Box): void {
  if (src.dtype !== dst.dtype) throw new WiringError(`cannot copy ${src.dtype} voxels into a ${dst.dtype} volume`);
  if (src.channels !== dst.channels) {
    throw new WiringError(`cannot copy ${src.channels} channel(s) into ${dst.channels}`);
  }
  const region = boxIntersect(b ?? src.box, boxIntersect(src.box, dst.box));
  if (boxIsEmpty(region)) return;
  const [rx] = boxShape(region);
  const s = src.data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> };
  const d = dst.data as unknown as { set(a: ArrayLike<unknown>, o: number): void };
  for (let c = 0; c < src.channels; c++) {
    for (let z = region.min[2]; z < region.max[2]; z++) {
      for (let y = region.min[1]; y < region.max[1]; y++) {
        const si = src.index(region.min[0], y, z, c);
        d.set(s.subarray(si, si + rx), dst.index(region.min[0], y, z, c));
      }
    }
  }
}

/** Physical position in nm of voxel centre (x, y, z) at `voxelSize` nm. */
export function voxelToNm(p: Vec3, voxelSize: Vec3): Vec3 {
  return [(p[0] + 0.5) * voxelSize[0], (p[1] + 0.5) * voxelSize[1], (p[2] + 0.5) * voxelSize[2]];
}
