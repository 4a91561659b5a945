// A Neuroglancer precomputed layer folder: `info` + one folder per scale of chunk files
// `<key>/<x0>-<x1>_<y0>-<y1>_<z0>-<z1>` (clipped at the bounds) or sharded `<key>/<hex>.shard`.
// All boxes are half-open [x, y, z] voxel boxes in the scale's own voxel grid.
// This module is a format: it knows nothing of the scheduler.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Box, type Vec3, boxContains, boxEquals, boxFromShape, boxIsEmpty, boxShape, boxToString } from '../../core/box.js';
import { ChunkGrid } from '../../core/chunks.js';
import { type AnyTypedArray, type DataType, bytesPerElement } from '../../core/dtype.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { checkReadBytes } from '../../core/limits.js';
import { Volume, copyBox } from '../../core/volume.js';
import type { VolumeSource } from '../source.js';
import { type ChunkFormat, decodeChunk, decodeChunkInto, encodeChunk } from './chunk-codec.js';
import { placeChunk } from './place.js';
import { type PrecomputedInfo, type ScaleInfo, checkSharding, isSafeKey, parseInfo, stringifyInfo, validateInfo } from './info.js';
import { withFileLock } from './lock.js';
import { MinishardCache, ShardReader, compressedMortonCode, encodeShard, locateChunk, shardFileName, shardShape } from './sharding.js';

/** Info files already warned about (one stderr line per incomplete layer and process). */
const warned = new Set<string>();

/** Key in `info` where Wiring keeps its own settings (Neuroglancer ignores unknown keys). */
const WIRING_KEY = 'wiring';

export interface CreateOptions {
  /** Replace an existing layer: everything in its folder is removed first. */
  overwrite?: boolean;
  /** gzip unsharded chunk files (remembered in the info, so later writers do the same). */
  gzip?: boolean;
  /**
   * The run that will write scale 0: the layer is created already marked incomplete by it
   * (`info.wiring.incomplete`), so a run stopped before it marks the layer itself (killed at
   * that instant, or refused while planning) leaves no empty layer that reads as complete.
   */
  writing?: string;
}

/** Counters of file access, for tests and benchmarks (reads touch only the chunks needed). */
export interface IoStats {
  chunkFilesRead: number;
  chunkFilesMissing: number;
  shardFilesOpened: number;
  filesWritten: number;
}

/** Strip `precomputed://` and turn a `file://` URL into a path. */
function localPath(spec: string): string {
  let p = spec.startsWith('precomputed://') ? spec.slice('precomputed://'.length) : spec;
  if (p.startsWith('file://')) p = fileURLToPath(p);
  return p;
}

