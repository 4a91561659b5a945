// NPY (numpy's .npy) reader and writer, plus the small helpers every reader in src/formats shares
// (box checks, strided gather with element conversion).
//
// Axis mapping (numpy shape -> Wiring [x, y, z] + channels):
//   1-D (x)          -> [x, 1, 1]
//   2-D (y, x)       -> [x, y, 1]
//   3-D (z, y, x)    -> [x, y, z]
//   4-D (c, z, y, x) -> [x, y, z], c channels
// This holds for both C and Fortran order: numpy's logical axes are always (c, z, y, x); only the
// bytes on disk differ, and read(box) gathers from file offsets either way.
//
// Element types: u1 i1 u2 i2 u4 i4 u8 f4 map to uint8 int8 uint16 int16 uint32 int32 uint64
// float32; b1 (bool) reads as uint8 0/1. Two conversions, both deliberate:
//   i8 (int64) -> uint64: labels from numpy/scikit-image are often int64. Values must be >= 0; a
//                negative value is a FormatError naming the file and voxel (never a silent wrap).
//   f8 (float64) -> float32: probability/intensity maps; rounded to the nearest float32 (values
//                beyond float32 range become +-Infinity). `nativeDtype` on the source says 'f8'.
// Complex, structured, object, string and float16 arrays are a FormatError.
import { promises as fs } from 'node:fs';
import { type Box, type Vec3, boxContains, boxFromShape, boxIsEmpty, boxShape, boxToString } from '../core/box.js';
import { type DataType, bytesPerElement } from '../core/dtype.js';
import { FormatError, UsageError } from '../core/errors.js';
import { checkReadBytes } from '../core/limits.js';
import { Volume } from '../core/volume.js';
import type { VolumeSource } from './source.js';

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** Throw a UsageError unless `b` is a valid half-open integer box inside the source bounds. */
export function checkReadBox(src: { url: string; shape: Vec3; offset: Vec3; channels?: number; dtype?: DataType }, b: Box): void {
  for (let i = 0; i < 3; i++) {
    if (!Number.isInteger(b.min[i]) || !Number.isInteger(b.max[i])) {
      throw new UsageError(`read box (${boxToString(b)}) must have integer corners`, src.url);
    }
    if (b.max[i] < b.min[i]) throw new UsageError(`read box (${boxToString(b)}) has max < min`, src.url);
  }
  const bounds = boxFromShape(src.shape, src.offset);
  if (!boxIsEmpty(b) && !boxContains(bounds, b)) {
    throw new UsageError(`read box (${boxToString(b)}) is outside the volume bounds (${boxToString(bounds)})`, src.url);
  }
  if (src.dtype) checkReadBytes(b, src.dtype, src.channels ?? 1, src.url);
  const [sx, sy, sz] = boxShape(b);
  const n = Math.max(0, sx) * Math.max(0, sy) * Math.max(0, sz) * (src.channels ?? 1);
  if (n > MAX_READ_ELEMENTS) {
    throw new UsageError(`read box (${boxToString(b)}) holds ${n} elements, more than one typed array can (${MAX_READ_ELEMENTS}); read it in blocks`, src.url);
  }
}

/** Largest number of elements one read may return (a JS typed array's length limit). */
export const MAX_READ_ELEMENTS = 2 ** 32 - 1;

/** An empty volume of the right type for an empty read box. */
export function emptyVolume(dtype: DataType, b: Box, channels: number, voxelSize: Vec3): Volume {
  return Volume.zeros(dtype, b, { channels, voxelSize });
}

/** Any typed array a file may hold (native byte order), including the 64-bit float/int ones. */
export type ElementArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigUint64Array | BigInt64Array | Float32Array | Float64Array;

/**
 * Copy a 4-D strided block (axes c, z, y, x; `shape` = [C, Z, Y, X]) from `src` (element `start`,
 * element strides `strides` = [sc, sz, sy, sx]) into `dst` (element `dstStart`, strides `dstStrides`,
 * whose x stride must be 1), converting elements on the way: BigInt64 -> BigUint64 rejects negatives
 * with a FormatError naming the voxel (`origin` = global [x, y, z] of the block's first voxel),
 * Float64 -> Float32 rounds to nearest.
 */
