// Neuroglancer precomputed `info`: types, validation and construction.
// All vectors are [x, y, z] (sizes and offsets in voxels of the scale, resolution in nm).
// Spec: google/neuroglancer src/datasource/precomputed/volume.md and sharded.md.
import type { Vec3 } from '../../core/box.js';
import { DATA_TYPES, type DataType, bytesPerElement } from '../../core/dtype.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { parseJsonText } from '../../core/json.js';
import { isSafeKey } from '../../core/safe-path.js';

export { isSafeKey };

export interface ShardingSpec {
  '@type': 'neuroglancer_uint64_sharded_v1';
  preshift_bits: number;
  hash: 'identity' | 'murmurhash3_x86_128';
  minishard_bits: number;
  shard_bits: number;
  minishard_index_encoding?: 'raw' | 'gzip';
  data_encoding?: 'raw' | 'gzip';
}

export type ChunkEncoding = 'raw' | 'compressed_segmentation' | 'jpeg' | 'png';

export interface ScaleInfo {
  key: string;
  size: Vec3;
  voxel_offset: Vec3;
  resolution: Vec3;
  chunk_sizes: Vec3[];
  encoding: ChunkEncoding;
  compressed_segmentation_block_size?: Vec3;
  sharding?: ShardingSpec;
  [k: string]: unknown;
}

export interface PrecomputedInfo {
  '@type'?: string;
  type: 'image' | 'segmentation';
  data_type: DataType;
  num_channels: number;
  scales: ScaleInfo[];
  mesh?: string;
  skeletons?: string;
  segment_properties?: string;
  [k: string]: unknown;
}

const ENCODINGS: readonly ChunkEncoding[] = ['raw', 'compressed_segmentation', 'jpeg', 'png'];

/** Largest decoded chunk we accept (bytes); a bigger chunk in an `info` is treated as corrupt. */
export const MAX_CHUNK_BYTES = 2 ** 31 - 1;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class InfoChecker {
  constructor(readonly file: string) {}

  fail(field: string, expected: string, got: unknown): never {
    let shown: string;
    try {
      shown = got === undefined ? 'nothing' : JSON.stringify(got);
    } catch {
      shown = String(got);
    }
    if (shown.length > 80) shown = shown.slice(0, 77) + '...';
    throw new FormatError(`field ${field}: expected ${expected}, got ${shown}`, this.file);
  }

  vec3(v: unknown, field: string, kind: 'int' | 'posint' | 'posnum' | 'nonnegint'): Vec3 {
    const what = {
      int: 'three integers [x, y, z]',
      posint: 'three positive integers [x, y, z]',
      nonnegint: 'three non-negative integers [x, y, z]',
      posnum: 'three positive numbers [x, y, z]',
    }[kind];
    if (!Array.isArray(v) || v.length !== 3) this.fail(field, what, v);
    for (const n of v) {
      const ok =
        typeof n === 'number' &&
        Number.isFinite(n) &&
        (kind === 'posnum'
          ? n > 0
          : Number.isSafeInteger(n) && (kind === 'int' || (kind === 'posint' ? n > 0 : n >= 0)));
      if (!ok) this.fail(field, what, v);
    }
    return [v[0], v[1], v[2]];
  }

  int(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `an integer in ${min}..${max}`, v);
    }
    return v;
  }
}

/** Validate a sharding spec; `field` names it in errors (e.g. `scales[0].sharding`). */
export function checkSharding(v: unknown, field: string, file: string): ShardingSpec {
  const c: InfoChecker = new InfoChecker(file);
  if (!isObject(v)) c.fail(field, 'a sharding specification object', v);
  if (v['@type'] !== 'neuroglancer_uint64_sharded_v1') {
    c.fail(`${field}["@type"]`, '"neuroglancer_uint64_sharded_v1"', v['@type']);
  }
  c.int(v.preshift_bits, `${field}.preshift_bits`, 0, 64);
  c.int(v.minishard_bits, `${field}.minishard_bits`, 0, 32);
  c.int(v.shard_bits, `${field}.shard_bits`, 0, 64);
  if ((v.minishard_bits as number) + (v.shard_bits as number) > 64) {
    c.fail(`${field}.shard_bits`, 'minishard_bits + shard_bits <= 64', v.shard_bits);
  }
  if (v.hash !== 'identity' && v.hash !== 'murmurhash3_x86_128') {
    c.fail(`${field}.hash`, '"identity" or "murmurhash3_x86_128"', v.hash);
  }
  for (const k of ['minishard_index_encoding', 'data_encoding'] as const) {
    if (v[k] !== undefined && v[k] !== 'raw' && v[k] !== 'gzip') c.fail(`${field}.${k}`, '"raw" or "gzip"', v[k]);
  }
  return v as unknown as ShardingSpec;
}

