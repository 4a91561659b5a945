/**
 * Derived data of the proofread head, recomputed for touched cells only: after an edit, the new
 * roots' mesh (legacy Neuroglancer mesh: manifest `<root>:0` listing fragments on a 64^3 grid,
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
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../core/box.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { toJson } from '../core/ids.js';
import { openSource } from '../formats/open.js';
import { encodeLegacyFragment, writeLegacyInfo } from '../formats/mesh/precomputed.js';
import { readSkeleton, writeSkeleton, writeSkeletonInfo } from '../formats/mesh/skeleton.js';
import { marchingCubesLabels } from '../stages/morphology/mesh.js';
import { skeletonizeLabels } from '../stages/morphology/skeleton.js';
import type { Proofread } from '../stages/proofread/io.js';
import { PROOFREAD_DEFAULTS } from '../stages/proofread/base.js';
import type { GraphState } from '../stages/proofread/state.js';
import { cellRows, synapsePartners } from '../stages/proofread/versions.js';

export function headDir(p: Proofread): string {
  return path.join(p.dir, 'head');
}

/** Defaults of the edit-time recompute. */
export const DERIVE_DEFAULTS = {
  /** the mesh cells an edit recomputes are read as one box up to this many voxels */
  maxReadVoxels: 2 ** 26,
} as const;

type Box3 = { min: Vec3; max: Vec3 };

