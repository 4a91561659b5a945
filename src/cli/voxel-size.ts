import type { VolumeInfo } from '../formats/source.js';

/**
 * Whether a source's voxel size is the readers' stand-in rather than a recorded one: the readers
 * give 1,1,1 nm to a file that records no voxel size (HDF5 without `resolution`/`element_size_um`,
 * NPY, image stacks). A recorded 1 nm is treated the same (no EM volume has it), so the user is
 * asked to confirm it with --voxel-size / "voxel_size".
 */
export function voxelSizeAssumed(src: Pick<VolumeInfo, 'voxelSize'> & { format?: string }): boolean {
  return src.format !== 'precomputed' && src.voxelSize.every((v) => v === 1);
}

/** The warning for such a source, naming the file and the option. */
export function voxelSizeWarning(spec: string, option = '--voxel-size X,Y,Z'): string {
  return `${spec} records no voxel size: 1,1,1 nm is assumed, which puts every position, length and volume off by the real voxel size; pass ${option} (nm)`;
}
