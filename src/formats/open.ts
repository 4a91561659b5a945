// openSource(spec): one entry point for every readable volume format.
import { existsSync, promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError, UsageError } from '../core/errors.js';
import type { VolumeSource } from './source.js';
import { type OpenOptions, type Probe, SOURCE_FORMATS, sourceFormat } from './sources/index.js';

// The formats are a table (sources/index.ts: one module per format, detect/open/hasScales);
// their readers are loaded on first use (h5wasm, sharp and zarrita each take up to seconds).

/** The forms openSource accepts, for error messages and --help. */
export const SOURCE_FORMS = [
  ...SOURCE_FORMATS.map((f) => f.form),
  '(any of these may be written as a file:// URL, with an optional precomputed:// zarr:// n5:// prefix)',
  '(any of these may end in ?channel=N to read one channel of a multi-channel volume, e.g. a classifier output)',
];

function usage(spec: string, why: string): UsageError {
  return new UsageError(`${why}. Accepted sources:\n  - ${SOURCE_FORMS.join('\n  - ')}`, spec);
}

async function magic(file: string): Promise<Uint8Array> {
  const h = await fs.open(file, 'r');
  try {
    const b = new Uint8Array(8);
    await h.read(b, 0, 8, 0);
    return b;
  } finally {
    await h.close();
  }
}

/**
 * Open any supported volume. `spec` is a path (see SOURCE_FORMS); `scale` picks an OME-Zarr or
 * precomputed scale (default 0). `voxelSize` overrides what the file says (nm, [x, y, z]).
 * The returned source reads sub-boxes in global voxel coordinates [x, y, z].
 */
export async function openSource(specIn: string, opts: OpenOptions = {}): Promise<VolumeSource> {
  const { spec, channel } = splitChannel(specIn);
  const src = await openAny(spec, opts);
  try {
    checkGeometry(src, spec);
  } catch (e) {
    await src.close();
    throw e;
  }
  // formats without scales must not silently ignore a requested scale
  if ((opts.scale ?? 0) !== 0 && sourceFormat(src.format)?.hasScales === false) {
    await src.close();
    throw new UsageError(`scale ${opts.scale} requested, but a ${src.format} source has only scale 0`, spec);
  }
  if (opts.scale !== undefined && (!Number.isInteger(opts.scale) || opts.scale < 0)) {
    await src.close();
    throw new UsageError(`scale must be a whole number >= 0, got ${opts.scale}`, spec);
  }
  if (channel === undefined) return src;
  if (channel >= src.channels) {
    await src.close();
    throw new UsageError(`channel ${channel} requested, but the volume has channels 0..${src.channels - 1}`, spec);
  }
  return selectChannel(src, channel, specIn);
}

/**
 * Header values every reader hands on (to makeInfo, the scheduler, ...) are checked once here:
 * a FormatError naming the source and the field, never a bad value passed along.
 */
function checkGeometry(src: VolumeSource, spec: string): void {
  const bad = (field: string, expected: string, got: unknown) => {
    throw new FormatError(`${field}: expected ${expected}, got ${JSON.stringify(got)}`, spec);
  };
  const vec = (v: unknown): v is number[] => Array.isArray(v) && v.length === 3;
  if (!vec(src.shape) || !src.shape.every((n) => Number.isSafeInteger(n) && n > 0)) bad('shape', 'three positive integers [x, y, z] (an empty volume cannot be read)', src.shape);
  if (!vec(src.voxelSize) || !src.voxelSize.every((n) => Number.isFinite(n) && n > 0)) bad('voxel size', 'three positive numbers [x, y, z] nm (or give --voxel-size)', src.voxelSize);
  if (!vec(src.offset) || !src.offset.every((n) => Number.isSafeInteger(n))) bad('offset', 'three integers [x, y, z]', src.offset);
  if (!src.shape.every((n, i) => Number.isSafeInteger(n + src.offset[i]))) bad('offset + shape', 'integers below 2^53', src.offset);
  if (!Number.isSafeInteger(src.channels) || src.channels < 1) bad('channels', 'a whole number >= 1', src.channels);
}

