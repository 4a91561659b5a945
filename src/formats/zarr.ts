// Zarr v2 / v3 arrays and OME-Zarr multiscale groups (zarrita), plus the two older layouts still
// found in the wild and in zarr_implementations' fixtures: N5 and the 2021 zarr v3 *draft*
// ("meta/root/<name>.array.json", "data/root/<name>/c0/0/0"), read by hand (both are simple).
//
// Spec: `x.zarr` (array, or OME-Zarr group -> opts.scale, default 0) or `x.zarr#sub/path`.
// Axes: OME `axes` / v3 `dimension_names` / v2 `_ARRAY_DIMENSIONS` name them; x, y, z map to
// Wiring [x, y, z], `c`/`channel` (or type 'channel') to channels, `t` must have size 1 and reads
// index 0. Without names the numpy convention applies: (y, x), (z, y, x), (c, z, y, x).
// Voxel size: OME coordinateTransformations `scale` (dataset's, times the multiscale's global one),
// converted to nm from the axis `unit` (angstrom, nanometer, micrometer, millimeter, ...; no unit
// = nm). Offset: OME `translation` is the centre of voxel 0, so translation/scale = o + 0.5 gives
// offset o (o itself is accepted too); any other fraction gives offset 0.
// Element types as NPY: int64 -> uint64 (>= 0 checked), float64 -> float32; missing chunks read
// as the fill value. read(box) fetches only the chunks the box touches; a chunk that fails to
// decode is a FormatError naming the array and chunk.
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as zarr from 'zarrita';
import { type Box, type Vec3, boxIsEmpty, boxShape } from '../core/box.js';
import type { DataType } from '../core/dtype.js';
import { FormatError, UsageError } from '../core/errors.js';
import { Volume } from '../core/volume.js';
import { isSafeKey } from '../core/safe-path.js';
import { parseJsonText } from '../core/json.js';
import { type ElementArray, byteSwap, checkReadBox, emptyVolume, gather, numpyType } from './npy.js';
import type { VolumeSource } from './source.js';
import { BoundedStore, type ChunkNaming, MAX_ZARR_CHUNK_BYTES, type MirrorFetch, boundedDecompress, checkZarrNode, installCodecCaps } from './zarr-guard.js';

installCodecCaps();
type FileSystemStore = BoundedStore;

/** Split `x.zarr#sub/path`. */
export function splitZarrSpec(spec: string): { root: string; sub: string } {
  const i = spec.indexOf('#');
  if (i < 0) return { root: spec, sub: '' };
  return { root: spec.slice(0, i), sub: spec.slice(i + 1).replace(/^\/+|\/+$/g, '') };
}

const UNIT_NM: Record<string, number> = {
  angstrom: 0.1, nanometer: 1, nm: 1, micrometer: 1000, micron: 1000, um: 1000, 'µm': 1000, millimeter: 1e6, mm: 1e6,
  centimeter: 1e7, meter: 1e9, m: 1e9, picometer: 1e-3, femtometer: 1e-6,
};

export interface ZarrSource extends VolumeSource {
  /** Array path inside the store ('' = root). */
  readonly arrayPath: string;
  /** Axis names of the array, slowest first, as the metadata gives them (or inferred). */
  readonly axes: readonly string[];
  /** Number of scales when opened from an OME-Zarr group, else 1. */
  readonly scales: number;
}

type Axis = 'x' | 'y' | 'z' | 'c' | 't';

interface OmeAxis { name: string; type?: string; unit?: string }
interface OmeTransform { type: string; scale?: number[]; translation?: number[] }
interface OmeMultiscale { version?: string; axes?: Array<OmeAxis | string>; coordinateSystems?: Array<{ axes?: OmeAxis[] }>; datasets: Array<{ path: string; coordinateTransformations?: OmeTransform[] }>; coordinateTransformations?: OmeTransform[] }

function multiscalesOf(attrs: Record<string, unknown>): { ms: OmeMultiscale; version: string } | undefined {
  const ome = attrs.ome as { multiscales?: unknown; version?: string } | undefined;
  const list = (ome?.multiscales ?? attrs.multiscales) as OmeMultiscale[] | undefined;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return { ms: list[0], version: String(ome?.version ?? list[0].version ?? '') };
}

