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

/** The `"wiring"` object of a local precomputed layer's info (undefined: not such a layer, or none). */
function wiringInfo(spec: string): { file: string; wiring: Record<string, unknown> } | undefined {
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
  const w = (info as { wiring?: unknown } | null)?.wiring;
  if (w === undefined || w === null || typeof w !== 'object') return undefined;
  return { file, wiring: w as Record<string, unknown> };
}

/**
 * A mean-agglomeration cut carried by the boundary map: a precomputed layer whose `info` has
 * `"wiring": {"segment_threshold": T}` (0 < T < 1), e.g. written by `wiring predict` from a cut the
 * pixel model chose on its training volume. Undefined when the source is not such a layer or has
 * no such field; a malformed field is a FormatError naming the file.
 */
export function carriedThreshold(spec: string): number | undefined {
  const w = wiringInfo(spec);
  if (!w || w.wiring.segment_threshold === undefined) return undefined;
  const t = w.wiring.segment_threshold;
  if (typeof t !== 'number' || !(t > 0 && t < 1)) throw new FormatError(`wiring.segment_threshold must be a number between 0 and 1, got ${JSON.stringify(t)}`, w.file);
  return t;
}

/** Supervoxel seed options carried by a boundary map (info `wiring.segment_seeds`), as `wiring segment`'s options. */
export interface CarriedSeedOptions {
  seeds: 'distance' | 'minima';
  seedSigma?: number;
  seedConnectivity?: 'face' | 'full';
  flood?: 'map' | 'smoothed';
}

/**
 * The supervoxel seeds carried by the boundary map: info `"wiring": {"segment_seeds": {"seeds":
 * "minima", "seed_sigma": 1, "seed_connectivity": "full", "flood": "smoothed"}}`, written by `wiring
 * predict` from the seeds the pixel model chose with its cut. Undefined when absent; a malformed
 * field is a FormatError naming the file and the field.
 */
export function carriedSeeds(spec: string): CarriedSeedOptions | undefined {
  const w = wiringInfo(spec);
  if (!w || w.wiring.segment_seeds === undefined) return undefined;
  const o = w.wiring.segment_seeds as Record<string, unknown> | null;
  const bad = (what: string): never => {
    throw new FormatError(`wiring.segment_seeds${what}, got ${JSON.stringify(w.wiring.segment_seeds)}`, w.file);
  };
  if (!o || typeof o !== 'object') return bad(' must be an object {seeds, seed_sigma, seed_connectivity, flood}');
  if (o.seeds !== 'distance' && o.seeds !== 'minima') return bad('.seeds must be distance or minima');
  if (o.seed_sigma !== undefined && !(typeof o.seed_sigma === 'number' && o.seed_sigma >= 0)) bad('.seed_sigma must be a number >= 0');
  if (o.seed_connectivity !== undefined && o.seed_connectivity !== 'face' && o.seed_connectivity !== 'full') bad('.seed_connectivity must be face or full');
  if (o.flood !== undefined && o.flood !== 'map' && o.flood !== 'smoothed') bad('.flood must be map or smoothed');
  if (o.seeds === 'distance' && (o.seed_connectivity !== undefined || o.flood !== undefined)) bad(': seed_connectivity and flood are for minima seeds');
  if (o.flood === 'smoothed' && !((o.seed_sigma as number) > 0)) bad(': flood smoothed needs seed_sigma > 0');
  return {
    seeds: o.seeds,
    ...(o.seed_sigma !== undefined ? { seedSigma: o.seed_sigma as number } : {}),
    ...(o.seed_connectivity !== undefined ? { seedConnectivity: o.seed_connectivity as 'face' | 'full' } : {}),
    ...(o.flood !== undefined ? { flood: o.flood as 'map' | 'smoothed' } : {}),
  };
}
