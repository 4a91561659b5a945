/**
 * Derived data of the proofread head, recomputed for touched cells only: after an edit, the new
 * roots' mesh (legacy Neuroglancer mesh: manifest `<root>:0` listing fragments on the mesh cell grid (32^3),
 * on the base's mesh cell grid, content-addressed, so fragments away from the edit are reused), skeleton (precomputed, radius;
 * derived from the parents' skeletons, with the supervoxel of each vertex in
 * skeletons/supervoxels/<root>), cells row and synapse partners are written under
 * <dataset>/proofread/head/ ({meshes,skeletons,cells,partners}/), each file atomic; `head/derived.json` {op} says up to which operation they are done
 * and is written last, so a crash leaves it behind the log and `syncDerived` (wiring edit repair,
 * or the next edit) recomputes the roots of the operations after it. Files of other roots are
 * never touched, retired roots' files are kept (they belong to earlier versions).
 * It wires the proofread stage to the morphology stage's pure functions, so it lives in the CLI
 * layer (a stage never imports another stage).
 */
import { existsSync, promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../core/box.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { toJson } from '../core/ids.js';
import { openSource } from '../formats/open.js';
import { PointGrid } from '../kernels/point-grid.js';
import type { VolumeSource } from '../formats/source.js';
import { encodeLegacyFragment, writeLegacyInfo } from '../formats/mesh/precomputed.js';
import { readSkeleton, writeSkeleton, writeSkeletonInfo } from '../formats/mesh/skeleton.js';
import { marchingCubesLabels } from '../stages/morphology/mesh.js';
import { skeletonizeLabels } from '../stages/morphology/skeleton.js';
import type { Proofread } from '../stages/proofread/io.js';
import type { ProofreadService } from '../stages/proofread/service.js';
import type { ProofreadBackend } from '../server/proofread.js';
import { PROOFREAD_DEFAULTS } from '../stages/proofread/base.js';
import type { GraphState } from '../stages/proofread/state.js';
import type { EditRecord } from '../stages/proofread/record.js';
import { cellRows, synapsePartners } from '../stages/proofread/versions.js';
import { CellGrouper, FRAGMENT_GROUPS, fragmentName, meshGrid, type CellGroup } from '../stages/proofread/groups.js';

const groupers = new WeakMap<GraphState, CellGrouper>();
/** One grouper (scratch arrays of the supervoxel count) per state, under its current joined edges, reused across recomputes. */
export function grouperOf(state: GraphState): CellGrouper {
  let g = groupers.get(state);
  if (!g) groupers.set(state, (g = new CellGrouper(state.base, (l, visit) => state.forEachJoined(l, visit))));
  return g;
}

/** A grouper of the starting state's roots (the base's start joined edges), whatever the state's head: the precompute's. */
export function startGrouperOf(state: GraphState): CellGrouper {
  return new CellGrouper(state.base, (l, visit) => state.forEachJoined(l, visit, state.base.startActive));
}

export function headDir(p: Proofread): string {
  return path.join(p.dir, 'head');
}

/** Defaults of the edit-time recompute. */
export const DERIVE_DEFAULTS = {
  /** decoded supervoxel chunks kept during one recompute */
  cacheChunks: 64,
} as const;

type Box3 = { min: Vec3; max: Vec3 };

/**
 * Reads of the supervoxel layer during one recompute, by whole source chunks kept decoded (up to
 * DERIVE_DEFAULTS.cacheChunks), so the many small boxes of mesh cells and skeletons do not decode
 * the same chunk again and again.
 */
class ChunkReader {
  private cache = new Map<string, ArrayLike<number | bigint> & { subarray?: unknown }>();
  private constructor(private readonly src: VolumeSource) {}

  static async open(p: Proofread): Promise<ChunkReader> {
    return new ChunkReader(await openSource(p.meta.inputs.supervoxels));
  }

  /**
   * The reader kept with a Proofread for its lifetime (closed by p.close()): the supervoxel layer
   * never changes, so chunks decoded for one edit (or for the mesh of a cell the proofreader
   * looked at) serve the next edits of the same region.
   */
  static of(p: Proofread): Promise<ChunkReader> {
    let r = readers.get(p);
    if (!r) {
      const opened = ChunkReader.open(p);
      readers.set(p, (r = opened));
      p.closers.push(async () => {
        readers.delete(p);
        await (await opened).close();
      });
    }
    return r;
  }

  private async chunk(c: Vec3): Promise<{ data: any; min: Vec3; shape: Vec3 }> {
    const cs = this.src.chunkShape, o = this.src.offset, sh = this.src.shape;
    const min = [0, 1, 2].map((a) => o[a] + c[a] * cs[a]) as unknown as Vec3;
    const max = [0, 1, 2].map((a) => Math.min(min[a] + cs[a], o[a] + sh[a])) as unknown as Vec3;
    const key = c.join('_');
    let data = this.cache.get(key);
    if (!data) {
      data = (await this.src.read({ min, max })).data as any;
      this.cache.set(key, data!);
      if (this.cache.size > DERIVE_DEFAULTS.cacheChunks) this.cache.delete(this.cache.keys().next().value!);
    } else {
      this.cache.delete(key);
      this.cache.set(key, data);
    }
    return { data, min, shape: [max[0] - min[0], max[1] - min[1], max[2] - min[2]] };
  }

  async read(box: Box3): Promise<ArrayLike<number | bigint>> {
    const cs = this.src.chunkShape, o = this.src.offset;
    const shape: Vec3 = [box.max[0] - box.min[0], box.max[1] - box.min[1], box.max[2] - box.min[2]];
    const c0 = [0, 1, 2].map((a) => Math.floor((box.min[a] - o[a]) / cs[a]));
    const c1 = [0, 1, 2].map((a) => Math.floor((box.max[a] - 1 - o[a]) / cs[a]));
    let out: any;
    for (let cz = c0[2]; cz <= c1[2]; cz++) for (let cy = c0[1]; cy <= c1[1]; cy++) for (let cx = c0[0]; cx <= c1[0]; cx++) {
      const ch = await this.chunk([cx, cy, cz]);
      out ??= new ch.data.constructor(shape[0] * shape[1] * shape[2]);
      const lo = [0, 1, 2].map((a) => Math.max(box.min[a], ch.min[a]));
      const hi = [0, 1, 2].map((a) => Math.min(box.max[a], ch.min[a] + ch.shape[a]));
      const w = hi[0] - lo[0];
      for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) {
        const src = (lo[0] - ch.min[0]) + ch.shape[0] * ((y - ch.min[1]) + ch.shape[1] * (z - ch.min[2]));
        const dst = (lo[0] - box.min[0]) + shape[0] * ((y - box.min[1]) + shape[1] * (z - box.min[2]));
        out.set(ch.data.subarray(src, src + w), dst);
      }
    }
    return out;
  }

  /** The index of the source chunk holding voxel v (global), chunks in raster order. */
  chunkIndex(v: Vec3): number {
    const cs = this.src.chunkShape, o = this.src.offset, sh = this.src.shape;
    const n = [0, 1, 2].map((a) => Math.ceil(sh[a] / cs[a]));
    const c = [0, 1, 2].map((a) => Math.floor((v[a] - o[a]) / cs[a]));
    return c[0] + n[0] * (c[1] + n[1] * c[2]);
  }

  async close(): Promise<void> {
    await this.src.close();
  }
}