function mapAxisName(name: string, type: string | undefined): Axis | undefined {
  const n = name.toLowerCase();
  if (n === 'x' || n === 'y' || n === 'z') return n;
  if (n === 'c' || n === 'channel' || n === 'channels' || type === 'channel') return 'c';
  if (n === 't' || n === 'time' || type === 'time') return 't';
  return undefined;
}

function positionalAxes(nd: number, where: string): Axis[] {
  switch (nd) {
    case 1: return ['x'];
    case 2: return ['y', 'x'];
    case 3: return ['z', 'y', 'x'];
    case 4: return ['c', 'z', 'y', 'x'];
    case 5: return ['t', 'c', 'z', 'y', 'x'];
    default: throw new FormatError(`has ${nd} dimensions; expected 2 (y, x), 3 (z, y, x) or 4 (c, z, y, x)`, where);
  }
}

function resolveAxes(names: readonly (string | undefined)[] | undefined, types: readonly (string | undefined)[] | undefined, nd: number, where: string): Axis[] {
  if (names && names.length === nd && names.every((n) => typeof n === 'string')) {
    const mapped = names.map((n, i) => mapAxisName(n as string, types?.[i]));
    const seen = new Set<Axis>();
    let ok = true;
    for (const a of mapped) {
      if (!a || seen.has(a)) ok = false;
      else seen.add(a);
    }
    if (ok) return mapped as Axis[];
  }
  return positionalAxes(nd, where);
}

function zarrDtype(d: string, where: string): { dtype: DataType; native: string } {
  const map: Record<string, [DataType, string]> = {
    uint8: ['uint8', 'u1'], int8: ['int8', 'i1'], uint16: ['uint16', 'u2'], int16: ['int16', 'i2'], uint32: ['uint32', 'u4'],
    int32: ['int32', 'i4'], uint64: ['uint64', 'u8'], int64: ['uint64', 'i8'], float32: ['float32', 'f4'], float64: ['float32', 'f8'],
  };
  const m = map[d];
  if (!m) throw new FormatError(`element type '${d}' is not a volume type; expected (u)int8/16/32/64 or float32/64`, where);
  return { dtype: m[0], native: m[1] };
}

/** Chunked array access shared by the zarrita path and the hand-written N5 / v3-draft readers. */
interface ChunkedArray {
  shape: number[];
  chunks: number[];
  dtypeName: string; // zarrita-style name: uint8, int64, float32, ...
  getChunk(coords: number[]): Promise<{ data: ElementArray; shape: number[]; stride: number[] }>;
  chunkName(coords: number[]): string;
}

