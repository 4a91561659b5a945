// Where the mesh stage's time goes: one thread, CPU seconds per phase of `wiring mesh` on a phantom's
// neuron segmentation (MESH_STAGE_SIZE, default 192,192,48 at 8x8x30 nm, seed 7) and on a real
// segmentation (gala-medulla train-gt.h5, 50x100x200 at 10 nm, when ../shared/data has it), the
// whole volume as one block: marching cubes (meshBlock), merge, volume, the multi-resolution octree
// (cut to the fragment grid, lod-0 simplification within half a voxel, meshoptimizer simplification
// of lods 1-2), the closed check on lod 0 as written (holeEdges) and the encoding (quantize + weld +
// Draco). The same calls finishMeshes makes (src/stages/morphology/tasks.ts). Each volume runs at
// the default lod-0 error (MESH_DEFAULTS.lod0ErrorVoxels; 10-bit positions for these cells,
// multiresQuantizationBits) from the plain marching-cubes mesh and from the one with flat z-quads
// merged (marchingCubesLabels' mergeFlat), interleaved, twice (the second pair is reported: the
// first pays the JIT's warm-up), with lod-0 triangles, volume error of lod 0 against the
// marching-cubes mesh and closedness side by side; lod 0 is also decoded (untimed) and checked for
// holes. MESH_STAGE_EXACT=1 adds lod 0 exact (lod0ErrorVoxels 0, openEdges, 16-bit positions: the
// stage before lod-0 simplification).
// Reference in the same run: scikit-image's marching_cubes per label (../shared/refs/ref_mesh_skel.py,
// the label's bounding box padded by one voxel) on the same volume, its CPU seconds beside our
// marching-cubes phase and our whole stage, areas of the 30 largest segments checked to agree.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Vec3, boxFromShape, parseVec3 } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { decodeMultiresLod, encodeMultiresOctree } from '../src/formats/mesh/precomputed.js';
import { openSource } from '../src/formats/open.js';
import { PrecomputedLayer } from '../src/formats/precomputed/index.js';
import { lod0CellVoxels, meshBlock } from '../src/stages/morphology/blocks.js';
import { compactLabels, holeEdges, holeEdgesIndexed, meshArea, mergeMeshes, meshVolume, openEdges, weldVertices } from '../src/stages/morphology/mesh.js';
import { buildMeshOctree, lodIndices } from '../src/stages/morphology/octree.js';
import { MESH_DEFAULTS, multiresQuantizationBits } from '../src/stages/morphology/tasks.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const REFS = process.env.WIRING_REFS ?? path.resolve(here, '../../shared/refs');

/**
 * scikit-image marching cubes of every label of `vol` (ref_mesh_skel.py), CPU seconds, and the
 * largest |area ratio - 1| of its 30 largest objects against ours (meshArea of `ours` by id).
 */
