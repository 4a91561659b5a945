// neuroglancer_uint64_sharded_v1 (google/neuroglancer src/datasource/precomputed/sharded.md):
// compressed Morton chunk ids, the hash -> (shard, minishard) mapping, shard files
// `<shard hex>.shard` = shard index (2^minishard_bits x [start, end) uint64le, relative to the end
// of the index) + chunk data + minishard indexes ([3, n] uint64le: delta ids, delta offsets, sizes).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Vec3 } from '../../core/box.js';
import { FormatError, UsageError } from '../../core/errors.js';
import type { ShardingSpec } from './info.js';
import { murmurhash3_x86_128_uint64 } from './murmurhash3.js';

const U64 = (1n << 64n) - 1n;

/** Number of bits of each grid axis that take part in the compressed Morton code. */
export function mortonBits(gridShape: Vec3): Vec3 {
  const b = [0, 1, 2].map((d) => {
    let n = 0;
    while (2 ** n < gridShape[d]) n++;
    return n;
  });
  return [b[0], b[1], b[2]];
}

/** Compressed Morton code of grid cell `g` in a grid of `gridShape` chunks ([x, y, z]). */
export function compressedMortonCode(g: Vec3, gridShape: Vec3): bigint {
  const bits = mortonBits(gridShape);
  const maxBits = Math.max(bits[0], bits[1], bits[2]);
  let code = 0n;
  let j = 0n;
  for (let i = 0; i < maxBits; i++) {
    for (let d = 0; d < 3; d++) {
      if (i < bits[d]) {
        if (Math.floor(g[d] / 2 ** i) % 2 === 1) code |= 1n << j;
        j++;
      }
    }
  }
  return code;
}

export function hashChunkId(id: bigint, spec: ShardingSpec): bigint {
  const shifted = spec.preshift_bits >= 64 ? 0n : id >> BigInt(spec.preshift_bits);
  return spec.hash === 'identity' ? shifted : murmurhash3_x86_128_uint64(shifted);
}

/** Shard number and minishard number of a chunk id. */
export function locateChunk(id: bigint, spec: ShardingSpec): { shard: bigint; minishard: number } {
  const h = hashChunkId(id, spec);
  const minishard = Number(h & ((1n << BigInt(spec.minishard_bits)) - 1n));
  const shard = (h >> BigInt(spec.minishard_bits)) & ((1n << BigInt(spec.shard_bits)) - 1n);
  return { shard, minishard };
}

/** `<shard>.shard`: lowercase hex zero-padded to ceil(shard_bits / 4) digits. */
export function shardFileName(shard: bigint, spec: ShardingSpec): string {
  return shard.toString(16).padStart(Math.ceil(spec.shard_bits / 4), '0') + '.shard';
}

/**
 * Shape in voxels of the box of chunks that one shard holds, when shards are axis-aligned boxes:
 * identity hash, and the shard bits cover all remaining Morton bits (each shard file holds
 * exactly one box). Blocks of this shape can be written by different workers at once. Returns
 * undefined otherwise (murmurhash scatters chunks: write a sharded scale from one writer).
 */
export function shardShape(spec: ShardingSpec, gridShape: Vec3, chunkSize: Vec3): Vec3 | undefined {
  if (spec.hash !== 'identity') return undefined;
  const bits = mortonBits(gridShape);
  const total = bits[0] + bits[1] + bits[2];
  const low = spec.preshift_bits + spec.minishard_bits;
  if (total > low + spec.shard_bits) return undefined;
  // Count how many of the low `low` Morton bits belong to each axis.
  const per = [0, 0, 0];
  let j = 0;
  const maxBits = Math.max(...bits);
  for (let i = 0; i < maxBits && j < low; i++) {
    for (let d = 0; d < 3 && j < low; d++) {
      if (i < bits[d]) {
        per[d]++;
        j++;
      }
    }
  }
  return [chunkSize[0] * 2 ** per[0], chunkSize[1] * 2 ** per[1], chunkSize[2] * 2 ** per[2]];
}

/**
 * A sharding spec whose shards are axis-aligned boxes of about 2^log2ChunksPerShard chunks
 * (identity hash on the compressed Morton code), so that blocks of `shardShape(...)` can be
 * written independently and a shard holds a spatially compact region. `gzipData` gzips chunk data
 * inside the shards (useful for raw chunks; compressed_segmentation is already compact).
 */