/**
 * Validate a parsed `info` JSON document in place and return it typed. Unknown keys are kept
 * untouched (so a rewrite preserves them); `voxel_offset` defaults to [0, 0, 0]; `data_type`,
 * `type` and `encoding` are lower-cased (the spec compares them case-insensitively).
 * Every problem is a FormatError naming `file` and the field, and saying what was expected.
 */
export function validateInfo(json: unknown, file: string): PrecomputedInfo {
  const c: InfoChecker = new InfoChecker(file);
  if (!isObject(json)) c.fail('(root)', 'a JSON object', json);
  const info = json;
  if (info['@type'] !== undefined && info['@type'] !== 'neuroglancer_multiscale_volume') {
    c.fail('@type', '"neuroglancer_multiscale_volume" (or absent)', info['@type']);
  }
  if (typeof info.type === 'string') info.type = info.type.toLowerCase();
  if (info.type !== 'image' && info.type !== 'segmentation') c.fail('type', '"image" or "segmentation"', info.type);
  if (typeof info.data_type === 'string') info.data_type = info.data_type.toLowerCase();
  if (!(DATA_TYPES as readonly unknown[]).includes(info.data_type)) {
    c.fail('data_type', `one of ${DATA_TYPES.join(', ')}`, info.data_type);
  }
  const dtype = info.data_type as DataType;
  const channels = c.int(info.num_channels, 'num_channels', 1, 65535);
  for (const k of ['mesh', 'skeletons', 'segment_properties']) {
    if (info[k] !== undefined && !isSafeKey(info[k])) c.fail(k, 'a folder name inside the layer (no .., no absolute path, no \\ or %)', info[k]);
  }
  if (!Array.isArray(info.scales) || info.scales.length === 0) c.fail('scales', 'a non-empty array of scales', info.scales);
  const keys = new Set<string>();
  info.scales.forEach((s: unknown, i: number) => {
    const f = `scales[${i}]`;
    if (!isObject(s)) c.fail(f, 'a scale object', s);
    if (!isSafeKey(s.key)) c.fail(`${f}.key`, 'a relative folder name inside the layer (letters, digits, . _ - + @ = , and / between names; no .., no absolute path, no \\ or %)', s.key);
    if (keys.has(s.key)) c.fail(`${f}.key`, 'a key not used by another scale', s.key);
    keys.add(s.key);
    const size = c.vec3(s.size, `${f}.size`, 'posint');
    c.vec3(s.resolution, `${f}.resolution`, 'posnum');
    if (s.voxel_offset === undefined) s.voxel_offset = [0, 0, 0];
    c.vec3(s.voxel_offset, `${f}.voxel_offset`, 'int');
    if (!Array.isArray(s.chunk_sizes) || s.chunk_sizes.length === 0) {
      c.fail(`${f}.chunk_sizes`, 'a non-empty array of [x, y, z] chunk sizes', s.chunk_sizes);
    }
    s.chunk_sizes.forEach((cs: unknown, j: number) => {
      const v = c.vec3(cs, `${f}.chunk_sizes[${j}]`, 'posint');
      const clipped = [0, 1, 2].map((d) => Math.min(v[d], size[d]));
      const bytes = clipped[0] * clipped[1] * clipped[2] * channels * bytesPerElement(dtype);
      if (bytes > MAX_CHUNK_BYTES) c.fail(`${f}.chunk_sizes[${j}]`, `a chunk of at most ${MAX_CHUNK_BYTES} bytes`, cs);
    });
    if (typeof s.encoding === 'string') s.encoding = s.encoding.toLowerCase();
    if (!(ENCODINGS as readonly unknown[]).includes(s.encoding)) c.fail(`${f}.encoding`, `one of ${ENCODINGS.join(', ')}`, s.encoding);
    if (s.encoding === 'compressed_segmentation') {
      if (dtype !== 'uint32' && dtype !== 'uint64') {
        c.fail('data_type', 'uint32 or uint64 for compressed_segmentation (scales[' + i + '].encoding)', dtype);
      }
      c.vec3(s.compressed_segmentation_block_size, `${f}.compressed_segmentation_block_size`, 'posint');
    } else if (s.compressed_segmentation_block_size !== undefined) {
      c.fail(`${f}.compressed_segmentation_block_size`, 'absent unless encoding is compressed_segmentation', s.compressed_segmentation_block_size);
    }
    if (s.encoding === 'jpeg') {
      if (dtype !== 'uint8') c.fail('data_type', `uint8 for jpeg (scales[${i}].encoding)`, dtype);
      if (channels !== 1 && channels !== 3) c.fail('num_channels', `1 or 3 for jpeg (scales[${i}].encoding)`, channels);
    }
    if (s.encoding === 'png') {
      if (dtype !== 'uint8' && dtype !== 'uint16') c.fail('data_type', `uint8 or uint16 for png (scales[${i}].encoding)`, dtype);
      if (channels > 4) c.fail('num_channels', `1..4 for png (scales[${i}].encoding)`, channels);
    }
    if (s.sharding !== undefined) {
      checkSharding(s.sharding, `${f}.sharding`, file);
      if (s.chunk_sizes.length !== 1) c.fail(`${f}.chunk_sizes`, 'exactly one chunk size for a sharded scale', s.chunk_sizes);
      const cs = s.chunk_sizes[0] as Vec3;
      let bits = 0;
      for (let d = 0; d < 3; d++) bits += Math.ceil(Math.log2(Math.ceil(size[d] / cs[d])));
      if (bits > 64) c.fail(`${f}.size`, 'a chunk grid whose compressed Morton code fits in 64 bits', s.size);
    }
  });
  return info as unknown as PrecomputedInfo;
}