export function gather(
  src: ElementArray,
  start: number,
  strides: readonly [number, number, number, number],
  shape: readonly [number, number, number, number],
  dst: ElementArray,
  dstStart: number,
  dstStrides: readonly [number, number, number],
  where: string,
  origin: Vec3 = [0, 0, 0],
): void {
  const [C, Z, Y, X] = shape;
  const [sc, sz, sy, sx] = strides;
  const [dc, dz, dy] = dstStrides;
  const bigSrc = src instanceof BigInt64Array || src instanceof BigUint64Array;
  const bigDst = dst instanceof BigUint64Array || dst instanceof BigInt64Array;
  if (bigSrc !== bigDst) throw new FormatError(`cannot convert ${src.constructor.name} to ${dst.constructor.name}`, where);
  const checkNeg = src instanceof BigInt64Array && dst instanceof BigUint64Array;
  const sameType = src.constructor === dst.constructor;
  for (let c = 0; c < C; c++) {
    for (let z = 0; z < Z; z++) {
      for (let y = 0; y < Y; y++) {
        let s = start + c * sc + z * sz + y * sy;
        let o = dstStart + c * dc + z * dz + y * dy;
        if (sx === 1 && sameType) {
          (dst as Uint8Array).set((src as Uint8Array).subarray(s, s + X), o);
          continue;
        }
        if (checkNeg) {
          const si = src as BigInt64Array;
          const di = dst as BigUint64Array;
          for (let x = 0; x < X; x++, s += sx) {
            const v = si[s];
            if (v < 0n) {
              throw new FormatError(
                `int64 value ${v} at voxel [${origin[0] + x}, ${origin[1] + y}, ${origin[2] + z}] is negative; int64 data is read as uint64 and must be >= 0`,
                where,
              );
            }
            di[o++] = v;
          }
          continue;
        }
        const si = src as unknown as { [i: number]: number };
        const di = dst as unknown as { [i: number]: number };
        for (let x = 0; x < X; x++, s += sx) di[o++] = si[s];
      }
    }
  }
}

