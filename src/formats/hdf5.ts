// HDF5 reader and writer over h5wasm (the HDF5 C library compiled to wasm; Node build reads the
// real file system, so only the chunks a hyperslab touches are read). Chunked deflate/shuffle
// datasets of the common layouts are read past h5wasm, chunk by chunk (hdf5-chunks.ts: node:fs,
// node:zlib on the thread pool); h5wasm opens and checks every file and reads everything else.
//
// Spec: `file.h5#path/to/dataset` (or `file.h5` when it holds exactly one dataset).
// Axes as numpy/h5py: 2-D (y, x), 3-D (z, y, x), 4-D (c, z, y, x) -> Wiring [x, y, z] + channels.
// Element types: as the NPY reader (int64 -> uint64 with a check for negatives, float64 -> float32).
// Voxel size, first found of (attributes of the dataset):
//   `resolution`      3 numbers in (z, y, x) order, nanometres (CREMI convention)
//   `element_size_um` 3 numbers in (z, y, x) order, micrometres (ilastik / vigra convention) -> x1000
// otherwise [1, 1, 1]. Filters: deflate, shuffle, fletcher32, nbit and scaleoffset are built into
// the library; any other (LZF 32000 from h5py, blosc 32001, bitshuffle 32008, zstd 32015, ...) is a
// FormatError naming the file, dataset and filter before any read (h5wasm would return zeros).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import h5wasm from 'h5wasm/node';
import { type Box, type Vec3, boxIsEmpty, boxShape, boxToString } from '../core/box.js';
import type { DataType } from '../core/dtype.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { type ElementArray, checkReadBox, emptyVolume, gather, numpyType, shapeFromNumpy } from './npy.js';
import { type DirectChunks, openDirectChunks } from './hdf5-chunks.js';
import type { VolumeSource } from './source.js';

type H5File = InstanceType<typeof h5wasm.File>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;
type H5Group = InstanceType<typeof h5wasm.Group>;

/** Filters built into the HDF5 library h5wasm ships. */
const BUILTIN_FILTERS = new Map<number, string>([
  [1, 'deflate'],
  [2, 'shuffle'],
  [3, 'fletcher32'],
  [5, 'nbit'],
  [6, 'scaleoffset'],
]);
const KNOWN_PLUGINS: Record<number, string> = {
  4: 'szip', 307: 'bzip2', 32000: 'lzf (h5py)', 32001: 'blosc', 32004: 'lz4', 32008: 'bitshuffle', 32015: 'zstd', 32026: 'blosc2',
};

interface H5Raw {
  get_dataset_data(fileId: bigint, path: string, count: bigint[] | null, offset: bigint[] | null, strides: bigint[] | null, ptr: bigint): number;
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
}
let ready: Promise<unknown> | undefined;
let raw: H5Raw | undefined;
export async function h5ready(): Promise<void> {
  ready ??= h5wasm.ready;
  raw = (await ready) as H5Raw;
}

/**
 * Read a hyperslab as little-endian elements of numpy type `native`. Unlike Dataset.slice, this
 * checks the HDF5 status: a chunk that fails to decompress (damaged data, missing filter) is a
 * FormatError instead of silently reading as zeros.
 */
function readHyperslab(h5: H5File, dsPath: string, ranges: Array<[number, number]>, native: string, where: string, b: Box): ElementArray {
  const M = raw!;
  const t = numpyType(native, where);
  const n = ranges.reduce((a, [lo, hi]) => a * (hi - lo), 1);
  const nbytes = n * t.size;
  const ptr = M._malloc(Math.max(1, nbytes));
  if (!ptr) throw new FormatError(`cannot allocate ${nbytes} bytes in the wasm heap for a hyperslab read; read smaller boxes`, where);
  try {
    const status = M.get_dataset_data(
      (h5 as unknown as { file_id: bigint }).file_id,
      dsPath,
      ranges.map(([lo, hi]) => BigInt(hi - lo)),
      ranges.map(([lo]) => BigInt(lo)),
      ranges.map(() => 1n),
      BigInt(ptr),
    );
    if (status < 0) {
      throw new FormatError(`reading (${boxToString(b)}) failed inside the HDF5 library (a damaged or undecodable chunk; status ${status})`, where);
    }
    const bytes = M.HEAPU8.slice(ptr, ptr + nbytes);
    return new t.ctor(bytes.buffer, 0, n);
  } finally {
    M._free(ptr);
  }
}

/** Split `file.h5#dataset/path` into file and dataset ('' when absent). */
export function splitH5Spec(spec: string): { file: string; dataset: string } {
  const i = spec.lastIndexOf('#');
  if (i < 0) return { file: spec, dataset: '' };
  return { file: spec.slice(0, i), dataset: spec.slice(i + 1).replace(/^\/+/, '') };
}

