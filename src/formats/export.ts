// exportVolume(source, dest): write any VolumeSource to .npy, file.h5#name, .zarr (OME-Zarr) or a
// folder of PNG slices. The source is read in blocks (all of x, a band of y, a band of z, at most
// `memory` bytes), never whole. Every destination is written under a temporary name and renamed
// into place at the end, so a failure leaves no partial output.
//
// Zarr output (default v3 + OME-Zarr 0.5, or v2 + OME-Zarr 0.4 with zarrFormat: 2):
//   dest/            group, attributes.ome.multiscales (axes z, y, x [c first if channels > 1],
//                    unit nanometer, scale = voxel size, translation = (offset + 0.5) * voxel
//                    size, i.e. the centre of voxel 0 as OME defines it)
//   dest/0/          the array (dest/1, dest/2, ... for opts.extraScales): chunks [64, 64, 64]
//                    (z, y, x) clipped to the shape, gzip level 5,
//                    explicit fill_value 0, all-zero chunks not written (they read as the fill value)
// This is the layout Neuroglancer's zarr datasource opens (zarr://file:///.../dest or via a server).
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { type Box, type Vec3, box } from '../core/box.js';
import { type DataType, bytesPerElement } from '../core/dtype.js';
import { UsageError } from '../core/errors.js';
import { type Progress, createProgress } from '../core/progress.js';
import type { Volume } from '../core/volume.js';
import { createHdf5Writer, splitH5Spec } from './hdf5.js';
import { npyHeaderBytes, numpyDims } from './npy.js';
import type { VolumeSource } from './source.js';

export interface ExportOptions {
  json?: boolean;
  progress?: Progress;
  /** Replace an existing destination (folder/file). Default false. */
  overwrite?: boolean;
  /** Zarr only: 3 (default, OME-Zarr 0.5) or 2 (OME-Zarr 0.4). */
  zarrFormat?: 2 | 3;
  /** Zarr/HDF5 chunk shape [x, y, z] (default 64,64,64 clipped to the volume). */
  chunkSize?: Vec3;
  /** Upper bound in bytes for one block read from the source (default 128 MiB). */
  memory?: number;
  /**
   * Zarr only: coarser scales of the same volume (e.g. a precomputed layer's `source(1)`,
   * `source(2)`, ...), written as OME-Zarr datasets "1", "2", ... after "0" = `source`. Each has
   * its own voxel size and offset; data type and channels must match.
   */
  extraScales?: VolumeSource[];
}

export interface ExportResult {
  dest: string;
  format: 'npy' | 'hdf5' | 'zarr' | 'png';
  bytes: number;
  blocks: number;
}

type Kind = ExportResult['format'];

/** Which writer a destination gets. */
export function exportKind(dest: string): Kind {
  const base = dest.includes('#') ? dest.slice(0, dest.indexOf('#')) : dest;
  if (/\.(h5|hdf5|hdf)$/i.test(base)) return 'hdf5';
  if (dest.includes('#')) throw new UsageError("'#name' is only for HDF5 destinations (file.h5#name)", dest);
  if (/\.npy$/i.test(base)) return 'npy';
  if (/\.zarr\/?$/i.test(base)) return 'zarr';
  if (/\.[a-z0-9]{2,5}$/i.test(base) && !/\.(png|slices)$/i.test(base)) {
    throw new UsageError('unknown destination extension; expected x.npy, file.h5#name, x.zarr, or a folder for PNG slices', dest);
  }
  return 'png';
}

