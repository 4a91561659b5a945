/**
 * A proofread segmentation on disk, beside the dataset: `<dataset>/proofread/`
 *   base.json   inputs (supervoxel layer, start segmentation, boundary map), counts, root id base, sha256 of base.bin
 *   base.bin    the Base arrays (little-endian): ids u64, startRoots u64, sizes f64, anchors f64,
 *               area f64, capacity f64 (n+1 or m each), edgeA u32, edgeB u32, bbox i32 (6 per
 *               supervoxel: x0,y0,z0,x1,y1,z1 voxels from the volume origin), cellStart u32 (n+2),
 *               cells u32 (mesh cells per supervoxel, base.json "mesh_cells"), startActive u8
 *   synapses.bin (optional) synapse ids, pre and post supervoxel ids (u64 arrays of n each)
 *   edits.jsonl the append-only edit log (log.ts), edits.lock the writer's lock
 * `Proofread` holds the head state and serializes edits (one writer in the process through a
 * promise chain, across processes through the lock; the log is re-read under the lock).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { writeFileAtomic, writeJsonAtomic } from '../../core/atomic.js';
import { FormatError, UsageError } from '../../core/errors.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, type ShardingChoice, makeInfo } from '../../formats/precomputed/index.js';
import { finishBase, PROOFREAD_DEFAULTS, type Base } from './base.js';
import { BaseBuilder } from './builder.js';
import { cellRows, cellsCsv, indexSynapses, mapLabels, rootLookup, type LabelArray, type SynapseSupervoxels } from './versions.js';
import { Lineage } from './lineage.js';
import { appendRecord, cutTorn, readLog, withLogLock } from './log.js';
import type { EditRecord } from './record.js';
import { EditError, GraphState, type EditRequest } from './state.js';
import { appendStatus, readStatus, statusAt, statusValue, type CellStatus, type StatusRecord } from './status.js';

export const PROOFREAD_DIR = 'proofread';

export interface InitOptions {
  supervoxels: string;
  segmentation: string;
  boundaries?: string;
  /** the map is high inside cells, low on membranes (raw EM): use 1 - value */
  invert?: boolean;
  overwrite?: boolean;
  /** synapses (e.g. the connectome's table): supervoxel ids are looked up at the points when absent */
  synapses?: SynapseInput[];
}

export interface SynapseInput {
  id: bigint;
  pre_pt_position: Vec3;
  post_pt_position: Vec3;
  pre_pt_supervoxel_id?: bigint | null;
  post_pt_supervoxel_id?: bigint | null;
}

export function proofreadDir(dataset: string): string {
  return path.join(dataset, PROOFREAD_DIR);
}

