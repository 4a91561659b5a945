// Encoding and decoding of one precomputed chunk: raw, compressed_segmentation, jpeg, png, with
// an optional gzip layer (detected by its magic bytes when reading).
// A chunk is [x, y, z, channel] with x fastest: exactly a Volume's data layout.
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import sharp, { type OutputInfo } from 'sharp';
import { type Box, type Vec3, boxShape } from '../../core/box.js';
import type { Volume } from '../../core/volume.js';
import { type AnyTypedArray, type DataType, allocate, asBytes, bytesPerElement, viewBytes } from '../../core/dtype.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { decodeCompressedSegmentation, decodeCompressedSegmentationInto, encodeCompressedSegmentation } from './compressed-segmentation.js';
import type { ChunkEncoding } from './info.js';
import { placeChunk } from './place.js';

const gunzipAsync = promisify(gunzipCb) as (b: Uint8Array, o: { maxOutputLength: number }) => Promise<Buffer>;
const gzipAsync = promisify(gzipCb) as (b: Uint8Array, o?: { level?: number }) => Promise<Buffer>;

export interface ChunkFormat {
  dtype: DataType;
  channels: number;
  encoding: ChunkEncoding;
  blockSize?: Vec3;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The most bytes a valid encoded chunk of this shape could take (a gzip-bomb guard). */
function maxEncodedBytes(f: ChunkFormat, shape: Vec3): number {
  const n = shape[0] * shape[1] * shape[2] * f.channels;
  const raw = n * bytesPerElement(f.dtype);
  if (f.encoding === 'compressed_segmentation') return 16 + raw * 3 + n * 8;
  // a raw chunk is exactly `raw` bytes (one more lets a longer one fail with its length)
  if (f.encoding === 'raw') return raw + 1;
  return raw * 4 + 1024 * 1024;
}

/** gunzip when the bytes carry the gzip magic; a raw chunk that merely starts with it is kept. */
export async function maybeGunzip(bytes: Uint8Array, where: string, max: number, rawLength?: number): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipAsync(bytes, { maxOutputLength: max });
  } catch (err) {
    if (rawLength !== undefined && bytes.byteLength === rawLength) return bytes;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new FormatError(`gzip chunk decompresses to more than the ${max} bytes a chunk of this shape can hold (a decompression bomb or a corrupt chunk)`, where);
    }
    throw new FormatError(`chunk has the gzip signature but does not decompress (${(err as Error).message})`, where);
  }
}

/**
 * Decode a chunk file's bytes into a typed array of `shape` x channels (x fastest). `where` (the
 * chunk path) names the chunk in errors: wrong byte length, corrupt encodings, bad images.
 */
export async function decodeChunk(bytes: Uint8Array, f: ChunkFormat, shape: Vec3, where: string, own = true): Promise<AnyTypedArray> {
  const nvox = shape[0] * shape[1] * shape[2];
  const rawLength = nvox * f.channels * bytesPerElement(f.dtype);
  const data = await maybeGunzip(bytes, where, maxEncodedBytes(f, shape), f.encoding === 'raw' ? rawLength : undefined);
  switch (f.encoding) {
    case 'raw': {
      if (data.byteLength !== rawLength) {
        throw new FormatError(
          `expected ${rawLength} bytes (raw ${f.dtype} [${shape}] x ${f.channels} channel(s)), got ${data.byteLength}`,
          where,
        );
      }
      const view = viewBytes(f.dtype, data, where);
      // Own the memory when the view shares a pooled Buffer (unless the caller copies it at once).
      return !own || view.byteLength === view.buffer.byteLength ? view : (view.slice() as AnyTypedArray);
    }
    case 'compressed_segmentation': {
      if (f.dtype !== 'uint32' && f.dtype !== 'uint64') throw new FormatError(`compressed_segmentation needs uint32 or uint64, not ${f.dtype}`, where);
      return decodeCompressedSegmentation(data, f.dtype, shape, f.channels, f.blockSize ?? [8, 8, 8], where);
    }
    case 'jpeg':
    case 'png':
      return decodeImage(data, f, shape, where);
  }
}

/**
 * Decode the chunk at `chunkBox` (its file's bytes) into `out`, which it may overlap only partly:
 * the voxels of the chunk inside `out.box` are written, the others left alone. With `channel`,
 * only that channel of the chunk is placed, into a one-channel `out`. Equivalent to copying from
 * `decodeChunk(...)`, but compressed_segmentation chunks are decoded straight into `out` and only
 * where it overlaps (a neighbour chunk read for a block's margin costs the margin, not the chunk;
 * no chunk-sized buffer), and raw chunks are copied from the file's bytes without another copy.
 */
