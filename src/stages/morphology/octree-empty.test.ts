// A one-voxel island far from the rest of a segment simplifies away at lod 1, leaving a node
// without triangles; the lod-2 node above it used to ask meshoptimizer for 3 indices out of 0
// ("Assertion failed", met meshing the phantom's neurons, seed 7, 384x384x64).
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { encodeMultiresOctree } from '../../formats/mesh/precomputed.js';
import { marchingCubesLabels } from './mesh.js';
import { buildMeshOctree } from './octree.js';

describe('mesh octree', () => {
  it('builds every lod when a node above an emptied node has no triangle', async () => {
    const shape: Vec3 = [64, 64, 32];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[0]; x++) if ((x - 12) ** 2 + (y - 12) ** 2 + (2 * (z - 8)) ** 2 <= 81) lab[x + shape[0] * (y + shape[1] * z)] = 1;
    lab[50 + shape[0] * (50 + shape[1] * 25)] = 1; // the island
    const mesh = marchingCubesLabels(lab, shape, 1, { closeBorder: true, voxelSize: [8, 8, 16] })[1];
    const tree = await buildMeshOctree(mesh, { chunkShape: [32, 32, 32], gridOrigin: [-4, -4, -8], lods: 4, lodScale0: 8, lod0Error: 4 });
    expect(tree.lods.length).toBe(4);
    const empty = tree.lods.map((l) => l.filter((n) => n.indices.length === 0).length);
    expect(empty[0]).toBe(0);
    expect(empty[2]).toBe(1);
    const { manifest, data } = await encodeMultiresOctree(tree);
    expect(manifest.byteLength).toBeGreaterThan(0);
    expect(data.byteLength).toBeGreaterThan(0);
  });
});