function sourceFromChunked(
  arr: ChunkedArray,
  o: { url: string; arrayPath: string; axes: Axis[]; voxelSize: Vec3; offset: Vec3; scales: number },
): ZarrSource {
  const where = o.url;
  const { dtype } = zarrDtype(arr.dtypeName, where);
  const nd = arr.shape.length;
  const idx = (a: Axis) => o.axes.indexOf(a);
  const ax = { x: idx('x'), y: idx('y'), z: idx('z'), c: idx('c'), t: idx('t') };
  if (ax.t >= 0 && arr.shape[ax.t] !== 1) {
    throw new FormatError(`has a time axis of length ${arr.shape[ax.t]}; give one time point (length 1)`, where);
  }
  const len = (i: number) => (i >= 0 ? arr.shape[i] : 1);
  const shape: Vec3 = [len(ax.x), len(ax.y), len(ax.z)];
  const channels = len(ax.c);
  const clen = (i: number, full: number) => (i >= 0 ? arr.chunks[i] : full);
  const chunkShape: Vec3 = [clen(ax.x, 1), clen(ax.y, 1), clen(ax.z, 1)];
  const src: ZarrSource = {
    url: o.url,
    format: 'zarr',
    dtype,
    shape,
    channels,
    voxelSize: o.voxelSize,
    offset: o.offset,
    chunkShape,
    arrayPath: o.arrayPath,
    axes: o.axes,
    scales: o.scales,
    async read(b: Box): Promise<Volume> {
      checkReadBox(src, b);
      if (boxIsEmpty(b)) return emptyVolume(dtype, b, channels, o.voxelSize);
      const [bx, by, bz] = boxShape(b);
      const out = Volume.zeros(dtype, b, { channels, voxelSize: o.voxelSize });
      // array index range of the box on each array dimension
      const lo = new Array<number>(nd).fill(0);
      const hi = arr.shape.slice();
      // array index = global voxel - offset (the offset only moves the volume in the global frame)
      const set = (i: number, b0: number, b1: number) => {
        if (i >= 0) {
          lo[i] = b0;
          hi[i] = b1;
        }
      };
      set(ax.x, b.min[0] - o.offset[0], b.max[0] - o.offset[0]);
      set(ax.y, b.min[1] - o.offset[1], b.max[1] - o.offset[1]);
      set(ax.z, b.min[2] - o.offset[2], b.max[2] - o.offset[2]);
      const glo = lo.map((v, i) => Math.floor(v / arr.chunks[i]));
      const ghi = hi.map((v, i) => Math.ceil(v / arr.chunks[i]));
      const coords = glo.slice();
      const outStrides = [bz * by * bx, by * bx, bx];
      const jobs: number[][] = [];
      for (;;) {
        jobs.push(coords.slice());
        let d = nd - 1;
        while (d >= 0) {
          coords[d]++;
          if (coords[d] < ghi[d]) break;
          coords[d] = glo[d];
          d--;
        }
        if (d < 0) break;
      }
      let next = 0;
      const worker = async () => {
        while (next < jobs.length) {
          const cc = jobs[next++];
          let chunk: { data: ElementArray; shape: number[]; stride: number[] };
          try {
            chunk = await arr.getChunk(cc);
          } catch (e) {
            // zarrita wraps codec errors (CodecPipelineError); report the innermost message
            let inner = e as Error;
            while (!(inner instanceof FormatError) && inner?.cause instanceof Error) inner = inner.cause;
            if (inner instanceof FormatError && inner.message.includes(arr.chunkName(cc))) throw inner;
            throw new FormatError(`chunk ${arr.chunkName(cc)} cannot be decoded (${inner?.message ?? String(e)})`, where, { cause: e });
          }
          const expectN = chunk.shape.reduce((p, q) => p * q, 1);
          if (chunk.data.length < expectN) {
            throw new FormatError(`chunk ${arr.chunkName(cc)} decodes to ${chunk.data.length} elements; expected ${expectN} (chunk shape [${chunk.shape}])`, where);
          }
          // overlap of chunk and box, per array dimension
          const cLo = cc.map((g, i) => Math.max(lo[i], g * arr.chunks[i]));
          const cHi = cc.map((g, i) => Math.min(hi[i], (g + 1) * arr.chunks[i]));
          let start = 0;
          for (let i = 0; i < nd; i++) start += (cLo[i] - cc[i] * arr.chunks[i]) * chunk.stride[i];
          const st = (i: number) => (i >= 0 ? chunk.stride[i] : 0);
          const ext = (i: number) => (i >= 0 ? cHi[i] - cLo[i] : 1);
          const at = (i: number) => (i >= 0 ? cLo[i] - lo[i] : 0);
          const dstStart = at(ax.c) * outStrides[0] + at(ax.z) * outStrides[1] + at(ax.y) * outStrides[2] + at(ax.x);
          gather(
            chunk.data, start,
            [st(ax.c), st(ax.z), st(ax.y), st(ax.x)],
            [ext(ax.c), ext(ax.z), ext(ax.y), ext(ax.x)],
            out.data, dstStart, [outStrides[0], outStrides[1], outStrides[2]],
            `${where} chunk ${arr.chunkName(cc)}`,
            [b.min[0] + at(ax.x), b.min[1] + at(ax.y), b.min[2] + at(ax.z)],
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, jobs.length) }, worker));
      return out;
    },
    async close() {},
  };
  return src;
}

function wrapZarrita(a: zarr.Array<zarr.DataType, FileSystemStore>, naming?: ChunkNaming): ChunkedArray {
  return {
    shape: a.shape,
    chunks: a.chunks,
    dtypeName: String(a.dtype),
    async getChunk(coords) {
      const c = await a.getChunk(coords);
      return c as unknown as { data: ElementArray; shape: number[]; stride: number[] };
    },
    chunkName: (coords) => `[${coords.join(', ')}]${naming ? ` (${naming.chunkFile(coords)})` : ''}`,
  };
}

