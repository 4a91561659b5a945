/**
 * What a server needs from a proofread dataset, in JSON-shaped calls: the segmentation of any
 * version as a Neuroglancer precomputed layer (supervoxel chunks mapped to roots on the fly; raw
 * uint64 chunks), edits from request bodies, lineage and the log. The server layer holds only
 * HTTP (routes, token); the CLI hands it this object.
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { openSource } from '../../formats/open.js';
import type { VolumeSource } from '../../formats/source.js';
import { makeInfo } from '../../formats/precomputed/index.js';
import { Proofread, VERSION_CHUNK } from './io.js';
import type { EditRecord } from './record.js';
import type { EditRequest, GraphState } from './state.js';
import { mapLabels, rootLookup, type LabelArray } from './versions.js';

/** Versions kept replayed in memory (besides the head). */
const VERSION_CACHE = 4;

export class ProofreadService {
  private cache = new Map<number, GraphState>();
  private src?: Promise<VolumeSource>;

  constructor(readonly p: Proofread) {}

  static async open(dataset: string): Promise<ProofreadService> {
    return new ProofreadService(await Proofread.open(dataset));
  }

  /** 'latest' or an op id -> the state (the head is live; others replayed and cached). */
  private async at(at: string): Promise<GraphState> {
    await this.p.refresh();
    if (at === 'latest' || at === String(this.p.state.op)) return this.p.state;
    if (!/^\d+$/.test(at)) throw new UsageError(`version ${JSON.stringify(at)}: expected "latest" or an operation id`);
    const op = Number(at);
    let s = this.cache.get(op);
    if (!s) {
      s = await this.p.version({ op });
      this.cache.set(op, s);
      if (this.cache.size > VERSION_CACHE) this.cache.delete(this.cache.keys().next().value!);
    }
    return s;
  }

  async info(at: string): Promise<Record<string, unknown>> {
    const s = await this.at(at);
    const { shape, offset, voxelSize } = this.p.base;
    const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape, offset, voxelSize, chunkSize: VERSION_CHUNK, encoding: 'raw' }) as unknown as Record<string, unknown>;
    info.wiring = { proofread: { op: s.op } };
    return info;
  }

  /** One chunk `<x0>-<x1>_<y0>-<y1>_<z0>-<z1>` of version `at`: raw little-endian uint64 root ids. */
  async chunk(at: string, key: string, name: string): Promise<Uint8Array> {
    const s = await this.at(at);
    const { shape, offset, voxelSize } = this.p.base;
    const info = makeInfo({ type: 'segmentation', dtype: 'uint64', shape, offset, voxelSize, chunkSize: VERSION_CHUNK });
    if (key !== info.scales[0].key) throw new UsageError(`scale ${JSON.stringify(key)}: this layer has one scale, ${info.scales[0].key}`);
    const m = /^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$/.exec(name);
    if (!m) throw new UsageError(`chunk ${JSON.stringify(name)}: expected x0-x1_y0-y1_z0-z1`);
    const min = [+m[1], +m[3], +m[5]] as unknown as Vec3, max = [+m[2], +m[4], +m[6]] as unknown as Vec3;
    for (let i = 0; i < 3; i++) {
      if (!(min[i] >= offset[i] && max[i] <= offset[i] + shape[i] && min[i] < max[i])) throw new UsageError(`chunk ${name} is outside the volume`);
    }
    this.src ??= openSource(this.p.meta.inputs.supervoxels);
    const vol = await (await this.src).read({ min, max });
    const out = mapLabels(vol.data as LabelArray, rootLookup(s));
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** A supervoxel from a body field: an id (decimal string) or a point [x, y, z] nm. */
  private async sv(v: unknown, what: string): Promise<bigint> {
    if (Array.isArray(v)) {
      if (v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new UsageError(`${what}: expected [x, y, z] in nm or a supervoxel id`);
      return this.p.supervoxelAt(v as unknown as Vec3);
    }
    return parseId(v, what);
  }

  async edit(kind: string, body: any, user: string): Promise<EditRecord> {
    const b = body ?? {};
    let req: EditRequest;
    if (kind === 'merge') {
      const roots = b.roots === undefined ? undefined : (Array.isArray(b.roots) && b.roots.length === 2 ? [parseId(b.roots[0], 'roots[0]'), parseId(b.roots[1], 'roots[1]')] as [bigint, bigint] : (() => { throw new UsageError('roots: expected two root ids'); })());
      req = { kind, a: await this.sv(b.a, 'a'), b: await this.sv(b.b, 'b'), roots };
    } else if (kind === 'split') {
      if (!Array.isArray(b.sources) || !Array.isArray(b.sinks)) throw new UsageError('split: expected "sources" and "sinks" arrays (supervoxel ids or [x, y, z] nm points)');
      const sources = await Promise.all(b.sources.map((v: unknown, i: number) => this.sv(v, `sources[${i}]`)));
      const sinks = await Promise.all(b.sinks.map((v: unknown, i: number) => this.sv(v, `sinks[${i}]`)));
      req = { kind, sources, sinks, root: b.root === undefined ? undefined : parseId(b.root, 'root') };
    } else if (kind === 'undo' || kind === 'redo') {
      if (!Number.isInteger(b.op)) throw new UsageError(`${kind}: expected {"op": operation id}`);
      req = { kind, op: b.op };
    } else {
      throw new UsageError(`edit kind ${JSON.stringify(kind)}: expected merge, split, undo or redo`);
    }
    return this.p.edit(req, { user, inputs: { request: b } });
  }

  async lineage(id: string, steps = 3): Promise<Record<string, unknown>> {
    await this.p.refresh();
    const lin = this.p.lineage();
    const r = parseId(id, 'id');
    return { ...lin.info(r), latest: lin.latest(r), past: lin.past(r), operations: lin.operations(r), graph: lin.graph(r, steps) };
  }

  async edits(filter: { cell?: string; user?: string; since?: string; until?: string } = {}): Promise<EditRecord[]> {
    await this.p.refresh();
    let recs = this.p.state.records;
    if (filter.cell !== undefined) {
      const lin = this.p.lineage();
      const id = parseId(filter.cell, 'cell');
      const ops = new Set(lin.cellOperations(id));
      recs = recs.filter((r) => ops.has(r.op));
    }
    if (filter.user !== undefined) recs = recs.filter((r) => r.user === filter.user);
    const t = (x: string | undefined, what: string) => {
      if (x === undefined) return undefined;
      const v = Date.parse(x);
      if (Number.isNaN(v)) throw new UsageError(`${what}: expected an ISO-8601 time`);
      return v;
    };
    const since = t(filter.since, 'since'), until = t(filter.until, 'until');
    if (since !== undefined) recs = recs.filter((r) => Date.parse(r.time) >= since);
    if (until !== undefined) recs = recs.filter((r) => Date.parse(r.time) <= until);
    return recs;
  }

  async close(): Promise<void> {
    if (this.src) await (await this.src).close();
    await this.p.close();
  }
}