/** Split a trailing `?channel=N` off a spec. */
export function splitChannel(spec: string): { spec: string; channel?: number } {
  const m = /^(.*)\?channel=([^?#/]*)$/.exec(spec);
  if (!m) return { spec };
  if (!/^\d+$/.test(m[2])) throw new UsageError(`?channel= needs a whole number >= 0, got ${JSON.stringify(m[2])}`, spec);
  return { spec: m[1], channel: Number(m[2]) };
}

/** One channel of a multi-channel source, as a one-channel source (reads copy just that channel). */
function selectChannel(src: VolumeSource, channel: number, url: string): VolumeSource {
  return {
    dtype: src.dtype,
    shape: src.shape,
    channels: 1,
    voxelSize: src.voxelSize,
    offset: src.offset,
    kind: src.kind,
    url,
    format: src.format,
    chunkShape: src.chunkShape,
    channelOf: { base: src, channel },
    async read(b) {
      if (src.readChannel) return src.readChannel(b, channel);
      const v = await src.read(b);
      return v.channels === 1 ? v : v.channel(channel).crop(v.box);
    },
    close: () => src.close(),
  };
}

/**
 * Neuroglancer-style local URLs are accepted: `file:///p`, and `precomputed://`, `zarr://`,
 * `zarr2://`, `zarr3://`, `n5://` in front of a local path or file:// URL. Returns the plain path
 * (keeping any `#dataset`), or undefined for anything remote.
 */
export function localPath(spec: string): string | undefined {
  let s = spec;
  const m = /^(precomputed|zarr|zarr2|zarr3|n5):\/\/(.*)$/i.exec(s);
  if (m) s = m[2];
  if (/^file:\/\//i.test(s)) {
    const hash = s.indexOf('#');
    const url = hash >= 0 ? s.slice(0, hash) : s;
    return fileURLToPath(url) + (hash >= 0 ? s.slice(hash) : '');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return undefined;
  return s;
}

async function openAny(specIn: string, opts: OpenOptions): Promise<VolumeSource> {
  if (typeof specIn !== 'string' || specIn.trim() === '') throw usage(String(specIn), 'no source given');
  const local = localPath(specIn);
  if (local === undefined) {
    const { isRemote, parseRemoteUrl } = await import('./remote/url.js');
    if (!isRemote(specIn)) throw usage(specIn, 'unknown URL scheme; give a local path, or an http(s)://, gs:// or s3:// URL');
    const { format, base } = parseRemoteUrl(specIn);
    // a bare URL: Zarr/N5 by its name, else precomputed
    if (format === 'zarr' || format === 'n5' || (format === 'auto' && /\.(zarr|zr3?|n5)$/i.test(base))) {
      const { openRemoteZarr } = await import('./remote/zarr.js');
      return (await openRemoteZarr(specIn, { scale: opts.scale, voxelSize: opts.voxelSize })).source;
    }
    const { openRemotePrecomputed } = await import('./remote/precomputed.js');
    return (await openRemotePrecomputed(specIn, { scale: opts.scale })).source(opts.scale ?? 0);
  }
  const spec = local;
  const hash = spec.indexOf('#');
  const base = hash >= 0 ? spec.slice(0, hash) : spec;
  if (!existsSync(base)) throw usage(spec, "path does not exist");
  const st = statSync(base);
  if (!st.isFile() && !st.isDirectory()) throw usage(spec, 'is neither a file nor a folder');
  const kind = st.isFile() ? 'file' : 'folder';
  const probe: Probe = { spec, base, hash: hash >= 0, magic: kind === 'file' ? await magic(base) : new Uint8Array(0) };
  for (const f of SOURCE_FORMATS) {
    if (f.kind !== kind || (probe.hash && !f.acceptsHash)) continue;
    if (await f.detect(probe)) return f.open(probe, opts);
  }
  if (probe.hash) throw usage(spec, `'#' selects a dataset inside HDF5 files or Zarr stores, and ${base} is neither`);
  if (kind === 'file') throw usage(spec, `cannot tell the format of the file ${path.basename(base)}`);
  throw usage(spec, 'folder is not a precomputed layer (no `info`), not a Zarr/N5 store, and holds no .png/.tif slices');
}