/** Build the base slab by slab (PROOFREAD_DEFAULTS.initSlab sections at a time) and write it. */
export async function initProofread(dataset: string, o: InitOptions): Promise<{ dir: string; supervoxels: number; edges: number; roots: number }> {
  const dir = proofreadDir(dataset);
  if (!o.overwrite && (await exists(path.join(dir, 'base.json')))) throw new UsageError(`${dir} already holds a proofread segmentation (--overwrite replaces it and its edit log)`);
  const sources: VolumeSource[] = [];
  try {
    const open = async (spec: string, what: string): Promise<VolumeSource> => {
      const src = await openSource(spec);
      sources.push(src);
      if (src.channels !== 1) throw new UsageError(`${spec}: the ${what} must have 1 channel, got ${src.channels}`);
      return src;
    };
    const sv = await open(o.supervoxels, 'supervoxels');
    if (sv.dtype === 'float32') throw new UsageError(`${o.supervoxels}: supervoxels must be integer labels, got float32`);
    const seg = await open(o.segmentation, 'segmentation');
    const bnd = o.boundaries ? await open(o.boundaries, 'boundary map') : undefined;
    const same = (a: Vec3, b: Vec3) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
    for (const [src, spec] of [[seg, o.segmentation], [bnd, o.boundaries]] as const) {
      if (src && (!same(src.shape, sv.shape) || !same(src.offset, sv.offset))) throw new UsageError(`${spec} covers ${src.shape} at ${src.offset}, the supervoxels ${o.supervoxels} ${sv.shape} at ${sv.offset}: they must share one grid`);
    }
    const grid = { shape: sv.shape, offset: sv.offset, voxelSize: sv.voxelSize };
    const builder = new BaseBuilder(grid);
    // synapse points by section, looked up in the slab that holds them
    const synSv = new BigUint64Array(2 * (o.synapses?.length ?? 0));
    const wanted = new Map<number, Array<[number, number]>>(); // z -> [(slot, index in the section)]
    (o.synapses ?? []).forEach((r, i) => {
      for (const [k, p] of [[0, r.pre_pt_position], [1, r.post_pt_position]] as const) {
        const given = k === 0 ? r.pre_pt_supervoxel_id : r.post_pt_supervoxel_id;
        if (given !== undefined && given !== null) { synSv[2 * i + k] = given; continue; }
        const v = p.map((x, a) => Math.floor(x / grid.voxelSize[a]) - grid.offset[a]);
        if (v.some((x, a) => x < 0 || x >= grid.shape[a])) continue; // outside: supervoxel 0
        const l = wanted.get(v[2]);
        const item: [number, number] = [2 * i + k, v[0] + grid.shape[0] * v[1]];
        if (l) l.push(item); else wanted.set(v[2], [item]);
      }
    });
    const [sx, sy, sz] = grid.shape;
    const step = PROOFREAD_DEFAULTS.initSlab;
    for (let z = 0; z < sz; z += step) {
      const nz = Math.min(step, sz - z);
      const box = { min: [grid.offset[0], grid.offset[1], grid.offset[2] + z] as Vec3, max: [grid.offset[0] + sx, grid.offset[1] + sy, grid.offset[2] + z + nz] as Vec3 };
      const svData = (await sv.read(box)).data as ArrayLike<number | bigint>;
      const segData = (await seg.read(box)).data as ArrayLike<number | bigint>;
      let boundary: Float32Array | null = null;
      if (bnd) {
        const d = (await bnd.read(box)).data;
        boundary = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>, (v) => Number(v) / (bnd.dtype === 'uint8' ? 255 : 1));
        if (o.invert) for (let i = 0; i < boundary.length; i++) boundary[i] = 1 - boundary[i];
      }
      builder.addSlab(svData, segData, boundary, nz);
      for (let k = 0; k < nz; k++) for (const [slot, j] of wanted.get(z + k) ?? []) synSv[slot] = BigInt(svData[k * sx * sy + j]);
    }
    const base = finishBase(builder);
    if (o.overwrite) await fs.rm(dir, { recursive: true, force: true });
    if (o.synapses) {
      // CAVE keeps the supervoxel under each synapse point; the root of a version comes from it
      const n = o.synapses.length;
      const ids = BigUint64Array.from(o.synapses.map((r) => r.id));
      const pre = new BigUint64Array(n), post = new BigUint64Array(n);
      for (let i = 0; i < n; i++) { pre[i] = synSv[2 * i]; post[i] = synSv[2 * i + 1]; }
      await fs.mkdir(dir, { recursive: true });
      const bin = new Uint8Array(24 * n);
      bin.set(new Uint8Array(ids.buffer), 0);
      bin.set(new Uint8Array(pre.buffer), 8 * n);
      bin.set(new Uint8Array(post.buffer), 16 * n);
      await writeFileAtomic(path.join(dir, 'synapses.bin'), bin);
    }
    const svSpec = o.supervoxels.includes('#') ? `${path.resolve(o.supervoxels.split('#')[0])}#${o.supervoxels.split('#').slice(1).join('#')}` : path.resolve(o.supervoxels);
    await writeBase(dir, base, { supervoxels: svSpec, segmentation: o.segmentation, boundaries: o.boundaries ?? null, invert: !!o.invert });
    return { dir, supervoxels: base.ids.length - 1, edges: base.edgeA.length, roots: new Set(base.startRoots.subarray(1)).size };
  } finally {
    for (const s of sources) await s.close();
  }
}

async function exists(f: string): Promise<boolean> {
  return fs.access(f).then(() => true, () => false);
}

export async function writeBase(dir: string, base: Base, inputs: Record<string, unknown>): Promise<void> {
  const parts: ArrayBufferView[] = [base.ids, base.startRoots, base.sizes, base.anchors, base.area, base.capacity, base.edgeA, base.edgeB, base.bbox, base.cellStart, base.cells, base.startActive];
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const bin = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { bin.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o); o += p.byteLength; }
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'base.bin'), bin);
  await writeJsonAtomic(path.join(dir, 'base.json'), {
    format: 'wiring-proofread-base', version: 1, inputs,
    supervoxels: base.ids.length - 1, edges: base.edgeA.length, mesh_cell: PROOFREAD_DEFAULTS.meshCell, mesh_cells: base.cells.length, root_id_base: base.rootIdBase.toString(),
    shape: base.shape, offset: base.offset, voxel_size: base.voxelSize,
    created_at: new Date().toISOString(), sha256: createHash('sha256').update(bin).digest('hex'),
  });
}

