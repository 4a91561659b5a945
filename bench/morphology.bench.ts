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

/** User + system CPU seconds (system time counts: fresh large arrays cost page faults). */
function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

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
  let oursS = Infinity;
  let oursCpu = Infinity;
  let ours: Skeleton[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    ours = skeletonizeLabels(labels, shape, truth.length, { voxelSize: [1, 1, 1] });
    oursS = Math.min(oursS, (performance.now() - t0) / 1000);
    oursCpu = Math.min(oursCpu, cpuSeconds(process.cpuUsage(c0)));
  }
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
  const refCpu = r.skel_total_cpu_s as number;
  const rec = {
    input: `${shape.join('x')} (x,y,z) uint32, ${r.n_objects} tube labels`,
    ours_s: +oursS.toFixed(3),
    ours_cpu_s: +oursCpu.toFixed(3),
    ref_s: refS,
    ref_cpu_s: refCpu,
    speedup_wall: +(refS / oursS).toFixed(2),
    speedup_cpu: +(refCpu / oursCpu).toFixed(2),
    ours_vs_centre_lines: score(ours),
    ref_vs_centre_lines: score(refSk),
    tolerance_voxels: tol,
  };
  console.log('skeletons', rec);
  if (rec.ours_vs_centre_lines.precision < rec.ref_vs_centre_lines.precision - 0.1) throw new Error('our skeletons are much less precise than skeletonize_3d');
  return rec;
}

/**
 * The large case: a dense segmentation (every voxel labelled, like a connectomics block) with
 * cells of ~40^3 voxels (~2,000 labels in 512^3), wavy boundaries. Measured at `side`^3 in
 * 128^3 blocks (as `wiring skeletonize` runs it), CPU seconds of this thread; the 512^3 figure
 * is extrapolated by voxel count and divided by 2 for two cores (blocks are independent).
 */
async function largeBench(side: number): Promise<Record<string, unknown>> {
  const n = side;
  const C = 40;
  const lab = new Uint32Array(n * n * n);
  const g = Math.ceil(n / C) + 2;
  const f = (v: number, a: number, b: number) => Math.floor((v + 6 * Math.sin(a * 0.07) + 6 * Math.cos(b * 0.05)) / C);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) lab[x + n * (y + n * z)] = 1 + (f(x, y, z) + 1) + g * (f(y, z, x) + 1 + g * (f(z, x, y) + 1));
  const ids = new BigUint64Array(lab.length);
  for (let i = 0; i < lab.length; i++) ids[i] = BigInt(lab[i]);
  const { Volume } = await import('../src/core/volume.js');
  const { skeletonBlock } = await import('../src/stages/morphology/blocks.js');
  const vol = new Volume('uint64', { min: [0, 0, 0], max: [n, n, n] }, ids);
  const bounds = vol.box;
  const B = 128;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let pieces = 0;
  const labels = new Set<bigint>();
  for (let z = 0; z < n; z += B)
    for (let y = 0; y < n; y += B)
      for (let x = 0; x < n; x += B) {
        const box = { min: [x, y, z] as Vec3, max: [Math.min(n, x + B), Math.min(n, y + B), Math.min(n, z + B)] as Vec3 };
        for (const it of skeletonBlock(vol, box, { voxelSize: [1, 1, 1], bounds })) {
          pieces++;
          labels.add(it.id);
        }
      }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const per512 = (512 ** 3 / n ** 3) * cpu;
  const rec = {
    input: `${n}^3 dense labels (${labels.size} labels, cells ~${C}^3), blocks ${B}^3`,
    wall_s: +wall.toFixed(2),
    cpu_s: +cpu.toFixed(2),
    mvox_per_cpu_s: +(n ** 3 / 1e6 / cpu).toFixed(2),
    block_pieces: pieces,
    extrapolated_512_single_thread_s: +per512.toFixed(0),
    extrapolated_512_two_cores_s: +(per512 / 2).toFixed(0),
    kimimaro_512_single_thread_s: '94-187 (issue 8)',
  };
  console.log('large skeletonization', rec);
  return rec;
}

/**
 * The 512^3 case through the real command path: a precomputed uint32 segmentation layer of
 * `side`^3 voxels (8 nm) with ~2,000 tube labels (random neurite-like walks, radius 2-8 voxels,
 * later tubes overwrite earlier ones, ~30 % of the voxels labelled), skeletonized by
 * `wiring skeletonize <layer> --workers N --json` in this process (worker threads). Reports wall
 * and process CPU seconds (all threads), the load average, and precision/recall of the skeleton
 * vertices against the known centre lines. The layer is cached in the OS temp folder.
 */