async function readBox(p: Proofread, box: Box3): Promise<ArrayLike<number | bigint>> {
  const src = await openSource(p.meta.inputs.supervoxels);
  try {
    return (await src.read(box)).data as ArrayLike<number | bigint>;
  } finally {
    await src.close();
  }
}

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
async function deriveMesh(p: Proofread, members: number[], meshDir: string): Promise<{ fragments: string[]; computed: number }> {
  const b = p.base, F = PROOFREAD_DEFAULTS.meshCell;
  const nc = [0, 1, 2].map((a) => Math.ceil(b.shape[a] / F));
  // the cells each supervoxel has voxels in (from the base): a merge recomputes only cells both roots share
  const byCell = new Map<number, bigint[]>();
  for (const l of members) for (let k = b.cellStart[l]; k < b.cellStart[l + 1]; k++) {
    const list = byCell.get(b.cells[k]);
    if (list) list.push(b.ids[l]);
    else byCell.set(b.cells[k], [b.ids[l]]);
  }
  const cells = new Map<string, bigint[]>();
  for (const [c, ids] of byCell) cells.set(`${c % nc[0]}_${Math.floor(c / nc[0]) % nc[1]}_${Math.floor(c / (nc[0] * nc[1]))}`, ids);
  const fragments: string[] = [];
  const todo: Array<{ name: string; file: string; ids: bigint[]; min: Vec3; max: Vec3 }> = [];
  for (const [k, ids] of [...cells].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    ids.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const name = `f${k}_${createHash('sha1').update(ids.join(',')).digest('hex').slice(0, 16)}`;
    const file = path.join(meshDir, name);
    if (existsSync(file)) {
      if (statSync(file).size > 4) fragments.push(name);
      continue;
    }
    const c = k.split('_').map(Number);
    const min = c.map((v, a) => b.offset[a] + v * F) as unknown as Vec3;
    const max = c.map((v, a) => Math.min(b.offset[a] + (v + 1) * F + 1, b.offset[a] + b.shape[a])) as unknown as Vec3;
    todo.push({ name, file, ids, min, max });
  }
  // the cells to compute are read as one box when it is small enough (chunks decoded once), else one by one
  let whole: { data: ArrayLike<number | bigint>; min: Vec3; shape: Vec3 } | undefined;
  if (todo.length > 1) {
    const min = [0, 1, 2].map((a) => Math.min(...todo.map((t) => t.min[a]))) as unknown as Vec3;
    const max = [0, 1, 2].map((a) => Math.max(...todo.map((t) => t.max[a]))) as unknown as Vec3;
    const shape: Vec3 = [max[0] - min[0], max[1] - min[1], max[2] - min[2]];
    if (shape[0] * shape[1] * shape[2] <= DERIVE_DEFAULTS.maxReadVoxels) whole = { data: await readBox(p, { min, max }), min, shape };
  }
  for (const t of todo) {
    const shape: Vec3 = [t.max[0] - t.min[0], t.max[1] - t.min[1], t.max[2] - t.min[2]];
    let data: ArrayLike<number | bigint>;
    if (whole) {
      const w = whole;
      const out = new (w.data as any).constructor(shape[0] * shape[1] * shape[2]);
      for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) {
        const src = (t.min[0] - w.min[0]) + w.shape[0] * ((t.min[1] - w.min[1] + y) + w.shape[1] * (t.min[2] - w.min[2] + z));
        out.set((w.data as any).subarray(src, src + shape[0]), shape[0] * (y + shape[1] * z));
      }
      data = out;
    } else data = await readBox(p, { min: t.min, max: t.max });
    const mask = maskOf(data, new Set(t.ids));
    const border = [t.min[0] === b.offset[0], t.max[0] === b.offset[0] + b.shape[0], t.min[1] === b.offset[1], t.max[1] === b.offset[1] + b.shape[1], t.min[2] === b.offset[2], t.max[2] === b.offset[2] + b.shape[2]];
    const mesh = marchingCubesLabels(mask, shape, 1, { voxelSize: b.voxelSize, offset: t.min, closeBorder: border })[1];
    await writeFileAtomic(t.file, encodeLegacyFragment(mesh));
    if (mesh.indices.length > 0) fragments.push(t.name);
  }
  const computed = todo.length;
  fragments.sort();
  return { fragments, computed };
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
async function teasar(p: Proofread, members: number[]): Promise<SkeletonWithSv> {
  const b = p.base;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const l of members) for (let a = 0; a < 3; a++) {
    lo[a] = Math.min(lo[a], b.bbox[6 * l + a]);
    hi[a] = Math.max(hi[a], b.bbox[6 * l + 3 + a]);
  }
  const min = lo.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const max = hi.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const shape: Vec3 = [max[0] - min[0], max[1] - min[1], max[2] - min[2]];
  const data = await readBox(p, { min, max });
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
async function deriveSkeleton(p: Proofread, members: number[], parents: bigint[], dir: string): Promise<{ skel: SkeletonWithSv; reused: boolean }> {
  const mine = new Set(members.map((l) => p.base.ids[l]));
  const parts: SkeletonWithSv[] = [];
  for (const r of parents) {
    const s = await readSkeletonWithSv(dir, r);
    if (!s) return { skel: await teasar(p, members), reused: false };
    parts.push(s);
  }
  const V: number[] = [], R: number[] = [], E: number[] = [];
  const S: bigint[] = [];
  for (const s of parts) {
    const map = new Int32Array(s.sv.length).fill(-1);
    for (let i = 0; i < s.sv.length; i++) if (mine.has(s.sv[i])) {
      map[i] = S.length;
      S.push(s.sv[i]);
      V.push(s.vertices[3 * i], s.vertices[3 * i + 1], s.vertices[3 * i + 2]);
      R.push(s.radius[i]);
    }
    for (let e = 0; e < s.edges.length; e += 2) {
      const a = map[s.edges[e]], c = map[s.edges[e + 1]];
      if (a >= 0 && c >= 0) E.push(a, c);
    }
  }
  const n = S.length;
  if (n === 0) return { skel: await teasar(p, members), reused: false };
  // join the pieces: union-find over the edges, then nearest vertex pairs between components
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => { while (parent[x] !== x) { parent[x] = parent[parent[x]]; x = parent[x]; } return x; };
  for (let e = 0; e < E.length; e += 2) { const a = find(E[e]), c = find(E[e + 1]); if (a !== c) parent[a] = c; }
  const comp = new Map<number, number[]>();
  for (let i = 0; i < n; i++) { const r = find(i); const l = comp.get(r); if (l) l.push(i); else comp.set(r, [i]); }
  if (comp.size > 1) {
    // every other piece to its nearest vertex of the largest piece (one pass: O(n x largest))
    const [main, ...rest] = [...comp.values()].sort((x, y) => y.length - x.length || x[0] - y[0]);
    for (const other of rest) {
      let best = Infinity, bi = -1, bj = -1;
      for (const j of other) for (const i of main) {
        const d = (V[3 * i] - V[3 * j]) ** 2 + (V[3 * i + 1] - V[3 * j + 1]) ** 2 + (V[3 * i + 2] - V[3 * j + 2]) ** 2;
        if (d < best) { best = d; bi = i; bj = j; }
      }
      E.push(bi, bj);
    }
  }
  return { skel: { vertices: Float32Array.from(V), edges: Uint32Array.from(E), radius: Float32Array.from(R), sv: BigUint64Array.from(S) }, reused: true };
}

