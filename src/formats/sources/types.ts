import type { Vec3 } from '../../core/box.js';
import type { VolumeSource } from '../source.js';

/** What openSource knows about a path before choosing a format. */
export interface Probe {
  /** The local spec, keeping any `#dataset`. */
  spec: string;
  /** The path without `#dataset`. */
  base: string;
  /** Whether the spec has a `#dataset` part. */
  hash: boolean;
  /** First 8 bytes of a file (empty for a folder). */
  magic: Uint8Array;
}

export interface OpenOptions {
  scale?: number;
  voxelSize?: Vec3;
  allowIncomplete?: boolean;
}

/**
 * One readable volume format. openSource asks each format of the table (sources/index.ts), in
 * order, whether it recognises a path (`detect`), and opens it with the first that does.
 */
export interface SourceFormat {
  /** The `format` of the sources it opens (VolumeSource.format). */
  name: string;
  /** One line for error messages and --help: how a path of this format is written. */
  form: string;
  /** Files or folders. */
  kind: 'file' | 'folder';
  /** Whether `#sub/path` selects something inside it (HDF5 dataset, Zarr array). */
  acceptsHash: boolean;
  /** Whether it has scales (a scale other than 0 is an error for the others). */
  hasScales: boolean;
  detect(p: Probe): boolean | Promise<boolean>;
  open(p: Probe, opts: OpenOptions): Promise<VolumeSource>;
}