async function cliBench(side: number, workers: number, count = 2000): Promise<Record<string, unknown>> {
  const n = side;
  const shape: Vec3 = [n, n, n];
  const res: Vec3 = [8, 8, 8];
  const root = path.join(os.tmpdir(), `wiring-bench-morph-cli-${n}-${count}`);
  const layerDir = path.join(root, 'tubes');
  const truth = randomTubes(shape, count, { seed: 5, radius: [2, 8] });
  const { PrecomputedLayer, makeInfo } = await import('../src/formats/precomputed/index.js');
  const { Volume } = await import('../src/core/volume.js');
  const { existsSync } = await import('node:fs');
  let present = 0;
  const lab = new Uint32Array(n * n * n);
  paintTubes(lab, shape, truth);
  const seen = new Uint8Array(count + 1);
  for (let i = 0; i < lab.length; i++) seen[lab[i]] = 1;
  for (let l = 1; l <= count; l++) present += seen[l];
  if (!existsSync(path.join(layerDir, 'done'))) {
    rmSync(root, { recursive: true, force: true });
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint32', shape, voxelSize: res, chunkSize: [64, 64, 64] }));
    await layer.writeBox(new Volume('uint32', { min: [0, 0, 0], max: shape }, lab, 1, res));
    writeFileSync(path.join(layerDir, 'done'), '');
  }
  // a fresh run: no resumable scheduler state, no old block files
  rmSync(path.join(layerDir, '.wiring-run'), { recursive: true, force: true });
  rmSync(path.join(layerDir, '.wiring-morphology'), { recursive: true, force: true });
  const { Command } = await import('commander');
  const { register } = await import('../src/cli/commands/skeletonize.js');
  const program = new Command('wiring').exitOverride();
  register(program).exitOverride();
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  const load0 = os.loadavg();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  (process.stdout as unknown as { write: (s: string) => boolean }).write = (s: string) => ((out += s), true);
  try {
    await program.parseAsync(['node', 'wiring', 'skeletonize', layerDir, '--workers', String(workers), '--json']);
  } finally {
    (process.stdout as unknown as { write: typeof write }).write = write;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  const load1 = os.loadavg();
  console.log(`skeletonize: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU, load ${load0.map((v) => v.toFixed(2))} -> ${load1.map((v) => v.toFixed(2))}`);
  const summary = JSON.parse(out) as { segments: number; vertices: number };
  // accuracy against the centre lines (nm), every label that has a skeleton
  const { readSkeleton } = await import('../src/formats/mesh/skeleton.js');
  const tol = 3 * res[0];
  let p = 0, rc = 0, k = 0;
  for (const t of truth) {
    if (!seen[t.label]) continue;
    const sk = await readSkeleton(path.join(layerDir, 'skeletons'), BigInt(t.label));
    if (sk.vertices.length === 0) continue;
    const s = scoreSkeleton(sk, [{ points: t.points.map((q) => [(q[0] + 0.5) * res[0], (q[1] + 0.5) * res[1], (q[2] + 0.5) * res[2]] as [number, number, number]) }], tol);
    p += s.precision;
    rc += s.recall;
    k++;
  }
  const rec = {
    input: `${n}^3 uint32 precomputed layer, ${present} tube labels (radius 2-8 voxels), ${(lab.reduce((a, v) => a + (v ? 1 : 0), 0) / lab.length * 100).toFixed(0)} % labelled, 8 nm voxels`,
    command: `wiring skeletonize <layer> --workers ${workers} --json`,
    wall_s: +wall.toFixed(1),
    cpu_s: +cpu.toFixed(1),
    load_avg_before: load0.map((v) => +v.toFixed(2)),
    load_avg_after: load1.map((v) => +v.toFixed(2)),
    segments: summary.segments,
    vertices: summary.vertices,
    vs_centre_lines: { precision: +(p / k).toFixed(3), recall: +(rc / k).toFixed(3), labels: k, tolerance_nm: tol },
    kimimaro_512_single_thread_s: '94-187 (issue 8)',
  };
  console.log('skeletonize, command path', rec);
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
  let bestCpu = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const c = compactLabels(labels);
    meshes = marchingCubesLabels(c.labels, shape, c.ids.length - 1, { closeBorder: true });
    ids = c.ids;
    best = Math.min(best, (performance.now() - t0) / 1000);
    bestCpu = Math.min(bestCpu, cpuSeconds(process.cpuUsage(c0)));
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
    ours_cpu_s: +bestCpu.toFixed(3),
    ref_s: refS,
    ref_cpu_s: r.mesh_total_cpu_s,
    ref_mvox_per_s_bbox: r.mesh_mvox_per_s_bbox,
    ref_mvox_per_cpu_s_bbox: r.mesh_mvox_per_cpu_s_bbox,
    ours_mvox_per_cpu_s_bbox_equiv: +((r.bbox_voxels as number) / 1e6 / bestCpu).toFixed(2),
    speedup_wall: +(refS / best).toFixed(2),
    speedup_cpu: +((r.mesh_total_cpu_s as number) / bestCpu).toFixed(2),
    worst_area_rel_diff: +worstArea.toFixed(4),
    worst_face_count_rel_diff: +worstFaces.toFixed(4),
  };
  console.log('marching cubes', rec);
  if (worstArea > 0.02) throw new Error(`mesh areas disagree with scikit-image by ${worstArea}`);
  return rec;
}