/** All dataset paths in a file (depth-first, no leading slash). */
export function listDatasets(file: H5File): string[] {
  const out: string[] = [];
  const walk = (g: H5Group, prefix: string, depth: number) => {
    if (depth > 32) return;
    for (const k of g.keys()) {
      const p = prefix ? `${prefix}/${k}` : k;
      let e: unknown;
      try {
        e = g.get(k);
      } catch {
        continue;
      }
      if (e instanceof h5wasm.Dataset) out.push(p);
      else if (e instanceof h5wasm.Group) walk(e, p, depth + 1);
    }
  };
  walk(file, '', 0);
  return out;
}

function elementTypeOf(ds: H5Dataset, where: string): { dtype: DataType; native: string } {
  const m = ds.metadata as { type: number; size: number; signed: boolean; vlen: boolean };
  if (m.type === 0 && !m.vlen) {
    const key = `${m.signed ? 'i' : 'u'}${m.size}`;
    const map: Record<string, DataType> = { u1: 'uint8', i1: 'int8', u2: 'uint16', i2: 'int16', u4: 'uint32', i4: 'int32', u8: 'uint64', i8: 'uint64' };
    if (map[key]) return { dtype: map[key], native: key };
  }
  if (m.type === 1 && (m.size === 4 || m.size === 8)) return { dtype: 'float32', native: `f${m.size}` };
  throw new FormatError(
    `element type ${JSON.stringify(ds.dtype)} (HDF5 class ${m.type}, ${m.size} bytes) is not a volume type; expected an integer of 1, 2, 4 or 8 bytes or a 32/64-bit float`,
    where,
  );
}

function readVoxelSize(ds: H5Dataset, where: string): Vec3 | undefined {
  const attrs = ds.attrs as Record<string, { value: unknown }>;
  const pick = (name: string, factor: number): Vec3 | undefined => {
    if (!(name in attrs)) return undefined;
    let v: unknown;
    try {
      v = attrs[name].value;
    } catch {
      return undefined;
    }
    const arr = v && typeof v === 'object' && 'length' in (v as object) ? Array.from(v as ArrayLike<number | bigint>, Number) : undefined;
    if (!arr || arr.length !== 3 || arr.some((x) => !(x > 0) || !Number.isFinite(x))) {
      throw new FormatError(`attribute '${name}' must be 3 positive numbers (z, y, x), got ${JSON.stringify(arr ?? String(v))}`, where);
    }
    return [arr[2] * factor, arr[1] * factor, arr[0] * factor];
  };
  return pick('resolution', 1) ?? pick('element_size_um', 1000);
}

export interface Hdf5Source extends VolumeSource {
  readonly dataset: string;
  /** HDF5 element type as numpy kind+size ('u1', 'i4', 'f8', ...). */
  readonly nativeDtype: string;
  /** How chunks are read: 'direct' (hdf5-chunks.ts: node:fs + node:zlib) or 'h5wasm' (hyperslabs). */
  readonly chunkReads: 'direct' | 'h5wasm';
}

