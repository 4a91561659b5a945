import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import type { Vec3 } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { decodeMultiresLod, encodeMultiresOctree } from '../../formats/mesh/precomputed.js';
import { type Mesh, compactLabels, holeEdges, marchingCubesLabels, meshVolume, openEdges, weldVertices } from './mesh.js';
import { buildMeshOctree } from './octree.js';
import { skeletonizeLabels } from './skeleton.js';
import { skeletonStats } from './stats.js';

/**
 * The multi-resolution octree (as `wiring mesh` writes it: cells of 16 voxels on voxel-centre
 * planes) of the `count` largest segments: every level, decoded and welded, is closed; lod 0
 * keeps the volume, coarser levels within a few percent.
 */
async function checkOctrees(meshes: Mesh[], counts: Float64Array, res: Vec3, count: number): Promise<void> {
  const largest = Array.from(counts.keys()).filter((l) => l > 0).sort((a, b) => counts[b] - counts[a]).slice(0, count);
  const chunkShape = res.map((r) => 16 * r) as unknown as Vec3;
  const gridOrigin = res.map((r) => -0.5 * r) as unknown as Vec3;
  for (const l of largest) {
    const v0 = meshVolume(meshes[l]);
    // exact lod 0, and lod 0 simplified within half a voxel (the `wiring mesh` default)
    for (const halfVoxel of [false, true]) {
      const lod0Error = halfVoxel ? Math.min(...res) / 2 : 0;
      const tree = await buildMeshOctree(meshes[l], { chunkShape, gridOrigin, lods: 3, lodScale0: Math.min(...res), lod0Error });
      // as `wiring mesh` writes small cells: 10-bit positions (16 for the exact case)
      const bits = halfVoxel ? 10 : 16;
      const { manifest, data } = await encodeMultiresOctree(tree, { bits });
      expect(tree.lods[0].length, `segment ${l}: lod-0 fragments`).toBeGreaterThan(1);
      for (let lod = 0; lod < tree.lods.length; lod++) {
        const union = weldVertices(await decodeMultiresLod(manifest, data, lod, bits));
        if (lod === 0 && !halfVoxel) expect(openEdges(union), `segment ${l} lod 0 closed`).toBe(0);
        expect(holeEdges(union), `segment ${l} lod ${lod} closed (lod 0 simplified: ${halfVoxel})`).toBe(0);
        const tol = lod > 0 ? 0.03 : halfVoxel ? 0.01 : 1e-4;
        expect(Math.abs(meshVolume(union) / v0 - 1), `segment ${l} lod ${lod} volume (lod 0 simplified: ${halfVoxel})`).toBeLessThan(tol);
        if (lod === 0 && halfVoxel) expect(union.indices.length, `segment ${l}: simplified lod 0`).toBeLessThan(meshes[l].indices.length * 0.6);
      }
    }
  }
}

async function check(labels: Uint32Array, ids: bigint[], shape: Vec3, res: Vec3): Promise<void> {
  const meshes = marchingCubesLabels(labels, shape, ids.length - 1, { closeBorder: true, voxelSize: res });
  const counts = new Float64Array(ids.length);
  for (const l of labels) counts[l]++;
  const vv = res[0] * res[1] * res[2];
  for (let l = 1; l < ids.length; l++) {
    if (counts[l] === 0) continue;
    expect(openEdges(meshes[l]), `segment ${ids[l]} closed`).toBe(0);
    const ratio = meshVolume(meshes[l]) / (counts[l] * vv);
    // marching cubes cuts voxel edges and corners: the loss shrinks with object size
    if (counts[l] >= 10000) expect(Math.abs(ratio - 1), `segment ${ids[l]} (${counts[l]} voxels)`).toBeLessThan(0.015);
    else if (counts[l] >= 1000) expect(Math.abs(ratio - 1), `segment ${ids[l]} (${counts[l]} voxels)`).toBeLessThan(0.05);
    expect(ratio).toBeLessThanOrEqual(1);
  }
  await checkOctrees(meshes, counts, res, 2);
  // skeletons: every vertex is the centre of a voxel of its own segment; one tree per piece
  const sk = skeletonizeLabels(labels, shape, ids.length - 1, { voxelSize: res });
  for (let l = 1; l < ids.length; l++) {
    if (counts[l] < 1000) continue;
    const s = sk[l];
    expect(s.radius.length).toBeGreaterThan(0);
    let outside = 0;
    for (let i = 0; i < s.radius.length; i++) {
      const x = Math.floor(s.vertices[3 * i] / res[0]);
      const y = Math.floor(s.vertices[3 * i + 1] / res[1]);
      const z = Math.floor(s.vertices[3 * i + 2] / res[2]);
      if (labels[x + shape[0] * (y + shape[1] * z)] !== l) outside++;
    }
    expect(outside, `segment ${ids[l]}: skeleton vertices outside`).toBe(0);
    const st = skeletonStats(s);
    expect(st.edges).toBe(st.nodes - st.components);
  }
}

describeData('neuroglancer-testdata/codec/compressed_segmentation', 'FIB-25 64^3 ground-truth block', () => {
  it('meshes every segment closed with the right volume, skeletons inside their segments', async () => {
    const bytes = readFileSync(dataPath('neuroglancer-testdata', 'codec', 'compressed_segmentation', '64x64x64-raw-uint64-segmentation.dat'));
    const ids = new BigUint64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const c = compactLabels(ids);
    expect(c.ids.length - 1).toBe(52);
    await check(c.labels, c.ids, [64, 64, 64], [8, 8, 8]);
  });
});

describeData('gala-medulla', 'gala medulla ground truth (50x100x200)', () => {
  it('meshes every segment closed with the right volume, skeletons inside their segments', async () => {
    const src = await openSource(`${dataPath('gala-medulla', 'train-gt.h5')}#stack`);
    const v = await src.read({ min: [0, 0, 0], max: src.shape });
    const c = compactLabels(v.data as Int32Array);
    expect(c.ids.length - 1).toBe(87);
    await check(c.labels, c.ids, src.shape, [10, 10, 10]);
  });
});
