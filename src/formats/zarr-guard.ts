// Guards around zarrita for files we do not control:
// - every decompressor (gzip, zlib, blosc, zstd, lz4; v2 `numcodecs.*` and v3 names) is capped at
//   the decoded size of the chunk it decodes (a bomb chunk is an error, never gigabytes);
// - shard byte ranges must lie inside the shard file (an index entry of 2^40 bytes allocates nothing);
// - array metadata (.zarray / zarr.json) is checked before zarrita sees it: shape, chunks,
//   separators, sharding chunk shapes, JSON nesting; each problem a FormatError naming file and field;
// - chunk files are named by their path in errors.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import FileSystemStore from '@zarrita/storage/fs';
import * as zarr from 'zarrita';
import { FormatError } from '../core/errors.js';
import { parseJsonText } from '../core/json.js';

/** Slack over a chunk's decoded size allowed to a decompressor (checksums, codec headers). */
export const DECODE_SLACK_BYTES = 64 * 1024;

const ELEMENT_BYTES: Record<string, number> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, float16: 2, int32: 4, uint32: 4, float32: 4, int64: 8, uint64: 8, float64: 8,
};

/** Decoded bytes of a chunk of `shape` and zarrita data type `dtype`, plus slack. */
export function chunkByteCap(shape: readonly number[], dtype: string): number {
  const n = shape.reduce((a, b) => a * b, 1);
  return n * (ELEMENT_BYTES[dtype] ?? 8) + DECODE_SLACK_BYTES;
}

function tooBig(kind: string, got: number | undefined, max: number): FormatError {
  return new FormatError(`${kind} chunk decompresses to ${got === undefined ? 'more than' : `${got} bytes,`} more than the ${max} bytes a chunk of this shape can hold (a decompression bomb or a corrupt chunk)`.replace('more than more than', 'more than'));
}

function zstdContentSize(b: Uint8Array): number | undefined {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return undefined;
  const fhd = b[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const didFlag = fhd & 3;
  let at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag];
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsBytes === 0 || at + fcsBytes > b.length) return undefined;
  let v = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + b[at + i];
  at += fcsBytes;
  return fcsBytes === 2 ? v + 256 : v;
}

/** Decode `bytes` with a compressor, never producing (or allocating) more than `max` bytes. */
export async function boundedDecompress(
  kind: string,
  bytes: Uint8Array,
  max: number,
  decodeOther: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const name = kind.replace(/^numcodecs\./, '');
  let out: Uint8Array;
  const capped = (f: () => Buffer): Uint8Array => {
    try {
      return new Uint8Array(f());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooBig(name, undefined, max);
      throw new FormatError(`${name} data does not decompress (${(e as Error).message})`);
    }
  };
  if (name === 'gzip') out = capped(() => gunzipSync(bytes, { maxOutputLength: max }));
  else if (name === 'zlib') out = capped(() => inflateSync(bytes, { maxOutputLength: max }));
  else {
    if (name === 'blosc') {
      if (bytes.length < 16) throw new FormatError(`blosc chunk of ${bytes.length} bytes is shorter than its 16-byte header`);
      const nbytes = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
      if (nbytes > max) throw tooBig(name, nbytes, max);
    } else if (name === 'zstd') {
      const size = zstdContentSize(bytes);
      if (size === undefined) throw new FormatError('zstd chunk does not state its decompressed size (frame header without content size); refused because its memory cannot be bounded');
      if (size > max) throw tooBig(name, size, max);
    } else if (name === 'lz4') {
      if (bytes.length < 4) throw new FormatError(`lz4 chunk of ${bytes.length} bytes is shorter than its 4-byte size header`);
      const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
      if (size > max) throw tooBig(name, size, max);
    }
    out = await decodeOther();
  }
  if (out.byteLength > max) throw tooBig(name, out.byteLength, max);
  return out;
}