function nmFromTransforms(ts: OmeTransform[] | undefined, nd: number): { scale: number[]; translation: number[] } {
  const scale = new Array<number>(nd).fill(1);
  const translation = new Array<number>(nd).fill(0);
  for (const t of ts ?? []) {
    if (t.type === 'scale' && Array.isArray(t.scale) && t.scale.length === nd) {
      for (let i = 0; i < nd; i++) {
        scale[i] *= t.scale[i];
        translation[i] *= t.scale[i];
      }
    } else if (t.type === 'translation' && Array.isArray(t.translation) && t.translation.length === nd) {
      for (let i = 0; i < nd; i++) translation[i] += t.translation[i];
    }
  }
  return { scale, translation };
}

async function listChildren(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string, depth: number) => {
    if (depth > 4) return;
    let names: string[];
    try {
      names = await fs.readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      if (existsSync(path.join(p, '.zarray'))) out.push(r);
      else if (existsSync(path.join(p, 'zarr.json'))) {
        try {
          const j = JSON.parse(await fs.readFile(path.join(p, 'zarr.json'), 'utf8')) as { node_type?: string };
          if (j.node_type === 'array') out.push(r);
          else await walk(p, r, depth + 1);
        } catch {
          /* skip unreadable */
        }
      } else if (existsSync(path.join(p, '.zgroup'))) await walk(p, r, depth + 1);
    }
  };
  await walk(dir, '', 0);
  return out.sort();
}

export interface ZarrOpenOptions {
  scale?: number;
  voxelSize?: Vec3;
  /** Fills the store folder on demand from a remote store (the folder is then its mirror). */
  fetch?: MirrorFetch;
  /** The name errors and the source give the store (default: its path); a remote store's URL. */
  url?: string;
}

/** A compressed chunk file's bound: twice its decoded size, plus headers. */
const chunkFileCap = (decodedBytes: number) => Math.min(MAX_ZARR_CHUNK_BYTES, 2 * decodedBytes + (1 << 16));

