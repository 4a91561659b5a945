// A direct PNG decoder for the common slice case: 8/16-bit greyscale (colour type 0), grey+alpha
// (4), RGB (2) and RGBA (6), non-interlaced; alpha is dropped, 16-bit samples come out as native
// (little-endian) Uint16. Chunks are walked with their CRCs checked (node:zlib crc32), the IDAT
// stream is inflated by node:zlib on the libuv thread pool (several slices decode at once) and
// the five row filters are undone in JS.
//
// Anything else (interlaced, palette, 1/2/4-bit, or a chunk that can change the pixels: tRNS,
// gAMA, cHRM, sRGB, iCCP, sBIT, PLTE, acTL, ... any chunk not known to leave pixels alone) makes
// `decodePng` return null: the caller decodes that file with sharp instead, so every PNG
// decodes to exactly the bytes sharp gives.
//
// Hostile input: memory follows the data, never the header: the inflated stream is capped at the
// size the header implies (+1 byte to see an overlong stream), so a huge declared width/height
// with a small IDAT allocates only what inflates; a short or long stream, a bad CRC, a chunk past
// the end of the file, a bad filter byte are FormatErrors naming the file and the field.
import { promisify } from 'node:util';
import { constants as bufferConstants } from 'node:buffer';
import { crc32, inflate } from 'node:zlib';
import { FormatError } from '../core/errors.js';

const inflateAsync = promisify(inflate) as (buf: Uint8Array, opts: { maxOutputLength: number; chunkSize: number }) => Promise<Buffer>;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace: number;
}

/** Chunks that never change the decoded pixels (text, physical size, time). */
const HARMLESS = new Set(['tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME']);

/** Samples per pixel of the colour types the fast path takes. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** Parse the signature and IHDR (the first 33 bytes suffice). */
export function parsePngHeader(bytes: Uint8Array, file: string): PngHeader {
  if (bytes.length < 33) throw new FormatError(`PNG is ${bytes.length} bytes, too short for a signature and IHDR`, file);
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) throw new FormatError('not a PNG file (signature mismatch)', file);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(8);
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== 'IHDR' || len !== 13) throw new FormatError(`first chunk is '${type}' of ${len} bytes; expected IHDR of 13 bytes`, file);
  const h: PngHeader = {
    width: dv.getUint32(16),
    height: dv.getUint32(20),
    bitDepth: bytes[24],
    colourType: bytes[25],
    interlace: bytes[28],
  };
  if (h.width === 0 || h.height === 0 || h.width > 0x7fffffff || h.height > 0x7fffffff) {
    throw new FormatError(`IHDR width/height ${h.width}x${h.height} out of range`, file);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0) throw new FormatError(`IHDR compression/filter method ${bytes[26]}/${bytes[27]}; expected 0/0`, file);
  return h;
}

/** True when `decodePng` decodes files with this header itself (else it returns null). */
export function pngFastPath(h: PngHeader): boolean {
  return h.interlace === 0 && (h.bitDepth === 8 || h.bitDepth === 16) && h.colourType in SAMPLES;
}

/** The decoded format the fast path gives for this header: channels after dropping alpha. */
export function pngOutputFormat(h: PngHeader): { channels: 1 | 3; dtype: 'uint8' | 'uint16' } {
  return { channels: h.colourType === 0 || h.colourType === 4 ? 1 : 3, dtype: h.bitDepth === 16 ? 'uint16' : 'uint8' };
}

export interface DecodedPng {
  header: PngHeader;
  channels: 1 | 3;
  /** Interleaved samples, width*height*channels, row-major (x fastest). */
  data: Uint8Array | Uint16Array;
}

/**
 * Decode a whole PNG file's bytes, or return null when it is not a case this decoder takes (the
 * caller then uses sharp). Throws FormatError for a damaged file.
 */
