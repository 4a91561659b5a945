/**
 * Whole-volume reading and writing for the segment commands: read a source entirely, write a
 * uint64 segmentation layer (Neuroglancer precomputed, compressed_segmentation) on the source's grid.
 */
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { writeJsonAtomic } from '../../core/atomic.js';
import { Volume } from '../../core/volume.js';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FormatError } from '../../core/errors.js';
import { localPath, openSource, splitChannel } from '../../formats/open.js';
import { PrecomputedLayer, type ShardingChoice, makeInfo } from '../../formats/precomputed/index.js';
import type { VolumeSource } from '../../formats/source.js';

export interface ReadVolume {
  vol: Volume;
  source: VolumeSource;
}

/** Open `spec` and read all of it. */
export async function readWhole(spec: string): Promise<ReadVolume> {
  const source = await openSource(spec);
  try {
    const vol = await source.read(boxFromShape(source.shape, source.offset));
    return { vol, source };
  } finally {
    await source.close();
  }
}

/** uint32 labels -> uint64 (no bigint per voxel: writes the low words of the little-endian pairs). */
export function toUint64(labels: Uint32Array): BigUint64Array {
  const out = new BigUint64Array(labels.length);
  const w = new Uint32Array(out.buffer);
  for (let i = 0; i < labels.length; i++) w[2 * i] = labels[i];
  return out;
}

/** Write dense labels as a uint64 segmentation layer at `dir`, on the grid of `like`. */
export async function writeSegmentation(
  dir: string,
  labels: Uint32Array,
  like: { shape: Vec3; offset: Vec3; voxelSize: Vec3 },
  opts: { overwrite?: boolean; chunkSize?: Vec3; extra?: Record<string, unknown>; sharding?: ShardingChoice } = {},
): Promise<PrecomputedLayer> {
  const chunk = (opts.chunkSize ?? [64, 64, 64]).map((c, a) => Math.min(c, like.shape[a])) as unknown as Vec3;
  // one write of the whole volume: every shard is written once, whatever its size
  const sharding = opts.sharding?.('segmentation', like.shape, chunk);
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape: like.shape, voxelSize: like.voxelSize, offset: like.offset, chunkSize: opts.chunkSize, sharding });
  const layer = await PrecomputedLayer.create(dir, info, { overwrite: opts.overwrite });
  const vol = new Volume('uint64', boxFromShape(like.shape, like.offset), toUint64(labels), 1, like.voxelSize);
  await layer.writeBox(vol);
  return layer;
}

export { writeJsonAtomic };

/**
 * A mean-agglomeration cut carried by the boundary map: a precomputed layer whose `info` has
 * `"wiring": {"segment_threshold": T}` (0 < T < 1), e.g. written by `wiring predict` from a cut the
 * pixel model chose on its training volume. Undefined when the source is not such a layer or has
 * no such field; a malformed field is a FormatError naming the file.
 */
export function carriedThreshold(spec: string): number | undefined {
  const local = localPath(splitChannel(spec).spec);
  if (local === undefined || local.includes('#')) return undefined;
  const file = path.join(local, 'info');
  if (!existsSync(file)) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // not JSON: not a precomputed layer; openSource reports the real problem
  }
  const w = (info as { wiring?: { segment_threshold?: unknown } } | null)?.wiring;
  if (w === undefined || w === null || w.segment_threshold === undefined) return undefined;
  const t = w.segment_threshold;
  if (typeof t !== 'number' || !(t > 0 && t < 1)) throw new FormatError(`wiring.segment_threshold must be a number between 0 and 1, got ${JSON.stringify(t)}`, file);
  return t;
}
