// Morphology benchmarks: marching cubes (all labels, one pass) vs scikit-image's marching_cubes
// per label (ref_mesh_skel.py), and skeletons vs skimage skeletonize_3d — same input, one run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import { compactLabels, marchingCubesLabels, meshArea } from '../src/stages/morphology/mesh.js';
import { paintTubes, randomTubes } from '../src/stages/morphology/synthetic.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REFS = process.env.WIRING_REFS ?? path.resolve(here, '../../shared/refs');

function ref(args: string[]): Record<string, unknown> {
  const out = execFileSync('/usr/bin/python3', [path.join(REFS, 'ref_mesh_skel.py'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as Record<string, unknown>;
}

export function tubeVolume(shape: Vec3, count: number, seed = 3): Uint32Array {
  const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
  paintTubes(labels, shape, randomTubes(shape, count, { seed, radius: [2, 6] }));
  return labels;
}

async function meshBench(tmp: string): Promise<Record<string, unknown>> {
  const shape: Vec3 = [256, 256, 128];
  const labels = tubeVolume(shape, 200);
  const file = path.join(tmp, 'tubes_u32.raw');
  writeFileSync(file, labels);
  const r = ref([file, '--shape', `${shape[2]},${shape[1]},${shape[0]}`, '--dtype', 'uint32', '--labels', 'all', '--no-skel']);
  let best = Infinity;
  let meshes: ReturnType<typeof marchingCubesLabels> = [];
  let ids: bigint[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const c = compactLabels(labels);
    meshes = marchingCubesLabels(c.labels, shape, c.ids.length - 1, { closeBorder: true });
    ids = c.ids;
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  // agreement on the objects the reference reports (largest first, up to 30)
  const objs = r.objects as Array<{ label: number; n_faces: number; area: number }>;
  let worstArea = 0;
  let worstFaces = 0;
  for (const o of objs) {
    const l = ids.indexOf(BigInt(o.label));
    const m = meshes[l];
    worstArea = Math.max(worstArea, Math.abs(meshArea(m) / o.area - 1));
    worstFaces = Math.max(worstFaces, Math.abs(m.indices.length / 3 / o.n_faces - 1));
  }
  const vox = shape[0] * shape[1] * shape[2];
  const refS = r.mesh_total_s as number;
  const rec = {
    input: `${shape.join('x')} (x,y,z) uint32, ${r.n_objects} tube labels, 1 nm voxels`,
    ours_s: +best.toFixed(3),
    ours_mvox_per_s_volume: +(vox / 1e6 / best).toFixed(2),
    ours_mvox_per_s_bbox_equiv: +((r.bbox_voxels as number) / 1e6 / best).toFixed(2),
    ref_s: refS,
    ref_mvox_per_s_bbox: r.mesh_mvox_per_s_bbox,
    speedup: +(refS / best).toFixed(2),
    worst_area_rel_diff: +worstArea.toFixed(4),
    worst_face_count_rel_diff: +worstFaces.toFixed(4),
  };
  console.log('marching cubes', rec);
  if (worstArea > 0.02) throw new Error(`mesh areas disagree with scikit-image by ${worstArea}`);
  return rec;
}

export default async function main(): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-bench-morph-'));
  try {
    const mesh = await meshBench(tmp);
    return { mesh };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