function tmpName(p: string): string {
  return `${p.replace(/\/+$/, '')}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Move `tmp` to `dest`; with overwrite an existing dest is replaced (old one removed after). */
async function moveIntoPlace(tmp: string, dest: string, overwrite: boolean): Promise<void> {
  if (existsSync(dest)) {
    if (!overwrite) throw new UsageError('destination exists (use overwrite to replace it)', dest);
    const old = tmpName(dest) + '-old';
    await fs.rename(dest, old);
    await fs.rename(tmp, dest);
    await fs.rm(old, { recursive: true, force: true });
    return;
  }
  await fs.rename(tmp, dest);
}

/** Blocks [all x] x [y band] x [z band] in z-major order, in the source's global coordinates. */
function* blocks(src: VolumeSource, yStep: number, zStep: number): Generator<Box> {
  const [X, Y, Z] = src.shape;
  const o = src.offset;
  for (let z = 0; z < Z; z += zStep) {
    for (let y = 0; y < Y; y += yStep) {
      yield box([o[0], o[1] + y, o[2] + z], [o[0] + X, o[1] + Math.min(Y, y + yStep), o[2] + Math.min(Z, z + zStep)]);
    }
  }
}

/** y and z band sizes: z a multiple of `zAlign`, y a multiple of `yAlign`, block within the budget. */
function bands(src: VolumeSource, budget: number, yAlign: number, zAlign: number, fullPlanes: boolean): { y: number; z: number } {
  const [X, Y, Z] = src.shape;
  const rowBytes = X * src.channels * bytesPerElement(src.dtype);
  const z = Math.max(1, Math.min(Z, zAlign));
  if (fullPlanes) {
    const zFit = Math.max(1, Math.floor(budget / Math.max(1, rowBytes * Y)));
    return { y: Y, z: Math.max(1, Math.min(Z, zAlign, zFit)) };
  }
  const rows = Math.max(1, Math.floor(budget / Math.max(1, rowBytes * z)));
  const y = Math.min(Y, Math.max(yAlign, Math.floor(rows / yAlign) * yAlign));
  return { y, z };
}

/** Write `source` to `dest` (format by extension, see the module comment). */
export async function exportVolume(source: VolumeSource, dest: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const kind = exportKind(dest);
  const progress = opts.progress ?? createProgress({ json: opts.json, label: `export ${kind}` });
  const budget = opts.memory ?? 128 * 1024 * 1024;
  const [X, Y, Z] = source.shape;
  if (X * Y * Z === 0) throw new UsageError(`source ${source.url} is empty ([${source.shape}])`, dest);
  if (opts.extraScales?.length && kind !== 'zarr') throw new UsageError('extra scales can only be written to a .zarr (OME-Zarr multiscale)', dest);
  const chunk: Vec3 = opts.chunkSize ?? [64, 64, 64];
  const cz = Math.min(Z, chunk[2]);
  const cy = Math.min(Y, chunk[1]);
  switch (kind) {
    case 'npy':
      return exportNpy(source, dest, opts, progress, bands(source, budget, 1, cz, false));
    case 'hdf5':
      return exportHdf5(source, dest, opts, progress, bands(source, budget, cy, cz, false), chunk);
    case 'zarr':
      return exportZarr([source, ...(opts.extraScales ?? [])], dest, opts, progress, budget, chunk);
    case 'png':
      return exportPng(source, dest, opts, progress, bands(source, budget, Y, cz, true));
  }
}

async function runBlocks(src: VolumeSource, b: { y: number; z: number }, progress: Progress, fn: (v: Volume) => Promise<void>): Promise<number> {
  const all = [...blocks(src, b.y, b.z)];
  progress.start(all.length);
  try {
    for (const bx of all) {
      const v = await src.read(bx);
      await fn(v);
      progress.increment();
    }
  } finally {
    progress.stop();
  }
  return all.length;
}

// ---------------------------------------------------------------------------------------------

async function exportNpy(src: VolumeSource, dest: string, opts: ExportOptions, progress: Progress, b: { y: number; z: number }): Promise<ExportResult> {
  if (existsSync(dest) && !opts.overwrite) throw new UsageError('destination exists (use overwrite to replace it)', dest);
  await fs.mkdir(path.dirname(path.resolve(dest)), { recursive: true });
  const [X, Y, Z] = src.shape;
  const C = src.channels;
  const bpe = bytesPerElement(src.dtype);
  const head = npyHeaderBytes(src.dtype, numpyDims(src.shape, C));
  const tmp = tmpName(dest);
  const fh = await fs.open(tmp, 'w');
  let n = 0;
  try {
    await fh.write(head, 0, head.length, 0);
    const total = head.length + X * Y * Z * C * bpe;
    await fh.truncate(total);
    n = await runBlocks(src, b, progress, async (v) => {
      const [, by, bz] = v.shape;
      const bytes = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
      const y0 = v.box.min[1] - src.offset[1];
      const z0 = v.box.min[2] - src.offset[2];
      for (let c = 0; c < C; c++) {
        for (let z = 0; z < bz; z++) {
          // rows y0..y0+by of plane z are contiguous in the file and in the block
          const fileEl = ((c * Z + z0 + z) * Y + y0) * X;
          const blockEl = (c * bz + z) * by * X;
          await fh.write(bytes, blockEl * bpe, by * X * bpe, head.length + fileEl * bpe);
        }
      }
    });
    await fh.sync();
    await fh.close();
    await moveIntoPlace(tmp, dest, !!opts.overwrite);
    return { dest, format: 'npy', bytes: total, blocks: n };
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

async function exportHdf5(src: VolumeSource, dest: string, opts: ExportOptions, progress: Progress, b: { y: number; z: number }, chunk: Vec3): Promise<ExportResult> {
  const { file, dataset } = splitH5Spec(dest);
  if (!dataset) throw new UsageError('give the dataset name: file.h5#name', dest);
  const [X, Y, Z] = src.shape;
  // The HDF5 writer takes whole x-y slabs; use full planes in a z band within the budget.
  const rowBytes = X * Y * src.channels * bytesPerElement(src.dtype);
  const zb = Math.max(1, Math.min(b.z, Math.floor((opts.memory ?? 128 * 1024 * 1024) / Math.max(1, rowBytes)) || 1));
  const w = await createHdf5Writer(file, dataset, { dtype: src.dtype, shape: src.shape, channels: src.channels, voxelSize: src.voxelSize, chunks: chunk });
  try {
    const n = await runBlocks(src, { y: Y, z: zb }, progress, async (v) => {
      w.write(v, v.box.min[2] - src.offset[2]);
    });
    await w.commit();
    return { dest, format: 'hdf5', bytes: X * Y * Z * src.channels * bytesPerElement(src.dtype), blocks: n };
  } catch (e) {
    await w.abort();
    throw e;
  }
}

const ZARR_V3_TYPE: Record<DataType, string> = {
  uint8: 'uint8', int8: 'int8', uint16: 'uint16', int16: 'int16', uint32: 'uint32', int32: 'int32', uint64: 'uint64', float32: 'float32',
};
const ZARR_V2_TYPE: Record<DataType, string> = {
  uint8: '|u1', int8: '|i1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4', uint64: '<u8', float32: '<f4',
};

async function exportZarr(srcs: VolumeSource[], dest: string, opts: ExportOptions, progress: Progress, budget: number, chunkIn: Vec3): Promise<ExportResult> {
  const dir = dest.replace(/\/+$/, '');
  if (existsSync(dir) && !opts.overwrite) throw new UsageError('destination exists (use overwrite to replace it)', dir);
  const version = opts.zarrFormat ?? 3;
  const first = srcs[0];
  const C = first.channels;
  for (const s of srcs.slice(1)) {
    if (s.dtype !== first.dtype || s.channels !== C) {
      throw new UsageError(`all scales must be ${first.dtype} x ${C}; ${s.url} is ${s.dtype} x ${s.channels}`, dest);
    }
  }
  const bpe = bytesPerElement(first.dtype);
  const names = C > 1 ? ['c', 'z', 'y', 'x'] : ['z', 'y', 'x'];
  const axes = names.map((n) => (n === 'c' ? { name: 'c', type: 'channel' } : { name: n, type: 'space', unit: 'nanometer' }));
  const datasets = srcs.map((src, i) => {
    const vs = src.voxelSize;
    const o = src.offset;
    // OME translations place voxel centres: voxel p of Wiring (corner p, centre p + 0.5) sits where
    // Neuroglancer shows the same voxel of a precomputed layer.
    const centre = (k: 0 | 1 | 2) => (o[k] + 0.5) * vs[k];
    const scale = C > 1 ? [1, vs[2], vs[1], vs[0]] : [vs[2], vs[1], vs[0]];
    const translation = C > 1 ? [0, centre(2), centre(1), centre(0)] : [centre(2), centre(1), centre(0)];
    return { path: String(i), coordinateTransformations: [{ type: 'scale', scale }, { type: 'translation', translation }] };
  });
  const multiscale = { name: path.basename(dir), axes, datasets, ...(version === 2 ? { version: '0.4' } : {}) };
  const tmp = tmpName(dir);
  await fs.mkdir(tmp, { recursive: true });
  try {
    if (version === 3) {
      await fs.writeFile(path.join(tmp, 'zarr.json'), JSON.stringify({ zarr_format: 3, node_type: 'group', attributes: { ome: { version: '0.5', multiscales: [multiscale] } } }, null, 2));
    } else {
      await fs.writeFile(path.join(tmp, '.zgroup'), JSON.stringify({ zarr_format: 2 }));
      await fs.writeFile(path.join(tmp, '.zattrs'), JSON.stringify({ multiscales: [multiscale] }, null, 2));
    }
    let written = 0;
    let n = 0;
    for (let si = 0; si < srcs.length; si++) {
      const src = srcs[si];
      const [X, Y, Z] = src.shape;
      const chunk: Vec3 = [Math.min(X, chunkIn[0]), Math.min(Y, chunkIn[1]), Math.min(Z, chunkIn[2])];
      const b = bands(src, budget, chunk[1], chunk[2], false);
      const arr = path.join(tmp, String(si));
      await fs.mkdir(arr, { recursive: true });
      const shape = C > 1 ? [C, Z, Y, X] : [Z, Y, X];
      const chunks = C > 1 ? [1, chunk[2], chunk[1], chunk[0]] : [chunk[2], chunk[1], chunk[0]];
      if (version === 3) {
        await fs.writeFile(
          path.join(arr, 'zarr.json'),
          JSON.stringify({
            zarr_format: 3,
            node_type: 'array',
            shape,
            data_type: ZARR_V3_TYPE[src.dtype],
            chunk_grid: { name: 'regular', configuration: { chunk_shape: chunks } },
            chunk_key_encoding: { name: 'default', configuration: { separator: '/' } },
            fill_value: 0,
            codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, { name: 'gzip', configuration: { level: 5 } }],
            dimension_names: names,
            attributes: {},
          }, null, 2),
        );
      } else {
        await fs.writeFile(
          path.join(arr, '.zarray'),
          JSON.stringify({
            zarr_format: 2, shape, chunks, dtype: ZARR_V2_TYPE[src.dtype], compressor: { id: 'gzip', level: 5 },
            fill_value: 0, filters: null, order: 'C', dimension_separator: '/',
          }, null, 2),
        );
        await fs.writeFile(path.join(arr, '.zattrs'), JSON.stringify({ _ARRAY_DIMENSIONS: names }));
      }
      const [chx, chy, chz] = chunk;
      const buf = new Uint8Array(chx * chy * chz * bpe);
      const o = src.offset;
      n += await runBlocks(src, b, progress, async (v) => {
        const [bx, by, bz] = v.shape;
        const bytes = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
        const y0 = v.box.min[1] - o[1];
        const z0 = v.box.min[2] - o[2];
        for (let c = 0; c < C; c++) {
          for (let gz = 0; gz < bz; gz += chz) {
            for (let gy = 0; gy < by; gy += chy) {
              for (let gx = 0; gx < bx; gx += chx) {
                buf.fill(0);
                let nonzero = false;
                const ez = Math.min(chz, bz - gz);
                const ey = Math.min(chy, by - gy);
                const ex = Math.min(chx, bx - gx);
                for (let z = 0; z < ez; z++) {
                  for (let y = 0; y < ey; y++) {
                    const s = (((c * bz + gz + z) * by + gy + y) * bx + gx) * bpe;
                    const d = ((z * chy + y) * chx) * bpe;
                    const row = bytes.subarray(s, s + ex * bpe);
                    buf.set(row, d);
                    if (!nonzero) for (let i = 0; i < row.length; i++) if (row[i] !== 0) { nonzero = true; break; }
                  }
                }
                if (!nonzero) continue; // an all-zero chunk reads as fill_value 0
                const idx = [(z0 + gz) / chz, (y0 + gy) / chy, gx / chx];
                const key = C > 1 ? [c, ...idx] : idx;
                const rel = version === 3 ? ['c', ...key.map(String)] : key.map(String);
                const file = path.join(arr, ...rel);
                await fs.mkdir(path.dirname(file), { recursive: true });
                const z = gzipSync(buf, { level: 5 });
                await fs.writeFile(file, z);
                written += z.length;
              }
            }
          }
        }
      });
    }
    await moveIntoPlace(tmp, dir, !!opts.overwrite);
    return { dest: dir, format: 'zarr', bytes: written, blocks: n };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function exportPng(src: VolumeSource, dest: string, opts: ExportOptions, progress: Progress, b: { y: number; z: number }): Promise<ExportResult> {
  if (src.dtype !== 'uint8' && src.dtype !== 'uint16') {
    throw new UsageError(`PNG slices hold uint8 or uint16; ${src.url} is ${src.dtype} (export it to .npy, .h5 or .zarr instead)`, dest);
  }
  if (src.channels !== 1 && src.channels !== 3) throw new UsageError(`PNG slices hold 1 (gray) or 3 (RGB) channels; ${src.url} has ${src.channels}`, dest);
  const dir = dest.replace(/\/+$/, '');
  if (existsSync(dir) && !opts.overwrite) {
    const entries = await fs.readdir(dir).catch(() => ['?']);
    if (entries.length > 0) throw new UsageError('destination folder exists and is not empty (use overwrite to replace it)', dir);
    await fs.rmdir(dir);
  }
  const [X, Y, Z] = src.shape;
  const C = src.channels;
  const digits = Math.max(4, String(Z - 1).length);
  const tmp = tmpName(dir);
  await fs.mkdir(tmp, { recursive: true });
  let bytes = 0;
  try {
    const n = await runBlocks(src, b, progress, async (v) => {
      const bz = v.shape[2];
      const plane = X * Y;
      for (let k = 0; k < bz; k++) {
        const z = v.box.min[2] - src.offset[2] + k;
        let pix: Uint8Array | Uint16Array;
        if (C === 1) {
          pix = (v.data as Uint8Array | Uint16Array).subarray(k * plane, (k + 1) * plane);
        } else {
          const d = v.data as Uint8Array | Uint16Array;
          pix = new (d.constructor as new (n: number) => Uint8Array | Uint16Array)(plane * 3);
          for (let c = 0; c < 3; c++) {
            const base = (c * bz + k) * plane;
            for (let i = 0; i < plane; i++) pix[i * 3 + c] = d[base + i];
          }
        }
        const input = pix.byteOffset === 0 && pix.byteLength === pix.buffer.byteLength ? pix : pix.slice();
        let img = sharp(input, { raw: { width: X, height: Y, channels: C as 1 | 3 } });
        img = C === 1 ? img.toColourspace(src.dtype === 'uint16' ? 'grey16' : 'b-w') : img.toColourspace(src.dtype === 'uint16' ? 'rgb16' : 'srgb');
        const out = await img.png({ compressionLevel: 6 }).toBuffer();
        await fs.writeFile(path.join(tmp, `z${String(z).padStart(digits, '0')}.png`), out);
        bytes += out.length;
      }
    });
    await moveIntoPlace(tmp, dir, !!opts.overwrite);
    return { dest: dir, format: 'png', bytes, blocks: n };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