export interface DeriveDetail {
  fragments_computed: number;
  fragments: number;
  skeleton_reused: boolean;
  skeleton_vertices: number;
  mesh_ms: number;
  skeleton_ms: number;
}

/** Mesh, skeleton, cells row and partners of one current root of `state` made from `parents`. */
export async function deriveRoot(p: Proofread, state: GraphState, root: bigint, parents: bigint[] = []): Promise<DeriveDetail> {
  const members = state.members(root);
  const dir = headDir(p);
  const meshDir = path.join(dir, 'meshes');
  const skelDir = path.join(dir, 'skeletons');
  let t = performance.now();
  const mesh = await deriveMesh(p, members, meshDir);
  await writeJsonAtomic(path.join(meshDir, `${root}:0`), { fragments: mesh.fragments });
  const meshMs = performance.now() - t;
  t = performance.now();
  const { skel, reused } = await deriveSkeleton(p, members, parents, skelDir);
  const skelMs = performance.now() - t;
  await writeFileAtomic(path.join(skelDir, 'supervoxels', `${root}`), new Uint8Array(skel.sv.buffer, skel.sv.byteOffset, skel.sv.byteLength));
  await writeSkeleton(skelDir, root, skel);
  await writeFileAtomic(path.join(dir, 'cells', `${root}.json`), toJson(cellRows(state, new Set([root]))[0]) + '\n');
  if (p.synapses) await writeFileAtomic(path.join(dir, 'partners', `${root}.json`), toJson(synapsePartners(state, p.synapses, root)) + '\n');
  return { fragments_computed: mesh.computed, fragments: mesh.fragments.length, skeleton_reused: reused, skeleton_vertices: skel.sv.length, mesh_ms: +meshMs.toFixed(1), skeleton_ms: +skelMs.toFixed(1) };
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
  await writeLegacyInfo(path.join(dir, 'meshes'));
  await writeSkeletonInfo(path.join(dir, 'skeletons'));
  // in log order, so a root's parents are derived before it (their skeletons are reused)
  const list: bigint[] = [];
  const details: Array<{ id: string } & DeriveDetail> = [];
  let first = true;
  for (const r of state.records.slice(Math.min(done, head))) for (const c of r.created) {
    const id = BigInt(c.id);
    // a root already retired again is not derived (an operation that retired it falls back to TEASAR)
    if (!state.isCurrent(id)) continue;
    details.push({ id: c.id, ...(await deriveRoot(p, state, id, r.retired.map(BigInt))) });
    list.push(id);
    if (first) crash?.('mid-derive');
    first = false;
  }
  await writeJsonAtomic(marker, { op: head });
  return { from: done, to: head, roots: list.sort((a, b) => (a < b ? -1 : 1)).map(String), details };
}
