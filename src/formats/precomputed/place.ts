// Placing a decoded chunk into a read box: the rows of the chunk inside the box are copied, all
// channels or one (a `?channel=N` read of a classifier output copies 1 of its N channels, not N).
// Rows go by TypedArray.set over a subarray (a plain per-element loop measured 1.1-2.7x slower
// on 64-voxel rows, uint8 to uint64, under load).
import { type Box, boxIntersect, boxIsEmpty, boxShape } from '../../core/box.js';
import type { AnyTypedArray } from '../../core/dtype.js';
import { WiringError } from '../../core/errors.js';
import type { Volume } from '../../core/volume.js';

/**
 * Copy the voxels of a chunk (`data` = chunkBox x `channels`, x fastest, channels slowest) that lie
 * inside `out.box` into `out`. With `channel`, only that channel is copied, into a one-channel
 * `out`; without, every channel (out must have `channels`). Voxels of `out` outside the chunk are
 * left alone.
 */
export function placeChunk(data: AnyTypedArray, chunkBox: Box, channels: number, out: Volume, channel?: number): void {
  const want = channel === undefined ? channels : 1;
  if (out.channels !== want) throw new WiringError(`cannot place ${want} channel(s) of a chunk into a ${out.channels}-channel volume`);
  if (channel !== undefined && !(Number.isInteger(channel) && channel >= 0 && channel < channels)) {
    throw new WiringError(`channel ${channel} out of range 0..${channels - 1}`);
  }
  const cs = boxShape(chunkBox);
  const cvox = cs[0] * cs[1] * cs[2];
  if (data.length !== cvox * channels) throw new WiringError(`chunk data has ${data.length} elements, expected ${cvox * channels}`);
  const region = boxIntersect(chunkBox, out.box);
  if (boxIsEmpty(region)) return;
  const rs = boxShape(region);
  const os = out.shape;
  const ovox = os[0] * os[1] * os[2];
  const c0 = channel ?? 0;
  const src = data as unknown as { subarray(a: number, b: number): ArrayLike<never> };
  const dst = out.data as unknown as { set(a: ArrayLike<never>, o: number): void };
  const n = rs[0];
  for (let k = 0; k < want; k++) {
    const sBase = (c0 + k) * cvox + (region.min[0] - chunkBox.min[0]);
    const dBase = k * ovox + (region.min[0] - out.box.min[0]);
    for (let z = 0; z < rs[2]; z++) {
      const sz = region.min[2] - chunkBox.min[2] + z, dz = region.min[2] - out.box.min[2] + z;
      for (let y = 0; y < rs[1]; y++) {
        const si = sBase + cs[0] * (region.min[1] - chunkBox.min[1] + y + cs[1] * sz);
        const di = dBase + os[0] * (region.min[1] - out.box.min[1] + y + os[1] * dz);
        dst.set(src.subarray(si, si + n), di);
      }
    }
  }
}