const readers = new WeakMap<Proofread, Promise<ChunkReader>>();

function maskOf(data: ArrayLike<number | bigint>, mine: Set<bigint>): Uint32Array {
  const mask = new Uint32Array(data.length);
  let last: number | bigint | undefined, inside = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== last) { last = v; inside = mine.has(BigInt(v)) ? 1 : 0; }
    mask[i] = inside;
  }
  return mask;
}

/**
 * The mesh of a root as fragments on a grid: the fragment of grid cell c is the marching-cubes
 * surface of the root's voxels in c grown by one voxel on the high side (so the cubes of
 * neighbouring cells partition space and fragments meet without gaps), named by the cell and a
 * hash of the root's supervoxels that can reach it. A fragment file that exists is reused: a
 * merge recomputes only the cells where both roots are, a split only the cells it cuts through.
 */
async function deriveMesh(p: Proofread, reader: ChunkReader, state: GraphState, members: number[], meshDir: string, known?: Set<string>, plan?: FragmentPlan): Promise<{ fragments: string[]; computed: number; time: { group_ms: number; name_ms: number; read_ms: number; march_ms: number; write_ms: number } }> {
  const b = p.base, F = PROOFREAD_DEFAULTS.meshCell;
  const nc = meshGrid(b, F);
  // in each mesh cell, the root's supervoxels there in groups connected by the root's joined edges
  // (as the ChunkedGraph's L2 ids): a merge changes the groups only in the cells holding both merged
  // supervoxels, a split only in the cells holding both ends of a cut edge. With a plan (the parents'
  // fragments the edit left as they were, and the groups it made), only the new groups are looked at.
  const tPrep = performance.now();
  const groups: Array<CellGroup & { name?: string }> = plan ? plan.fresh : grouperOf(state).groups(members);
  const groupMs = plan ? plan.ms : performance.now() - tPrep;
  const tName = performance.now();
  const fragments: string[] = plan ? [...plan.keep] : [];
  const todo: Array<{ name: string; file: string; ids: bigint[]; min: Vec3; max: Vec3 }> = [];
  for (const g of groups) {
    const name = g.name ?? fragmentName(b, g.cell, nc, g.members);
    const file = path.join(meshDir, name);
    const dense = g.members;
    // a fragment a parent's manifest lists exists and is not empty (no file system call)
    if (known?.has(name)) {
      fragments.push(name);
      continue;
    }
    if (existsSync(file)) {
      if (statSync(file).size > 4) fragments.push(name);
      continue;
    }
    const ids = dense.map((l) => b.ids[l]);
    const c = [g.cell % nc[0], Math.floor(g.cell / nc[0]) % nc[1], Math.floor(g.cell / (nc[0] * nc[1]))];
    // the cell's cube, cropped to the group's bounding box grown by one voxel: outside it the mask
    // is 0, so the surface is the same; the cube's own faces stay where the group reaches them
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const l of dense) for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], b.bbox[6 * l + a]);
      hi[a] = Math.max(hi[a], b.bbox[6 * l + 3 + a]);
    }
    const min = c.map((v, a) => Math.max(b.offset[a] + v * F, b.offset[a] + lo[a] - 1)) as unknown as Vec3;
    const max = c.map((v, a) => Math.min(b.offset[a] + (v + 1) * F + 1, b.offset[a] + b.shape[a], b.offset[a] + hi[a] + 1)) as unknown as Vec3;
    todo.push({ name, file, ids, min, max });
  }
  // in source chunk order, so the cells of one chunk are read while it is cached (the groups come in
  // cell raster order, which visits a whole row of chunks before coming back)
  const order = new Map(todo.map((t) => [t, reader.chunkIndex(t.min)]));
  todo.sort((x, y) => order.get(x)! - order.get(y)! || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const time = { group_ms: groupMs, name_ms: performance.now() - tName, read_ms: 0, march_ms: 0, write_ms: 0 };
  const writes: Array<Promise<void>> = [];
  for (const t of todo) {
    const shape: Vec3 = [t.max[0] - t.min[0], t.max[1] - t.min[1], t.max[2] - t.min[2]];
    let t0 = performance.now();
    const data = await reader.read({ min: t.min, max: t.max });
    time.read_ms += performance.now() - t0;
    t0 = performance.now();
    const mask = maskOf(data, new Set(t.ids));
    const border = [t.min[0] === b.offset[0], t.max[0] === b.offset[0] + b.shape[0], t.min[1] === b.offset[1], t.max[1] === b.offset[1] + b.shape[1], t.min[2] === b.offset[2], t.max[2] === b.offset[2] + b.shape[2]];
    const mesh = marchingCubesLabels(mask, shape, 1, { voxelSize: b.voxelSize, offset: t.min, closeBorder: border })[1];
    time.march_ms += performance.now() - t0;
    // written while the next cells are meshed (fsyncs overlap); all are on disk before the manifest
    writes.push(writeFileAtomic(t.file, encodeLegacyFragment(mesh)));
    if (mesh.indices.length > 0) fragments.push(t.name);
  }
  const t0 = performance.now();
  await Promise.all(writes);
  time.write_ms += performance.now() - t0;
  const computed = todo.length;
  fragments.sort();
  return { fragments, computed, time };
}