/** Parse the text of an `info` file (FormatError naming `file` on bad JSON or fields). */
export function parseInfo(text: string, file: string): PrecomputedInfo {
  return validateInfo(parseJsonText(text, file), file);
}

/** The `info` text we write: JSON, 2-space indent (key order and unknown keys as given). */
export function stringifyInfo(info: PrecomputedInfo): string {
  return prettyJson(JSON.parse(JSON.stringify(info, (_k, v) => (typeof v === 'bigint' ? v.toString(10) : v))), '') + '\n';
}

/** JSON with 2-space indent, except that arrays of numbers stay on one line ([200, 100, 50]). */
function prettyJson(v: unknown, indent: string): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (v.every((x) => typeof x === 'number')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${v.map((x) => inner + prettyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

/** Scale folder name from a resolution: `8_8_40` (integers written without a decimal point). */
export function scaleKey(resolution: Vec3): string {
  return resolution.map((r) => String(r)).join('_');
}

export interface MakeInfoOptions {
  type: 'image' | 'segmentation';
  dtype: DataType;
  channels?: number;
  /** [x, y, z] voxels. */
  shape: Vec3;
  /** [x, y, z] nm per voxel. */
  voxelSize: Vec3;
  /** [x, y, z] voxel offset of the volume (default origin). */
  offset?: Vec3;
  /** [x, y, z]; default [64, 64, 64] clipped to the shape. */
  chunkSize?: Vec3;
  /** Default raw for images, compressed_segmentation (block 8,8,8) for uint32/uint64 segmentations. */
  encoding?: ChunkEncoding;
  /** compressed_segmentation block size (default [8, 8, 8]). */
  blockSize?: Vec3;
  sharding?: ShardingSpec;
}

/** A one-scale `info` for a new layer (validated: a bad option is a UsageError). */
export function makeInfo(o: MakeInfoOptions): PrecomputedInfo {
  const chunk = o.chunkSize ?? [64, 64, 64];
  const chunkSize: Vec3 = [Math.min(chunk[0], o.shape[0]), Math.min(chunk[1], o.shape[1]), Math.min(chunk[2], o.shape[2])];
  const labels = o.dtype === 'uint32' || o.dtype === 'uint64';
  const encoding: ChunkEncoding = o.encoding ?? (o.type === 'segmentation' && labels ? 'compressed_segmentation' : 'raw');
  const scale: ScaleInfo = {
    key: scaleKey(o.voxelSize),
    size: [o.shape[0], o.shape[1], o.shape[2]],
    voxel_offset: o.offset ? [o.offset[0], o.offset[1], o.offset[2]] : [0, 0, 0],
    resolution: [o.voxelSize[0], o.voxelSize[1], o.voxelSize[2]],
    chunk_sizes: [chunkSize],
    encoding,
  };
  if (encoding === 'compressed_segmentation') scale.compressed_segmentation_block_size = o.blockSize ?? [8, 8, 8];
  if (o.sharding) scale.sharding = { ...o.sharding };
  const info: PrecomputedInfo = {
    '@type': 'neuroglancer_multiscale_volume',
    type: o.type,
    data_type: o.dtype,
    num_channels: o.channels ?? 1,
    scales: [scale],
  };
  try {
    return validateInfo(info, 'makeInfo');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
