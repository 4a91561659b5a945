/**
 * A small synthetic dataset for the browser tests and the server benchmark: an EM-like image
 * layer, a uint64 neuron segmentation (64-bit ids above 2^53) with legacy meshes and
 * skeletons, and a connectome database whose synapses sit on real contacts between the cells.
 */
import * as path from 'node:path';
import type { Vec3 } from '../../src/core/box.js';
import { Volume } from '../../src/core/volume.js';
import { ConnectomeStore, type SynapseRow } from '../../src/connectome/store.js';
import { writeLegacyInfo, writeLegacyMesh } from '../../src/formats/mesh/precomputed.js';
import { writeSkeleton, writeSkeletonInfo } from '../../src/formats/mesh/skeleton.js';
import { makeInfo, PrecomputedLayer } from '../../src/formats/precomputed/index.js';
import { marchingCubesLabels } from '../../src/stages/morphology/mesh.js';
import { mulberry32 as rng } from '../../src/core/random.js';

export interface DemoCell {
  id: bigint; type: string; soma: Vec3 /* voxels */; tip: Vec3; radius: number; somaRadius: number;
  /** The cell's deepest voxel (its pt_position is this voxel's centre in nm). */
  point: Vec3;
}
export interface DemoDataset { dir: string; shape: Vec3; voxelSize: Vec3; cells: DemoCell[]; synapses: SynapseRow[] }

const BASE = 864691135000000000n; // CAVE-like root ids, far above 2^53

function segmentDistance(p: Vec3, a: Vec3, b: Vec3): number {
  const ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const ap = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
  const len2 = ab[0] ** 2 + ab[1] ** 2 + ab[2] ** 2 || 1;
  const t = Math.max(0, Math.min(1, (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / len2));
  return Math.hypot(ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2]);
}

