import type { Box, Vec3 } from '../core/box.js';
import type { DataType } from '../core/dtype.js';
import type { Volume } from '../core/volume.js';

/** What a layer holds: intensities or labels. */
export type LayerKind = 'image' | 'segmentation';

/** Geometry and type of a volume. All vectors are [x, y, z]; voxelSize in nm; offset in voxels. */
export interface VolumeInfo {
  readonly dtype: DataType;
  readonly shape: Vec3;
  readonly channels: number;
  readonly voxelSize: Vec3;
  readonly offset: Vec3;
  /** Kind when the format says so (precomputed `type`), else undefined. */
  readonly kind?: LayerKind;
}

/**
 * A readable volume in any format. `read(box)` returns exactly that half-open box (global voxel
 * coordinates [x, y, z], inside [offset, offset + shape)), reading only the chunks it needs where
 * the format allows. Voxels the source does not store (missing chunks) read as 0.
 */
export interface VolumeSource extends VolumeInfo {
  /** The spec this source was opened from (a path, `file.h5#dataset`, ...), used in error messages. */
  readonly url: string;
  /** Format name: precomputed, zarr, hdf5, npy, image-stack, tiff. */
  readonly format: string;
  /** Natural chunk shape [x, y, z] for efficient reads (whole volume if unchunked). */
  readonly chunkShape: Vec3;
  read(box: Box): Promise<Volume>;
  /** Optional: one channel of `box` as a one-channel volume, without copying the others (`?channel=N`). */
  readChannel?(box: Box, channel: number): Promise<Volume>;
  /**
   * Optional: several channels of `box`, each as a one-channel volume (what readChannel gives for
   * each), reading and decoding every chunk once instead of once per channel.
   */
  readChannels?(box: Box, channels: readonly number[]): Promise<Volume[]>;
  /** Set on a one-channel view of a multi-channel source (`?channel=N`): that source and N. */
  readonly channelOf?: { base: VolumeSource; channel: number };
  close(): Promise<void>;
}