/** Open a Zarr array or OME-Zarr group (v2, v3, v3 draft, N5). */
export async function openZarr(spec: string, opts: ZarrOpenOptions = {}): Promise<ZarrSource> {
  const { root, sub } = splitZarrSpec(spec);
  if (!existsSync(root)) throw new UsageError('Zarr store not found', root);
  const dir = sub ? path.join(root, sub) : root;
  // hand-read layouts first
  if (existsSync(path.join(dir, 'attributes.json')) || (sub && existsSync(path.join(root, 'attributes.json')) && !existsSync(path.join(dir, '.zarray')))) {
    return openN5(root, sub, opts);
  }
  const draft = await readDraftRoot(root);
  if (draft) return openDraftV3(root, sub, opts);

  const store = new BoundedStore(root, opts.fetch);
  const loc = sub ? zarr.root(store).resolve(sub) : zarr.root(store);
  const naming = await checkZarrNode(dir);
  if (naming) store.chunkCap = chunkFileCap(naming.chunkBytes);
  let node: zarr.Array<zarr.DataType, FileSystemStore> | zarr.Group<FileSystemStore>;
  try {
    node = await zarr.open(loc);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    const kids = await listChildren(root);
    throw new FormatError(
      `no Zarr array or group at '${sub || '/'}' (${(e as Error).message})${kids.length ? `; arrays in the store: ${kids.join(', ')}` : ''}`,
      spec,
    );
  }
  if (node instanceof zarr.Group) {
    const found = multiscalesOf((node.attrs ?? {}) as Record<string, unknown>);
    if (!found) {
      const kids = await listChildren(dir);
      throw new UsageError(
        `is a Zarr group without OME-Zarr 'multiscales' metadata; give an array as ${root}#<path>${kids.length ? `; arrays: ${kids.join(', ')}` : ''}`,
        spec,
      );
    }
    const { ms } = found;
    const scale = opts.scale ?? 0;
    if (!Array.isArray(ms.datasets) || ms.datasets.length === 0) throw new FormatError("OME-Zarr 'multiscales[0].datasets' is empty", spec);
    if (!Number.isInteger(scale) || scale < 0 || scale >= ms.datasets.length) {
      throw new UsageError(`scale ${scale} does not exist; this OME-Zarr has scales 0..${ms.datasets.length - 1}`, spec);
    }
    const ds = ms.datasets[scale];
    if (!ds || typeof ds.path !== 'string' || !isSafeKey(ds.path)) {
      throw new FormatError(`field 'multiscales[0].datasets[${scale}].path': expected a relative path inside the store, got ${JSON.stringify(ds?.path)}`, spec);
    }
    const arrPath = sub ? `${sub}/${ds.path}` : ds.path;
    const dsNaming = await checkZarrNode(path.join(dir, ds.path));
    if (dsNaming) store.chunkCap = chunkFileCap(dsNaming.chunkBytes);
    let arr: zarr.Array<zarr.DataType, FileSystemStore>;
    try {
      arr = await zarr.open(node.resolve(ds.path), { kind: 'array' });
    } catch (e) {
      throw new FormatError(`OME-Zarr dataset '${ds.path}' (scale ${scale}) cannot be opened (${(e as Error).message})`, spec);
    }
    const nd = arr.shape.length;
    const axesMeta = (ms.axes ?? ms.coordinateSystems?.[ms.coordinateSystems.length - 1]?.axes ?? []).map((a) => (typeof a === 'string' ? { name: a } : a));
    const axes = resolveAxes(axesMeta.length === nd ? axesMeta.map((a) => a.name) : arr.dimensionNames, axesMeta.map((a) => a.type), nd, spec);
    const ds_ = nmFromTransforms(ds.coordinateTransformations, nd);
    const global = nmFromTransforms(ms.coordinateTransformations, nd);
    const voxel: number[] = [1, 1, 1];
    const offset: number[] = [0, 0, 0];
    (['x', 'y', 'z'] as const).forEach((name, k) => {
      const i = axes.indexOf(name);
      if (i < 0) return;
      const unit = axesMeta[i]?.unit;
      const f = unit === undefined ? 1 : UNIT_NM[unit.toLowerCase()];
      if (f === undefined) throw new FormatError(`axis '${axesMeta[i].name}' has unit '${unit}'; expected a length unit (nanometer, micrometer, ...)`, spec);
      const s = ds_.scale[i] * global.scale[i];
      if (!(s > 0)) throw new FormatError(`OME-Zarr scale for axis '${name}' must be positive, got ${s}`, spec);
      voxel[k] = s * f;
      const tr = ds_.translation[i] * global.scale[i] + global.translation[i];
      // OME places voxel centres at translation + i * scale: a translation of (o + 0.5) voxels is
      // Wiring/Neuroglancer offset o (voxel corners at integers); o voxels is accepted as well.
      const vox = tr / s;
      if (Math.abs(vox - 0.5 - Math.round(vox - 0.5)) < 1e-6) offset[k] = Math.round(vox - 0.5);
      else if (Math.abs(vox - Math.round(vox)) < 1e-6) offset[k] = Math.round(vox);
      else offset[k] = 0;
    });
    return sourceFromChunked(wrapZarrita(arr, dsNaming), {
      url: opts.url ?? spec,
      arrayPath: arrPath,
      axes,
      voxelSize: opts.voxelSize ?? (voxel as unknown as Vec3),
      offset: offset as unknown as Vec3,
      scales: ms.datasets.length,
    });
  }
  const arr = node;
  const nd = arr.shape.length;
  const v2names = ((arr.attrs ?? {}) as Record<string, unknown>)._ARRAY_DIMENSIONS as string[] | undefined;
  const axes = resolveAxes(arr.dimensionNames ?? v2names, undefined, nd, spec);
  return sourceFromChunked(wrapZarrita(arr, naming), { url: opts.url ?? spec, arrayPath: sub, axes, voxelSize: opts.voxelSize ?? [1, 1, 1], offset: [0, 0, 0], scales: 1 });
}

// ---------------------------------------------------------------------------------------------
// Compressors for the hand-read layouts
// ---------------------------------------------------------------------------------------------

/** Decompress one chunk of the hand-read layouts, never past `max` bytes (its decoded size). */
async function decompress(kind: string, cfg: Record<string, unknown>, bytes: Uint8Array, where: string, max: number): Promise<Uint8Array> {
  if (kind === 'raw' || kind === '') return bytes;
  if (!['gzip', 'zlib', 'blosc', 'zstd'].includes(kind)) throw new FormatError(`compressor '${kind}' is not supported (raw, gzip, zlib, blosc, zstd)`, where);
  try {
    return await boundedDecompress(kind, bytes, max, async () => {
      const mod = (await import(`numcodecs/${kind}`)) as unknown as { default: { fromConfig(c: unknown): { decode(b: Uint8Array): Promise<Uint8Array> } } };
      return mod.default.fromConfig({ id: kind, ...cfg }).decode(bytes);
    });
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(e.message, where);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// N5 (big-endian chunks with a header; dimensions listed fastest first)
// ---------------------------------------------------------------------------------------------

async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(code === 'EISDIR' ? 'is a folder; expected a JSON metadata file' : `cannot read (${code ?? (e as Error).message})`, file);
  }
  const v = parseJsonText(text, file);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FormatError('is not a JSON object', file);
  return v as Record<string, unknown>;
}