/**
 * The fragments of a root an edit made, from its parents' manifests instead of grouping the whole
 * root: `keep` = the parents' fragments that no end of the edit's edges is in (each group of a
 * parent in a cell without both ends of an edge is unchanged) minus the fragments of the edit's
 * other new roots (`siblings`, grouped in full), `fresh` = the root's groups in the cells holding
 * both ends of an added or removed edge that contain an end (searched from the ends, a cell at a
 * time). The same fragments a full grouping names (tested).
 */
export interface FragmentPlan {
  keep: Set<string>;
  fresh: Array<{ cell: number; members: number[]; name: string }>;
  ms: number;
}

export function fragmentPlan(state: GraphState, r: EditRecord, root: bigint, parents: Set<string>, siblings: string[][]): FragmentPlan {
  const t0 = performance.now();
  const b = state.base, nc = meshGrid(b, PROOFREAD_DEFAULTS.meshCell);
  const grouper = grouperOf(state);
  // (supervoxel, cell) of each end of an edge the edit changed, in the cells holding both ends
  const ends: Array<[number, number]> = [];
  for (const [x, y] of [...r.added, ...r.removed]) {
    const u = state.sv(BigInt(x)), v = state.sv(BigInt(y));
    let i = b.cellStart[u], j = b.cellStart[v];
    while (i < b.cellStart[u + 1] && j < b.cellStart[v + 1]) {
      const cu = b.cells[i], cv = b.cells[j];
      if (cu < cv) i++;
      else if (cv < cu) j++;
      else { ends.push([u, cu], [v, cu]); i++; j++; }
    }
  }
  const searched = (list: Array<[number, number]>, keepIf: (w: number) => boolean) => {
    const out = new Map<string, { cell: number; members: number[]; name: string }>();
    const seen = new Set<string>();
    for (const [w, cell] of list) {
      if (!keepIf(w) || seen.has(`${w}:${cell}`)) continue;
      const members = grouper.groupAt(w, cell);
      for (const m of members) seen.add(`${m}:${cell}`);
      const name = fragmentName(b, cell, nc, members);
      out.set(name, { cell, members, name });
    }
    return out;
  };
  // the parents' groups holding an end (the joined edges before the edit), and the root's now
  const old = state.beforeRecord(r, () => searched(ends, () => true));
  const fresh = searched(ends, (w) => state.root[w] === root);
  const keep = new Set(parents);
  for (const name of old.keys()) keep.delete(name);
  for (const list of siblings) for (const name of list) keep.delete(name);
  for (const name of fresh.keys()) keep.delete(name);
  return { keep, fresh: [...fresh.values()], ms: performance.now() - t0 };
}