export async function decodePng(bytes: Uint8Array, file: string): Promise<DecodedPng | null> {
  const h = parsePngHeader(bytes, file);
  if (!pngFastPath(h)) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let pos = 8;
  let ended = false;
  let fallback = false;
  let k = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw new FormatError(`truncated: chunk ${k} header at byte ${pos} runs past the end of the file (${bytes.length} bytes)`, file);
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    if (len > 0x7fffffff || pos + 12 + len > bytes.length) {
      throw new FormatError(`truncated: chunk ${k} '${type}' of ${len} bytes at byte ${pos} runs past the end of the file (${bytes.length} bytes)`, file);
    }
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    const crc = crc32(body, crc32(bytes.subarray(pos + 4, pos + 8)));
    if (crc !== dv.getUint32(pos + 8 + len)) throw new FormatError(`chunk ${k} '${type}' at byte ${pos}: CRC mismatch (damaged file)`, file);
    pos += 12 + len;
    if (type === 'IEND') {
      ended = true;
      break;
    }
    if (type === 'IDAT') {
      idat.push(body);
      idatBytes += len;
    } else if (type === 'IHDR') {
      if (k !== 0) throw new FormatError(`a second IHDR chunk (chunk ${k})`, file);
    } else if (!HARMLESS.has(type)) {
      fallback = true; // a chunk that may change the pixels (or one we do not know): sharp decodes this file
    }
    k++;
  }
  if (!ended) throw new FormatError(`truncated: no IEND chunk (the file ends after ${k} chunks)`, file);
  if (fallback) return null;
  if (idat.length === 0) throw new FormatError('no IDAT chunk (no image data)', file);
  const samples = SAMPLES[h.colourType];
  const bps = h.bitDepth / 8;
  const bpp = samples * bps;
  const rowBytes = h.width * bpp;
  const expected = h.height * (rowBytes + 1);
  // The inflate output is capped at what the header implies: memory follows the data.
  const cap = Math.min(expected + 1, bufferConstants.MAX_LENGTH);
  // One output buffer for the whole stream when it is plausible (each further buffer is a hop back
  // to JS), but never more up front than 1 MiB or 64x the compressed bytes.
  const chunkSize = Math.max(64, Math.min(cap, Math.max(1 << 20, idatBytes * 64)));
  let raw: Buffer;
  try {
    raw = await inflateAsync(idat.length === 1 ? idat[0] : Buffer.concat(idat, idatBytes), { maxOutputLength: cap, chunkSize });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new FormatError(`IDAT inflates to more than the ${expected} bytes a ${h.width}x${h.height} image holds`, file);
    throw new FormatError(`IDAT stream cannot be inflated (${(e as Error).message})`, file);
  }
  if (raw.length !== expected) {
    throw new FormatError(`IDAT inflates to ${raw.length} bytes; a ${h.width}x${h.height} ${h.bitDepth}-bit image with ${samples} samples needs ${expected}`, file);
  }
  const pixels = new Uint8Array(h.height * rowBytes);
  unfilter(raw, pixels, h.height, rowBytes, bpp, file);
  return { header: h, ...toSamples(pixels, h, samples) };
}

/** Undo the per-row filters (None, Sub, Up, Average, Paeth) from `raw` (filter byte + row) into `out`. */
export function unfilter(raw: Uint8Array, out: Uint8Array, height: number, rowBytes: number, bpp: number, file: string): void {
  for (let y = 0; y < height; y++) {
    const s = y * (rowBytes + 1);
    const f = raw[s];
    const src = s + 1;
    const d = y * rowBytes;
    const p = d - rowBytes; // previous row (only read when y > 0)
    switch (f) {
      case 0:
        out.set(raw.subarray(src, src + rowBytes), d);
        break;
      case 1: {
        for (let i = 0; i < bpp; i++) out[d + i] = raw[src + i];
        for (let i = bpp; i < rowBytes; i++) out[d + i] = (raw[src + i] + out[d + i - bpp]) & 255;
        break;
      }
      case 2:
        if (y === 0) out.set(raw.subarray(src, src + rowBytes), d);
        else for (let i = 0; i < rowBytes; i++) out[d + i] = (raw[src + i] + out[p + i]) & 255;
        break;
      case 3:
        if (y === 0) {
          for (let i = 0; i < bpp; i++) out[d + i] = raw[src + i];
          for (let i = bpp; i < rowBytes; i++) out[d + i] = (raw[src + i] + (out[d + i - bpp] >> 1)) & 255;
        } else {
          for (let i = 0; i < bpp; i++) out[d + i] = (raw[src + i] + (out[p + i] >> 1)) & 255;
          for (let i = bpp; i < rowBytes; i++) out[d + i] = (raw[src + i] + ((out[d + i - bpp] + out[p + i]) >> 1)) & 255;
        }
        break;
      case 4:
        if (y === 0) {
          // Paeth with no row above is Sub
          for (let i = 0; i < bpp; i++) out[d + i] = raw[src + i];
          for (let i = bpp; i < rowBytes; i++) out[d + i] = (raw[src + i] + out[d + i - bpp]) & 255;
        } else {
          for (let i = 0; i < bpp; i++) out[d + i] = (raw[src + i] + out[p + i]) & 255;
          for (let i = bpp; i < rowBytes; i++) {
            const a = out[d + i - bpp];
            const b = out[p + i];
            const c = out[p + i - bpp];
            const pa = b > c ? b - c : c - b; // |p - a| with p = a + b - c
            const pb = a > c ? a - c : c - a; // |p - b|
            const pcs = a + b - c - c;
            const pc = pcs < 0 ? -pcs : pcs; // |p - c|
            const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            out[d + i] = (raw[src + i] + pred) & 255;
          }
        }
        break;
      default:
        throw new FormatError(`row ${y} has filter type ${f}; expected 0-4`, file);
    }
  }
}

/** Drop alpha and turn big-endian 16-bit samples into native Uint16. */
function toSamples(px: Uint8Array, h: PngHeader, samples: number): { channels: 1 | 3; data: Uint8Array | Uint16Array } {
  const { channels } = pngOutputFormat(h);
  const n = h.width * h.height;
  if (h.bitDepth === 8) {
    if (samples === channels) return { channels, data: px };
    const out = new Uint8Array(n * channels);
    for (let i = 0, j = 0; i < n; i++, j += samples) for (let c = 0; c < channels; c++) out[i * channels + c] = px[j + c];
    return { channels, data: out };
  }
  const out = new Uint16Array(n * channels);
  for (let i = 0, j = 0; i < n; i++, j += samples * 2) {
    for (let c = 0; c < channels; c++) out[i * channels + c] = (px[j + 2 * c] << 8) | px[j + 2 * c + 1];
  }
  return { channels, data: out };
}
