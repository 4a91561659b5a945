// The table of readable volume formats: openSource tries them in this order. A new format is one
// module in this folder (a SourceFormat) and one line here.
import { hdf5 } from './hdf5.js';
import { imageStack } from './image-stack.js';
import { npy } from './npy.js';
import { precomputed } from './precomputed.js';
import type { SourceFormat } from './types.js';
import { tiff } from './tiff.js';
import { zarr } from './zarr.js';

export type { OpenOptions, Probe, SourceFormat } from './types.js';

export const SOURCE_FORMATS: readonly SourceFormat[] = [
  hdf5, // files by magic or extension; before the others: `file.h5#dataset`
  npy,
  tiff,
  precomputed, // folders
  zarr,
  imageStack, // last: any folder of slices
];

/** The format of that name (VolumeSource.format), if any. */
export function sourceFormat(name: string): SourceFormat | undefined {
  return SOURCE_FORMATS.find((f) => f.name === name);
}