interface SkeletonWithSv {
  vertices: Float32Array;
  edges: Uint32Array;
  radius: Float32Array;
  /** the supervoxel under each vertex */
  sv: BigUint64Array;
}

async function readSkeletonWithSv(dir: string, root: bigint): Promise<SkeletonWithSv | undefined> {
  const svFile = path.join(dir, 'supervoxels', `${root}`);
  if (!existsSync(svFile) || !existsSync(path.join(dir, `${root}`))) return undefined;
  const s = await readSkeleton(dir, root);
  const buf = await fs.readFile(svFile);
  const sv = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  if (sv.length !== s.vertices.length / 3) return undefined;
  return { ...s, sv };
}

/** TEASAR over the root's bounding box (a root with no parent skeleton to reuse). */
async function teasar(p: Proofread, reader: ChunkReader, members: number[]): Promise<SkeletonWithSv> {
  const b = p.base;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const l of members) for (let a = 0; a < 3; a++) {
    lo[a] = Math.min(lo[a], b.bbox[6 * l + a]);
    hi[a] = Math.max(hi[a], b.bbox[6 * l + 3 + a]);
  }
  const min = lo.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const max = hi.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const shape: Vec3 = [max[0] - min[0], max[1] - min[1], max[2] - min[2]];
  const data = await reader.read({ min, max });
  const skel = skeletonizeLabels(maskOf(data, new Set(members.map((l) => b.ids[l]))), shape, 1, { voxelSize: b.voxelSize, offset: min })[1];
  const nv = skel.vertices.length / 3;
  const sv = new BigUint64Array(nv);
  for (let i = 0; i < nv; i++) {
    const v = [0, 1, 2].map((a) => Math.min(shape[a] - 1, Math.max(0, Math.floor(skel.vertices[3 * i + a] / b.voxelSize[a]) - min[a])));
    sv[i] = BigInt(data[v[0] + shape[0] * (v[1] + shape[1] * v[2])]);
  }
  return { ...skel, sv };
}