/** Swap the bytes of every `size`-byte element in place (big-endian -> little-endian). */
export function byteSwap(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  const n = bytes.length - (bytes.length % size);
  for (let i = 0; i < n; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/** Map a numpy typestr kind+size ('u1', 'i8', 'f4', ...) to its element array constructor and our data type. */
export function numpyType(kindSize: string, where: string): { ctor: ElementCtor; size: number; dtype: DataType } {
  const t = NUMPY_TYPES[kindSize];
  if (!t) {
    throw new FormatError(
      `unsupported element type '${kindSize}'; expected one of ${Object.keys(NUMPY_TYPES).join(', ')} (b1 reads as uint8, i8 as uint64 >= 0, f8 as float32)`,
      where,
    );
  }
  return t;
}

export type ElementCtor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ElementArray;

const NUMPY_TYPES: Record<string, { ctor: ElementCtor; size: number; dtype: DataType }> = {
  b1: { ctor: Uint8Array, size: 1, dtype: 'uint8' },
  u1: { ctor: Uint8Array, size: 1, dtype: 'uint8' },
  i1: { ctor: Int8Array, size: 1, dtype: 'int8' },
  u2: { ctor: Uint16Array, size: 2, dtype: 'uint16' },
  i2: { ctor: Int16Array, size: 2, dtype: 'int16' },
  u4: { ctor: Uint32Array, size: 4, dtype: 'uint32' },
  i4: { ctor: Int32Array, size: 4, dtype: 'int32' },
  u8: { ctor: BigUint64Array, size: 8, dtype: 'uint64' },
  i8: { ctor: BigInt64Array, size: 8, dtype: 'uint64' },
  f4: { ctor: Float32Array, size: 4, dtype: 'float32' },
  f8: { ctor: Float64Array, size: 8, dtype: 'float32' },
};

/** Map a numpy-ordered shape (1..4 dims, slowest first) to [x, y, z] + channels. */
export function shapeFromNumpy(dims: readonly number[], where: string): { shape: Vec3; channels: number } {
  const d = dims;
  switch (d.length) {
    case 1:
      return { shape: [d[0], 1, 1], channels: 1 };
    case 2:
      return { shape: [d[1], d[0], 1], channels: 1 };
    case 3:
      return { shape: [d[2], d[1], d[0]], channels: 1 };
    case 4:
      return { shape: [d[3], d[2], d[1]], channels: d[0] };
    default:
      throw new FormatError(`has ${d.length} dimensions; expected 1 (x), 2 (y, x), 3 (z, y, x) or 4 (c, z, y, x)`, where);
  }
}

// ---------------------------------------------------------------------------------------------
// NPY header
// ---------------------------------------------------------------------------------------------

export interface NpyHeader {
  version: [number, number];
  /** numpy typestr, e.g. '<u2', '|u1', '>f8'. */
  descr: string;
  fortranOrder: boolean;
  /** numpy shape, slowest axis first (C-order meaning). */
  dims: number[];
  /** Byte offset of the data. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parse an NPY header from the first bytes of a file (at least the whole header). */
export function parseNpyHeader(bytes: Uint8Array, where: string): NpyHeader {
  if (bytes.length < 10) throw new FormatError(`file is ${bytes.length} bytes, too short for an NPY header (>= 10)`, where);
  for (let i = 0; i < 6; i++) {
    if (bytes[i] !== MAGIC[i]) throw new FormatError('not an NPY file: missing the \\x93NUMPY magic', where);
  }
  const major = bytes[6];
  const minor = bytes[7];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FormatError('truncated NPY v2/v3 header', where);
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    start = 12;
  } else {
    throw new FormatError(`NPY format version ${major}.${minor}; expected 1.0, 2.0 or 3.0`, where);
  }
  if (start + headerLen > bytes.length) {
    throw new FormatError(`NPY header says ${headerLen} bytes but the file has only ${bytes.length - start} after the preamble`, where);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  let dict: unknown;
  try {
    dict = parsePyLiteral(text);
  } catch (e) {
    throw new FormatError(`NPY header is not a Python dict literal (${(e as Error).message}): ${JSON.stringify(text.slice(0, 200))}`, where);
  }
  if (!dict || typeof dict !== 'object' || Array.isArray(dict) || dict instanceof PyTuple) {
    throw new FormatError(`NPY header must be a dict, got ${JSON.stringify(text.slice(0, 200))}`, where);
  }
  const d = dict as Record<string, unknown>;
  const descr = d.descr;
  if (typeof descr !== 'string') {
    throw new FormatError(`NPY header field 'descr' must be a type string like '<u2' (structured arrays are not volumes), got ${JSON.stringify(descr)}`, where);
  }
  if (typeof d.fortran_order !== 'boolean') {
    throw new FormatError(`NPY header field 'fortran_order' must be True or False, got ${JSON.stringify(d.fortran_order)}`, where);
  }
  if (!(d.shape instanceof PyTuple)) throw new FormatError(`NPY header field 'shape' must be a tuple, got ${JSON.stringify(d.shape)}`, where);
  const dims = d.shape.items;
  for (const n of dims) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new FormatError(`NPY header field 'shape' must hold non-negative integers, got (${dims.join(', ')})`, where);
    }
  }
  return { version: [major, minor], descr, fortranOrder: d.fortran_order, dims: dims as number[], dataOffset: start + headerLen };
}

class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** A tiny parser for the Python literals an NPY header uses: dict, tuple, list, str, int, True/False/None. */
function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (depth: number): unknown => {
    if (depth > 20) throw new Error('nested too deeply');
    ws();
    const ch = text[i];
    if (ch === undefined) throw new Error('unexpected end');
    if (ch === '{') {
      i++;
      const out: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (text[i] === '}') { i++; return out; }
        const k = value(depth + 1);
        if (typeof k !== 'string') throw new Error('dict key is not a string');
        ws();
        if (text[i] !== ':') throw new Error(`expected ':' at ${i}`);
        i++;
        out[k] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') throw new Error(`expected ',' or '}' at ${i}`);
      }
    }
    if (ch === '(' || ch === '[') {
      const close = ch === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; return ch === '(' ? new PyTuple(items) : items; }
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) throw new Error(`expected ',' or '${close}' at ${i}`);
      }
    }
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) throw new Error('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 40));
    if (!m) throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 10))} at ${i}`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  const v = value(0);
  ws();
  if (i !== text.length) throw new Error(`trailing text at ${i}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// NPY reader
