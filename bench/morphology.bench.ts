// Morphology benchmarks: marching cubes (all labels, one pass) vs scikit-image's marching_cubes
// per label (ref_mesh_skel.py), and skeletons vs skimage skeletonize_3d — same input, one run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import { readFileSync } from 'node:fs';
import { scoreSkeleton } from '../src/metrics/skeletons.js';
import { compactLabels, marchingCubesLabels, meshArea } from '../src/stages/morphology/mesh.js';
import { type Skeleton, skeletonizeLabels } from '../src/stages/morphology/skeleton.js';
import { type Tube, paintTubes, randomTubes } from '../src/stages/morphology/synthetic.js';

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
  return tubes(shape, count, seed).labels;
}

function tubes(shape: Vec3, count: number, seed = 3, radius: [number, number] = [2, 6]): { labels: Uint32Array; tubes: Tube[] } {
  const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
  const t = randomTubes(shape, count, { seed, radius });
  paintTubes(labels, shape, t);
  return { labels, tubes: t };
}

/** Skeleton voxels of a label volume (skimage output) as a vertex-only skeleton per label. */
function voxelsAsSkeletons(vol: Uint32Array, shape: Vec3, maxLabel: number): Skeleton[] {
  const pts: number[][] = Array.from({ length: maxLabel + 1 }, () => []);
  let i = 0;
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) if (vol[i]) pts[vol[i]].push(x + 0.5, y + 0.5, z + 0.5);
  return pts.map((p) => ({ vertices: Float32Array.from(p), edges: new Uint32Array(0), radius: new Float32Array(p.length / 3) }));
}

async function skeletonBench(tmp: string): Promise<Record<string, unknown>> {
  // same kind of input as the mesh benchmark, smaller because skeletonize_3d is slow
  const shape: Vec3 = [192, 192, 96];
  const { labels, tubes: truth } = tubes(shape, 80, 11);
  const file = path.join(tmp, 'tubes_skel_u32.raw');
  writeFileSync(file, labels);
  const prefix = path.join(tmp, 'ref');
  const r = ref([file, '--shape', `${shape[2]},${shape[1]},${shape[0]}`, '--dtype', 'uint32', '--labels', 'all', '--no-mesh', '--out-prefix', prefix]);
  const refVol = new Uint32Array(readFileSync(`${prefix}_skel_u32.raw`).buffer.slice(0));
  const t0 = performance.now();
  const ours = skeletonizeLabels(labels, shape, truth.length, { voxelSize: [1, 1, 1] });
  const oursS = (performance.now() - t0) / 1000;
  const refSk = voxelsAsSkeletons(refVol, shape, truth.length);
  // accuracy of both against the known centre lines (tubes overwrite each other where they
  // cross, so neither can reach 1)
  const tol = 3;
  const score = (sk: Skeleton[]) => {
    let p = 0, rc = 0, n = 0;
    for (const t of truth) {
      if (sk[t.label].vertices.length === 0) continue;
      const s = scoreSkeleton(sk[t.label], [{ points: t.points.map((q) => [q[0] + 0.5, q[1] + 0.5, q[2] + 0.5] as [number, number, number]) }], tol);
      p += s.precision;
      rc += s.recall;
      n++;
    }
    return { precision: +(p / n).toFixed(3), recall_vertices: +(rc / n).toFixed(3), labels: n };
  };
  const refS = r.skel_total_s as number;
  const rec = {
    input: `${shape.join('x')} (x,y,z) uint32, ${r.n_objects} tube labels`,
    ours_s: +oursS.toFixed(3),
    ref_s: refS,
    speedup: +(refS / oursS).toFixed(2),
    ours_vs_centre_lines: score(ours),
    ref_vs_centre_lines: score(refSk),
    tolerance_voxels: tol,
  };
  console.log('skeletons', rec);
  if (rec.ours_vs_centre_lines.precision < rec.ref_vs_centre_lines.precision - 0.1) throw new Error('our skeletons are much less precise than skeletonize_3d');
  return rec;
}

/** The large case: a cube with ~2,000 tube labels, skeletonized in blocks on `workers` threads. */
async function largeBench(side: number, count: number): Promise<Record<string, unknown>> {
  const shape: Vec3 = [side, side, side];
  const { labels } = tubes(shape, count, 17, [2, 5]);
  let fg = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) fg++;
  const t0 = performance.now();
  const sk = skeletonizeLabels(labels, shape, count, { voxelSize: [1, 1, 1] });
  const s = (performance.now() - t0) / 1000;
  let verts = 0;
  for (const k of sk) verts += k.radius.length;
  const rec = { input: `${side}^3, ${count} tube labels, ${(fg / labels.length * 100).toFixed(1)}% foreground`, single_thread_s: +s.toFixed(2), vertices: verts, mvox_per_s: +(labels.length / 1e6 / s).toFixed(2) };
  console.log('large skeletonization', rec);
  return rec;
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
    const skeleton = await skeletonBench(tmp);
    const side = Number(process.env.MORPH_BENCH_SIDE ?? 256);
    const large = await largeBench(side, Math.round(2000 * (side / 512) ** 3));
    return { mesh, skeleton, large };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
