/**
 * The starting roots' derived data, once, before proofreading (`wiring edit precompute`): every
 * start root's mesh fragments on the base's mesh cell grid (the same content-addressed names the
 * edit-time recompute uses, so every edit reuses them as its parents' fragments) and manifest
 * `<root>:0`, and, given the skeleton stage's output (`wiring skeletonize` of the starting
 * segmentation), each start root's skeleton with the supervoxel under every vertex
 * (`skeletons/supervoxels/<root>`), so an edit derives its skeleton from its parents' and never
 * runs TEASAR over a large cell.
 *
 * One pass over the supervoxel layer, slab by slab (one row of mesh cells in z, 33 sections):
 * each cell's groups are labelled and marched at once (marchingCubesLabels of all groups), each
 * skeleton vertex in the slab gets its supervoxel. A slab is done when `head/precompute/z<k>.json`
 * exists (its root -> fragment lists and vertex supervoxels; written after its fragments are on
 * disk), so a killed run resumes at the first slab without one; `head/precompute.json`, written
 * last, marks the whole as done. Files are written under a temporary name and renamed (never seen
 * half-written) and flushed once per slab (`sync -f`) rather than one fsync each.
 * It wires the proofread stage to the morphology stage, so it lives in the CLI layer.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../core/box.js';
import { flushFileSystem, writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { FormatError, UsageError } from '../core/errors.js';
import { openSource } from '../formats/open.js';
import { encodeLegacyFragment, writeLegacyInfo } from '../formats/mesh/precomputed.js';
import { encodeSkeleton, listSkeletons, readSkeleton, writeSkeletonInfo, type PrecomputedSkeleton } from '../formats/mesh/skeleton.js';
import { marchingCubesLabels } from '../stages/morphology/mesh.js';
import { PROOFREAD_DEFAULTS } from '../stages/proofread/base.js';
import { FRAGMENT_GROUPS, fragmentName, meshGrid } from '../stages/proofread/groups.js';
import type { Proofread } from '../stages/proofread/io.js';
import { headDir, startGrouperOf } from './proofread-derive.js';

export interface PrecomputeSummary {
  start_roots: number;
  /** manifests written (start roots with a non-empty surface) */
  meshes: number;
  fragments: number;
  /** fragments marched in this run (the rest were on disk: a resumed run, or shared with earlier derived data) */
  fragments_written: number;
  skeletons: number;
  skeleton_vertices: number;
  /** vertices whose voxel is not in their root and no neighbouring voxel is (kept with the voxel's supervoxel) */
  vertices_off_root: number;
  slabs: number;
  slabs_resumed: number;
  /** voxels of the supervoxel layer read (each slab once, plus its one-section overlap) */
  voxels_read: number;
  cpu_s: number;
  wall_s: number;
  mvox_per_cpu_s: number;
  skeleton_source: string | null;
}

/** Whole-or-absent writes, flushed once per slab by flushFileSystem instead of one fsync each. */
const writeRenamed = (file: string, data: Uint8Array | string): Promise<void> => writeFileAtomic(file, data, { fsync: false });

async function inBatches<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

// a precompute (or a slab of one) made under another fragment rule than FRAGMENT_GROUPS (groups.ts) is redone

interface SlabRecord {
  groups?: string;
  fragments: Record<string, string[]>;
  /** supervoxel (decimal) of each skeleton vertex in the slab, in skeleton-id then vertex order */
  vertex_supervoxels: string[];
  vertices_off_root: number;
  fragments_written: number;
}

/**
 * Mesh fragments and manifests of every start root, and (given `skeletons`, a precomputed skeleton
 * folder whose ids are the starting segmentation's) their skeletons with vertex supervoxels, under
 * head/. Resumes a killed run; a finished one is not redone unless `force`.
 */
