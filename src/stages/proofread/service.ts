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
import { skeletonInfo } from '../../formats/mesh/skeleton.js';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Proofread, VERSION_CHUNK } from './io.js';
import { PROOFREAD_DEFAULTS } from './defaults.js';
import type { EditRecord } from './record.js';
import { EditError, type EditRequest, type GraphState } from './state.js';
import type { CellStatus, StatusRecord } from './status.js';
import { mapLabels, rootLookup, type LabelArray } from './versions.js';

/** A split not yet made: what the minimum cut would do, kept for its preview layer. */
export interface SplitPreview {
  id: number;
  /** the head op it was planned on (a later edit of the root makes applying it refused as stale) */
  op: number;
  root: string;
  sources: string[];
  sinks: string[];
  cut_capacity: number;
  /** supervoxel edges the cut removes */
  cut_edges: number;
  /** one entry per resulting component: label in the preview layer (1, 2, ...), its supervoxels and voxels; the first holds the sources */
  sides: Array<{ label: number; supervoxels: number; voxels: number; contains: 'sources' | 'sinks' | 'neither' }>;
}

/** Where the proofread head's derived meshes live (written by the CLI's recompute). */
export const HEAD_MESHES = path.join('head', 'meshes');
/** Where the proofread head's derived skeletons live (precomputed, radius; written by the CLI's recompute and precompute). */
export const HEAD_SKELETONS = path.join('head', 'skeletons');

/** Versions kept replayed in memory (besides the head). */
const VERSION_CACHE = 4;

export class ProofreadService {
  private cache = new Map<number, GraphState>();
  private src?: Promise<VolumeSource>;
  private previews = new Map<number, { preview: SplitPreview; side: Map<bigint, bigint> }>();
  private nextPreview = 1;

  constructor(readonly p: Proofread) {}

  static async open(dataset: string): Promise<ProofreadService> {
    return new ProofreadService(await Proofread.open(dataset));
  }

  /** 'latest' or an op id -> the state (the head is live; others replayed and cached). */
  async at(at: string): Promise<GraphState> {
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
    // meshes of the version's roots (served from the head's derived meshes)
    info.mesh = 'mesh';
    // and their skeletons (precomputed, radius), from the head's derived skeletons
    info.skeletons = 'skeletons';
    return info;
  }

  /** One chunk `<x0>-<x1>_<y0>-<y1>_<z0>-<z1>` of version `at`: raw little-endian uint64 root ids. */
  async chunk(at: string, key: string, name: string): Promise<Uint8Array> {
    return this.mappedChunk(key, name, rootLookup(await this.at(at)));
  }