export function suggestSharding(
  gridShape: Vec3,
  opts: { log2ChunksPerShard?: number; minishardBits?: number; gzipData?: boolean } = {},
): ShardingSpec {
  const bits = mortonBits(gridShape);
  const total = bits[0] + bits[1] + bits[2];
  const low = Math.min(opts.log2ChunksPerShard ?? 9, total);
  const minishard = Math.min(opts.minishardBits ?? 3, low);
  return {
    '@type': 'neuroglancer_uint64_sharded_v1',
    preshift_bits: low - minishard,
    hash: 'identity',
    minishard_bits: minishard,
    shard_bits: total - low,
    minishard_index_encoding: 'gzip',
    data_encoding: opts.gzipData ? 'gzip' : 'raw',
  };
}

/** Limit on minishard_bits when writing (the shard index is 2^minishard_bits x 16 bytes). */
const MAX_WRITE_MINISHARD_BITS = 24;
/** Limit on a decoded minishard index (bytes). */
const MAX_MINISHARD_INDEX = 256 * 1024 * 1024;

function gunzip(bytes: Uint8Array, where: string, max: number): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: max });
  } catch (err) {
    throw new FormatError(`gzip data does not decompress (${(err as Error).message})`, where);
  }
}

/**
 * Encode one whole shard file from its chunks (each `data` already in the chunk encoding; the
 * shard's data_encoding is applied here). All entries must belong to this shard. `prefix`: bytes
 * written immediately before the chunk's data and not part of it (the minishard index points past
 * them): sharded multi-resolution meshes keep a segment's fragment data there, before its manifest.
 */
export function encodeShard(entries: Array<{ id: bigint; data: Uint8Array; prefix?: Uint8Array }>, spec: ShardingSpec): Uint8Array {
  if (spec.minishard_bits > MAX_WRITE_MINISHARD_BITS) {
    throw new UsageError(`sharding minishard_bits ${spec.minishard_bits}: writing supports at most ${MAX_WRITE_MINISHARD_BITS}`);
  }
  const nMini = 2 ** spec.minishard_bits;
  const byMini: Array<Array<{ id: bigint; data: Uint8Array; prefix?: Uint8Array }>> = Array.from({ length: nMini }, () => []);
  for (const e of entries) byMini[locateChunk(e.id, spec).minishard].push(e);
  const indexEnd = nMini * 16;
  const parts: Uint8Array[] = [];
  const index = new Uint8Array(indexEnd);
  const iv = new DataView(index.buffer);
  parts.push(index);
  let off = 0; // relative to indexEnd
  for (let m = 0; m < nMini; m++) {
    const list = byMini[m].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (list.length === 0) {
      iv.setBigUint64(m * 16, BigInt(off), true);
      iv.setBigUint64(m * 16 + 8, BigInt(off), true);
      continue;
    }
    const mi = new Uint8Array(24 * list.length);
    const mv = new DataView(mi.buffer);
    let prevId = 0n;
    let prevEnd = 0;
    for (let i = 0; i < list.length; i++) {
      if (i > 0 && list[i].id === list[i - 1].id) throw new UsageError(`chunk id ${list[i].id} given twice for one shard`);
      const data = spec.data_encoding === 'gzip' ? gzipSync(list[i].data) : list[i].data;
      const prefix = list[i].prefix;
      if (prefix?.byteLength) {
        parts.push(prefix);
        off += prefix.byteLength;
      }
      mv.setBigUint64(8 * i, (list[i].id - prevId) & U64, true);
      mv.setBigUint64(8 * (list.length + i), BigInt(off - prevEnd), true);
      mv.setBigUint64(8 * (2 * list.length + i), BigInt(data.byteLength), true);
      parts.push(data);
      prevId = list[i].id;
      off += data.byteLength;
      prevEnd = off;
    }
    const encodedIndex = spec.minishard_index_encoding === 'gzip' ? gzipSync(mi) : mi;
    iv.setBigUint64(m * 16, BigInt(off), true);
    parts.push(encodedIndex);
    off += encodedIndex.byteLength;
    iv.setBigUint64(m * 16 + 8, BigInt(off), true);
  }
  const out = new Uint8Array(indexEnd + off);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.byteLength;
  }
  return out;
}