// ---------------------------------------------------------------------------------------------

export interface NpySource extends VolumeSource {
  readonly header: NpyHeader;
  /** The numpy element type in the file ('u1', 'i8', 'f8', ...); differs from dtype for i8/f8/b1. */
  readonly nativeDtype: string;
}

/** Open an .npy file as a VolumeSource; reads only the bytes a box needs. */
export async function openNpy(file: string, opts: { voxelSize?: Vec3 } = {}): Promise<NpySource> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    throw new UsageError(`cannot open NPY file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  let header: NpyHeader;
  let size: number;
  try {
    size = (await handle.stat()).size;
    const first = new Uint8Array(Math.min(size, 65536 + 12));
    await handle.read(first, 0, first.length, 0);
    let head = first;
    // v2/v3 headers may be longer than 64 KiB
    if (first.length >= 12 && (first[6] === 2 || first[6] === 3)) {
      const len = (first[8] | (first[9] << 8) | (first[10] << 16)) + first[11] * 0x1000000;
      if (len + 12 > first.length && len + 12 <= size && len < 1 << 26) {
        head = new Uint8Array(len + 12);
        await handle.read(head, 0, head.length, 0);
      }
    }
    header = parseNpyHeader(head, file);
  } finally {
    await handle.close();
  }
  const d = header.descr;
  const order = d[0];
  if (!['<', '>', '|', '='].includes(order)) throw new FormatError(`NPY 'descr' ${JSON.stringify(d)} must start with <, >, | or =`, file);
  const t = numpyType(d.slice(1), file);
  const bigEndian = order === '>';
  const { shape, channels } = shapeFromNumpy(header.dims, file);
  const count = header.dims.reduce((a, b) => a * b, 1);
  const needed = header.dataOffset + count * t.size;
  if (needed > size) {
    throw new FormatError(`truncated: header promises ${count} x ${t.size}-byte elements (${needed} bytes in all) but the file has ${size} bytes`, file);
  }
  // numpy strides (elements) of the logical axes, padded to (c, z, y, x)
  const nd = header.dims.length;
  const dims4 = [1, 1, 1, 1];
  for (let i = 0; i < nd; i++) dims4[4 - nd + i] = header.dims[i];
  const strides4 = [0, 0, 0, 0];
  if (header.fortranOrder) {
    let s = 1;
    for (let i = 4 - nd; i < 4; i++) { strides4[i] = s; s *= dims4[i]; }
  } else {
    let s = 1;
    for (let i = 3; i >= 4 - nd; i--) { strides4[i] = s; s *= dims4[i]; }
  }
  const voxelSize = opts.voxelSize ?? [1, 1, 1];
  const dtype = t.dtype;
  const src: NpySource = {
    url: file,
    format: 'npy',
    dtype,
    shape,
    channels,
    voxelSize,
    offset: [0, 0, 0],
    chunkShape: header.fortranOrder ? [1, shape[1], shape[2]] : [shape[0], shape[1], 1],
    header,
    nativeDtype: d.slice(1),
    async read(b: Box): Promise<Volume> {
      checkReadBox(src, b);
      if (boxIsEmpty(b)) return emptyVolume(dtype, b, channels, voxelSize);
      const [bx, by, bz] = boxShape(b);
      const out = Volume.zeros(dtype, b, { channels, voxelSize });
      // axis ranges in (c, z, y, x) order
      const lo = [0, b.min[2], b.min[1], b.min[0]];
      const n = [channels, bz, by, bx];
      // the slowest axis on disk is read one index at a time; the rest as one byte span each
      let slow = 0;
      for (let i = 1; i < 4; i++) if (strides4[i] > strides4[slow]) slow = i;
      const fh = await fs.open(file, 'r');
      try {
        // output strides of (c, z, y, x) in Wiring's x-fastest layout
        const os = [bz * by * bx, by * bx, bx, 1];
        for (let k = 0; k < n[slow]; k++) {
          let first = 0;
          let last = 0;
          for (let i = 0; i < 4; i++) {
            first += (i === slow ? lo[i] + k : lo[i]) * strides4[i];
            last += (i === slow ? lo[i] + k : lo[i] + n[i] - 1) * strides4[i];
          }
          const countEl = last - first + 1;
          const bytes = new Uint8Array(countEl * t.size);
          const pos = header.dataOffset + first * t.size;
          const { bytesRead } = await fh.read(bytes, 0, bytes.length, pos);
          if (bytesRead !== bytes.length) {
            throw new FormatError(`truncated: expected ${bytes.length} bytes at offset ${pos}, read ${bytesRead}`, file);
          }
          if (bigEndian) byteSwap(bytes, t.size);
          const view = new t.ctor(bytes.buffer, 0, countEl);
          const sub = [...n] as [number, number, number, number];
          sub[slow] = 1;
          const origin: Vec3 = [b.min[0] + (slow === 3 ? k : 0), b.min[1] + (slow === 2 ? k : 0), b.min[2] + (slow === 1 ? k : 0)];
          gather(view, 0, strides4 as [number, number, number, number], sub, out.data, k * os[slow], [os[0], os[1], os[2]], file, origin);
        }
      } finally {
        await fh.close();
      }
      return out;
    },
    async close() {},
  };
  return src;
}

// ---------------------------------------------------------------------------------------------
// NPY writer
// ---------------------------------------------------------------------------------------------

const NPY_DESCR: Record<DataType, string> = {
  uint8: '|u1', int8: '|i1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4', uint64: '<u8', float32: '<f4',
};

/** The NPY preamble + header (v1.0, or v2.0 when the header exceeds 65535 bytes) for a C-order array. */
export function npyHeaderBytes(dtype: DataType, dims: readonly number[]): Uint8Array {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let dict = `{'descr': '${NPY_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let pre = 10;
  if (dict.length + 1 + pre > 65535) pre = 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  out[7] = 0;
  const len = total - pre;
  out[8] = len & 0xff;
  out[9] = (len >> 8) & 0xff;
  if (pre === 12) {
    out[10] = (len >> 16) & 0xff;
    out[11] = (len >>> 24) & 0xff;
  }
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  return out;
}

/** numpy dims for a volume: (z, y, x), or (c, z, y, x) with more than one channel. */
export function numpyDims(shape: Vec3, channels: number): number[] {
  return channels > 1 ? [channels, shape[2], shape[1], shape[0]] : [shape[2], shape[1], shape[0]];
}

/** Write a whole in-memory volume as .npy (atomic). For large sources use exportVolume. */
export async function writeNpy(file: string, vol: Volume): Promise<void> {
  const { writeFileAtomic } = await import('../core/atomic.js');
  const head = npyHeaderBytes(vol.dtype, numpyDims(vol.shape, vol.channels));
  const body = new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength);
  const all = new Uint8Array(head.length + body.length);
  all.set(head, 0);
  all.set(body, head.length);
  await writeFileAtomic(file, all);
}

export function npyItemSize(dtype: DataType): number {
  return bytesPerElement(dtype);
}