function skimageReference(vol: Volume, res: Vec3, ours: Map<bigint, number>): Record<string, unknown> {
  const py = path.join(REFS, 'ref_mesh_skel.py');
  if (!existsSync(py)) return { skipped: `${py} not found` };
  const { labels, ids } = compactLabels(vol.data as ArrayLike<number | bigint> & { length: number });
  const tmp = mkdtempSync(path.join(tmpdir(), 'wiring-mesh-ref-'));
  try {
    const file = path.join(tmp, 'labels_u32.raw');
    writeFileSync(file, labels);
    const [sx, sy, sz] = [vol.box.max[0] - vol.box.min[0], vol.box.max[1] - vol.box.min[1], vol.box.max[2] - vol.box.min[2]];
    const out = execFileSync('/usr/bin/python3', [py, file, '--shape', `${sz},${sy},${sx}`, '--dtype', 'uint32', '--labels', 'all', '--no-skel', '--spacing', `${res[2]},${res[1]},${res[0]}`], {
      encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(out) as { mesh_total_cpu_s: number; n_objects: number; objects: Array<{ label: number; n_faces: number; area: number }> };
    let worst = 0;
    for (const o of r.objects) worst = Math.max(worst, Math.abs((ours.get(ids[o.label]) ?? 0) / o.area - 1));
    return { tool: 'skimage.measure.marching_cubes per label (lewiner)', objects: r.n_objects, cpu_s: r.mesh_total_cpu_s, area_vs_ours_max_abs_rel_diff_30_largest: +worst.toExponential(2) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * One run of the stage over `vol` (whole volume one block) with lod 0 simplified within `e0Voxels`,
 * flat z-quads merged in marching cubes (`merge`, within the lod-0 cells) or not.
 */
async function stage(vol: Volume, res: Vec3, e0Voxels: number, merge: boolean): Promise<Record<string, unknown>> {
  const T: Record<string, number> = {};
  const t = async <R>(k: string, f: () => R | Promise<R>): Promise<R> => {
    const c = process.cpuUsage();
    const r = await f();
    const u = process.cpuUsage(c);
    T[k] = (T[k] ?? 0) + (u.user + u.system) / 1e6;
    return r;
  };
  const mergeFlatCell = merge ? lod0CellVoxels(res, MESH_DEFAULTS.fragmentVoxels) : undefined;
  const items = await t('marching_cubes', () => meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box, mergeFlatCell }));
  const lodScale0 = Math.min(...res);
  const chunkShape = res.map((r) => Math.max(1, Math.round((MESH_DEFAULTS.fragmentVoxels * lodScale0) / r)) * r) as unknown as Vec3;
  const lattice = res.map((r) => -0.5 * r);
  let mcTriangles = 0, lod0Triangles = 0, closed = 0, bytes = 0, v0Sum = 0, vSum = 0;
  const errBig: number[] = []; // |volume error| of segments >= 1000 voxels
  let shell = 0;
  let decodedClosed = 0;
  let decodedVsBuilt = 0; // the largest |volume change| / (area x error): the stated bound is 1
  for (const it of items) {
    // finishMeshes welds only meshes of several blocks; the exact run times the weld it used to do
    const mesh = e0Voxels === 0 ? await t('merge', () => mergeMeshes([it.mesh])) : it.mesh;
    const v0 = await t('volume', () => meshVolume(mesh));
    mcTriangles += mesh.indices.length / 3;
    if (e0Voxels === 0 && (await t('closed_check', () => openEdges(mesh))) === 0) closed++;
    const lo = [Infinity, Infinity, Infinity];
    for (let i = 0; i < mesh.vertices.length; i += 3) for (let k = 0; k < 3; k++) lo[k] = Math.min(lo[k], mesh.vertices[i + k]);
    const gridOrigin = [0, 1, 2].map((k) => lattice[k] + Math.max(0, Math.floor((lo[k] - lattice[k]) / chunkShape[k] + 1e-9)) * chunkShape[k]) as unknown as Vec3;
    const tree = await t('octree_cut_and_simplify', () => buildMeshOctree(mesh, { chunkShape, gridOrigin, lods: MESH_DEFAULTS.lods, lodScale0, lod0Error: e0Voxels * lodScale0 }));
    const idx0 = lodIndices(tree, 0);
    if (e0Voxels > 0 && (await t('closed_check', () => holeEdgesIndexed(idx0, tree.vertices.length / 3))) === 0) closed++;
    lod0Triangles += idx0.length / 3;
    // volume of lod 0 as built (outside the timed phases: a check, not part of the stage)
    let v = 0;
    const V = tree.vertices;
    for (let f = 0; f < idx0.length; f += 3) {
      const a = 3 * idx0[f], b = 3 * idx0[f + 1], c = 3 * idx0[f + 2];
      v += V[a] * (V[b + 1] * V[c + 2] - V[b + 2] * V[c + 1]) - V[a + 1] * (V[b] * V[c + 2] - V[b + 2] * V[c]) + V[a + 2] * (V[b] * V[c + 1] - V[b + 1] * V[c]);
    }
    v /= 6;
    v0Sum += v0;
    vSum += v;
    if (v0 >= 1000 * res[0] * res[1] * res[2]) errBig.push(Math.abs(v / v0 - 1));
    if (e0Voxels > 0) shell = Math.max(shell, Math.abs(v - v0) / (meshArea(mesh) * e0Voxels * lodScale0));
    // the exact run encodes as before (16 bits); the default run as finishMeshes does now
    const bits = e0Voxels === 0 ? 16 : multiresQuantizationBits(chunkShape, lodScale0);
    const enc = await t('encode_weld_and_draco', () => encodeMultiresOctree(tree, { bits }));
    bytes += enc.data.length;
    // lod 0 as a viewer gets it (decoded, welded by position): no hole, the volume as built
    const dec = weldVertices(await decodeMultiresLod(enc.manifest, enc.data, 0, bits));
    if (holeEdges(dec) === 0) decodedClosed++;
    if (v0 >= 1000 * res[0] * res[1] * res[2]) decodedVsBuilt = Math.max(decodedVsBuilt, Math.abs(meshVolume(dec) / v - 1));
  }
  errBig.sort((a, b) => a - b);
  const total = Object.values(T).reduce((a, b) => a + b, 0);
  const n = vol.box.max[0] * vol.box.max[1] * vol.box.max[2];
  return {
    lod0_error_voxels: e0Voxels, flat_quads_merged: merge, segments: items.length, closed, mc_triangles: mcTriangles, lod0_triangles: lod0Triangles,
    lod0_reduction: +(mcTriangles / lod0Triangles).toFixed(2), bytes,
    lod0_total_volume_error: +(vSum / v0Sum - 1).toExponential(2),
    lod0_volume_error_segments_ge_1000_voxels: { count: errBig.length, median: +(errBig[errBig.length >> 1] ?? 0).toExponential(2), max: +(errBig[errBig.length - 1] ?? 0).toExponential(2) },
    lod0_volume_change_over_area_x_error_max: +shell.toFixed(3),
    vertex_quantization_bits: e0Voxels === 0 ? 16 : multiresQuantizationBits(chunkShape, lodScale0),
    decoded_lod0_closed: decodedClosed, decoded_lod0_volume_vs_built_max_segments_ge_1000_voxels: +decodedVsBuilt.toExponential(2),
    cpu_s: Object.fromEntries(Object.entries(T).map(([k, x]) => [k, +x.toFixed(3)])),
    share: Object.fromEntries(Object.entries(T).map(([k, x]) => [k, +(x / total).toFixed(3)])),
    total_cpu_s: +total.toFixed(3), mvox_per_cpu_s: +(n / 1e6 / total).toFixed(3),
  };
}

async function both(name: string, vol: Volume, res: Vec3): Promise<Record<string, unknown>> {
  const e0 = MESH_DEFAULTS.lod0ErrorVoxels;
  const r: Record<string, unknown> = { input: name, voxels: vol.box.max[0] * vol.box.max[1] * vol.box.max[2] };
  // MESH_STAGE_EXACT=1: also lod 0 exact (16 bits, openEdges on the marching-cubes mesh), the stage before lod-0 simplification
  const exact = process.env.MESH_STAGE_EXACT === '1' ? await stage(vol, res, 0, false) : undefined;
  if (exact) r.exact_lod0 = exact;
  // interleaved twice: the first pass of a process pays the JIT's warm-up (and the encoder's
  // WebAssembly tier-up), which would favour whichever variant runs second; the second pair is kept
  const cold = [await stage(vol, res, e0, false), await stage(vol, res, e0, true)];
  const before = await stage(vol, res, e0, false);
  const now = await stage(vol, res, e0, true);
  r.cold_first_pass_total_cpu_s = { plain_mc: cold[0].total_cpu_s, flat_merged: cold[1].total_cpu_s };
  r.half_voxel_lod0_plain_mc = before;
  r.half_voxel_lod0_flat_merged = now;
  r.speedup_cpu_flat_merged = +((before.total_cpu_s as number) / (now.total_cpu_s as number)).toFixed(2);
  // the reference: scikit-image's marching cubes alone (no simplification, octree or encoding)
  const areas = new Map(meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box }).map((it) => [it.id, meshArea(it.mesh)] as [bigint, number]));
  const ref = skimageReference(vol, res, areas);
  r.skimage_marching_cubes = ref;
  if (typeof ref.cpu_s === 'number') {
    const mc = (before.cpu_s as Record<string, number>).marching_cubes;
    r.marching_cubes_speedup_vs_skimage = +(ref.cpu_s / mc).toFixed(2);
    r.whole_stage_cpu_vs_skimage_marching_cubes_alone = +((before.total_cpu_s as number) / ref.cpu_s).toFixed(2);
    if ((ref.area_vs_ours_max_abs_rel_diff_30_largest as number) > 0.02) throw new Error(`${name}: marching-cubes areas differ from scikit-image's by more than 2 %`);
  }
  console.log(JSON.stringify(r, null, 1));
  for (const [k, x] of [['plain', before], ['merged', now]] as const) {
    if ((x.lod0_volume_change_over_area_x_error_max as number) > 1) throw new Error(`${name} (${k}): lod-0 volume moved by more than area x error`);
    if (x.decoded_lod0_closed !== x.segments) throw new Error(`${name} (${k}): decoded lod 0 with holes`);
    if (x.closed !== x.segments) throw new Error(`${name} (${k}): ${(x.segments as number) - (x.closed as number)} meshes with holes at lod 0`);
  }
  if (exact && exact.decoded_lod0_closed !== exact.segments) throw new Error(`${name}: decoded exact lod 0 with holes`);
  return r;
}

export default async function run(): Promise<Record<string, unknown>> {
  const size = parseVec3(process.env.MESH_STAGE_SIZE ?? '192,192,48', 'MESH_STAGE_SIZE', { integer: true, positive: true });
  const tmp = mkdtempSync(path.join(tmpdir(), 'wiring-mesh-stage-'));
  const out: Record<string, unknown> = {};
  try {
    await generatePhantom(tmp, { size, seed: 7, voxelSize: [8, 8, 30] }, { run: { workers: 1 } });
    const layer = await PrecomputedLayer.open(path.join(tmp, 'neurons'));
    const res = layer.info.scales[0].resolution as Vec3;
    out.phantom = await both(`phantom ${size.join('x')} at 8x8x30 nm, seed 7, neurons`, await layer.readBox(boxFromShape(size)), res);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const gala = path.resolve(here, '../../shared/data/gala-medulla/train-gt.h5');
  if (existsSync(gala)) {
    const src = await openSource(`${gala}#stack`);
    out.gala_medulla = await both('gala-medulla train-gt.h5 (50x100x200 at 10 nm)', await src.read({ min: [0, 0, 0], max: src.shape }), [10, 10, 10]);
  } else console.log(`[skip] gala-medulla: ${gala} not found`);
  out.load_average = loadavg();
  return out;
}