/** Ranged reads of a file on disk; undefined when it does not exist. `key` names this version. */
async function openFile(file: string): Promise<{ src: ByteSource; key: string; close: () => Promise<void> } | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  const st = await handle.stat();
  const src: ByteSource = {
    size: st.size,
    async read(start, length) {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== length) throw new FormatError(`short read: ${got} of ${length} bytes at ${start}`, file);
      return buf;
    },
  };
  return { src, key: `${st.ino}:${st.size}:${st.mtimeMs}`, close: () => handle.close() };
}

/** A source of shard bytes: a whole in-memory file, ranged reads of a file on disk, or of a remote object. */
export interface ByteSource {
  size: number;
  read(start: number, length: number): Promise<Uint8Array>;
}

/**
 * Decoded minishard indexes shared between readers of the same shard file version (keyed by
 * path, size and mtime, so a rewritten shard is never served from a stale index). Bounded LRU.
 */
export class MinishardCache {
  private readonly map = new Map<string, Minishard>();
  constructor(readonly maxEntries = 4096) {}
  get(key: string): Minishard | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: Minishard): void {
    this.map.set(key, v);
    if (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value as string);
  }
  get size(): number {
    return this.map.size;
  }
}

interface Minishard {
  ids: bigint[];
  starts: number[];
  sizes: number[];
  lookup: Map<bigint, number>;
}

/**
 * Reads chunks from one shard file, fetching only the shard-index entries, minishard indexes
 * and chunk ranges it needs (each minishard index is read once and cached).
 */
export class ShardReader {
  private readonly minishards = new Map<number, Minishard>();
  private constructor(
    readonly where: string,
    readonly spec: ShardingSpec,
    private readonly src: ByteSource,
    private readonly onClose: () => Promise<void>,
    private readonly cache?: { store: MinishardCache; prefix: string },
  ) {}

  /**
   * Open a shard file; undefined when it does not exist (all its chunks read as missing).
   * `cache` keeps decoded minishard indexes across readers of the same file version.
   */
  static async open(file: string, spec: ShardingSpec, cache?: MinishardCache): Promise<ShardReader | undefined> {
    const one = await openFile(file);
    if (one) {
      const c = cache ? { store: cache, prefix: `${file}\0${one.key}\0${JSON.stringify(spec)}\0` } : undefined;
      return new ShardReader(file, spec, one.src, one.close, c);
    }
    // The obsolete form of the same format: `<shard>.index` (the shard index) + `<shard>.data`
    // (everything after it); `.shard` is their concatenation.
    const base = file.replace(/\.shard$/, '');
    const index = await openFile(`${base}.index`);
    if (!index) return undefined;
    const data = await openFile(`${base}.data`);
    if (!data) {
      await index.close();
      return undefined;
    }
    const indexEnd = 2 ** spec.minishard_bits * 16;
    if (index.src.size !== indexEnd) {
      await index.close();
      await data.close();
      throw new FormatError(`shard index file has ${index.src.size} bytes, expected ${indexEnd} (2^minishard_bits x 16)`, `${base}.index`);
    }
    const src: ByteSource = {
      size: indexEnd + data.src.size,
      read: (start, length) => (start < indexEnd ? index.src.read(start, length) : data.src.read(start - indexEnd, length)),
    };
    const close = async (): Promise<void> => {
      await index.close();
      await data.close();
    };
    const c = cache ? { store: cache, prefix: `${base}.index+data\0${index.key}\0${data.key}\0${JSON.stringify(spec)}\0` } : undefined;
    return new ShardReader(`${base}.index/.data`, spec, src, close, c);
  }

  /** A reader over any byte source (e.g. HTTP range requests); `where` names it in errors. */
  static fromSource(src: ByteSource, spec: ShardingSpec, where: string): ShardReader {
    return new ShardReader(where, spec, src, async () => {});
  }

