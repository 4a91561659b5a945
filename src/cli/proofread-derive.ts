/**
 * Derived data of the proofread head, recomputed for touched cells only: after an edit, the new
 * roots' mesh (legacy Neuroglancer mesh), skeleton (precomputed, radius), cells row and synapse
 * partners are written under <dataset>/proofread/head/ ({meshes,skeletons,cells,partners}/), one
 * file per root, each atomic; `head/derived.json` {op} says up to which operation they are done
 * and is written last, so a crash leaves it behind the log and `syncDerived` (wiring edit repair,
 * or the next edit) recomputes the roots of the operations after it. Files of other roots are
 * never touched, retired roots' files are kept (they belong to earlier versions).
 * It wires the proofread stage to the morphology stage's pure functions, so it lives in the CLI
 * layer (a stage never imports another stage).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../core/box.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { toJson } from '../core/ids.js';
import { openSource } from '../formats/open.js';
import { writeLegacyInfo, writeLegacyMesh } from '../formats/mesh/precomputed.js';
import { writeSkeleton, writeSkeletonInfo } from '../formats/mesh/skeleton.js';
import { marchingCubesLabels } from '../stages/morphology/mesh.js';
import { skeletonizeLabels } from '../stages/morphology/skeleton.js';
import type { Proofread } from '../stages/proofread/io.js';
import type { GraphState } from '../stages/proofread/state.js';
import { cellRows, synapsePartners } from '../stages/proofread/versions.js';

export function headDir(p: Proofread): string {
  return path.join(p.dir, 'head');
}

/** Mesh, skeleton, cells row and partners of one current root of `state`. */
export async function deriveRoot(p: Proofread, state: GraphState, root: bigint): Promise<{ vertices: number; skeleton_vertices: number }> {
  const b = p.base;
  const members = state.members(root);
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (const l of members) for (let a = 0; a < 3; a++) {
    lo[a] = Math.min(lo[a], b.bbox[6 * l + a]);
    hi[a] = Math.max(hi[a], b.bbox[6 * l + 3 + a]);
  }
  const min = lo.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const max = hi.map((v, a) => b.offset[a] + v) as unknown as Vec3;
  const shape: Vec3 = [max[0] - min[0], max[1] - min[1], max[2] - min[2]];
  const src = await openSource(p.meta.inputs.supervoxels);
  let data: ArrayLike<number | bigint>;
  try {
    data = (await src.read({ min, max })).data as ArrayLike<number | bigint>;
  } finally {
    await src.close();
  }
  const mine = new Set(members.map((l) => b.ids[l]));
  const mask = new Uint32Array(data.length);
  let last: number | bigint | undefined, inside = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== last) { last = v; inside = mine.has(BigInt(v)) ? 1 : 0; }
    mask[i] = inside;
  }
  const dir = headDir(p);
  const mesh = marchingCubesLabels(mask, shape, 1, { voxelSize: b.voxelSize, offset: min, closeBorder: true })[1];
  const skel = skeletonizeLabels(mask, shape, 1, { voxelSize: b.voxelSize, offset: min })[1];
  await writeLegacyMesh(path.join(dir, 'meshes'), root, mesh);
  await writeSkeleton(path.join(dir, 'skeletons'), root, skel);
  await writeFileAtomic(path.join(dir, 'cells', `${root}.json`), toJson(cellRows(state, new Set([root]))[0]) + '\n');
  if (p.synapses) await writeFileAtomic(path.join(dir, 'partners', `${root}.json`), toJson(synapsePartners(state, p.synapses, root)) + '\n');
  return { vertices: mesh.vertices.length / 3, skeleton_vertices: skel.vertices.length / 3 };
}

/** Bring head/ up to the log: derive the current roots made by operations after head/derived.json's op. */
export async function syncDerived(p: Proofread, crash?: (point: string) => void): Promise<{ from: number; to: number; roots: string[] }> {
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
  if (done >= head) return { from: head, to: head, roots: [] };
  await writeLegacyInfo(path.join(dir, 'meshes'));
  await writeSkeletonInfo(path.join(dir, 'skeletons'));
  const roots = new Set<bigint>();
  for (const r of state.records.slice(Math.min(done, head))) for (const c of r.created) if (state.isCurrent(BigInt(c.id))) roots.add(BigInt(c.id));
  const list = [...roots].sort((a, b) => (a < b ? -1 : 1));
  for (let i = 0; i < list.length; i++) {
    await deriveRoot(p, state, list[i]);
    if (i === 0) crash?.('mid-derive');
  }
  await writeJsonAtomic(marker, { op: head });
  return { from: done, to: head, roots: list.map(String) };
}