function intList(v: unknown, field: string, where: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new FormatError(`'${field}' must be a list of non-negative integers, got ${JSON.stringify(v)}`, where);
  }
  return v as number[];
}

async function openN5(root: string, subIn: string, opts: ZarrOpenOptions): Promise<ZarrSource> {
  let sub = subIn;
  let dir = sub ? path.join(root, sub) : root;
  let metaFile = path.join(dir, 'attributes.json');
  let meta = await readJson(metaFile);
  let parent: Record<string, unknown> = {};
  let scales = 1;
  let scaleIndex = 0;
  if (!('dimensions' in meta)) {
    const kids = (await fs.readdir(dir)).filter((n) => existsSync(path.join(dir, n, 'attributes.json'))).sort(naturalOrder);
    const levels = kids.filter((n) => /^s\d+$/.test(n));
    if (levels.length === 0 || !levels.includes('s0')) {
      throw new UsageError(`is an N5 group; give a dataset as ${root}#<path>${kids.length ? `; datasets: ${kids.join(', ')}` : ''}`, dir);
    }
    // N5-viewer multiscale group: s0, s1, ... with `resolution`/`scales` on the group
    scaleIndex = opts.scale ?? 0;
    if (!levels.includes(`s${scaleIndex}`)) throw new UsageError(`scale ${scaleIndex} does not exist; this N5 group has ${levels.join(', ')}`, dir);
    scales = levels.length;
    parent = meta;
    sub = sub ? `${sub}/s${scaleIndex}` : `s${scaleIndex}`;
    dir = path.join(root, sub);
    metaFile = path.join(dir, 'attributes.json');
    meta = await readJson(metaFile);
    if (!('dimensions' in meta)) throw new FormatError("N5 dataset has no 'dimensions'", metaFile);
  }
  const dimsF = intList(meta.dimensions, 'dimensions', metaFile);
  const blockF = intList(meta.blockSize, 'blockSize', metaFile);
  if (blockF.length !== dimsF.length || blockF.some((b) => b === 0)) throw new FormatError("'blockSize' must match 'dimensions' and be positive", metaFile);
  const dt = String(meta.dataType);
  const n5types: Record<string, string> = { uint8: 'u1', int8: 'i1', uint16: 'u2', int16: 'i2', uint32: 'u4', int32: 'i4', uint64: 'u8', int64: 'i8', float32: 'f4', float64: 'f8' };
  if (!n5types[dt]) throw new FormatError(`'dataType' ${JSON.stringify(meta.dataType)} is not supported`, metaFile);
  const t = numpyType(n5types[dt], metaFile);
  const blockBytes = blockF.reduce((a, b) => a * b, 1) * t.size;
  if (blockBytes > MAX_ZARR_CHUNK_BYTES) throw new FormatError(`field 'blockSize': a block of [${blockF}] takes ${blockBytes} bytes, more than ${MAX_ZARR_CHUNK_BYTES}`, metaFile);
  const comp = (meta.compression ?? { type: 'raw' }) as Record<string, unknown>;
  const ctype = String(comp.type ?? 'raw');
  const nd = dimsF.length;
  const shape = dimsF.slice().reverse();
  const chunks = blockF.slice().reverse();
  const url = opts.url ?? (subIn ? `${root}#${subIn}` : root);
  const arr: ChunkedArray = {
    shape,
    chunks,
    dtypeName: dt,
    chunkName: (c) => path.join(dir, ...c.slice().reverse().map(String)),
    async getChunk(coords) {
      const file = path.join(dir, ...coords.slice().reverse().map(String));
      const full = chunks.reduce((a, b) => a * b, 1);
      await opts.fetch?.file(file, chunkFileCap(blockBytes));
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await fs.readFile(file));
      } catch {
        const data = new t.ctor(new ArrayBuffer(full * t.size));
        return { data, shape: chunks, stride: cStrides(chunks) };
      }
      if (bytes.length < 4 + 4 * nd) throw new FormatError(`N5 block header truncated (${bytes.length} bytes)`, file);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const mode = dv.getUint16(0);
      const n = dv.getUint16(2);
      if (mode !== 0 || n !== nd) throw new FormatError(`N5 block header: mode ${mode}, ${n} dims; expected mode 0 (default) and ${nd} dims`, file);
      const bdimsF: number[] = [];
      for (let i = 0; i < nd; i++) bdimsF.push(dv.getUint32(4 + 4 * i));
      const bshape = bdimsF.slice().reverse();
      if (bshape.some((v, i) => v > chunks[i] || v === 0)) throw new FormatError(`N5 block size [${bdimsF}] exceeds blockSize [${blockF}]`, file);
      const count0 = bshape.reduce((a, b) => a * b, 1);
      const raw = await decompress(ctype, comp, bytes.subarray(4 + 4 * nd), file, count0 * t.size).catch((e) => {
        throw e instanceof FormatError ? e : new FormatError(`cannot decompress N5 block (${(e as Error).message})`, file);
      });
      const count = bshape.reduce((a, b) => a * b, 1);
      if (raw.length < count * t.size) throw new FormatError(`N5 block has ${raw.length} bytes; expected ${count * t.size}`, file);
      const own = raw.slice(0, count * t.size);
      byteSwap(own, t.size);
      const data = new t.ctor(own.buffer, 0, count);
      return { data, shape: bshape, stride: cStrides(bshape) };
    },
  };
  // N5 lists axes fastest first; our array dims are slowest first.
  const namesF = (meta.axes ?? parent.axes) as unknown;
  const names = Array.isArray(namesF) && namesF.length === nd ? (namesF as string[]).slice().reverse() : undefined;
  const axes = resolveAxes(names, undefined, nd, url);
  // voxel size: resolution (or pixelResolution) x downsampling factors, in the axis units
  const pick = (m: Record<string, unknown>): { res?: number[]; unit?: string | string[] } => {
    const pr = m.pixelResolution as { dimensions?: number[]; unit?: string } | undefined;
    if (Array.isArray(m.resolution)) return { res: m.resolution as number[], unit: m.units as string[] | undefined };
    if (pr && Array.isArray(pr.dimensions)) return { res: pr.dimensions, unit: pr.unit };
    return {};
  };
  const own = pick(meta);
  const grp = pick(parent);
  const resF = own.res ?? grp.res;
  const unitF = own.unit ?? grp.unit;
  const factorsF = (meta.downsamplingFactors ?? (parent.scales as unknown[] | undefined)?.[scaleIndex]) as number[] | undefined;
  const voxel: number[] = [1, 1, 1];
  if (Array.isArray(resF) && resF.length === nd) {
    (['x', 'y', 'z'] as const).forEach((name, k) => {
      const i = axes.indexOf(name);
      if (i < 0) return;
      const fi = nd - 1 - i; // index in N5 (fastest-first) order
      const u = Array.isArray(unitF) ? unitF[fi] : unitF;
      const f = typeof u === 'string' && UNIT_NM[u.toLowerCase()] !== undefined ? UNIT_NM[u.toLowerCase()] : 1;
      const d = Array.isArray(factorsF) && typeof factorsF[fi] === 'number' ? factorsF[fi] : 1;
      const r = Number(resF[fi]);
      if (r > 0 && d > 0) voxel[k] = r * d * f;
    });
  }
  return sourceFromChunked(arr, { url, arrayPath: sub, axes, voxelSize: opts.voxelSize ?? (voxel as unknown as Vec3), offset: [0, 0, 0], scales });
}