interface CodecLike {
  kind: string;
  encode(x: unknown): unknown;
  decode(x: Uint8Array): Promise<unknown>;
  computeEncodedSize?(n: number): number;
}
interface CodecClass {
  fromConfig(config: unknown, meta: { shape: number[]; dataType: string }): CodecLike;
}

let installed = false;

/** Wrap zarrita's compressors so that each decode is capped at its chunk's size (idempotent). */
export function installCodecCaps(): void {
  if (installed) return;
  installed = true;
  const registry = zarr.registry as unknown as Map<string, () => Promise<CodecClass> | CodecClass>;
  for (const base of ['gzip', 'zlib', 'blosc', 'zstd', 'lz4']) {
    for (const name of [base, `numcodecs.${base}`]) {
      const load = registry.get(name);
      if (!load) continue;
      registry.set(name, async () => {
        const Inner = await load();
        const Wrapped: CodecClass = {
          fromConfig(config, meta) {
            const inner = Inner.fromConfig(config, meta);
            const max = chunkByteCap(meta.shape, String(meta.dataType));
            return {
              kind: inner.kind,
              encode: (x: unknown) => inner.encode(x),
              computeEncodedSize: inner.computeEncodedSize?.bind(inner),
              decode: (bytes: Uint8Array) => boundedDecompress(name, bytes, max, async () => (await inner.decode(bytes)) as Uint8Array),
            };
          },
        };
        return Wrapped;
      });
    }
  }
}

/** A file-system store whose range reads must lie inside the file (shard indexes are untrusted). */
export class BoundedStore extends FileSystemStore {
  /** Bound on one chunk file's bytes when a mirror fetches it (set once the array's metadata is checked). */
  chunkCap = MAX_ZARR_CHUNK_BYTES;

  /** `fetch`: fills `rootDir` on demand from a remote store (src/formats/remote/zarr.ts); absent for local stores. */
  constructor(
    readonly rootDir: string,
    private readonly fetch?: MirrorFetch,
  ) {
    super(rootDir);
  }

