// Image stacks: a folder of PNG/TIFF slices (one z per file, natural sort of the file names), and a
// multi-page TIFF (one z per page).
//
// Slice folders: PNGs of the common kinds (8/16-bit grey, grey+alpha, RGB, RGBA, not interlaced,
// no pixel-changing chunks) are decoded by png.ts (node:zlib on the thread pool, header read from
// IHDR at open); everything else is decoded with sharp, loaded on first use: 8-bit and 16-bit,
// grayscale (read with `.toColourspace('b-w')` / `'grey16'` so sharp never expands to RGB) or RGB
// (3 channels; alpha is dropped). Both give the same bytes (png.test.ts). read(box) decodes only the slices in the box's z range. PNG and strip TIFF cannot be
// decoded in part, so a box smaller than the slice decodes the whole slice once and keeps it in a
// byte-bounded LRU (512 MiB per open stack, WIRING_SLICE_CACHE_MB): the blocks of one z band
// then share the decode instead of repeating it per block.
// Every slice must have the same width, height, channel count and bit depth: checked from the
// headers when the folder is opened, and again on decode; the odd file is named in the error.
//
// Multi-page TIFF is decoded with utif (only the pages in the z range): 8/16-bit unsigned,
// 16-bit signed, 32-bit unsigned and 32-bit float samples, 1 or 3 samples per pixel, any
// compression utif knows (none, LZW, deflate, packbits, JPEG). utif needs the whole file in memory,
// so the file is read once at open (fine up to a few GB).
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Metadata, OutputInfo, Sharp, SharpOptions } from 'sharp';
import { type Box, type Vec3, boxIsEmpty, boxShape } from '../core/box.js';
import { type DataType, bytesPerElement } from '../core/dtype.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { checkReadBox, emptyVolume } from './npy.js';
import { decodePng, parsePngHeader, pngFastPath, pngOutputFormat } from './png.js';
import type { VolumeSource } from './source.js';

const IMAGE_EXT = /\.(png|tiff?)$/i;
const PNG_EXT = /\.png$/i;

/** Natural sort: "im2.png" < "im10.png"; digit runs compare by value, the rest by code point. */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny ? -1 : 1;
      if (x.length !== y.length) return x.length - y.length;
      continue;
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}

/** The image files of a folder, naturally sorted (hidden files skipped). */
export async function listSlices(dir: string): Promise<string[]> {
  const names = (await fs.readdir(dir)).filter((n) => IMAGE_EXT.test(n) && !n.startsWith('.'));
  return names.sort(naturalCompare).map((n) => path.join(dir, n));
}

interface SliceFormat {
  width: number;
  height: number;
  channels: number; // 1 or 3 (alpha dropped)
  dtype: DataType; // uint8 or uint16
}

/** sharp, loaded on first use (the PNG fast path never needs it; loading it takes up to a second). */
let sharpModule: Promise<typeof import('sharp')> | undefined;
async function sharpOf(input: string | Buffer, opts?: SharpOptions): Promise<Sharp> {
  sharpModule ??= import('sharp');
  const m = await sharpModule;
  return (m.default as unknown as (i: string | Buffer, o?: SharpOptions) => Sharp)(input, opts);
}