/** Open `file.h5#dataset` as a VolumeSource (chunked sub-box reads via hyperslabs). */
export async function openHdf5(spec: string, opts: { voxelSize?: Vec3; direct?: boolean } = {}): Promise<Hdf5Source> {
  await h5ready();
  const { file, dataset } = splitH5Spec(spec);
  try {
    await fs.access(file);
  } catch {
    throw new UsageError('HDF5 file not found', file);
  }
  let h5: H5File;
  try {
    h5 = new h5wasm.File(file, 'r');
  } catch (e) {
    throw new FormatError(`not a readable HDF5 file (${(e as Error).message})`, file);
  }
  if (!(h5 as unknown as { file_id?: bigint }).file_id || (h5 as unknown as { file_id: bigint }).file_id < 0n) {
    throw new FormatError('not a readable HDF5 file', file);
  }
  try {
    const all = listDatasets(h5);
    let name = dataset;
    if (!name) {
      if (all.length !== 1) {
        throw new UsageError(`give the dataset as ${file}#<dataset>; the file holds ${all.length ? all.join(', ') : 'no datasets'}`, file);
      }
      name = all[0];
    }
    const where = `${file}#${name}`;
    let ds: unknown;
    try {
      ds = h5.get(name);
    } catch {
      ds = null;
    }
    if (!(ds instanceof h5wasm.Dataset)) {
      throw new UsageError(`no dataset '${name}' in the file; datasets: ${all.length ? all.join(', ') : '(none)'}`, file);
    }
    const dims = (ds.shape ?? []) as number[];
    const { shape, channels } = shapeFromNumpy(dims, where);
    const { dtype, native } = elementTypeOf(ds, where);
    for (const f of ds.filters as Array<{ id: number; name: string }>) {
      if (!BUILTIN_FILTERS.has(f.id)) {
        const label = f.name || KNOWN_PLUGINS[f.id] || 'unknown';
        throw new FormatError(
          `dataset is compressed with HDF5 filter ${f.id} '${label}', which this reader does not have (built in: ${[...BUILTIN_FILTERS.values()].join(', ')}). ` +
            `Re-save it with gzip, e.g. in Python: h5py.File(out,'w').create_dataset('${name}', data=h5py.File('${path.basename(file)}')['${name}'][:], compression='gzip')`,
          where,
        );
      }
    }
    const voxelSize = opts.voxelSize ?? readVoxelSize(ds, where) ?? [1, 1, 1];
    const chunks = (ds.metadata as { chunks: number[] | null }).chunks;
    const cdims = chunks ?? dims;
    const c3 = shapeFromNumpy(cdims.length === dims.length ? cdims : dims, where).shape;
    const nd = dims.length;
    const dsRef = ds;
    let closed = false;
    // Chunked deflate/shuffle datasets of the common layouts are read straight from the file
    // (hdf5-chunks.ts); h5wasm keeps everything else and any box with an unwritten chunk.
    const elementSize = numpyType(native, where).size;
    const sameLayout = Volume.zeros(dtype, [0, 0, 0]).data.constructor; // the file's elements need no conversion when numpyType's ctor is this
    const direct: DirectChunks | null = opts.direct === false ? null : await openDirectChunks(file, dsRef.path, dims, elementSize, chunks);
    const src: Hdf5Source = {
      url: where,
      format: 'hdf5',
      dtype,
      shape,
      channels,
      voxelSize,
      offset: [0, 0, 0],
      chunkShape: c3,
      dataset: name,
      nativeDtype: native,
      chunkReads: direct ? 'direct' : 'h5wasm',
      async read(b: Box): Promise<Volume> {
        checkReadBox(src, b);
        if (boxIsEmpty(b)) return emptyVolume(dtype, b, channels, voxelSize);
        if (closed) throw new UsageError('source is closed', where);
        const [bx, by, bz] = boxShape(b);
        const ranges: Array<[number, number]> = [[0, channels], [b.min[2], b.max[2]], [b.min[1], b.max[1]], [b.min[0], b.max[0]]].slice(4 - Math.max(nd, 1)) as Array<[number, number]>;
        let arr: ElementArray | undefined;
        if (direct) {
          const t = numpyType(native, where);
          if (t.ctor === sameLayout) {
            // the file's elements are ours: chunks go straight into the output volume
            const out = Volume.zeros(dtype, b, { channels, voxelSize });
            if (await direct.read(ranges, new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength))) return out;
          } else {
            const bytes = new Uint8Array(channels * bx * by * bz * t.size);
            if (await direct.read(ranges, bytes)) arr = new t.ctor(bytes.buffer, 0, bytes.length / t.size);
          }
        }
        arr ??= readHyperslab(h5, dsRef.path, ranges, native, where, b);
        const n = channels * bx * by * bz;
        if (arr.length !== n) throw new FormatError(`hyperslab returned ${arr.length} elements, expected ${n}`, where);
        const out = Volume.zeros(dtype, b, { channels, voxelSize });
        if (arr.constructor === out.data.constructor) {
          (out.data as Uint8Array).set(arr as Uint8Array);
        } else {
          gather(arr, 0, [bz * by * bx, by * bx, bx, 1], [channels, bz, by, bx], out.data, 0, [bz * by * bx, by * bx, bx], where, b.min);
        }
        return out;
      },
      async close() {
        if (!closed) {
          closed = true;
          await direct?.close();
          try {
            h5.close();
          } catch {
            /* closing a damaged file can fail; nothing left to release */
          }
        }
      },
    };
    return src;
  } catch (e) {
    try {
      h5.close();
    } catch {
      /* already broken */
    }
    if (e instanceof UsageError || e instanceof FormatError) throw e;
    throw new FormatError(`HDF5 metadata cannot be read (${(e as Error)?.message ?? String(e)}); the file may be damaged`, spec);
  }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

const H5_DTYPE: Record<DataType, string> = {
  uint8: '<B', int8: '<b', uint16: '<H', int16: '<h', uint32: '<I', int32: '<i', uint64: '<Q', float32: '<f',
};