export async function readBase(dir: string): Promise<{ base: Base; meta: any }> {
  const jf = path.join(dir, 'base.json');
  let meta: any;
  try {
    meta = JSON.parse(await fs.readFile(jf, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${dir} is not a proofread segmentation (no base.json; run wiring edit init first)`);
    throw new FormatError(`not JSON: ${(err as Error).message}`, jf);
  }
  if (meta.format !== 'wiring-proofread-base' || !Number.isInteger(meta.supervoxels) || !Number.isInteger(meta.edges) || !Number.isInteger(meta.mesh_cells) || meta.mesh_cell !== PROOFREAD_DEFAULTS.meshCell) throw new FormatError(`expected format "wiring-proofread-base" with integer "supervoxels", "edges", "mesh_cells" and "mesh_cell": ${PROOFREAD_DEFAULTS.meshCell} (an older base: rerun wiring edit init)`, jf);
  const bf = path.join(dir, 'base.bin');
  const buf = await fs.readFile(bf);
  if (createHash('sha256').update(buf).digest('hex') !== meta.sha256) throw new FormatError(`sha256 differs from base.json's "sha256" (the file is damaged)`, bf);
  const n1 = meta.supervoxels + 1, m = meta.edges;
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let o = 0;
  const take = <T>(C: any, len: number): T => { const a = new C(bytes.buffer, o, len); o += a.byteLength; return a; };
  const base: Base = {
    ids: take(BigUint64Array, n1), startRoots: take(BigUint64Array, n1), sizes: take(Float64Array, n1), anchors: take(Float64Array, n1),
    area: take(Float64Array, m), capacity: take(Float64Array, m), edgeA: take(Uint32Array, m), edgeB: take(Uint32Array, m), bbox: take(Int32Array, 6 * n1), cellStart: take(Uint32Array, n1 + 1), cells: take(Uint32Array, meta.mesh_cells), startActive: take(Uint8Array, m),
    rootIdBase: BigInt(meta.root_id_base), shape: meta.shape, offset: meta.offset, voxelSize: meta.voxel_size,
  };
  if (o !== bytes.length) throw new FormatError(`${bytes.length} bytes, expected ${o} for ${meta.supervoxels} supervoxels and ${m} edges`, bf);
  return { base, meta };
}

/** Where an edit's time goes (ms): taking the lock, reading what others appended, planning, the fsync'd append, applying, releasing the lock. */
export interface EditTiming {
  lock_ms: number;
  read_ms: number;
  plan_ms: number;
  append_ms: number;
  apply_ms: number;
  unlock_ms: number;
}

/** As of an operation (count of log records) or a UTC time. */
export type At = { op?: number; time?: string };

export class Proofread {
  private queue: Promise<unknown> = Promise.resolve();
  private logBytes = 0;
  private svSource?: VolumeSource;

  /** synapses by supervoxel (synapses.bin), when init was given synapses */
  synapses?: SynapseSupervoxels;

  private constructor(readonly dir: string, readonly base: Base, readonly meta: any, readonly state: GraphState) {}

  get logFile(): string {
    return path.join(this.dir, 'edits.jsonl');
  }

  get statusFile(): string {
    return path.join(this.dir, 'status.jsonl');
  }

  /** The cells' proofreading statuses as of a version (default the head), of its roots only. */
  async statuses(state?: GraphState): Promise<CellStatus[]> {
    await this.refresh();
    const s = state ?? this.state;
    return statusAt(await readStatus(this.statusFile), s.op, (r) => s.isCurrent(r));
  }

  /**
   * Set a current root's status (axon and/or dendrite; at least one). Serialized with the edits
   * and under the edit lock, so the root is checked against the latest log; a stale root is
   * refused by name.
   */
  setStatus(root: bigint, values: { status_axon?: unknown; status_dendrite?: unknown }, o: { user?: string } = {}): Promise<StatusRecord> {
    const axon = statusValue(values.status_axon, 'status_axon');
    const dendrite = statusValue(values.status_dendrite, 'status_dendrite');
    if (axon === undefined && dendrite === undefined) return Promise.reject(new EditError('status: give status_axon and/or status_dendrite'));
    const run = async (): Promise<StatusRecord> =>
      withLogLock(this.logFile, async () => {
        await this.refresh();
        if (!this.state.isCurrent(root)) {
          const by = this.state.records.find((r) => r.retired.includes(root.toString()));
          throw new EditError(by ? `root ${root} is stale: operation ${by.op} retired it; set the status of its latest roots (wiring lineage ${root})` : `root ${root} is not a root id of this segmentation`);
        }
        const rec: StatusRecord = { op: this.state.op, time: new Date().toISOString(), user: o.user ?? 'unknown', root: root.toString(), ...(axon ? { status_axon: axon } : {}), ...(dendrite ? { status_dendrite: dendrite } : {}) };
        await appendStatus(this.statusFile, rec);
        return rec;
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  static async open(dataset: string): Promise<Proofread> {
    const dir = proofreadDir(dataset);
    const { base, meta } = await readBase(dir);
    const p = new Proofread(dir, base, meta, new GraphState(base));
    const sf = path.join(dir, 'synapses.bin');
    if (await exists(sf)) {
      const buf = await fs.readFile(sf);
      if (buf.length % 24 !== 0) throw new FormatError(`${buf.length} bytes: expected 24 per synapse (id, pre and post supervoxel, uint64)`, sf);
      const n = buf.length / 24;
      const all = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      p.synapses = indexSynapses(all.slice(0, n), all.slice(n, 2 * n), all.slice(2 * n));
    }
    await p.refresh();
    // the typed id index the recompute looks skeleton vertices up with, built now rather than in the first edit
    void p.state.idIndex;
    return p;
  }

  /** Apply log lines other writers appended since we last read. */
  async refresh(): Promise<void> {
    const r = await readLog(this.logFile, this.logBytes, this.state.op + 1);
    for (const rec of r.records) this.state.apply(rec);
    this.logBytes = r.bytes;
  }

  /** A fresh state replayed to a log prefix: the version as of `at` (default: the head). */
  async version(at: At = {}): Promise<GraphState> {
    await this.refresh();
    const recs = this.state.records;
    let k = recs.length;
    if (at.op !== undefined) {
      if (!Number.isInteger(at.op) || at.op < 0 || at.op > recs.length) throw new UsageError(`--at ${at.op}: expected an operation id from 0 to ${recs.length}`);
      k = at.op;
    } else if (at.time !== undefined) {
      const t = Date.parse(at.time);
      if (Number.isNaN(t)) throw new UsageError(`--at ${at.time}: expected an operation id or an ISO-8601 time`);
      k = 0;
      while (k < recs.length && Date.parse(recs[k].time) <= t) k++;
    }
    const s = new GraphState(this.base);
    for (let i = 0; i < k; i++) s.apply(recs[i]);
    return s;
  }

  lineage(): Lineage {
    const starts = new Set(this.base.startRoots.subarray(1));
    return new Lineage((id) => starts.has(id), this.state.records, this.meta.created_at ?? null);
  }

  /** The supervoxel id at a point in nm (EditError outside the volume or on background). */
  async supervoxelAt(p: Vec3): Promise<bigint> {
    const { shape, offset, voxelSize } = this.base;
    const v = p.map((x, i) => Math.floor(x / voxelSize[i])) as unknown as Vec3;
    if (v.some((x, i) => !(x >= offset[i] && x < offset[i] + shape[i]))) throw new EditError(`point ${p.join(',')} nm (voxel ${v.join(',')}) is outside the volume (voxels ${offset.join(',')} to ${offset.map((o, i) => o + shape[i] - 1).join(',')})`);
    this.svSource ??= await openSource(this.meta.inputs.supervoxels);
    const vol = await this.svSource.read({ min: v, max: [v[0] + 1, v[1] + 1, v[2] + 1] });
    const id = BigInt((vol.data as ArrayLike<number | bigint>)[0]);
    if (id === 0n) throw new EditError(`point ${p.join(',')} nm lies on background (supervoxel 0)`);
    return id;
  }

  /**
   * Make one edit: serialized in this process, locked across processes, the log re-read under
   * the lock so the edit is planned on the latest state. A refused edit appends nothing.
   */
  edit(req: EditRequest, o: { user?: string; inputs?: Record<string, unknown>; crash?: (point: string) => void; timing?: (parts: EditTiming) => void } = {}): Promise<EditRecord> {
    const run = async (): Promise<EditRecord> => {
      const t0 = performance.now();
      let t = t0;
      const parts: EditTiming = { lock_ms: 0, read_ms: 0, plan_ms: 0, append_ms: 0, apply_ms: 0, unlock_ms: 0 };
      const lap = (k: keyof EditTiming) => { const now = performance.now(); parts[k] = +(now - t).toFixed(2); t = now; };
      const rec = await withLogLock(this.logFile, async () => {
        lap('lock_ms');
        // only the bytes other writers appended since our last read (none when this process is the only writer)
        const r = await readLog(this.logFile, this.logBytes, this.state.op + 1);
        for (const rec of r.records) this.state.apply(rec);
        this.logBytes = r.bytes;
        if (r.torn > 0) await cutTorn(this.logFile, r.bytes);
        lap('read_ms');
        const rec = this.state.plan(req, { user: o.user ?? 'unknown', time: new Date().toISOString() }, o.inputs);
        lap('plan_ms');
        await appendRecord(this.logFile, rec, o.crash);
        lap('append_ms');
        this.state.apply(rec);
        this.logBytes += Buffer.byteLength(JSON.stringify(rec) + '\n');
        lap('apply_ms');
        return rec;
      });
      lap('unlock_ms');
      o.timing?.(parts);
      return rec;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Run `fn` in turn with this process's edits (e.g. planning a preview on a settled head). */
  serialized<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Run at close (e.g. a caller's cache of supervoxel chunks kept across edits). */
  readonly closers: Array<() => Promise<void>> = [];

  async close(): Promise<void> {
    for (const c of this.closers.splice(0)) await c();
    await this.svSource?.close();
  }
}

/** Chunk size of materialized segmentation layers. */
export const VERSION_CHUNK: Vec3 = [64, 64, 64];

/**
 * Write the segmentation of `state` as a uint64 precomputed layer at `dir` (the supervoxel layer
 * mapped to roots, slab by slab of one chunk height; a sharded layer shard box by shard box, so
 * each shard is written once). Same state, same bytes.
 */
export async function writeVersionSegmentation(p: Proofread, state: GraphState, dir: string, extra: Record<string, unknown> = {}, sharding?: ShardingChoice): Promise<void> {
  const { shape, offset, voxelSize } = p.base;
  const chunk = VERSION_CHUNK.map((c, a) => Math.min(c, shape[a])) as unknown as Vec3;
  const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize, offset, chunkSize: VERSION_CHUNK, sharding: sharding?.('segmentation', shape, chunk) });
  (info as any).wiring = { proofread: extra };
  const layer = await PrecomputedLayer.create(dir, info, { overwrite: true });
  const src = await openSource(p.meta.inputs.supervoxels);
  try {
    const look = rootLookup(state);
    const unit: Vec3 = info.scales[0].sharding ? layer.writeUnit(0) ?? chunk : [shape[0], shape[1], chunk[2]];
    const end = [0, 1, 2].map((a) => offset[a] + shape[a]);
    for (let z = offset[2]; z < end[2]; z += unit[2]) for (let y = offset[1]; y < end[1]; y += unit[1]) for (let x = offset[0]; x < end[0]; x += unit[0]) {
      const box = { min: [x, y, z] as Vec3, max: [Math.min(x + unit[0], end[0]), Math.min(y + unit[1], end[1]), Math.min(z + unit[2], end[2])] as Vec3 };
      const vol = await src.read(box);
      await layer.writeBox(new Volume('uint64', box, mapLabels(vol.data as LabelArray, look), 1, voxelSize));
    }
  } finally {
    await src.close();
  }
}

/**
 * Materialize a version into `out` (a folder): segmentation/ (precomputed), cells.csv,
 * version.json. Written under a temporary name and renamed, so a folder that exists is complete.
 */
export async function materializeVersion(p: Proofread, at: At, out: string, sharding?: ShardingChoice): Promise<{ op: number; roots: number; dir: string }> {
  const state = await p.version(at);
  const tmp = `${out.replace(/[\\/]+$/, '')}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  await writeVersionSegmentation(p, state, path.join(tmp, 'segmentation'), { op: state.op }, sharding);
  const cells = cellRows(state);
  await writeFileAtomic(path.join(tmp, 'cells.csv'), cellsCsv(cells));
  const last = state.records[state.op - 1];
  await writeJsonAtomic(path.join(tmp, 'version.json'), { format: 'wiring-proofread-version', op: state.op, time: last?.time ?? null, roots: cells.length, supervoxels: p.meta.inputs.supervoxels });
  await fs.rm(out, { recursive: true, force: true });
  await fs.rename(tmp, out);
  return { op: state.op, roots: cells.length, dir: out };
}
