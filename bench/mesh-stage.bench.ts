// Where the mesh stage's time goes: one thread, CPU seconds per phase of `wiring mesh` on a phantom's
// neuron segmentation (MESH_STAGE_SIZE, default 192,192,48 at 8x8x30 nm, seed 7), the whole volume
// as one block: marching cubes (meshBlock), merge, the closed-mesh check (openEdges), volume, the
// multi-resolution octree (cut to the fragment grid + meshoptimizer simplification of lods 1-2) and
// the encoding (quantize + weld + Draco). The same calls finishMeshes makes (src/stages/morphology/tasks.ts).
// No reference: scikit-image's marching cubes is compared in bench/morphology.bench.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { type Vec3, boxFromShape } from '../src/core/box.js';
import { encodeMultiresOctree } from '../src/formats/mesh/precomputed.js';
import { PrecomputedLayer } from '../src/formats/precomputed/index.js';
import { meshBlock } from '../src/stages/morphology/blocks.js';
import { mergeMeshes, meshVolume, openEdges } from '../src/stages/morphology/mesh.js';
import { buildMeshOctree } from '../src/stages/morphology/octree.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';

export default async function run(): Promise<Record<string, unknown>> {
  const size = (process.env.MESH_STAGE_SIZE ?? '192,192,48').split(',').map(Number) as Vec3;
  const tmp = mkdtempSync(path.join(tmpdir(), 'wiring-mesh-stage-'));
  try {
    await generatePhantom(tmp, { size, seed: 7, voxelSize: [8, 8, 30] }, { run: { workers: 1 } });
    const layer = await PrecomputedLayer.open(path.join(tmp, 'neurons'));
    const res = layer.info.scales[0].resolution as Vec3;
    const vol = await layer.readBox(boxFromShape(size));
    const T: Record<string, number> = {};
    const t = async <R>(k: string, f: () => R | Promise<R>): Promise<R> => {
      const c = process.cpuUsage();
      const r = await f();
      const u = process.cpuUsage(c);
      T[k] = (T[k] ?? 0) + (u.user + u.system) / 1e6;
      return r;
    };
    const items = await t('marching_cubes', () => meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box }));
    const lodScale0 = Math.min(...res);
    const chunkShape = res.map((r) => Math.max(1, Math.round((64 * lodScale0) / r)) * r) as unknown as Vec3;
    const lattice = res.map((r) => -0.5 * r);
    let triangles = 0, closed = 0, bytes = 0;
    for (const it of items) {
      const mesh = await t('merge', () => mergeMeshes([it.mesh]));
      if ((await t('open_edges', () => openEdges(mesh))) === 0) closed++;
      await t('volume', () => meshVolume(mesh));
      triangles += mesh.indices.length / 3;
      const lo = [Infinity, Infinity, Infinity];
      for (let i = 0; i < mesh.vertices.length; i += 3) for (let k = 0; k < 3; k++) lo[k] = Math.min(lo[k], mesh.vertices[i + k]);
      const gridOrigin = [0, 1, 2].map((k) => lattice[k] + Math.max(0, Math.floor((lo[k] - lattice[k]) / chunkShape[k] + 1e-9)) * chunkShape[k]) as unknown as Vec3;
      const tree = await t('octree_cut_and_simplify', () => buildMeshOctree(mesh, { chunkShape, gridOrigin, lods: 3, lodScale0 }));
      bytes += (await t('encode_weld_and_draco', () => encodeMultiresOctree(tree))).data.length;
    }
    const total = Object.values(T).reduce((a, b) => a + b, 0);
    const n = size[0] * size[1] * size[2];
    const r = {
      input: `phantom ${size.join('x')} at 8x8x30 nm, seed 7, neurons`, voxels: n, segments: items.length, closed, triangles, bytes,
      cpu_s: Object.fromEntries(Object.entries(T).map(([k, v]) => [k, +v.toFixed(3)])),
      share: Object.fromEntries(Object.entries(T).map(([k, v]) => [k, +(v / total).toFixed(3)])),
      total_cpu_s: +total.toFixed(3), mvox_per_cpu_s: +(n / 1e6 / total).toFixed(3), load_average: loadavg(),
    };
    console.log(JSON.stringify(r, null, 1));
    return r;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