export async function decodeChunkInto(bytes: Uint8Array, f: ChunkFormat, chunkBox: Box, out: Volume, where: string, channel?: number): Promise<void> {
  const shape = boxShape(chunkBox);
  if (f.encoding !== 'compressed_segmentation' || channel !== undefined) {
    placeChunk(await decodeChunk(bytes, f, shape, where, false), chunkBox, f.channels, out, channel);
    return;
  }
  if (f.dtype !== 'uint32' && f.dtype !== 'uint64') throw new FormatError(`compressed_segmentation needs uint32 or uint64, not ${f.dtype}`, where);
  if (out.dtype !== f.dtype || out.channels !== f.channels) throw new UsageError(`cannot decode ${f.dtype} x ${f.channels} chunks into a ${out.dtype} x ${out.channels} volume`);
  const data = await maybeGunzip(bytes, where, maxEncodedBytes(f, shape));
  const offset: Vec3 = [chunkBox.min[0] - out.box.min[0], chunkBox.min[1] - out.box.min[1], chunkBox.min[2] - out.box.min[2]];
  decodeCompressedSegmentationInto(data, f.dtype, shape, f.channels, f.blockSize ?? [8, 8, 8], out.data as Uint32Array | BigUint64Array, out.shape, offset, where);
}

async function decodeImage(data: Uint8Array, f: ChunkFormat, shape: Vec3, where: string): Promise<AnyTypedArray> {
  const nvox = shape[0] * shape[1] * shape[2];
  const depth = f.dtype === 'uint16' ? 'ushort' : 'uchar';
  if (f.dtype !== 'uint8' && !(f.encoding === 'png' && f.dtype === 'uint16')) {
    throw new FormatError(`${f.encoding} chunks hold uint8${f.encoding === 'png' ? ' or uint16' : ''}, not ${f.dtype}`, where);
  }
  let pixels: Buffer;
  let info: OutputInfo;
  try {
    const img = sharp(data, { failOn: 'error', limitInputPixels: Math.max(1, nvox) });
    // 16-bit samples stay 16-bit only in a 16-bit colour space (else libvips rescales to 8 bits).
    if (depth === 'ushort') img.toColourspace(f.channels >= 3 ? 'rgb16' : 'grey16');
    const r = await img.raw({ depth }).toBuffer({ resolveWithObject: true });
    pixels = r.data;
    info = r.info;
  } catch (err) {
    throw new FormatError(`${f.encoding} image does not decode (${(err as Error).message})`, where);
  }
  if (info.width * info.height !== nvox) {
    throw new FormatError(
      `${f.encoding} image is ${info.width}x${info.height} = ${info.width * info.height} pixels, expected ${nvox} (chunk [${shape}])`,
      where,
    );
  }
  const out = allocate(f.dtype, nvox * f.channels) as Uint8Array | Uint16Array;
  const src = f.dtype === 'uint16' ? new Uint16Array(pixels.buffer, pixels.byteOffset, pixels.byteLength >>> 1) : pixels;
  const ic = info.channels;
  if (src.length !== nvox * ic) throw new FormatError(`${f.encoding} image decoded to ${src.length} samples, expected ${nvox * ic}`, where);
  for (let c = 0; c < f.channels; c++) {
    // Grey images stored as RGB give channel 0 for every channel; missing channels repeat the last.
    const sc = Math.min(c, ic - 1);
    const base = c * nvox;
    for (let i = 0, s = sc; i < nvox; i++, s += ic) out[base + i] = src[s];
  }
  return out;
}

/** Encode a chunk (`data` = shape x channels, x fastest); `gzip` wraps the result in gzip. */
export async function encodeChunk(
  data: AnyTypedArray,
  f: ChunkFormat,
  shape: Vec3,
  opts: { gzip?: boolean; jpegQuality?: number } = {},
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  const nvox = shape[0] * shape[1] * shape[2];
  switch (f.encoding) {
    case 'raw':
      bytes = asBytes(data);
      break;
    case 'compressed_segmentation':
      if (!(data instanceof Uint32Array || data instanceof BigUint64Array)) {
        throw new UsageError(`compressed_segmentation encodes uint32 or uint64 labels, not ${f.dtype}`);
      }
      bytes = encodeCompressedSegmentation(data, shape, f.channels, f.blockSize ?? [8, 8, 8]);
      break;
    case 'jpeg':
    case 'png': {
      const ch = f.channels;
      // Written: uint8 with 1 or 3 channels (jpeg), 1, 3 or 4 channels (png). Read: see decodeImage.
      const okChannels = f.encoding === 'jpeg' ? ch === 1 || ch === 3 : ch === 1 || ch === 3 || ch === 4;
      if (!(data instanceof Uint8Array) || !okChannels) {
        throw new UsageError(`writing ${f.encoding} chunks supports uint8 with ${f.encoding === 'jpeg' ? '1 or 3' : '1, 3 or 4'} channels, not ${f.dtype} x ${ch}`);
      }
      const inter = new Uint8Array(nvox * ch);
      for (let c = 0; c < ch; c++) for (let i = 0, j = c; i < nvox; i++, j += ch) inter[j] = data[c * nvox + i];
      const img = sharp(Buffer.from(inter.buffer, inter.byteOffset, inter.byteLength), {
        raw: { width: shape[0], height: shape[1] * shape[2], channels: ch as 1 | 3 | 4 },
      });
      if (ch === 1) img.toColourspace('b-w');
      bytes =
        f.encoding === 'jpeg'
          ? await img.jpeg({ quality: opts.jpegQuality ?? 90, chromaSubsampling: '4:4:4' }).toBuffer()
          : await img.png({ compressionLevel: 6 }).toBuffer();
      break;
    }
  }
  return opts.gzip ? await gzipAsync(bytes, { level: 6 }) : bytes;
}