function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function cStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// zarr v3 draft (2021, "https://purl.org/zarr/spec/protocol/core/3.0")
// ---------------------------------------------------------------------------------------------

async function readDraftRoot(root: string): Promise<boolean> {
  const f = path.join(root, 'zarr.json');
  if (!existsSync(f)) return false;
  try {
    const j = JSON.parse(await fs.readFile(f, 'utf8')) as { zarr_format?: unknown };
    return typeof j.zarr_format === 'string' && j.zarr_format.includes('protocol/core/3.0');
  } catch {
    return false;
  }
}

async function openDraftV3(root: string, sub: string, opts: ZarrOpenOptions): Promise<ZarrSource> {
  const metaFile = path.join(root, 'meta', 'root', `${sub}.array.json`);
  if (!sub || !existsSync(metaFile)) {
    const found: string[] = [];
    const walk = async (d: string, rel: string) => {
      for (const n of await fs.readdir(d).catch(() => [] as string[])) {
        const p = path.join(d, n);
        if (n.endsWith('.array.json')) found.push(rel + n.slice(0, -'.array.json'.length));
        else if ((await fs.stat(p)).isDirectory()) await walk(p, `${rel}${n}/`);
      }
    };
    await walk(path.join(root, 'meta', 'root'), '');
    throw new UsageError(`zarr v3 (draft) store: give an array as ${root}#<path>; arrays: ${found.sort().join(', ') || '(none)'}`, sub ? `${root}#${sub}` : root);
  }
  const meta = await readJson(metaFile);
  const shape = intList(meta.shape, 'shape', metaFile);
  const grid = meta.chunk_grid as { chunk_shape?: unknown; separator?: string } | undefined;
  const chunks = intList(grid?.chunk_shape, 'chunk_grid.chunk_shape', metaFile);
  if (chunks.length !== shape.length || chunks.some((c) => c === 0)) throw new FormatError("'chunk_shape' must match 'shape' and be positive", metaFile);
  const sep = grid?.separator ?? '/';
  const dt = String(meta.data_type);
  const m = /^([<>|]?)([uif])(\d)$/.exec(dt) ?? /^()(bool)()$/.exec(dt);
  if (!m) throw new FormatError(`'data_type' ${JSON.stringify(meta.data_type)} is not supported`, metaFile);
  const t = numpyType(`${m[2]}${m[3]}`, metaFile);
  const bigEndian = m[1] === '>';
  if (meta.chunk_memory_layout && meta.chunk_memory_layout !== 'C') throw new FormatError(`'chunk_memory_layout' ${JSON.stringify(meta.chunk_memory_layout)} is not supported (C only)`, metaFile);
  const comp = meta.compressor as { codec?: string; configuration?: Record<string, unknown> } | null | undefined;
  const ckind = comp?.codec ? (/codec\/(\w+)\//.exec(comp.codec)?.[1] ?? comp.codec) : 'raw';
  const fill = typeof meta.fill_value === 'number' ? meta.fill_value : 0;
  const dtypeNames: Record<string, string> = { u1: 'uint8', i1: 'int8', u2: 'uint16', i2: 'int16', u4: 'uint32', i4: 'int32', u8: 'uint64', i8: 'int64', f4: 'float32', f8: 'float64' };
  const url = `${root}#${sub}`;
  const keyOf = (c: number[]) => path.join(root, 'data', 'root', ...sub.split('/')) + '/c' + c.join(sep);
  const arr: ChunkedArray = {
    shape,
    chunks,
    dtypeName: dtypeNames[`${m[2]}${m[3]}`] ?? 'bool',
    chunkName: keyOf,
    async getChunk(coords) {
      const file = keyOf(coords);
      const count = chunks.reduce((a, b) => a * b, 1);
      await opts.fetch?.file(file, chunkFileCap(count * t.size));
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await fs.readFile(file));
      } catch {
        const data = new t.ctor(new ArrayBuffer(count * t.size));
        if (fill) (data as Float32Array).fill(fill);
        return { data, shape: chunks, stride: cStrides(chunks) };
      }
      const raw = await decompress(ckind, comp?.configuration ?? {}, bytes, file, count * t.size).catch((e) => {
        throw e instanceof FormatError ? e : new FormatError(`cannot decompress chunk (${(e as Error).message})`, file);
      });
      if (raw.length !== count * t.size) throw new FormatError(`chunk has ${raw.length} bytes; expected ${count * t.size} ([${chunks}] x ${t.size})`, file);
      const own = raw.byteOffset % t.size === 0 && !bigEndian ? raw : raw.slice();
      if (bigEndian) byteSwap(own, t.size);
      return { data: new t.ctor(own.buffer, own.byteOffset, count), shape: chunks, stride: cStrides(chunks) };
    },
  };
  return sourceFromChunked(arr, { url, arrayPath: sub, axes: positionalAxes(shape.length, url), voxelSize: opts.voxelSize ?? [1, 1, 1], offset: [0, 0, 0], scales: 1 });
}