/** Dense real labels: the FIB-25 64^3 ground-truth block (52 segments), tiled 2x2x2 with distinct ids. */
async function denseMeshBench(tmp: string): Promise<Record<string, unknown> | undefined> {
  const src = path.resolve(here, '../../shared/data/neuroglancer-testdata/codec/compressed_segmentation/64x64x64-raw-uint64-segmentation.dat');
  let bytes: Buffer;
  try {
    bytes = readFileSync(src);
  } catch {
    console.log(`[skip] dense mesh case: ${src} not found`);
    return undefined;
  }
  const block = compactLabels(new BigUint64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  const nb = block.ids.length - 1;
  const shape: Vec3 = [128, 128, 128];
  const labels = new Uint32Array(128 ** 3);
  for (let z = 0; z < 128; z++)
    for (let y = 0; y < 128; y++)
      for (let x = 0; x < 128; x++) {
        const tile = (x >> 6) + 2 * ((y >> 6) + 2 * (z >> 6));
        const l = block.labels[(x & 63) + 64 * ((y & 63) + 64 * (z & 63))];
        labels[x + 128 * (y + 128 * z)] = l ? l + nb * tile : 0;
      }
  const file = path.join(tmp, 'fib25_u32.raw');
  writeFileSync(file, labels);
  const r = ref([file, '--shape', '128,128,128', '--dtype', 'uint32', '--labels', 'all', '--no-skel']);
  let bestCpu = Infinity;
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const c = compactLabels(labels);
    marchingCubesLabels(c.labels, shape, c.ids.length - 1, { closeBorder: true });
    best = Math.min(best, (performance.now() - t0) / 1000);
    bestCpu = Math.min(bestCpu, cpuSeconds(process.cpuUsage(c0)));
  }
  const rec = {
    input: `FIB-25 64^3 block tiled 2x2x2 (128^3, ${r.n_objects} dense segments)`,
    ours_s: +best.toFixed(3),
    ours_cpu_s: +bestCpu.toFixed(3),
    ref_s: r.mesh_total_s,
    ref_cpu_s: r.mesh_total_cpu_s,
    ref_mvox_per_cpu_s_bbox: r.mesh_mvox_per_cpu_s_bbox,
    ours_mvox_per_cpu_s_bbox_equiv: +((r.bbox_voxels as number) / 1e6 / bestCpu).toFixed(2),
    speedup_cpu: +((r.mesh_total_cpu_s as number) / bestCpu).toFixed(2),
  };
  console.log('marching cubes, dense', rec);
  return rec;
}

export default async function main(): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-bench-morph-'));
  try {
    const cliSide = Number(process.env.MORPH_BENCH_CLI_SIDE ?? 512);
    if (process.env.MORPH_BENCH_ONLY === 'cli') return { cli: await cliBench(cliSide, Number(process.env.MORPH_BENCH_WORKERS ?? 2)) };
    const mesh = await meshBench(tmp);
    const meshDense = await denseMeshBench(tmp);
    const skeleton = await skeletonBench(tmp);
    const side = Number(process.env.MORPH_BENCH_SIDE ?? 256);
    const large = side > 0 ? await largeBench(side) : undefined;
    const cli = cliSide > 0 ? await cliBench(cliSide, Number(process.env.MORPH_BENCH_WORKERS ?? 2)) : undefined;
    return { mesh, meshDense, skeleton, large, cli };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
