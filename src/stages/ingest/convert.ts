import type { DataType } from '../../core/dtype.js';
import { FormatError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { LayerKind } from '../../formats/source.js';

/**
 * The data type a layer gets for a source of `dtype` and `kind`. Segmentations are stored
 * unsigned (uint32, or uint64 for 64-bit ids) because Neuroglancer's compressed_segmentation
 * and segment ids are unsigned; images keep their type.
 */
export function layerDataType(dtype: DataType, kind: LayerKind): DataType {
  if (kind === 'image') return dtype;
  switch (dtype) {
    case 'uint64':
      return 'uint64';
    case 'float32':
      throw new FormatError('a float32 volume cannot be a segmentation (labels are integers); import it as --type image');
    default:
      return 'uint32';
  }
}

/**
 * Convert a block to the layer's data type. Signed labels must be >= 0: a negative label is an
 * error naming the voxel, never a silent wrap-around.
 */
export function convertBlock(vol: Volume, target: DataType, where: string): Volume {
  if (vol.dtype === target) return vol;
  const out = Volume.zeros(target, vol.box, { channels: vol.channels, voxelSize: vol.voxelSize });
  const src = vol.data as unknown as ArrayLike<number>;
  if (target === 'uint64') {
    const dst = out.data as BigUint64Array;
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (v < 0) throw negative(vol, i, v, where);
      dst[i] = BigInt(v);
    }
    return out;
  }
  if (target === 'uint32') {
    const dst = out.data as Uint32Array;
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      if (v < 0) throw negative(vol, i, v, where);
      dst[i] = v;
    }
    return out;
  }
  throw new FormatError(`cannot convert ${vol.dtype} voxels to ${target}`, where);
}

function negative(vol: Volume, i: number, v: number, where: string): FormatError {
  const [sx, sy] = vol.shape;
  const x = vol.box.min[0] + (i % sx);
  const y = vol.box.min[1] + (Math.floor(i / sx) % sy);
  const z = vol.box.min[2] + Math.floor(i / (sx * sy));
  return new FormatError(`label ${v} at voxel [${x}, ${y}, ${z}] is negative; segment ids must be >= 0`, where);
}