  /** A chunk of the supervoxel layer mapped through `lookup` (raw little-endian uint64). */
  private async mappedChunk(key: string, name: string, lookup: (sv: bigint) => bigint): Promise<Uint8Array> {
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
    const out = mapLabels(vol.data as LabelArray, lookup);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** The supervoxel and its root (head) at a point [x, y, z] nm. */
  async point(nm: unknown): Promise<{ supervoxel: string; root: string; op: number }> {
    const sv = await this.sv(nm, 'point');
    await this.p.refresh();
    return { supervoxel: sv.toString(), root: this.p.state.rootOf(sv).toString(), op: this.p.state.op };
  }

  /**
   * Plan a split on the head without making it: the minimum cut's sides, kept (the last
   * PROOFREAD_DEFAULTS.previews) for the preview layer `previews/<id>/segmentation`, where each
   * side's supervoxels carry label 1, 2, ... and everything else 0.
   */
  async previewSplit(body: any): Promise<SplitPreview> {
    const req = await this.request('split', body);
    if (req.kind !== 'split') throw new EditError('preview: only splits have a preview');
    return this.p.serialized(async () => {
      await this.p.refresh();
      const state = this.p.state;
      const rec = state.plan(req, { user: 'preview', time: new Date().toISOString() });
      const sides = state.sides(rec);
      const b = state.base;
      const src = new Set(req.sources.map((id) => state.sv(id)));
      const snk = new Set(req.sinks.map((id) => state.sv(id)));
      const side = new Map<bigint, bigint>();
      const preview: SplitPreview = {
        id: this.nextPreview++, op: state.op, root: rec.retired[0], sources: req.sources.map(String), sinks: req.sinks.map(String),
        cut_capacity: Number(rec.inputs.cut_capacity), cut_edges: rec.removed.length,
        // the sources' side first
        sides: [],
      };
      const order = sides.map((m, i) => ({ m, i, has: m.some((l) => src.has(l)) ? 0 : m.some((l) => snk.has(l)) ? 1 : 2 })).sort((x, y) => x.has - y.has || x.i - y.i);
      order.forEach(({ m, has }, k) => {
        let voxels = 0;
        for (const l of m) { side.set(b.ids[l], BigInt(k + 1)); voxels += b.sizes[l]; }
        preview.sides.push({ label: k + 1, supervoxels: m.length, voxels, contains: (['sources', 'sinks', 'neither'] as const)[has] });
      });
      this.previews.set(preview.id, { preview, side });
      while (this.previews.size > PROOFREAD_DEFAULTS.previews) this.previews.delete(this.previews.keys().next().value!);
      return preview;
    });
  }

  private previewOf(id: string): { preview: SplitPreview; side: Map<bigint, bigint> } {
    const p = /^\d+$/.test(id) ? this.previews.get(Number(id)) : undefined;
    if (!p) throw new UsageError(`preview ${JSON.stringify(id)} is not kept (only the last ${PROOFREAD_DEFAULTS.previews} previews are): preview the split again`);
    return p;
  }

  async previewInfo(id: string): Promise<Record<string, unknown>> {
    const { preview } = this.previewOf(id);
    const info = await this.info('latest');
    info.wiring = { proofread: { preview } };
    delete info.mesh; // the sides are shown in the slices only
    delete info.skeletons;
    return info;
  }

  async previewChunk(id: string, key: string, name: string): Promise<Uint8Array> {
    const { side } = this.previewOf(id);
    return this.mappedChunk(key, name, (sv) => side.get(sv) ?? 0n);
  }

  /**
   * A file of the mesh source of version `at` (legacy Neuroglancer meshes): `info`, a root's
   * manifest `<root>:0`, or a fragment. Manifests and fragments come from the head's derived
   * meshes (head/meshes: content-addressed fragments shared by every version); undefined when the
   * root's mesh has not been derived (the CLI's backend derives it then). A root that is not in
   * version `at` is an error.
   */
  async meshFile(at: string, name: string): Promise<{ body: Uint8Array | Record<string, unknown>; root?: bigint; state: GraphState } | undefined> {
    const s = await this.at(at);
    if (name === 'info') return { body: { '@type': 'neuroglancer_legacy_mesh' }, state: s };
    const dir = path.join(this.p.dir, HEAD_MESHES);
    const m = /^(\d+):0$/.exec(name);
    if (m) {
      const root = BigInt(m[1]);
      if (!s.isCurrent(root)) throw new UsageError(`segment ${root} is not a root of version ${s.op}`);
      const file = path.join(dir, `${root}:0`);
      if (!existsSync(file)) return undefined;
      return { body: JSON.parse(await fs.readFile(file, 'utf8')), root, state: s };
    }
    if (!/^f\d+_\d+_\d+_[0-9a-f]{16}$/.test(name)) throw new UsageError(`mesh file ${JSON.stringify(name)}: expected info, <root>:0 or a fragment name`);
    const file = path.join(dir, name);
    if (!existsSync(file)) return undefined;
    return { body: new Uint8Array(await fs.readFile(file)), state: s };
  }

  /** The body of a mesh file of version `at`, undefined when not derived (see meshFile). */
  async mesh(at: string, name: string): Promise<Uint8Array | Record<string, unknown> | undefined> {
    return (await this.meshFile(at, name))?.body;
  }

  /**
   * A file of the skeleton source of version `at` (Neuroglancer precomputed skeletons with radius):
   * `info`, or a root's skeleton from the head's derived skeletons (shared by every version that
   * holds the root); undefined when the root's skeleton has not been derived (the CLI's backend
   * derives it then). A root that is not in version `at` is an error.
   */
  async skeleton(at: string, name: string): Promise<Uint8Array | Record<string, unknown> | undefined> {
    const s = await this.at(at);
    if (name === 'info') return skeletonInfo();
    if (!/^\d+$/.test(name)) throw new UsageError(`skeleton file ${JSON.stringify(name)}: expected info or a root id`);
    const root = BigInt(name);
    if (!s.isCurrent(root)) throw new UsageError(`segment ${root} is not a root of version ${s.op}`);
    const file = path.join(this.p.dir, HEAD_SKELETONS, name);
    if (!existsSync(file)) return undefined;
    return new Uint8Array(await fs.readFile(file));
  }

  /** The proofreading statuses of version `at`'s roots (one root's when given). */
  async statuses(at = 'latest', root?: string): Promise<{ op: number; statuses: CellStatus[] }> {
    const s = await this.at(at);
    let list = await this.p.statuses(s);
    if (root !== undefined) {
      const id = parseId(root, 'root').toString();
      list = list.filter((c) => c.root === id);
    }
    return { op: s.op, statuses: list };
  }

  async setStatus(body: any, user: string): Promise<StatusRecord> {
    const b = body ?? {};
    return this.p.setStatus(parseId(b.root, 'root'), { status_axon: b.status_axon, status_dendrite: b.status_dendrite }, { user });
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
    return this.p.edit(await this.request(kind, b), { user, inputs: { request: b } });
  }

  /** An edit request from a JSON body (points are looked up as supervoxels). */
  private async request(kind: string, body: any): Promise<EditRequest> {
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
    return req;
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