/**
 * The skeleton of a new root from its parents' skeletons: the parents' vertices on the root's
 * supervoxels and the edges between them, pieces joined by an edge between their nearest
 * vertices (a merge joins two skeletons, a split keeps each side's part). TEASAR from scratch
 * when a parent has no skeleton yet or nothing of them lies in the root.
 */
async function deriveSkeleton(p: Proofread, reader: ChunkReader, state: GraphState, root: bigint, members: number[], parents: bigint[], dir: string): Promise<{ skel: SkeletonWithSv; reused: boolean }> {
  const parts = await Promise.all(parents.map((r) => readSkeletonWithSv(dir, r)));
  if (parts.some((s) => !s)) return { skel: await teasar(p, reader, members), reused: false };
  // a vertex is kept when its supervoxel is in the root now: dense indices through the typed id index
  // (no bigint hashing), then the root of each; typed arrays throughout
  let total = 0;
  for (const s of parts as SkeletonWithSv[]) total += s.sv.length;
  const V = new Float32Array(3 * total), R = new Float32Array(total), S = new BigUint64Array(total);
  const E: number[] = [];
  let n = 0;
  for (const s of parts as SkeletonWithSv[]) {
    const dense = state.idIndex.all(s.sv);
    const map = new Int32Array(s.sv.length).fill(-1);
    for (let i = 0; i < s.sv.length; i++) {
      const l = dense[i];
      if (l < 0 || state.root[l] !== root) continue;
      map[i] = n;
      S[n] = s.sv[i];
      V[3 * n] = s.vertices[3 * i];
      V[3 * n + 1] = s.vertices[3 * i + 1];
      V[3 * n + 2] = s.vertices[3 * i + 2];
      R[n] = s.radius[i];
      n++;
    }
    for (let e = 0; e < s.edges.length; e += 2) {
      const a = map[s.edges[e]], c = map[s.edges[e + 1]];
      if (a >= 0 && c >= 0) E.push(a, c);
    }
  }
  if (n === 0) return { skel: await teasar(p, reader, members), reused: false };
  // join the pieces: union-find over the edges, then nearest vertex pairs between components
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => { while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; } return x; };
  for (let e = 0; e < E.length; e += 2) { const a = find(E[e]), c = find(E[e + 1]); if (a !== c) parent[a] = c; }
  const comp = new Map<number, number[]>();
  for (let i = 0; i < n; i++) { const r = find(i); const l = comp.get(r); if (l) l.push(i); else comp.set(r, [i]); }
  const Vn = V.subarray(0, 3 * n);
  if (comp.size > 1) {
    // every other piece to its nearest vertex of the largest piece (a grid over the largest piece: each
    // vertex of the others looks at the grid cells around it, stopping once nothing nearer than the
    // best pair so far can be there); a sparse pass first (every 64th vertex) finds a near pair, so the
    // full pass searches few rings per vertex
    const [main, ...rest] = [...comp.values()].sort((x, y) => y.length - x.length || x[0] - y[0]);
    const grid = new PointGrid(Vn, { subset: main });
    for (const other of rest) {
      let best = Infinity, bi = -1, bj = -1;
      const visit = (j: number) => {
        const i = grid.nearest(Vn[3 * j], Vn[3 * j + 1], Vn[3 * j + 2], best);
        if (grid.lastDistance2 < best || (grid.lastDistance2 === best && j < bj)) { best = grid.lastDistance2; bi = i; bj = j; }
      };
      for (let k = 0; k < other.length; k += 64) visit(other[k]);
      for (const j of other) visit(j);
      E.push(bi, bj);
    }
  }
  return { skel: { vertices: V.slice(0, 3 * n), edges: Uint32Array.from(E), radius: R.slice(0, n), sv: S.slice(0, n) }, reused: true };
}