export async function precomputeStart(p: Proofread, o: { skeletons?: string; force?: boolean; crash?: (point: string) => void; onSlab?: (done: number, total: number) => void } = {}): Promise<PrecomputeSummary> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const head = headDir(p);
  const work = path.join(head, 'precompute');
  const doneFile = path.join(head, 'precompute.json');
  const skelSource = o.skeletons ? path.resolve(o.skeletons) : null;
  if (o.force) await fs.rm(work, { recursive: true, force: true });
  else if (existsSync(doneFile)) {
    const done = JSON.parse(await fs.readFile(doneFile, 'utf8'));
    if (done.base_sha256 === p.meta.sha256 && done.skeleton_source === skelSource && done.groups === FRAGMENT_GROUPS) return done.summary as PrecomputeSummary;
    await fs.rm(work, { recursive: true, force: true });
  }
  if (skelSource && !existsSync(path.join(skelSource, 'info'))) throw new UsageError(`${skelSource}: not a precomputed skeleton folder (no info file); run wiring skeletonize on the starting segmentation`, skelSource);
  const meshDir = path.join(head, 'meshes');
  const skelDir = path.join(head, 'skeletons');
  await fs.mkdir(work, { recursive: true });
  await fs.mkdir(path.join(skelDir, 'supervoxels'), { recursive: true });
  if (!existsSync(path.join(meshDir, 'info'))) await writeLegacyInfo(meshDir);
  if (!existsSync(path.join(skelDir, 'info'))) await writeSkeletonInfo(skelDir);

  const b = p.base, F = PROOFREAD_DEFAULTS.meshCell;
  const nc = meshGrid(b, F);
  // start roots' supervoxels, then their groups by mesh cell
  const members = new Map<bigint, number[]>();
  for (let l = 1; l < b.ids.length; l++) {
    if (b.anchors[l] < 0) continue;
    const r = b.startRoots[l];
    const m = members.get(r);
    if (m) m.push(l);
    else members.set(r, [l]);
  }
  // the start roots' groups under the starting state's joined edges (the head may have edits already)
  const grouper = startGrouperOf(p.state);
  const byCell = new Map<number, Array<{ root: bigint; members: number[] }>>();
  for (const [root, ls] of members) {
    for (const g of grouper.groups(ls)) {
      const list = byCell.get(g.cell);
      const item = { root, members: g.members };
      if (list) list.push(item);
      else byCell.set(g.cell, [item]);
    }
  }

  // skeletons of the start roots and where their vertices are (slab by slab)
  const skels: Array<{ id: bigint; s: PrecomputedSkeleton; sv: BigUint64Array }> = [];
  if (skelSource) {
    for (const id of await listSkeletons(skelSource)) {
      if (!members.has(id)) continue;
      const s = await readSkeleton(skelSource, id);
      skels.push({ id, s, sv: new BigUint64Array(s.vertices.length / 3) });
    }
  }
  const bySlab: Array<Array<[number, number]>> = Array.from({ length: nc[2] }, () => []);
  for (let si = 0; si < skels.length; si++) {
    const v = skels[si].s.vertices;
    for (let i = 0; i < v.length / 3; i++) {
      const z = Math.floor(v[3 * i + 2] / b.voxelSize[2]) - b.offset[2];
      bySlab[Math.min(nc[2] - 1, Math.max(0, Math.floor(z / F)))].push([si, i]);
    }
  }

  const src = await openSource(p.meta.inputs.supervoxels);
  const rootFragments = new Map<bigint, string[]>();
  const summary: PrecomputeSummary = { start_roots: members.size, meshes: 0, fragments: 0, fragments_written: 0, skeletons: skels.length, skeleton_vertices: 0, vertices_off_root: 0, slabs: nc[2], slabs_resumed: 0, voxels_read: 0, cpu_s: 0, wall_s: 0, mvox_per_cpu_s: 0, skeleton_source: skelSource };
  try {
    for (let cz = 0; cz < nc[2]; cz++) {
      const slabFile = path.join(work, `z${cz}.json`);
      let rec: SlabRecord;
      let old: SlabRecord | undefined;
      if (existsSync(slabFile)) {
        try {
          old = JSON.parse(await fs.readFile(slabFile, 'utf8'));
        } catch (err) {
          throw new FormatError(`not JSON: ${(err as Error).message} (delete it to redo the slab)`, slabFile);
        }
      }
      if (old && old.groups === FRAGMENT_GROUPS) {
        rec = old;
        if (rec.vertex_supervoxels.length !== bySlab[cz].length) throw new FormatError(`${rec.vertex_supervoxels.length} vertex supervoxels, the skeletons have ${bySlab[cz].length} vertices in slab ${cz} (rerun with --force)`, slabFile);
        summary.slabs_resumed++;
      } else {
        rec = await precomputeSlab(p, src, cz, nc, byCell, skels, bySlab[cz], meshDir);
        summary.voxels_read += b.shape[0] * b.shape[1] * (Math.min(F * (cz + 1) + 1, b.shape[2]) - F * cz);
        await flushFileSystem(meshDir);
        await writeJsonAtomic(slabFile, rec);
        if (cz === 0) o.crash?.('mid-precompute');
      }
      for (const [root, names] of Object.entries(rec.fragments)) {
        const list = rootFragments.get(BigInt(root));
        if (list) list.push(...names);
        else rootFragments.set(BigInt(root), [...names]);
      }
      bySlab[cz].forEach(([si, i], k) => (skels[si].sv[i] = BigInt(rec.vertex_supervoxels[k])));
      summary.vertices_off_root += rec.vertices_off_root;
      summary.fragments_written += rec.fragments_written;
      o.onSlab?.(cz + 1, nc[2]);
    }
  } finally {
    await src.close();
  }
  // manifests and skeletons (the same bytes on a rerun), flushed, then the marker
  const manifests = [...rootFragments].map(([root, names]) => ({ root, names: names.sort() }));
  await inBatches(manifests, 64, ({ root, names }) => writeRenamed(path.join(meshDir, `${root}:0`), JSON.stringify({ fragments: names }, null, 2) + '\n'));
  summary.meshes = manifests.length;
  summary.fragments = manifests.reduce((s, m) => s + m.names.length, 0);
  await inBatches(skels, 64, async ({ id, s, sv }) => {
    await writeRenamed(path.join(skelDir, 'supervoxels', `${id}`), new Uint8Array(sv.buffer, sv.byteOffset, sv.byteLength));
    await writeRenamed(path.join(skelDir, `${id}`), encodeSkeleton(s));
  });
  summary.skeleton_vertices = skels.reduce((s, k) => s + k.sv.length, 0);
  await flushFileSystem(head);
  const cpu = process.cpuUsage(cpu0);
  summary.cpu_s = +((cpu.user + cpu.system) / 1e6).toFixed(2);
  summary.wall_s = +((performance.now() - t0) / 1000).toFixed(2);
  summary.mvox_per_cpu_s = summary.cpu_s > 0 ? +(summary.voxels_read / 1e6 / summary.cpu_s).toFixed(2) : 0;
  await writeJsonAtomic(doneFile, { base_sha256: p.meta.sha256, skeleton_source: skelSource, groups: FRAGMENT_GROUPS, finished_at: new Date().toISOString(), summary });
  return summary;
}