  override async get(key: `/${string}`, opts?: { signal?: AbortSignal }): Promise<Uint8Array | undefined> {
    if (this.fetch) await this.fetch.file(path.join(this.rootDir, key.replace(/^\//, '')), this.chunkCap);
    return super.get(key, opts as never);
  }

  override async getRange(key: `/${string}`, range: { offset: number; length: number } | { suffixLength: number }, opts?: { signal?: AbortSignal }): Promise<Uint8Array | undefined> {
    const file = path.join(this.rootDir, key.replace(/^\//, ''));
    if (this.fetch) return this.fetch.range(file, range);
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if ('suffixLength' in range) {
      if (!(range.suffixLength <= size)) throw new FormatError(`shard file of ${size} bytes is shorter than its ${range.suffixLength}-byte shard index`, file);
    } else if (!Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length) || range.offset < 0 || range.length < 0 || range.offset + range.length > size) {
      throw new FormatError(`shard index points at bytes ${range.offset}..${range.offset + range.length}, outside the ${size}-byte shard file`, file);
    }
    return super.getRange(key, range as never, opts as never);
  }
}

/**
 * Fills a local mirror of a remote Zarr/N5 store on demand, so that the local readers here read
 * remote data (src/formats/remote/zarr.ts implements it). Paths are absolute paths in the mirror.
 */
export interface MirrorFetch {
  /** Make sure `file` is in the mirror, or known to be absent on the server; its body is at most `maxBytes`. */
  file(file: string, maxBytes: number): Promise<void>;
  /** Bytes of a range of `file` (a shard), fetched by an HTTP range request into a sparse mirror file; undefined when absent. */
  range(file: string, range: { offset: number; length: number } | { suffixLength: number }): Promise<Uint8Array | undefined>;
}

/** What the checked metadata says about chunk files, for naming them in errors. */
export interface ChunkNaming {
  /** Metadata file (.zarray or zarr.json). */
  metaFile: string;
  /** Path of the file holding chunk `coords` (for a sharded array, the shard file and inner chunk). */
  chunkFile(coords: number[]): string;
  /** Decoded bytes of one chunk (for a sharded array, of one inner chunk). */
  chunkBytes: number;
}

async function readMeta(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EISDIR') throw new FormatError('is a folder; expected a JSON metadata file', file);
    throw new FormatError(`cannot read (${code ?? (e as Error).message})`, file);
  }
  const v = parseJsonText(text, file);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError('is not a JSON object', file);
  return v as Record<string, unknown>;
}

function ints(v: unknown, field: string, file: string, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((n) => !Number.isSafeInteger(n) || (n as number) < min)) {
    const what = min > 0 ? 'positive' : 'non-negative';
    throw new FormatError(`field '${field}': expected a list of ${what} integers, got ${JSON.stringify(v)?.slice(0, 80) ?? 'nothing'}`, file);
  }
  return v as number[];
}

/** Largest decoded chunk accepted (bytes), as for precomputed: a bigger one in the metadata is refused. */
export const MAX_ZARR_CHUNK_BYTES = 2 ** 31 - 1;

function checkChunkBytes(chunks: number[], elementBytes: number, field: string, file: string): void {
  const bytes = chunks.reduce((a, b) => a * b, 1) * elementBytes;
  if (bytes > MAX_ZARR_CHUNK_BYTES) throw new FormatError(`field '${field}': a chunk of [${chunks}] takes ${bytes} bytes, more than ${MAX_ZARR_CHUNK_BYTES}`, file);
}

function separator(v: unknown, field: string, file: string, dflt: string): string {
  if (v === undefined || v === null) return dflt;
  if (v !== '.' && v !== '/') throw new FormatError(`field '${field}': expected "." or "/", got ${JSON.stringify(v)}`, file);
  return v;
}

/** Codec names a v3 `codecs` list (and sharding's inner lists) may hold: zarrita's registry. */
function checkCodecs(list: unknown, field: string, file: string, prefix = ''): void {
  if (!Array.isArray(list)) throw new FormatError(`field '${field}': expected a list of codecs, got ${JSON.stringify(list)?.slice(0, 80)}`, file);
  const registry = zarr.registry as unknown as Map<string, unknown>;
  list.forEach((c: unknown, i: number) => {
    const name = (c as { name?: unknown; id?: unknown } | null)?.[prefix ? 'id' : 'name'];
    const known = typeof name === 'string' && (registry.has(prefix + name) || (prefix ? /^(numcodecs\.)?fixedscaleoffset$/.test(name) : name === 'sharding_indexed' || name === 'bytes'));
    if (!known) {
      throw new FormatError(`field '${field}[${i}]': codec ${JSON.stringify(name ?? c)?.slice(0, 80)} is not supported`, file);
    }
    if (!prefix && name === 'sharding_indexed') {
      const cfg = (c as { configuration?: { codecs?: unknown; index_codecs?: unknown } }).configuration;
      checkCodecs(cfg?.codecs ?? [], `${field}[${i}].configuration.codecs`, file);
      checkCodecs(cfg?.index_codecs ?? [], `${field}[${i}].configuration.index_codecs`, file);
    }
  });
}

/**
 * Check the metadata files of the Zarr node in `dir` (JSON depth of .zarray/.zattrs/.zgroup/
 * zarr.json; for an array: shape, chunks, separators, sharding) before zarrita reads them.
 * Returns chunk naming for arrays, undefined for groups or when no metadata is there.
 */
export async function checkZarrNode(dir: string): Promise<ChunkNaming | undefined> {
  for (const f of ['.zattrs', '.zgroup']) await readMeta(path.join(dir, f));
  const v2 = await readMeta(path.join(dir, '.zarray'));
  if (v2) {
    const file = path.join(dir, '.zarray');
    const shape = ints(v2.shape, 'shape', file, 0);
    const chunks = ints(v2.chunks, 'chunks', file, 1);
    if (chunks.length !== shape.length) throw new FormatError(`field 'chunks': ${chunks.length} values for a ${shape.length}-dimensional 'shape'`, file);
    checkChunkBytes(chunks, Number(/(\d+)$/.exec(String(v2.dtype))?.[1] ?? 8) || 8, 'chunks', file);
    const sep = separator(v2.dimension_separator, 'dimension_separator', file, '.');
    if (v2.compressor !== null && v2.compressor !== undefined) checkCodecs([v2.compressor], 'compressor', file, 'numcodecs.');
    if (v2.filters !== null && v2.filters !== undefined) checkCodecs(v2.filters, 'filters', file, 'numcodecs.');
    const chunkBytes = chunks.reduce((a, b) => a * b, 1) * (Number(/(\d+)$/.exec(String(v2.dtype))?.[1] ?? 8) || 8);
    return { metaFile: file, chunkFile: (c) => path.join(dir, c.join(sep) || '0'), chunkBytes };
  }
  const v3 = await readMeta(path.join(dir, 'zarr.json'));
  if (!v3 || v3.node_type !== 'array') return undefined;
  const file = path.join(dir, 'zarr.json');
  const shape = ints(v3.shape, 'shape', file, 0);
  const grid = v3.chunk_grid as { name?: unknown; configuration?: { chunk_shape?: unknown } } | undefined;
  if (!grid || grid.name !== 'regular') throw new FormatError(`field 'chunk_grid.name': expected "regular", got ${JSON.stringify(grid?.name)}`, file);
  const chunks = ints(grid.configuration?.chunk_shape, 'chunk_grid.configuration.chunk_shape', file, 1);
  if (chunks.length !== shape.length) throw new FormatError(`field 'chunk_grid.configuration.chunk_shape': ${chunks.length} values for a ${shape.length}-dimensional 'shape'`, file);
  checkChunkBytes(chunks, ELEMENT_BYTES[String(v3.data_type)] ?? 8, 'chunk_grid.configuration.chunk_shape', file);
  const enc = (v3.chunk_key_encoding ?? { name: 'default' }) as { name?: unknown; configuration?: { separator?: unknown } };
  if (enc.name !== 'default' && enc.name !== 'v2') throw new FormatError(`field 'chunk_key_encoding.name': expected "default" or "v2", got ${JSON.stringify(enc.name)}`, file);
  const sep = separator(enc.configuration?.separator, 'chunk_key_encoding.configuration.separator', file, enc.name === 'v2' ? '.' : '/');
  const key = (c: number[]) => (enc.name === 'v2' ? c.join(sep) || '0' : ['c', ...c].join(sep));
  checkCodecs(v3.codecs ?? [], 'codecs', file);
  const codecs = v3.codecs as Array<{ name?: unknown; configuration?: { chunk_shape?: unknown } }> ?? [];
  const shard = codecs.find((c) => c && c.name === 'sharding_indexed');
  const elementBytes = ELEMENT_BYTES[String(v3.data_type)] ?? 8;
  if (!shard) return { metaFile: file, chunkFile: (c) => path.join(dir, key(c)), chunkBytes: chunks.reduce((a, b) => a * b, 1) * elementBytes };
  const inner = ints(shard.configuration?.chunk_shape, 'codecs[sharding_indexed].configuration.chunk_shape', file, 1);
  if (inner.length !== shape.length || inner.some((n, i) => chunks[i] % n !== 0)) {
    throw new FormatError(`field 'codecs[sharding_indexed].configuration.chunk_shape': [${inner}] must have ${shape.length} values that divide the shard shape [${chunks}]`, file);
  }
  return {
    metaFile: file,
    chunkFile: (c) => `shard ${path.join(dir, key(c.map((v, i) => Math.floor((v * inner[i]) / chunks[i]))))}`,
    chunkBytes: inner.reduce((a, b) => a * b, 1) * elementBytes,
  };
}