export interface DeriveDetail {
  /** the fragment list came from the parents' manifests and the groups the edit changed (fragmentPlan), not a grouping of the whole root */
  fragments_incremental: boolean;
  fragments_computed: number;
  fragments: number;
  skeleton_reused: boolean;
  skeleton_vertices: number;
  mesh_ms: number;
  /** of mesh_ms: grouping the root's supervoxels by mesh cell, naming fragments (hash, exists), reading supervoxels, masks + marching cubes, writing fragments (atomic, fsync'd) */
  mesh_parts_ms: { group_ms: number; name_ms: number; read_ms: number; march_ms: number; write_ms: number };
  skeleton_ms: number;
}

/** Mesh, skeleton, cells row and partners of one current root of `state` made from `parents`. */
export async function deriveRoot(p: Proofread, state: GraphState, root: bigint, parents: bigint[] = [], shared?: ChunkReader): Promise<DeriveDetail> {
  const { fragment_list: _, ...d } = await deriveWith(p, shared ?? (await ChunkReader.of(p)), state, root, parents);
  return d;
}

/** The fragments listed in the manifests of `roots`, or undefined when one has none (not derived). */
async function manifestsOf(meshDir: string, roots: bigint[]): Promise<Set<string> | undefined> {
  const known = new Set<string>();
  for (const r of roots) {
    try {
      for (const f of JSON.parse(await fs.readFile(path.join(meshDir, `${r}:0`), 'utf8')).fragments ?? []) known.add(f);
    } catch {
      return undefined;
    }
  }
  return known;
}

async function deriveWith(p: Proofread, reader: ChunkReader, state: GraphState, root: bigint, parents: bigint[], edit?: { record: EditRecord; siblings: string[][] }): Promise<DeriveDetail & { fragment_list: string[] }> {
  const members = state.members(root);
  const dir = headDir(p);
  const meshDir = path.join(dir, 'meshes');
  const skelDir = path.join(dir, 'skeletons');
  let t = performance.now();
  // the parents' fragments: every supervoxel group an edit did not change keeps its fragment
  const parentFragments = await manifestsOf(meshDir, parents);
  const known = parentFragments ?? new Set<string>();
  // the edit just made (the latest record) and every parent derived: only the groups it changed are looked at
  const plan = edit && parentFragments && edit.record.op === state.op ? fragmentPlan(state, edit.record, root, parentFragments, edit.siblings) : undefined;
  const mesh = await deriveMesh(p, reader, state, members, meshDir, known, plan);
  const manifest = writeJsonAtomic(path.join(meshDir, `${root}:0`), { fragments: mesh.fragments });
  const meshMs = performance.now() - t;
  t = performance.now();
  const { skel, reused } = await deriveSkeleton(p, reader, state, root, members, parents, skelDir);
  const skelMs = performance.now() - t;
  // the root's files are independent: written concurrently (derived.json, written after all, marks them done)
  await Promise.all([
    manifest,
    writeFileAtomic(path.join(skelDir, 'supervoxels', `${root}`), new Uint8Array(skel.sv.buffer, skel.sv.byteOffset, skel.sv.byteLength)),
    writeSkeleton(skelDir, root, skel),
    writeFileAtomic(path.join(dir, 'cells', `${root}.json`), toJson(cellRows(state, new Set([root]))[0]) + '\n'),
    p.synapses ? writeFileAtomic(path.join(dir, 'partners', `${root}.json`), toJson(synapsePartners(state, p.synapses, root)) + '\n') : undefined,
  ]);
  return { fragment_list: mesh.fragments, fragments_incremental: plan !== undefined, fragments_computed: mesh.computed, fragments: mesh.fragments.length, skeleton_reused: reused, skeleton_vertices: skel.sv.length, mesh_ms: +meshMs.toFixed(1), mesh_parts_ms: { group_ms: +mesh.time.group_ms.toFixed(1), name_ms: +mesh.time.name_ms.toFixed(1), read_ms: +mesh.time.read_ms.toFixed(1), march_ms: +mesh.time.march_ms.toFixed(1), write_ms: +mesh.time.write_ms.toFixed(1) }, skeleton_ms: +skelMs.toFixed(1) };
}