/** One slab of mesh cells (z row cz): its cells' groups marched at once, its skeleton vertices' supervoxels. */
async function precomputeSlab(
  p: Proofread, src: Awaited<ReturnType<typeof openSource>>, cz: number, nc: readonly number[],
  byCell: Map<number, Array<{ root: bigint; members: number[] }>>,
  skels: Array<{ id: bigint; s: PrecomputedSkeleton }>, vertices: Array<[number, number]>, meshDir: string,
): Promise<SlabRecord> {
  const b = p.base, F = PROOFREAD_DEFAULTS.meshCell;
  const [sx, sy] = [b.shape[0], b.shape[1]];
  const z0 = F * cz, z1 = Math.min(F * (cz + 1) + 1, b.shape[2]);
  const sz = z1 - z0;
  const o = b.offset;
  const data = (await src.read({ min: [o[0], o[1], o[2] + z0], max: [o[0] + sx, o[1] + sy, o[2] + z1] })).data as ArrayLike<number | bigint>;
  const big = typeof data[0] === 'bigint';
  const rec: SlabRecord = { groups: FRAGMENT_GROUPS, fragments: {}, vertex_supervoxels: [], vertices_off_root: 0, fragments_written: 0 };
  const writes: Array<[string, Uint8Array]> = [];
  for (let cy = 0; cy < nc[1]; cy++) for (let cx = 0; cx < nc[0]; cx++) {
    const cell = cx + nc[0] * (cy + nc[1] * cz);
    const groups = byCell.get(cell);
    if (!groups) continue;
    const lab = new Map<number | bigint, number>();
    groups.forEach((g, gi) => { for (const l of g.members) lab.set(big ? b.ids[l] : Number(b.ids[l]), gi + 1); });
    const x0 = F * cx, x1 = Math.min(F * (cx + 1) + 1, sx), y0 = F * cy, y1 = Math.min(F * (cy + 1) + 1, sy);
    const shape: Vec3 = [x1 - x0, y1 - y0, sz];
    const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
    let last: number | bigint | undefined, cur = 0, j = 0;
    for (let z = 0; z < sz; z++) for (let y = y0; y < y1; y++) {
      const row = x0 + sx * (y + sy * z);
      for (let x = 0; x < shape[0]; x++, j++) {
        const v = data[row + x];
        if (v !== last) { last = v; cur = lab.get(v) ?? 0; }
        labels[j] = cur;
      }
    }
    const min: Vec3 = [o[0] + x0, o[1] + y0, o[2] + z0];
    const border = [x0 === 0, x1 === sx, y0 === 0, y1 === sy, z0 === 0, z1 === b.shape[2]];
    const meshes = marchingCubesLabels(labels, shape, groups.length, { voxelSize: b.voxelSize, offset: min, closeBorder: border });
    groups.forEach((g, gi) => {
      const name = fragmentName(b, cell, nc, g.members);
      const mesh = meshes[gi + 1];
      if (mesh.indices.length > 0) (rec.fragments[`${g.root}`] ??= []).push(name);
      const file = path.join(meshDir, name);
      // content-addressed: a fragment on disk (an earlier run, or an edit's recompute) is the same bytes
      if (!existsSync(file)) writes.push([file, encodeLegacyFragment(mesh)]);
    });
  }
  rec.fragments_written = writes.length;
  await inBatches(writes, 64, ([file, bytes]) => writeRenamed(file, bytes));
  // skeleton vertices: the supervoxel under each (voxel centres), moved to a neighbouring voxel of
  // the vertex's own root when the voxel is another root's (a stitched vertex on a boundary)
  const at = (x: number, y: number, z: number): bigint | undefined => (x < 0 || y < 0 || z < 0 || x >= sx || y >= sy || z >= sz ? undefined : BigInt(data[x + sx * (y + sy * z)]));
  const rootOf = (sv: bigint | undefined): bigint | undefined => {
    const l = sv === undefined ? undefined : p.state.index.get(sv);
    return l === undefined ? undefined : b.startRoots[l];
  };
  for (const [si, i] of vertices) {
    const { id, s } = skels[si];
    const v = [0, 1, 2].map((a) => Math.floor(s.vertices[3 * i + a] / b.voxelSize[a]) - o[a]);
    v[0] = Math.min(sx - 1, Math.max(0, v[0]));
    v[1] = Math.min(sy - 1, Math.max(0, v[1]));
    v[2] = Math.min(sz - 1, Math.max(0, v[2] - z0));
    let sv = at(v[0], v[1], v[2]) ?? 0n;
    if (rootOf(sv) !== id) {
      let found: bigint | undefined;
      for (let dz = -1; dz <= 1 && found === undefined; dz++) for (let dy = -1; dy <= 1 && found === undefined; dy++) for (let dx = -1; dx <= 1 && found === undefined; dx++) {
        const w = at(v[0] + dx, v[1] + dy, v[2] + dz);
        if (rootOf(w) === id) found = w;
      }
      if (found !== undefined) sv = found;
      else rec.vertices_off_root++;
    }
    rec.vertex_supervoxels.push(sv.toString());
  }
  return rec;
}