export interface Hdf5Writer {
  /** Write a slab covering all of x and y; `z0` is its first plane in the dataset (default vol.box.min[2]). */
  write(vol: Volume, z0?: number): void;
  /** Close and move into place (atomic). */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Start writing dataset `name` into `file` (chunked, gzip). The file is written under a temporary
 * name (a copy of the existing file, if any, so other datasets are kept) and renamed on commit.
 * Slabs must come in increasing z order and cover whole x-y planes.
 */
export async function createHdf5Writer(
  file: string,
  name: string,
  o: { dtype: DataType; shape: Vec3; channels: number; voxelSize: Vec3; chunks?: Vec3; gzipLevel?: number },
): Promise<Hdf5Writer> {
  await h5ready();
  if (!name) throw new UsageError(`give the dataset name as ${file}#<name>`, file);
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  let exists = false;
  try {
    await fs.access(file);
    exists = true;
  } catch {
    /* new file */
  }
  if (exists) await fs.copyFile(file, tmp);
  let h5: H5File;
  try {
    h5 = new h5wasm.File(tmp, exists ? 'a' : 'w');
    if ((h5 as unknown as { file_id: bigint }).file_id < 0n) throw new Error('open failed');
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new FormatError(`cannot open for writing (${exists ? 'the existing file is not a readable HDF5 file' : (e as Error).message})`, file);
  }
  try {
    const clean = name.replace(/^\/+/, '');
    const existing = exists ? listDatasets(h5) : [];
    if (existing.includes(clean)) {
      throw new UsageError(`dataset '${clean}' already exists in the file (HDF5 cannot drop it in place); write to another name or file`, file);
    }
    const parts = clean.split('/');
    let g = '';
    for (const p of parts.slice(0, -1)) {
      g = g ? `${g}/${p}` : p;
      if (!(h5.get(g) instanceof h5wasm.Group)) h5.create_group(g);
    }
    const [X, Y, Z] = o.shape;
    const C = o.channels;
    const dims = C > 1 ? [C, Z, Y, X] : [Z, Y, X];
    const ch = o.chunks ?? [Math.min(X, 64), Math.min(Y, 64), Math.min(Z, 64)];
    const chunkDims = (C > 1 ? [1, ch[2], ch[1], ch[0]] : [ch[2], ch[1], ch[0]]).map((v, i) => Math.max(1, Math.min(v, dims[i])));
    const zAxis = C > 1 ? 1 : 0;
    const initial = [...dims];
    initial[zAxis] = 0;
    const empty = new (Volume.zeros(o.dtype, [0, 0, 0]).data.constructor as new (n: number) => ElementArray)(0);
    const ds = h5.create_dataset({
      name: clean,
      data: empty as never,
      shape: initial,
      maxshape: dims,
      chunks: chunkDims,
      compression: 'gzip',
      compression_opts: o.gzipLevel ?? 4,
      dtype: H5_DTYPE[o.dtype],
    });
    if (!ds) throw new FormatError(`could not create dataset '${clean}'`, file);
    // resolution in (z, y, x) nm, the attribute this reader understands
    ds.create_attribute('resolution', new Float64Array([o.voxelSize[2], o.voxelSize[1], o.voxelSize[0]]), [3], '<d');
    let zDone = 0;
    return {
      write(vol: Volume, z0 = vol.box.min[2]) {
        if (z0 !== zDone) throw new UsageError(`HDF5 slabs must come in z order: expected z=${zDone}, got ${z0}`, file);
        if (vol.shape[0] !== X || vol.shape[1] !== Y || vol.channels !== C || vol.dtype !== o.dtype) {
          throw new UsageError(`HDF5 slab must be ${o.dtype} [${X}, ${Y}, *] x ${C}, got ${vol.dtype} [${vol.shape}] x ${vol.channels}`, file);
        }
        const z1 = z0 + vol.shape[2];
        const newDims = [...dims];
        newDims[zAxis] = z1;
        ds.resize(newDims);
        if (C > 1) {
          // our layout is (c, z, y, x) with the slab's z; HDF5 wants each channel's slab
          const per = vol.voxels;
          for (let c = 0; c < C; c++) {
            ds.write_slice([[c, c + 1], [z0, z1], [], []], (vol.data as Uint8Array).subarray(c * per, (c + 1) * per));
          }
        } else {
          ds.write_slice([[z0, z1], [], []], vol.data);
        }
        zDone = z1;
      },
      async commit() {
        if (zDone !== Z) throw new UsageError(`HDF5 export wrote z 0:${zDone} of ${Z}`, file);
        h5.close();
        await fs.rename(tmp, file);
      },
      async abort() {
        try {
          h5.close();
        } catch {
          /* already closed */
        }
        await fs.rm(tmp, { force: true });
      },
    };
  } catch (e) {
    try {
      h5.close();
    } catch {
      /* ignore */
    }
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