/**
 * Whether every manifest in head/ lists joined-edge groups (FRAGMENT_GROUPS), so an edit may take
 * its new roots' fragments from its parents' manifests: head/groups.json says so. A head started
 * under the rule (no meshes yet, or only a precompute made under it and no derived edits) gets the
 * mark now; a head derived before (touching groups) never does, and its edits group roots in full.
 */
async function joinedHead(dir: string): Promise<boolean> {
  const f = path.join(dir, 'groups.json');
  if (existsSync(f)) return JSON.parse(await fs.readFile(f, 'utf8')).groups === FRAGMENT_GROUPS;
  let fresh = !existsSync(path.join(dir, 'meshes', 'info'));
  if (!fresh && !existsSync(path.join(dir, 'derived.json'))) {
    try {
      fresh = JSON.parse(await fs.readFile(path.join(dir, 'precompute.json'), 'utf8')).groups === FRAGMENT_GROUPS;
    } catch {
      fresh = false;
    }
  }
  if (fresh) {
    await fs.mkdir(dir, { recursive: true });
    await writeJsonAtomic(f, { groups: FRAGMENT_GROUPS });
  }
  return fresh;
}

/** Bring head/ up to the log: derive the current roots made by operations after head/derived.json's op. */
export async function syncDerived(p: Proofread, crash?: (point: string) => void): Promise<{ from: number; to: number; roots: string[]; details: Array<{ id: string } & DeriveDetail> }> {
  await p.refresh();
  const dir = headDir(p);
  const marker = path.join(dir, 'derived.json');
  let done = 0;
  try {
    done = JSON.parse(await fs.readFile(marker, 'utf8')).op ?? 0;
  } catch {
    done = 0;
  }
  const state = p.state;
  const head = state.op;
  if (done >= head) return { from: head, to: head, roots: [], details: [] };
  const joined = await joinedHead(dir);
  if (!existsSync(path.join(dir, 'meshes', 'info'))) await writeLegacyInfo(path.join(dir, 'meshes'));
  if (!existsSync(path.join(dir, 'skeletons', 'info'))) await writeSkeletonInfo(path.join(dir, 'skeletons'));
  // in log order, so a root's parents are derived before it (their skeletons are reused)
  const reader = await ChunkReader.of(p);
  const list: bigint[] = [];
  const details: Array<{ id: string } & DeriveDetail> = [];
  let first = true;
  for (const r of state.records.slice(Math.min(done, head))) {
    // a root already retired again is not derived (an operation that retired it falls back to TEASAR)
    const made = r.created.map((c) => BigInt(c.id)).filter((id) => state.isCurrent(id));
    // the smaller new roots first, grouped in full; the largest from its parents' fragments minus theirs
    const size = new Map(made.map((id) => [id, state.members(id).length]));
    made.sort((x, y) => size.get(x)! - size.get(y)! || (x < y ? -1 : 1));
    const siblings: string[][] = [];
    for (const [k, id] of made.entries()) {
      const last = k === made.length - 1 && made.length === r.created.length;
      const { fragment_list, ...d } = await deriveWith(p, reader, state, id, r.retired.map(BigInt), last && joined ? { record: r, siblings } : undefined);
      siblings.push(fragment_list);
      details.push({ id: id.toString(), ...d });
      list.push(id);
      if (first) crash?.('mid-derive');
      first = false;
    }
  }
  await writeJsonAtomic(marker, { op: head });
  return { from: done, to: head, roots: list.sort((a, b) => (a < b ? -1 : 1)).map(String), details };
}