export async function buildDemoDataset(dir: string, o: { shape?: Vec3; cells?: number; seed?: number } = {}): Promise<DemoDataset> {
  const shape: Vec3 = o.shape ?? [128, 128, 64];
  const voxelSize: Vec3 = [8, 8, 8];
  const n = o.cells ?? 12;
  const rand = rng(o.seed ?? 7);
  const types = ['L23', 'L4', 'BC', 'MC'];
  const cells: DemoCell[] = [];
  for (let k = 0; k < n; k++) {
    const soma: Vec3 = [8 + rand() * (shape[0] - 16), 8 + rand() * (shape[1] - 16), 6 + rand() * (shape[2] - 12)];
    const tip: Vec3 = [rand() * shape[0], rand() * shape[1], rand() * shape[2]];
    cells.push({ id: BASE + BigInt(k * 7919 + 11), type: types[k % types.length], soma, tip, radius: 4 + rand() * 4, somaRadius: 10 + rand() * 6, point: [0, 0, 0] });
  }

  // Each voxel belongs to the cell whose surface is nearest (inside at least one cell), so
  // touching cells share a one-voxel membrane of background.
  const [sx, sy, sz] = shape;
  const labels = new BigUint64Array(sx * sy * sz);
  const compact = new Uint32Array(sx * sy * sz);
  const raw = new Uint8Array(sx * sy * sz);
  const inside = new Float32Array(n);
  const deepest = new Float32Array(n).fill(-Infinity);
  for (let z = 0, i = 0; z < sz; z++) {
    for (let y = 0; y < sy; y++) {
      for (let x = 0; x < sx; x++, i++) {
        let best = -1;
        let bestDepth = 0;
        let second = 0;
        for (let k = 0; k < n; k++) {
          const c = cells[k];
          const ds = Math.hypot(x - c.soma[0], y - c.soma[1], z - c.soma[2]) - c.somaRadius;
          const dn = segmentDistance([x, y, z], c.soma, c.tip) - c.radius;
          inside[k] = -Math.min(ds, dn);
          if (inside[k] > bestDepth) {
            second = bestDepth;
            bestDepth = inside[k];
            best = k;
          } else if (inside[k] > second) second = inside[k];
        }
        const membrane = best >= 0 && bestDepth - second < 1.2 && second > -1;
        if (best >= 0 && !membrane) {
          labels[i] = cells[best].id;
          compact[i] = best + 1;
          if (bestDepth - Math.max(0, second) > deepest[best]) {
            deepest[best] = bestDepth - Math.max(0, second);
            cells[best].point = [x, y, z];
          }
        }
        const noise = (rand() - 0.5) * 50;
        const base = best < 0 ? 175 : membrane ? 45 : 120 + 25 * Math.sin(x * 0.7 + k2(best)) * Math.cos(y * 0.5);
        raw[i] = Math.max(0, Math.min(255, Math.round(base + noise)));
      }
    }
  }
  function k2(b: number): number {
    return b * 1.3;
  }

  const rawLayer = await PrecomputedLayer.create(path.join(dir, 'raw'), makeInfo({ type: 'image', dtype: 'uint8', shape, voxelSize, chunkSize: [64, 64, 64] }));
  await rawLayer.writeBox(Volume.from('uint8', shape, raw, { voxelSize }));
  const segLayer = await PrecomputedLayer.create(path.join(dir, 'neurons'), makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize, chunkSize: [64, 64, 64] }));
  await segLayer.writeBox(Volume.from('uint64', shape, labels, { voxelSize }));

  // Meshes (legacy format) and straight-line skeletons soma -> tip.
  const meshes = marchingCubesLabels(compact, shape, n, { voxelSize, closeBorder: true });
  const meshDir = path.join(dir, 'neurons', 'mesh');
  await writeLegacyInfo(meshDir);
  for (let k = 0; k < n; k++) if (deepest[k] === -Infinity) throw new Error(`demo dataset: cell ${k} has no voxels (seed ${o.seed ?? 7})`);
  for (let k = 0; k < n; k++) if (meshes[k + 1].indices.length) await writeLegacyMesh(meshDir, cells[k].id, meshes[k + 1]);
  const skelDir = path.join(dir, 'neurons', 'skeletons');
  await writeSkeletonInfo(skelDir);
  for (const c of cells) {
    const steps = 8;
    const vertices = new Float32Array(3 * (steps + 1));
    for (let s = 0; s <= steps; s++) for (let a = 0; a < 3; a++) vertices[3 * s + a] = (c.soma[a] + ((c.tip[a] - c.soma[a]) * s) / steps + 0.5) * voxelSize[a];
    const edges = new Uint32Array(2 * steps);
    for (let s = 0; s < steps; s++) [edges[2 * s], edges[2 * s + 1]] = [s, s + 1];
    await writeSkeleton(skelDir, c.id, { vertices, edges, radius: new Float32Array(steps + 1).fill(c.radius * voxelSize[0]) });
  }
  await segLayer.updateInfo({ mesh: 'mesh', skeletons: 'skeletons' });

  // Synapses: across membranes, a voxel of cell a with a voxel of cell b two voxels further in x or y.
  const synapses: SynapseRow[] = [];
  const perPair = new Map<string, number>();
  let sid = 1n;
  for (let z = 2; z < sz - 2; z += 3) {
    for (let y = 2; y < sy - 2; y++) {
      for (let x = 2; x < sx - 2; x++) {
        const i = x + sx * (y + sy * z);
        const a = compact[i];
        if (!a) continue;
        for (const d of [2, 2 * sx]) {
          const b = compact[i + d];
          if (!b || b === a || compact[i + d / 2] !== 0) continue;
          const [pre, post] = (x + y + z) % 3 === 0 ? [b, a] : [a, b];
          const key = `${pre}-${post}`;
          const seen = perPair.get(key) ?? 0;
          if (seen >= 8 || rand() > 0.3) continue;
          perPair.set(key, seen + 1);
          const dx = d === 2 ? 1 : 0;
          const dy = d === 2 ? 0 : 1;
          const nm = (px: number, py: number): [number, number, number] => [(px + 0.5) * voxelSize[0], (py + 0.5) * voxelSize[1], (z + 0.5) * voxelSize[2]];
          const preAt = pre === a ? [x, y] : [x + 2 * dx, y + 2 * dy];
          const postAt = pre === a ? [x + 2 * dx, y + 2 * dy] : [x, y];
          synapses.push({
            id: sid++,
            pre_pt_root_id: cells[pre - 1].id,
            post_pt_root_id: cells[post - 1].id,
            pre_pt_position: nm(preAt[0], preAt[1]),
            post_pt_position: nm(postAt[0], postAt[1]),
            ctr_pt_position: nm(x + dx, y + dy),
            size: 20 + Math.round(rand() * 300),
          });
        }
      }
    }
  }
  const store = await ConnectomeStore.open(path.join(dir, 'connectome.duckdb'));
  try {
    await store.insertCells(cells.map((c) => ({ id: c.id, pt_position: c.point.map((v, a) => (v + 0.5) * voxelSize[a]) as unknown as Vec3, cell_type: c.type })));
    if (synapses.length) await store.insertSynapses(synapses);
  } finally {
    await store.close();
  }
  return { dir, shape, voxelSize, cells, synapses };
}