function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export class PrecomputedLayer {
  readonly stats: IoStats = { chunkFilesRead: 0, chunkFilesMissing: 0, shardFilesOpened: 0, filesWritten: 0 };
  /** Minishard indexes read by this layer object, reused while the shard file is unchanged. */
  private readonly minishardCache = new MinishardCache();

  private constructor(
    readonly dir: string,
    public info: PrecomputedInfo,
  ) {}

  get infoFile(): string {
    return path.join(this.dir, 'info');
  }

  /**
   * Open a layer folder (also accepted: `precomputed://` and `file://` prefixes, as in Neuroglancer
   * URLs); FormatError naming the info file and field if it is missing or invalid.
   */
  static async open(dir: string): Promise<PrecomputedLayer> {
    dir = localPath(dir);
    const file = path.join(dir, 'info');
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isEnoent(err)) throw new FormatError('no info file: not a Neuroglancer precomputed layer folder', file);
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new FormatError('info is a folder, expected a JSON file', file);
      throw err;
    }
    return new PrecomputedLayer(dir, parseInfo(text, file));
  }

  /** Create a layer: validates and writes `info` atomically. Refuses to replace one unless `overwrite`. */
  static async create(dir: string, info: PrecomputedInfo, opts: CreateOptions = {}): Promise<PrecomputedLayer> {
    const file = path.join(dir, 'info');
    const copy = JSON.parse(stringifyInfo(info)) as Record<string, unknown>;
    if (opts.gzip) copy[WIRING_KEY] = { ...((copy[WIRING_KEY] as object) ?? {}), gzip: true };
    if (opts.writing !== undefined) {
      const w = (copy[WIRING_KEY] ?? {}) as Record<string, unknown>;
      const key = (copy.scales as Array<{ key: string }>)[0].key;
      copy[WIRING_KEY] = { ...w, incomplete: { ...((w.incomplete as object) ?? {}), [key]: { task: opts.writing, since: new Date().toISOString() } } };
    }
    let checked: PrecomputedInfo;
    try {
      checked = validateInfo(copy, file);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let old: PrecomputedLayer | undefined;
    try {
      old = await PrecomputedLayer.open(dir);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      try {
        await fs.access(file);
        if (!opts.overwrite) throw new UsageError(`${file} exists (and is not a valid info); pass overwrite to replace it`);
      } catch (e) {
        if (e instanceof UsageError) throw e;
      }
    }
    if (old && !opts.overwrite) throw new UsageError(`a precomputed layer already exists in ${dir}; pass overwrite to replace it`);
    if (old) {
      // Replacing a layer replaces all of it: scale folders (keys that point outside the folder
      // are left alone), meshes, skeletons and any run state kept in the folder (a resume record
      // left behind would claim blocks that no longer exist).
      for (const s of old.info.scales) {
        const p = path.resolve(dir, s.key);
        if (inside(path.resolve(dir), p)) await fs.rm(p, { recursive: true, force: true });
      }
      for (const entry of await fs.readdir(dir)) {
        if (entry !== 'info') await fs.rm(path.join(dir, entry), { recursive: true, force: true });
      }
    }
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(file, stringifyInfo(checked));
    return new PrecomputedLayer(dir, checked);
  }

  private get gzipChunks(): boolean {
    const w = this.info[WIRING_KEY];
    return typeof w === 'object' && w !== null && (w as { gzip?: unknown }).gzip === true;
  }

  scale(scale = 0): ScaleInfo {
    const s = this.info.scales[scale];
    if (!Number.isInteger(scale) || !s) {
      throw new UsageError(`scale ${scale} does not exist; ${this.dir} has scales 0..${this.info.scales.length - 1}`);
    }
    return s;
  }

  /** Bounds [voxel_offset, voxel_offset + size) of the scale, cut into its (first) chunk size. */
  chunkGrid(scale = 0): ChunkGrid {
    const s = this.scale(scale);
    return new ChunkGrid(boxFromShape(s.size, s.voxel_offset), s.chunk_sizes[0]);
  }

  bounds(scale = 0): Box {
    const s = this.scale(scale);
    return boxFromShape(s.size, s.voxel_offset);
  }

  /**
   * The block shape that writes most efficiently: for an unsharded scale the chunk size; for a
   * sharded scale whose shards are axis-aligned boxes of chunks (identity hash) the voxel shape
   * of one shard (each block then rewrites its own shard once). Undefined for a hashed
   * (murmurhash) sharded scale, whose shards scatter over the volume: any block shape is still
   * correct (shard rewrites are locked) but each shard is rewritten once per block touching it.
   */
  writeUnit(scale = 0): Vec3 | undefined {
    const s = this.scale(scale);
    if (!s.sharding) return s.chunk_sizes[0];
    return shardShape(s.sharding, this.chunkGrid(scale).gridShape, s.chunk_sizes[0]);
  }

  private format(s: ScaleInfo): ChunkFormat {
    return { dtype: this.info.data_type, channels: this.info.num_channels, encoding: s.encoding, blockSize: s.compressed_segmentation_block_size };
  }

  /** Folder of a scale: its `key` below the layer folder (a key pointing elsewhere is a FormatError). */
  scaleDir(scale = 0): string {
    const s = this.scale(scale);
    const p = path.resolve(this.dir, s.key);
    if (!isSafeKey(s.key) || !inside(path.resolve(this.dir), p)) {
      throw new FormatError(`field scales[${scale}].key: ${JSON.stringify(s.key)} points outside the layer folder`, this.infoFile);
    }
    return p;
  }

  /** Path of the chunk file of chunk box `b` (unsharded scales). */
  chunkPath(b: Box, scale = 0): string {
    const s = this.scale(scale);
    const name = `${b.min[0]}-${b.max[0]}_${b.min[1]}-${b.max[1]}_${b.min[2]}-${b.max[2]}`;
    return path.join(this.scaleDir(scale), name);
  }

  /** Compressed Morton chunk id of grid position g (sharded scales). */
  chunkId(g: Vec3, scale = 0): bigint {
    return compressedMortonCode(g, this.chunkGrid(scale).gridShape);
  }

  /** Path of the shard file that holds chunk id `id`. */
  shardPath(id: bigint, scale = 0): string {
    const s = this.scale(scale);
    if (!s.sharding) throw new UsageError(`scale ${scale} (${s.key}) is not sharded`);
    return path.join(this.scaleDir(scale), shardFileName(locateChunk(id, s.sharding).shard, s.sharding));
  }

  private async readChunkFile(file: string): Promise<Uint8Array | undefined> {
    // CloudVolume stores gzipped chunks on local disk as `<name>.gz`.
    for (const f of [file, file + '.gz']) {
      try {
        const b = await fs.readFile(f);
        this.stats.chunkFilesRead++;
        return b;
      } catch (err) {
        if (isEnoent(err)) continue;
        const code = (err as NodeJS.ErrnoException).code;
        throw new FormatError(code === 'EISDIR' ? 'chunk is a folder, expected a chunk file' : `cannot read chunk (${code ?? (err as Error).message})`, f, { cause: err });
      }
    }
    this.stats.chunkFilesMissing++;
    return undefined;
  }

  private checkBox(b: Box, what: string): void {
    for (let i = 0; i < 3; i++) {
      if (!Number.isSafeInteger(b.min[i]) || !Number.isSafeInteger(b.max[i]) || b.max[i] < b.min[i]) {
        throw new UsageError(`${what} box (${boxToString(b)}) must have integer corners with min <= max`, this.dir);
      }
    }
  }

  /**
   * Read any box of a scale (voxels outside the bounds and in missing chunks read as 0). Only the
   * chunks that overlap the box are read; for a sharded scale, only the shard-index entries,
   * minishard indexes and chunk byte ranges needed. With `channel`, a one-channel volume of that
   * channel (only it is copied out of each chunk).
   */
  async readBox(b: Box, scale = 0, channel?: number): Promise<Volume> {
    return (await this.readBoxes(b, scale, [channel]))[0];
  }

  /**
   * Several channels of one box in one pass over its chunks: each chunk file is read and decoded
   * once and copied into a one-channel volume per requested channel (the volumes readBox(b, scale,
   * c) gives for each c, e.g. the cleft, vesicle and mitochondrion channels of a classifier output).
   */
  async readChannels(b: Box, channels: readonly number[], scale = 0): Promise<Volume[]> {
    if (channels.length === 0) throw new UsageError('readChannels needs at least one channel', this.dir);
    return this.readBoxes(b, scale, channels);
  }

  /** readBox for each entry of `channels` (a channel, or undefined for all of them), each chunk read and decoded once. */
  private async readBoxes(b: Box, scale: number, channels: ReadonlyArray<number | undefined>): Promise<Volume[]> {
    this.checkBox(b, 'read');
    const s = this.scale(scale);
    for (const channel of channels) {
      if (channel !== undefined && !(Number.isInteger(channel) && channel >= 0 && channel < this.info.num_channels)) {
        throw new UsageError(`channel ${channel} requested, but the layer has channels 0..${this.info.num_channels - 1}`, this.dir);
      }
    }
    for (const c of channels) checkReadBytes(b, this.info.data_type, c === undefined ? this.info.num_channels : 1, this.dir);
    const outs = channels.map((c) => Volume.zeros(this.info.data_type, b, { channels: c === undefined ? this.info.num_channels : 1, voxelSize: s.resolution }));
    if (boxIsEmpty(b)) return outs;
    const f0 = this.format(s);
    // one output: decoded straight into it (compressed_segmentation without a copy); several: decoded once, copied into each
    const decodeInto = async (bytes: Uint8Array, cb: Box, where: string): Promise<void> => {
      if (outs.length === 1) return decodeChunkInto(bytes, f0, cb, outs[0], where, channels[0]);
      const data = await decodeChunk(bytes, f0, boxShape(cb), where, false);
      for (let k = 0; k < outs.length; k++) placeChunk(data, cb, f0.channels, outs[k], channels[k]);
    };
    const grid = this.chunkGrid(scale);
    if (!s.sharding) {
      const jobs: Promise<void>[] = [];
      const run = async (g: Vec3): Promise<void> => {
        const cb = grid.chunkBox(g);
        const file = this.chunkPath(cb, scale);
        const bytes = await this.readChunkFile(file);
        if (!bytes) return;
        await decodeInto(bytes, cb, file);
      };
      // A few reads in flight keep the disk busy without opening hundreds of files at once.
      const pending = [...grid.chunksIn(b)];
      const width = 8;
      let next = 0;
      for (let w = 0; w < width; w++) {
        jobs.push(
          (async () => {
            while (next < pending.length) await run(pending[next++]);
          })(),
        );
      }
      await Promise.all(jobs);
      return outs;
    }
    const spec = s.sharding;
    const byShard = new Map<string, Array<{ g: Vec3; id: bigint }>>();
    for (const g of grid.chunksIn(b)) {
      const id = compressedMortonCode(g, grid.gridShape);
      const file = this.shardPath(id, scale);
      let list = byShard.get(file);
      if (!list) byShard.set(file, (list = []));
      list.push({ g, id });
    }
    for (const [file, list] of byShard) {
      const reader = await ShardReader.open(file, spec, this.minishardCache);
      if (!reader) {
        this.stats.chunkFilesMissing += list.length;
        continue;
      }
      this.stats.shardFilesOpened++;
      try {
        for (const { g, id } of list) {
          const cb = grid.chunkBox(g);
          const where = `${file} (chunk ${id} at grid [${g}])`;
          const bytes = await reader.read(id);
          if (!bytes) {
            this.stats.chunkFilesMissing++;
            continue;
          }
          this.stats.chunkFilesRead++;
          await decodeInto(bytes, cb, where);
        }
      } finally {
        await reader.close();
      }
    }
    return outs;
  }

  /**
   * Write a volume into a scale. Normally `vol.box` is a union of whole chunks (edge chunks
   * clipped at the bounds); chunks it covers only partly are read, merged and rewritten under a
   * lock file. For a sharded scale every touched shard is read, merged and rewritten whole under
   * a lock file (chunks of the shard outside `vol.box` are kept), so concurrent writers of
   * different blocks are safe; blocks that are multiples of `writeUnit()` avoid rewriting a shard
   * several times. Every file is written atomically (temp + rename).
   */
  async writeBox(vol: Volume, scale = 0): Promise<void> {
    const s = this.scale(scale);
    if (vol.dtype !== this.info.data_type) {
      throw new UsageError(`cannot write ${vol.dtype} voxels into ${this.dir} (data_type ${this.info.data_type})`);
    }
    if (vol.channels !== this.info.num_channels) {
      throw new UsageError(`cannot write ${vol.channels} channel(s) into ${this.dir} (num_channels ${this.info.num_channels})`);
    }
    this.checkBox(vol.box, 'write');
    const bounds = this.bounds(scale);
    if (!boxContains(bounds, vol.box)) {
      throw new UsageError(`write box (${boxToString(vol.box)}) is outside the bounds (${boxToString(bounds)}) of scale ${scale}`, this.dir);
    }
    if (boxIsEmpty(vol.box)) return;
    const grid = this.chunkGrid(scale);
    const f = this.format(s);
    const chunkVolume = async (g: Vec3): Promise<{ cb: Box; data: AnyTypedArray }> => {
      const cb = grid.chunkBox(g);
      if (boxEquals(vol.box, cb)) return { cb, data: vol.data };
      if (boxContains(vol.box, cb)) return { cb, data: vol.crop(cb).data };
      const merged = await this.readBox(cb, scale);
      copyBox(vol, merged);
      return { cb, data: merged.data };
    };
    if (!s.sharding) {
      const list = [...grid.chunksIn(vol.box)];
      let next = 0;
      const gzip = this.gzipChunks;
      const worker = async (): Promise<void> => {
        while (next < list.length) {
          const g = list[next++];
          const cb = grid.chunkBox(g);
          const file = this.chunkPath(cb, scale);
          const write = async (): Promise<void> => {
            const { data } = await chunkVolume(g);
            await writeFileAtomic(file, await encodeChunk(data, f, boxShape(cb), { gzip }));
            this.stats.filesWritten++;
          };
          // A chunk covered only partly is read, merged and rewritten under a lock.
          if (boxContains(vol.box, cb)) await write();
          else await withFileLock(file, write);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return;
    }
    const spec = s.sharding;
    const byShard = new Map<string, Vec3[]>();
    for (const g of grid.chunksIn(vol.box)) {
      const file = this.shardPath(compressedMortonCode(g, grid.gridShape), scale);
      let l = byShard.get(file);
      if (!l) byShard.set(file, (l = []));
      l.push(g);
    }
    for (const [file, gs] of byShard) {
      // Each shard is read, merged and rewritten whole under a lock, so writers of different
      // blocks that share a shard (always possible with the murmurhash hash) never lose chunks.
      await withFileLock(file, async () => {
        const entries = new Map<bigint, Uint8Array>();
        const reader = await ShardReader.open(file, spec);
        if (reader) {
          try {
            for (const [id, data] of await reader.readAll()) entries.set(id, data);
          } finally {
            await reader.close();
          }
        }
        for (const g of gs) {
          const { cb, data } = await chunkVolume(g);
          entries.set(compressedMortonCode(g, grid.gridShape), await encodeChunk(data, f, boxShape(cb)));
        }
        const bytes = encodeShard([...entries].map(([id, data]) => ({ id, data })), spec);
        await writeFileAtomic(file, bytes);
        this.stats.filesWritten++;
      });
    }
  }

  /**
   * Scales a run is writing or left unfinished: `info.wiring.incomplete[<scale key>]` =
   * {task, since}, set before a run writes a block and removed once all its blocks are written
   * (a killed or failed run leaves it). Layers written before this record existed have none: complete.
   */
  incomplete(scale = 0): { task: string; since: string } | undefined {
    const rec = (this.info[WIRING_KEY] as { incomplete?: Record<string, { task: string; since: string }> } | undefined)?.incomplete;
    const key = this.scale(scale).key;
    return rec && typeof rec === 'object' && Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
  }

  /** Record (atomically, under a lock) that `task` is writing a scale; readers refuse it until markComplete. */
  async markWriting(scale: number, task: string): Promise<void> {
    const key = this.scale(scale).key;
    await withFileLock(this.infoFile, () =>
      this.rewriteInfo((raw) => {
        const w = (raw[WIRING_KEY] && typeof raw[WIRING_KEY] === 'object' ? raw[WIRING_KEY] : (raw[WIRING_KEY] = {})) as Record<string, unknown>;
        const inc = (w.incomplete && typeof w.incomplete === 'object' ? w.incomplete : (w.incomplete = {})) as Record<string, unknown>;
        inc[key] = { task, since: new Date().toISOString() };
      }),
    );
  }

  /** Remove a scale's incomplete record (no rewrite when there is none). */
  async markComplete(scale: number): Promise<void> {
    const key = this.scale(scale).key;
    await withFileLock(this.infoFile, async () => {
      const fresh = await PrecomputedLayer.open(this.dir);
      this.info = fresh.info;
      if (!this.incomplete(scale)) return;
      await this.rewriteInfo((raw) => {
        const w = raw[WIRING_KEY] as { incomplete?: Record<string, unknown> };
        if (w?.incomplete) delete w.incomplete[key];
        if (w?.incomplete && Object.keys(w.incomplete).length === 0) delete w.incomplete;
        if (w && Object.keys(w).length === 0) delete raw[WIRING_KEY];
      });
    });
  }

  /**
   * A VolumeSource over one scale (read(box) reads only the chunks it needs). A scale left
   * incomplete by a killed or failed run is refused (UsageError naming the info file and the run)
   * unless `allowIncomplete` or WIRING_READ_INCOMPLETE=1, which read it with a warning on stderr.
   */
  source(scale = 0, opts: { allowIncomplete?: boolean } = {}): VolumeSource {
    const s = this.scale(scale);
    const inc = this.incomplete(scale);
    if (inc) {
      const what = `scale ${s.key} is incomplete: ${JSON.stringify(inc.task)} (started ${inc.since}) has not written all its blocks (still running, killed or failed; unwritten chunks read as 0)`;
      if (opts.allowIncomplete || process.env.WIRING_READ_INCOMPLETE === '1') {
        if (!opts.allowIncomplete && !warned.has(this.infoFile)) {
          warned.add(this.infoFile);
          process.stderr.write(`wiring: warning: ${this.infoFile}: ${what}; reading it anyway (WIRING_READ_INCOMPLETE=1)\n`);
        }
      } else {
        throw new UsageError(`${what}. Rerun that command to finish it, or set WIRING_READ_INCOMPLETE=1 to read it anyway`, this.infoFile);
      }
    }
    const layer = this;
    return {
      url: this.dir,
      format: 'precomputed',
      dtype: this.info.data_type,
      shape: s.size,
      channels: this.info.num_channels,
      voxelSize: s.resolution,
      offset: s.voxel_offset,
      kind: this.info.type,
      chunkShape: s.chunk_sizes[0],
      read: (b: Box) => layer.readBox(b, scale),
      readChannel: (b: Box, c: number) => layer.readBox(b, scale, c),
      readChannels: (b: Box, cs: readonly number[]) => layer.readChannels(b, cs, scale),
      close: async () => {},
    };
  }

  private async rewriteInfo(change: (raw: Record<string, unknown>) => void): Promise<void> {
    // Re-read the file so that a concurrent change by another process is not lost.
    const fresh = await PrecomputedLayer.open(this.dir);
    const raw = fresh.info as unknown as Record<string, unknown>;
    change(raw);
    const checked = validateInfo(JSON.parse(stringifyInfo(raw as PrecomputedInfo)), this.infoFile);
    await writeFileAtomic(this.infoFile, stringifyInfo(checked));
    this.info = checked;
  }

  /** Append a scale and rewrite `info` atomically. */
  async addScale(scale: ScaleInfo): Promise<void> {
    if (scale.sharding) checkSharding(scale.sharding, 'addScale sharding', this.infoFile);
    await withFileLock(this.infoFile, () => this.rewriteInfo((raw) => {
      const scales = raw.scales as ScaleInfo[];
      if (scales.some((x) => x.key === scale.key)) throw new UsageError(`scale key ${scale.key} already exists in ${this.infoFile}`);
      scales.push(JSON.parse(JSON.stringify(scale)) as ScaleInfo);
    }));
  }

  /** Merge top-level fields (e.g. `mesh`, `skeletons`) into `info` and rewrite it atomically. */
  async updateInfo(patch: Partial<PrecomputedInfo>): Promise<void> {
    // under the info lock, as markWriting/markComplete: concurrent rewrites never lose each other's change
    await withFileLock(this.infoFile, () =>
      this.rewriteInfo((raw) => {
        for (const [k, v] of Object.entries(patch)) {
          if (v === undefined) delete raw[k];
          else raw[k] = JSON.parse(JSON.stringify(v)) as unknown;
        }
      }),
    );
  }

  /** Bytes of one voxel across channels (for buffer budgeting). */
  get bytesPerVoxel(): number {
    return bytesPerElement(this.info.data_type as DataType) * this.info.num_channels;
  }
}

/** Read-only check used by callers that accept a layer folder or something else. */
export async function isPrecomputedLayer(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, 'info'));
    return true;
  } catch {
    return false;
  }
}