/** The first bytes of a file (fewer when the file is shorter). */
async function readHead(file: string, n: number): Promise<Uint8Array> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function sliceFormat(file: string): Promise<SliceFormat> {
  if (PNG_EXT.test(file)) {
    // The common PNG case is read from its IHDR (33 bytes) instead of a sharp pipeline per file.
    let head: Uint8Array;
    try {
      head = await readHead(file, 33);
    } catch (e) {
      throw new FormatError(`cannot read the image header (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
    }
    const h = parsePngHeader(head, file);
    if (pngFastPath(h)) return { width: h.width, height: h.height, ...pngOutputFormat(h) };
  }
  let m: Metadata;
  try {
    m = await (await sharpOf(file)).metadata();
  } catch (e) {
    throw new FormatError(`cannot read the image header (${(e as Error).message})`, file);
  }
  if ((m.pages ?? 1) > 1) {
    throw new FormatError(`has ${m.pages} pages; a slice folder holds one image per file (open a multi-page TIFF directly)`, file);
  }
  const depth = m.depth;
  const dtype: DataType | undefined = depth === 'uchar' ? 'uint8' : depth === 'ushort' ? 'uint16' : undefined;
  if (!dtype) throw new FormatError(`sample depth '${depth}' is not supported; expected 8-bit or 16-bit unsigned`, file);
  const raw = m.channels ?? 1;
  const colour = raw >= 3 && m.space !== 'b-w' && m.space !== 'grey16';
  if (!m.width || !m.height) throw new FormatError('image has no width/height', file);
  return { width: m.width, height: m.height, channels: colour ? 3 : 1, dtype };
}

function describe(f: SliceFormat): string {
  return `${f.width}x${f.height} ${f.dtype} ${f.channels === 1 ? 'grayscale' : 'RGB'}`;
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

export interface ImageStackSource extends VolumeSource {
  readonly files: readonly string[];
}

/** Decoded-slice cache per open stack (bytes); WIRING_SLICE_CACHE_MB overrides the 512 MiB default. */
const DEFAULT_CACHE_BYTES = (Number(process.env.WIRING_SLICE_CACHE_MB) || 512) * 1024 * 1024;

/** A byte-bounded LRU of decoded slices; concurrent requests for one slice share one decode. */
class SliceCache {
  private map = new Map<number, Promise<Uint8Array | Uint16Array>>();
  private sizes = new Map<number, number>();
  private used = 0;
  constructor(readonly budget: number) {}
  async get(z: number, decode: () => Promise<Uint8Array | Uint16Array>): Promise<Uint8Array | Uint16Array> {
    const hit = this.map.get(z);
    if (hit) {
      this.map.delete(z);
      this.map.set(z, hit); // most recently used
      return hit;
    }
    const p = decode();
    this.map.set(z, p);
    try {
      const data = await p;
      this.sizes.set(z, data.byteLength);
      this.used += data.byteLength;
      for (const [key] of this.map) {
        if (this.used <= this.budget) break;
        if (key === z) continue;
        const n = this.sizes.get(key);
        if (n === undefined) continue; // still decoding
        this.map.delete(key);
        this.sizes.delete(key);
        this.used -= n;
      }
      return data;
    } catch (e) {
      this.map.delete(z);
      throw e;
    }
  }
}

/** Open a folder of PNG/TIFF slices (z = position in natural file-name order). */
export async function openImageStack(dir: string, opts: { voxelSize?: Vec3; checkAll?: boolean; cacheBytes?: number } = {}): Promise<ImageStackSource> {
  const files = await listSlices(dir);
  if (files.length === 0) throw new UsageError('folder has no .png/.tif/.tiff slices', dir);
  const first = await sliceFormat(files[0]);
  if (opts.checkAll !== false) {
    await mapLimit(files.slice(1), 8, async (f) => {
      const g = await sliceFormat(f);
      if (g.width !== first.width || g.height !== first.height || g.channels !== first.channels || g.dtype !== first.dtype) {
        throw new FormatError(`slice is ${describe(g)} but ${path.basename(files[0])} is ${describe(first)}; all slices must match`, f);
      }
    });
  }
  const { dtype, channels } = first;
  const shape: Vec3 = [first.width, first.height, files.length];
  const voxelSize = opts.voxelSize ?? [1, 1, 1];
  const sliceBytes = first.width * first.height * channels * bytesPerElement(dtype);
  const cache = new SliceCache(opts.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const src: ImageStackSource = {
    url: dir,
    format: 'image-stack',
    dtype,
    shape,
    channels,
    voxelSize,
    offset: [0, 0, 0],
    chunkShape: [first.width, first.height, 1],
    files,
    async read(b: Box): Promise<Volume> {
      checkReadBox(src, b);
      if (boxIsEmpty(b)) return emptyVolume(dtype, b, channels, voxelSize);
      const [bx, by, bz] = boxShape(b);
      const out = Volume.zeros(dtype, b, { channels, voxelSize });
      const plane = bx * by;
      const zs = Array.from({ length: bz }, (_, i) => b.min[2] + i);
      const W = first.width;
      const partial = bx !== W || by !== first.height;
      await mapLimit(zs, 4, async (z) => {
        const file = files[z];
        const k = z - b.min[2];
        // A partial read decodes the whole slice once (PNG/strip TIFF are not random access)
        // and keeps it in a byte-bounded LRU, so neighbouring blocks of the same slices reuse it.
        let data: Uint8Array | Uint16Array;
        let rowStride: number;
        let start: number;
        if (partial && cache.budget >= sliceBytes) {
          data = await cache.get(z, () => decodeSlice(file, first, { left: 0, top: 0, width: W, height: first.height }));
          rowStride = W * channels;
          start = (b.min[1] * W + b.min[0]) * channels;
        } else {
          data = await decodeSlice(file, first, { left: b.min[0], top: b.min[1], width: bx, height: by });
          rowStride = bx * channels;
          start = 0;
        }
        const o = out.data as Uint8Array | Uint16Array;
        if (channels === 1 && rowStride === bx) {
          o.set(data.subarray(start, start + plane), k * plane); // whole rows: one copy
          return;
        }
        for (let y = 0; y < by; y++) {
          const row = start + y * rowStride;
          if (channels === 1) {
            o.set(data.subarray(row, row + bx), k * plane + y * bx);
          } else {
            for (let c = 0; c < channels; c++) {
              const base = (c * bz + k) * plane + y * bx;
              for (let x = 0; x < bx; x++) o[base + x] = data[row + x * channels + c];
            }
          }
        }
      });
      return out;
    },
    async close() {},
  };
  return src;
}

/** Decode one slice's crop to an interleaved typed array (uint8 or uint16). */
async function decodeSlice(
  file: string,
  f: SliceFormat,
  crop: { left: number; top: number; width: number; height: number },
): Promise<Uint8Array | Uint16Array> {
  let input: string | Buffer = file;
  if (PNG_EXT.test(file)) {
    // PNG: the direct decoder for the common case (png.ts); anything else goes to sharp below,
    // from the bytes already read.
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      throw new FormatError(`cannot read slice (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
    }
    const png = await decodePng(bytes, file);
    if (png) {
      const { width, height } = png.header;
      if (width !== f.width || height !== f.height || png.channels !== f.channels || (png.data instanceof Uint16Array ? 'uint16' : 'uint8') !== f.dtype) {
        throw new FormatError(`slice decodes to ${width}x${height}x${png.channels} ${png.data instanceof Uint16Array ? 'uint16' : 'uint8'}; expected ${describe(f)} like the other slices`, file);
      }
      return cropInterleaved(png.data, f, crop);
    }
    input = bytes;
  }
  let img = await sharpOf(input, { limitInputPixels: false });
  if (crop.left !== 0 || crop.top !== 0 || crop.width !== f.width || crop.height !== f.height) img = img.extract(crop);
  if (f.channels === 1) img = img.toColourspace(f.dtype === 'uint16' ? 'grey16' : 'b-w');
  else img = img.removeAlpha().toColourspace(f.dtype === 'uint16' ? 'rgb16' : 'srgb');
  let res: { data: Buffer; info: OutputInfo };
  try {
    res = await img.raw({ depth: f.dtype === 'uint16' ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new FormatError(`cannot decode slice (${(e as Error).message}); expected ${describe(f)}`, file);
  }
  const { data, info } = res;
  const n = crop.width * crop.height * f.channels;
  if (info.width !== crop.width || info.height !== crop.height || info.channels !== f.channels || data.length !== n * bytesPerElement(f.dtype)) {
    throw new FormatError(
      `slice decodes to ${info.width}x${info.height}x${info.channels} (${data.length} bytes); expected ${describe(f)} like the other slices`,
      file,
    );
  }
  if (f.dtype === 'uint8') return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return new Uint16Array(copy.buffer);
}

/** The crop of an interleaved whole-slice array (the array itself when the crop is the slice). */
function cropInterleaved<T extends Uint8Array | Uint16Array>(data: T, f: SliceFormat, crop: { left: number; top: number; width: number; height: number }): T {
  if (crop.left === 0 && crop.top === 0 && crop.width === f.width && crop.height === f.height) return data;
  const c = f.channels;
  const out = new (data.constructor as new (n: number) => T)(crop.width * crop.height * c);
  for (let y = 0; y < crop.height; y++) {
    const s = ((crop.top + y) * f.width + crop.left) * c;
    out.set(data.subarray(s, s + crop.width * c), y * crop.width * c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Multi-page TIFF (utif)
// ---------------------------------------------------------------------------------------------

interface UtifIfd {
  [tag: string]: unknown;
  width?: number;
  height?: number;
  data?: Uint8Array;
}
interface Utif {
  decode(buf: ArrayBufferLike | Uint8Array): UtifIfd[];
  decodeImage(buf: ArrayBufferLike | Uint8Array, ifd: UtifIfd, ifds?: UtifIfd[]): void;
}
const UTIF = createRequire(import.meta.url)('utif') as Utif;

function tag(ifd: UtifIfd, t: number): number | undefined {
  const v = ifd[`t${t}`] as number[] | undefined;
  return v && v.length ? v[0] : undefined;
}

function tiffPageType(ifd: UtifIfd, where: string): { dtype: DataType; samples: number } {
  const bps = tag(ifd, 258) ?? 1;
  const samples = tag(ifd, 277) ?? 1;
  const fmt = tag(ifd, 339) ?? 1; // 1 uint, 2 int, 3 float
  let dtype: DataType | undefined;
  if (bps === 8 && fmt === 1) dtype = 'uint8';
  else if (bps === 8 && fmt === 2) dtype = 'int8';
  else if (bps === 16 && fmt === 1) dtype = 'uint16';
  else if (bps === 16 && fmt === 2) dtype = 'int16';
  else if (bps === 32 && fmt === 1) dtype = 'uint32';
  else if (bps === 32 && fmt === 2) dtype = 'int32';
  else if (bps === 32 && fmt === 3) dtype = 'float32';
  if (!dtype) throw new FormatError(`TIFF samples of ${bps} bits (SampleFormat ${fmt}) are not supported; expected 8/16/32-bit`, where);
  if (samples !== 1 && samples !== 3 && samples !== 4) {
    throw new FormatError(`TIFF has ${samples} samples per pixel; expected 1 (grayscale) or 3/4 (RGB, alpha dropped)`, where);
  }
  if (samples > 1 && (tag(ifd, 284) ?? 1) === 2) throw new FormatError('planar-configuration 2 (separate planes) TIFF is not supported', where);
  return { dtype, samples };
}

const TIFF_TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

/**
 * Walk the main IFD chain before utif does: every IFD must lie inside the file and no IFD may
 * repeat (a cyclic chain would make utif loop forever). BigTIFF is refused clearly.
 */
function checkTiffChain(bytes: Uint8Array, file: string): void {
  if (bytes.length < 8) throw new FormatError(`file is ${bytes.length} bytes, too short for a TIFF header`, file);
  const le = bytes[0] === 0x49 && bytes[1] === 0x49;
  const be = bytes[0] === 0x4d && bytes[1] === 0x4d;
  if (!le && !be) throw new FormatError('not a TIFF file (byte order mark is not II or MM)', file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint16(2, le);
  if (magic === 43) throw new FormatError('BigTIFF is not supported; save as classic TIFF or as a folder of slices', file);
  if (magic !== 42) throw new FormatError(`TIFF magic number is ${magic}; expected 42`, file);
  const seen = new Set<number>();
  let off = dv.getUint32(4, le);
  while (off !== 0) {
    if (seen.has(off)) throw new FormatError(`IFD chain loops back to offset ${off}`, file);
    if (seen.size > 1_000_000) throw new FormatError('more than a million IFDs', file);
    seen.add(off);
    if (off + 2 > bytes.length) throw new FormatError(`IFD at offset ${off} lies past the end of the file (${bytes.length} bytes)`, file);
    const n = dv.getUint16(off, le);
    const end = off + 2 + n * 12 + 4;
    if (end > bytes.length) throw new FormatError(`IFD at offset ${off} with ${n} entries runs past the end of the file`, file);
    for (let e = 0; e < n; e++) {
      const p = off + 2 + e * 12;
      const type = dv.getUint16(p + 2, le);
      const count = dv.getUint32(p + 4, le);
      const size = (TIFF_TYPE_SIZE[type] ?? 1) * count;
      if (size > 4) {
        const at = dv.getUint32(p + 8, le);
        if (at + size > bytes.length) {
          throw new FormatError(`IFD entry ${dv.getUint16(p, le)} at offset ${p} points to ${size} bytes at ${at}, past the end of the file`, file);
        }
      }
    }
    off = dv.getUint32(off + 2 + n * 12, le);
  }
}

/** Open a multi-page TIFF as a volume: page k is z = k. */
export async function openTiffStack(file: string, opts: { voxelSize?: Vec3 } = {}): Promise<VolumeSource> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read TIFF file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  checkTiffChain(bytes, file);
  let ifds: UtifIfd[];
  try {
    ifds = UTIF.decode(bytes);
  } catch (e) {
    throw new FormatError(`not a readable TIFF (${(e as Error).message})`, file);
  }
  // Only full-resolution pages (NewSubfileType bit 0 = reduced-resolution thumbnail).
  const pages = ifds.filter((d) => d.t256 && ((tag(d, 254) ?? 0) & 1) === 0);
  if (pages.length === 0) throw new FormatError('TIFF has no image pages', file);
  const w = tag(pages[0], 256)!;
  const h = tag(pages[0], 257)!;
  const t0 = tiffPageType(pages[0], `${file} page 0`);
  pages.forEach((p, k) => {
    const t = tiffPageType(p, `${file} page ${k}`);
    if (tag(p, 256) !== w || tag(p, 257) !== h || t.dtype !== t0.dtype || t.samples !== t0.samples) {
      throw new FormatError(
        `page ${k} is ${tag(p, 256)}x${tag(p, 257)} ${t.dtype} x${t.samples} but page 0 is ${w}x${h} ${t0.dtype} x${t0.samples}; all pages must match`,
        file,
      );
    }
  });
  // every strip/tile must lie inside the file (utif would read past the end as zeros)
  pages.forEach((p, k) => {
    const offs = (p.t273 ?? p.t324) as number[] | undefined;
    const counts = (p.t279 ?? p.t325) as number[] | undefined;
    if (!offs || !counts || offs.length !== counts.length) {
      throw new FormatError(`page ${k} has no valid strip/tile offsets and byte counts`, file);
    }
    const t = tiffPageType(p, `${file} page ${k}`);
    const need = (tag(p, 256) ?? 0) * (tag(p, 257) ?? 0) * t.samples * bytesPerElement(t.dtype);
    if (need > 2 ** 31) throw new FormatError(`page ${k} is ${tag(p, 256)}x${tag(p, 257)}: too large a page (> 2 GiB)`, file);
    if ((tag(p, 259) ?? 1) === 1 && counts.reduce((a, b) => a + b, 0) < need) {
      throw new FormatError(`page ${k} is uncompressed but its strips hold ${counts.reduce((a, b) => a + b, 0)} bytes; expected ${need}`, file);
    }
    for (let i = 0; i < offs.length; i++) {
      if (offs[i] + counts[i] > bytes.length) {
        throw new FormatError(`truncated: page ${k} strip ${i} needs bytes ${offs[i]}..${offs[i] + counts[i]} but the file has ${bytes.length}`, file);
      }
    }
  });
  const dtype = t0.dtype;
  const channels = t0.samples === 1 ? 1 : 3;
  const samples = t0.samples;
  const voxelSize = opts.voxelSize ?? [1, 1, 1];
  const bpe = bytesPerElement(dtype);
  const src: VolumeSource = {
    url: file,
    format: 'tiff',
    dtype,
    shape: [w, h, pages.length],
    channels,
    voxelSize,
    offset: [0, 0, 0],
    chunkShape: [w, h, 1],
    async read(b: Box): Promise<Volume> {
      checkReadBox(src, b);
      if (boxIsEmpty(b)) return emptyVolume(dtype, b, channels, voxelSize);
      const [bx, by, bz] = boxShape(b);
      const out = Volume.zeros(dtype, b, { channels, voxelSize });
      const plane = bx * by;
      for (let k = 0; k < bz; k++) {
        const z = b.min[2] + k;
        const ifd = pages[z];
        try {
          UTIF.decodeImage(bytes, ifd, ifds);
        } catch (e) {
          throw new FormatError(`cannot decode page ${z} (${(e as Error).message})`, file);
        }
        const data = ifd.data;
        const need = w * h * samples * bpe;
        if (!data || data.length < need) {
          throw new FormatError(`page ${z} decodes to ${data?.length ?? 0} bytes; expected ${need} (${w}x${h} ${dtype} x${samples})`, file);
        }
        // utif returns little-endian samples for 16-bit; 32-bit big-endian needs a swap
        let page = data;
        if (bpe === 4 && (bytes[0] === 0x4d)) {
          page = data.slice(0, need);
          for (let i = 0; i < need; i += 4) {
            const a = page[i], c = page[i + 1];
            page[i] = page[i + 3];
            page[i + 1] = page[i + 2];
            page[i + 2] = c;
            page[i + 3] = a;
          }
        }
        const aligned = page.byteOffset % bpe === 0 ? page : page.slice(0, need);
        const arr = new (out.data.constructor as new (b: ArrayBufferLike, o: number, n: number) => Uint8Array)(aligned.buffer, aligned.byteOffset, w * h * samples);
        const o = out.data as unknown as Uint8Array;
        for (let c = 0; c < channels; c++) {
          for (let y = 0; y < by; y++) {
            const row = ((b.min[1] + y) * w + b.min[0]) * samples + c;
            const dst = (c * bz + k) * plane + y * bx;
            if (samples === 1) o.set(arr.subarray(row, row + bx), dst);
            else for (let x = 0; x < bx; x++) o[dst + x] = arr[row + x * samples];
          }
        }
        ifd.data = undefined; // free the decoded page
      }
      return out;
    },
    async close() {},
  };
  return src;
}

/**
 * Encode one-channel uint8/uint16 planes as an uncompressed little-endian multi-page TIFF
 * (one strip per page). Used by tests and by tools that want a single-file stack.
 */
export function encodeTiffStack(vol: Volume): Uint8Array {
  if (vol.channels !== 1 || (vol.dtype !== 'uint8' && vol.dtype !== 'uint16')) {
    throw new UsageError(`multi-page TIFF export takes one-channel uint8/uint16, got ${vol.channels} x ${vol.dtype}`);
  }
  const [w, h, d] = vol.shape;
  const bps = vol.dtype === 'uint8' ? 8 : 16;
  const plane = w * h * (bps / 8);
  const NTAGS = 10;
  const ifdSize = 2 + NTAGS * 12 + 4;
  const total = 8 + d * (ifdSize + plane);
  if (total > 0xffffffff) throw new UsageError('stack too large for a classic TIFF (4 GiB)');
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, 8, true);
  const src = new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength);
  let pos = 8;
  for (let z = 0; z < d; z++) {
    const ifd = pos;
    const dataAt = ifd + ifdSize;
    const tags: Array<[number, number, number]> = [
      // [tag, type (3 SHORT, 4 LONG), value]
      [256, 4, w], [257, 4, h], [258, 3, bps], [259, 3, 1], [262, 3, 1],
      [273, 4, dataAt], [277, 3, 1], [278, 4, h], [279, 4, plane], [339, 3, 1],
    ];
    dv.setUint16(ifd, NTAGS, true);
    tags.forEach(([t, type, v], e) => {
      const p = ifd + 2 + e * 12;
      dv.setUint16(p, t, true);
      dv.setUint16(p + 2, type, true);
      dv.setUint32(p + 4, 1, true);
      if (type === 3) dv.setUint16(p + 8, v, true);
      else dv.setUint32(p + 8, v, true);
    });
    const next = z + 1 < d ? dataAt + plane : 0;
    dv.setUint32(ifd + 2 + NTAGS * 12, next, true);
    out.set(src.subarray(z * plane, (z + 1) * plane), dataAt);
    pos = dataAt + plane;
  }
  return out;
}