  /** A reader over shard bytes already in memory. */
  static fromBytes(bytes: Uint8Array, spec: ShardingSpec, where: string): ShardReader {
    const src: ByteSource = {
      size: bytes.byteLength,
      async read(start, length) {
        return bytes.subarray(start, start + length);
      },
    };
    return new ShardReader(where, spec, src, async () => {});
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  private get indexEnd(): number {
    return 2 ** this.spec.minishard_bits * 16;
  }

  private async minishard(m: number): Promise<Minishard> {
    const cached = this.minishards.get(m) ?? this.cache?.store.get(this.cache.prefix + m);
    if (cached) return cached;
    const where = this.where;
    const indexEnd = this.indexEnd;
    if (this.src.size < indexEnd) {
      throw new FormatError(`shard file has ${this.src.size} bytes, expected at least the ${indexEnd}-byte shard index`, where);
    }
    const entry = await this.src.read(m * 16, 16);
    const ev = new DataView(entry.buffer, entry.byteOffset, 16);
    const start = ev.getBigUint64(0, true);
    const end = ev.getBigUint64(8, true);
    const size = BigInt(this.src.size - indexEnd);
    if (start > end || end > size) {
      throw new FormatError(`shard index entry for minishard ${m} is [${start}, ${end}), expected a range inside the ${size} data bytes`, where);
    }
    const ms: Minishard = { ids: [], starts: [], sizes: [], lookup: new Map() };
    if (start !== end) {
      let bytes = await this.src.read(indexEnd + Number(start), Number(end - start));
      if (this.spec.minishard_index_encoding === 'gzip') bytes = gunzip(bytes, `${where} (minishard ${m} index)`, MAX_MINISHARD_INDEX);
      if (bytes.byteLength % 24 !== 0) {
        throw new FormatError(`minishard ${m} index has ${bytes.byteLength} bytes, expected a multiple of 24`, where);
      }
      const n = bytes.byteLength / 24;
      const copy = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
      const v = new BigUint64Array(copy.buffer, copy.byteOffset, n * 3);
      let id = 0n;
      let pos = BigInt(indexEnd);
      for (let i = 0; i < n; i++) {
        id = (id + v[i]) & U64;
        const chunkStart = pos + v[n + i];
        const chunkSize = v[2 * n + i];
        if (chunkStart + chunkSize > BigInt(this.src.size)) {
          throw new FormatError(
            `minishard ${m} entry ${i} (chunk ${id}) spans bytes [${chunkStart}, ${chunkStart + chunkSize}) of a ${this.src.size}-byte shard`,
            where,
          );
        }
        ms.lookup.set(id, ms.ids.length);
        ms.ids.push(id);
        ms.starts.push(Number(chunkStart));
        ms.sizes.push(Number(chunkSize));
        pos = chunkStart + chunkSize;
      }
    }
    this.minishards.set(m, ms);
    this.cache?.store.set(this.cache.prefix + m, ms);
    return ms;
  }

  /** The stored (data_encoding-decoded) bytes of chunk `id`, or undefined when absent. */
  async read(id: bigint, maxBytes = 2 ** 31 - 1): Promise<Uint8Array | undefined> {
    const { minishard } = locateChunk(id, this.spec);
    const ms = await this.minishard(minishard);
    const i = ms.lookup.get(id);
    if (i === undefined) return undefined;
    return this.entry(ms, i, maxBytes);
  }

  private async entry(ms: Minishard, i: number, maxBytes: number): Promise<Uint8Array> {
    const raw = await this.src.read(ms.starts[i], ms.sizes[i]);
    return this.spec.data_encoding === 'gzip' ? gunzip(raw, `${this.where} (chunk ${ms.ids[i]})`, maxBytes) : raw;
  }

  /** Where chunk `id`'s stored bytes lie in the shard file (byte offset, length), or undefined when absent. */
  async locate(id: bigint): Promise<{ start: number; size: number } | undefined> {
    const ms = await this.minishard(locateChunk(id, this.spec).minishard);
    const i = ms.lookup.get(id);
    return i === undefined ? undefined : { start: ms.starts[i], size: ms.sizes[i] };
  }

  /** Raw bytes [start, start + length) of the shard file (no data_encoding applied). */
  async readRange(start: number, length: number): Promise<Uint8Array> {
    if (start < 0 || start + length > this.src.size) {
      throw new FormatError(`bytes [${start}, ${start + length}) lie outside the ${this.src.size}-byte shard file`, this.where);
    }
    return this.src.read(start, length);
  }

  /** The ids of every chunk in the shard, from its minishard indexes only (no chunk data read). */
  async ids(): Promise<bigint[]> {
    const out: bigint[] = [];
    for (let m = 0; m < 2 ** this.spec.minishard_bits; m++) out.push(...(await this.minishard(m)).ids);
    return out;
  }

  /** Every chunk in the shard (for rewriting a shard): id -> data_encoding-decoded bytes. */
  async readAll(maxBytes = 2 ** 31 - 1): Promise<Map<bigint, Uint8Array>> {
    const out = new Map<bigint, Uint8Array>();
    const n = 2 ** this.spec.minishard_bits;
    for (let m = 0; m < n; m++) {
      const ms = await this.minishard(m);
      for (let i = 0; i < ms.ids.length; i++) out.set(ms.ids[i], await this.entry(ms, i, maxBytes));
    }
    return out;
  }
}

/**
 * The chunk ids of every `<shard>.shard` file in `dir` (a sharded mesh or skeleton folder), ascending:
 * read from the minishard indexes, not the chunks.
 */
export async function shardedFolderIds(dir: string, spec: ShardingSpec, cache?: MinishardCache): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (const f of await fs.readdir(dir)) {
    if (!f.endsWith('.shard')) continue;
    const r = await ShardReader.open(path.join(dir, f), spec, cache);
    if (!r) continue;
    try {
      ids.push(...(await r.ids()));
    } finally {
      await r.close();
    }
  }
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The defaults of `chooseSharding` (the CLI's --sharded help reads them). */
export const SHARDING_DEFAULTS = {
  /**
   * Scales of more chunks than this are written sharded unless told otherwise: 100,000 chunk
   * files is where listing, copying and syncing a layer becomes slow; a teravoxel layer in 64^3
   * chunks is ~4 million files unsharded.
   */
  aboveChunks: 100_000,
  /** Chunks per shard at most (2^9: a shard of 8x8x8 chunks, ~8,000 shards for a teravoxel layer). */
  log2MaxChunksPerShard: 9,
} as const;

/**
 * How a writer picks the sharding of a new scale from its layer type, voxel shape, chunk size and
 * (when it writes block by block) its block shape; undefined = one file per chunk. Stages take
 * one from the CLI's --sharded / --no-sharded (src/cli/sharding-options.ts).
 */
export type ShardingChoice = (kind: 'image' | 'segmentation', shape: Vec3, chunk: Vec3, block?: Vec3) => ShardingSpec | undefined;

/**
 * The sharding of a new scale of `shape` voxels in `chunk`s: sharded when `sharded` says so, or,
 * when it is undefined, when the scale has more than SHARDING_DEFAULTS.aboveChunks chunks.
 * Shards are axis-aligned boxes of chunks (identity hash), of at most 2^9 chunks; given the
 * `block` a blockwise writer uses, the largest such box that divides the block (per axis: a
 * divisor of the block, unless the block spans the whole axis), so that every block writes its own whole shards
 * once (no shard is rewritten or shared between workers); at most `maxChunks` chunks when given
 * (a writer whose block is one shard bounds its memory so). Image chunks are gzipped inside the
 * shards; compressed_segmentation is compact already.
 */
/** Bytes of voxels a writer that works a shard at a time holds per block (import, phantom): 256 MiB. */
export const SHARD_BLOCK_BYTES = 256 * 1024 * 1024;
export function chooseSharding(sharded: boolean | undefined, kind: 'image' | 'segmentation', shape: Vec3, chunk: Vec3, block?: Vec3, maxChunks?: number): ShardingSpec | undefined {
  const grid: Vec3 = [Math.ceil(shape[0] / chunk[0]), Math.ceil(shape[1] / chunk[1]), Math.ceil(shape[2] / chunk[2])];
  if (!(sharded ?? grid[0] * grid[1] * grid[2] > SHARDING_DEFAULTS.aboveChunks)) return undefined;
  const gzipData = kind === 'image';
  // `maxChunks`: a writer whose block is the shard bounds the shard's (and so the block's) memory
  const top = Math.min(SHARDING_DEFAULTS.log2MaxChunksPerShard, maxChunks !== undefined ? Math.floor(Math.log2(Math.max(1, maxChunks))) : Infinity);
  for (let log2 = top; log2 > 0; log2--) {
    const spec = suggestSharding(grid, { log2ChunksPerShard: log2, gzipData });
    if (!block) return spec;
    const s = shardShape(spec, grid, chunk);
    if (s && s.every((v, a) => block[a] % v === 0 || block[a] >= shape[a])) return spec;
  }
  return suggestSharding(grid, { log2ChunksPerShard: 0, gzipData });
}