/**
 * The mesh manifest of a root of `state` (any version) that has none yet, e.g. a starting root:
 * its fragments on the mesh cell grid, content-addressed in head/meshes, so fragments other roots
 * already have are reused and the next version that holds the same supervoxel groups reuses these.
 */
export async function deriveRootMesh(p: Proofread, state: GraphState, root: bigint): Promise<{ fragments: string[]; computed: number }> {
  const meshDir = path.join(headDir(p), 'meshes');
  await fs.mkdir(meshDir, { recursive: true });
  const mesh = await deriveMesh(p, await ChunkReader.of(p), state, state.members(root), meshDir);
  await writeJsonAtomic(path.join(meshDir, `${root}:0`), { fragments: mesh.fragments });
  return mesh;
}

/**
 * The skeleton of a root of `state` (any version) that has none yet (a starting root without a
 * precompute, or a root of an older version that was never current at a recompute): TEASAR over
 * the root, written with its vertex supervoxels to head/skeletons (a root id's supervoxels never
 * change, so every version holding the root shares it).
 */
export async function deriveRootSkeleton(p: Proofread, state: GraphState, root: bigint): Promise<Uint8Array> {
  const skelDir = path.join(headDir(p), 'skeletons');
  if (!existsSync(path.join(skelDir, 'info'))) await writeSkeletonInfo(skelDir);
  const skel = await teasar(p, await ChunkReader.of(p), state.members(root));
  await writeFileAtomic(path.join(skelDir, 'supervoxels', `${root}`), new Uint8Array(skel.sv.buffer, skel.sv.byteOffset, skel.sv.byteLength));
  await writeSkeleton(skelDir, root, skel);
  return fs.readFile(path.join(skelDir, `${root}`)).then((b) => new Uint8Array(b));
}

/**
 * The server's proofreading backend with the recompute wired in: each edit answers after the
 * touched cells' derived data is written, and a mesh manifest asked for but not derived (a
 * starting root) is derived then, as is a skeleton asked for but not derived (recomputes run one at a time).
 */
export function derivingBackend(svc: ProofreadService): ProofreadBackend {
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const d = chain.then(run, run);
    chain = d.catch(() => undefined);
    return d;
  };
  const edit = async (kind: string, body: unknown, user: string) => {
    const rec = await svc.edit(kind, body, user);
    const done = await serial(() => syncDerived(svc.p));
    return { ...rec, derived: done.roots };
  };
  const mesh = async (at: string, name: string) => {
    const r = await svc.mesh(at, name);
    const m = /^(\d+):0$/.exec(name);
    if (r !== undefined || !m) return r;
    const state = await svc.at(at);
    return serial(async () => ({ fragments: (await svc.mesh(at, name).then((x) => x as { fragments: string[] } | undefined))?.fragments ?? (await deriveRootMesh(svc.p, state, BigInt(m[1]))).fragments }));
  };
  const skeleton = async (at: string, name: string) => {
    const r = await svc.skeleton(at, name);
    if (r !== undefined || !/^\d+$/.test(name)) return r;
    const state = await svc.at(at);
    return serial(async () => (await svc.skeleton(at, name)) ?? (await deriveRootSkeleton(svc.p, state, BigInt(name))));
  };
  return {
    info: (at) => svc.info(at),
    chunk: (at, key, name) => svc.chunk(at, key, name),
    lineage: (id, steps) => svc.lineage(id, steps),
    edits: (filter) => svc.edits(filter),
    edit,
    mesh,
    skeleton,
    point: (nm) => svc.point(nm),
    previewSplit: async (body) => ({ ...(await svc.previewSplit(body)) }),
    previewInfo: (id) => svc.previewInfo(id),
    previewChunk: (id, key, name) => svc.previewChunk(id, key, name),
    statuses: (at, root) => svc.statuses(at, root),
    setStatus: (body, user) => svc.setStatus(body, user),
  };
}
