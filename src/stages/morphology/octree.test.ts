import { zorder3LessThan } from 'neuroglancer/unstable/util/zorder.js';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { decodeManifest, decodeMultiresFragments, encodeMultiresOctree, zorderLess } from '../../formats/mesh/precomputed.js';
import { type Mesh, holeEdges, marchingCubesLabels, meshArea, meshVolume, mergeMeshes, openEdges, weldVertices } from './mesh.js';
import { buildMeshOctree, cutMeshToGrid } from './octree.js';
import { paintTubes, randomTubes } from './synthetic.js';

const res: Vec3 = [8, 8, 16];

/** A blob (ball + two tubes) meshed by marching cubes, closed at the border. */
function blob(): { mesh: Mesh; voxels: number } {
  const shape: Vec3 = [40, 36, 20];
  const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++) if ((x - 20) ** 2 + (y - 18) ** 2 + (2 * (z - 10)) ** 2 <= 81) lab[x + shape[0] * (y + shape[1] * z)] = 1;
  paintTubes(lab, shape, randomTubes(shape, 2, { seed: 4, radius: [3, 4] }).map((t) => ({ ...t, label: 1 })));
  let voxels = 0;
  for (const v of lab) voxels += v;
  return { mesh: marchingCubesLabels(lab, shape, 1, { closeBorder: true, voxelSize: res })[1], voxels };
}

/** Fragments of all lods decoded; checks the manifest arithmetic and the octree structure. */
async function roundTrip(mesh: Mesh, chunkShape: Vec3, gridOrigin: Vec3, lod0Error = 0) {
  const tree = await buildMeshOctree(mesh, { chunkShape, gridOrigin, lods: 3, lodScale0: 8, lod0Error });
  const { manifest, data } = await encodeMultiresOctree(tree);
  const m = decodeManifest(manifest);
  expect(m.chunkShape).toEqual(chunkShape);
  expect(m.lodScales).toEqual(tree.lodScales);
  expect(m.lodScales.map((s, k) => s / 8 / 2 ** k)).toEqual(m.lodScales.map(() => 1));
  // Neuroglancer's own octree construction (mesh/backend.js, as its precomputed source runs it on
  // a manifest): rows [x, y, z, childBegin, childEnd | emptyBit] per lod, children assigned to parents
  const ng = (await import('neuroglancer/unstable/mesh/backend.js')) as unknown as {
    computeOctreeChildOffsets(octree: Uint32Array, childStart: number, childEnd: number, parentEnd: number): void;
  };
  const nFrag = m.fragments.reduce((a, f) => a + f.positions.length, 0);
  const octree = new Uint32Array(5 * nFrag);
  let row = 0;
  let prior = 0;
  for (let lod = 0; lod < m.fragments.length; lod++) {
    const start = row;
    for (const p of m.fragments[lod].positions) octree.set([p[0], p[1], p[2], 0, 0], 5 * row++);
    if (lod > 0) {
      ng.computeOctreeChildOffsets(octree, prior, start, row);
      // every child row belongs to exactly one parent, whose position is the child's >> 1
      const owner = new Int32Array(start - prior).fill(-1);
      for (let r = start; r < row; r++) {
        for (let c = octree[5 * r + 3]; c < (octree[5 * r + 4] & 0x7fffffff); c++) {
          expect(owner[c - prior]).toBe(-1);
          owner[c - prior] = r;
          for (let k = 0; k < 3; k++) expect(octree[5 * c + k] >>> 1).toBe(octree[5 * r + k]);
        }
      }
      expect(Array.from(owner).every((o) => o >= 0), `lod ${lod - 1}: every fragment has its parent`).toBe(true);
    }
    prior = start;
  }
  // sizes add up to the data file (checked while decoding), one fragment per node
  const lods = [];
  for (let lod = 0; lod < m.lodScales.length; lod++) {
    const frags = await decodeMultiresFragments(manifest, data, lod);
    expect(frags.length).toBe(tree.lods[lod].length);
    const pos = m.fragments[lod].positions;
    // Z-curve order, no duplicates
    for (let i = 1; i < pos.length; i++) {
      expect(zorderLess(pos[i - 1], pos[i]), `lod ${lod} z-order at ${i}`).toBe(true);
      expect(zorder3LessThan(pos[i - 1][0], pos[i - 1][1], pos[i - 1][2], pos[i][0], pos[i][1], pos[i][2]), `lod ${lod} Neuroglancer z-order at ${i}`).toBe(true);
    }
    // every decoded vertex lies in its fragment's cell
    const cell = chunkShape.map((c) => c * 2 ** lod);
    let lo = Infinity, hi = -Infinity;
    for (const f of frags) {
      for (let i = 0; i < f.mesh.vertices.length; i += 3) {
        for (let k = 0; k < 3; k++) {
          const u = (f.mesh.vertices[i + k] - gridOrigin[k]) / cell[k] - f.position[k];
          lo = Math.min(lo, u);
          hi = Math.max(hi, u);
        }
      }
    }
    expect(lo, `lod ${lod}: lowest vertex in cell units`).toBeGreaterThanOrEqual(-1e-5);
    expect(hi, `lod ${lod}: highest vertex in cell units`).toBeLessThanOrEqual(1 + 1e-5);
    if (lod > 0) {
      // octree: every child has its parent, every parent at least one child
      const parents = new Set(pos.map((p) => p.join(',')));
      const prev = m.fragments[lod - 1].positions;
      for (const p of prev) expect(parents.has(p.map((v) => v >> 1).join(','))).toBe(true);
      const children = new Set(prev.map((p) => p.map((v) => v >> 1).join(',')));
      for (const p of pos) expect(children.has(p.join(','))).toBe(true);
    }
    // the union of the fragments (welded by position) is one closed surface
    const union = weldVertices(mergeMeshes(frags.map((f) => f.mesh)));
    lods.push({ union, fragments: frags.length });
  }
  return { tree, lods };
}

describe('multi-resolution octree', () => {
  it('cuts a marching-cubes mesh into grid cells without splitting, closed at every level', async () => {
    const { mesh, voxels } = blob();
    expect(openEdges(mesh)).toBe(0);
    // cells of 8 voxels whose faces lie on voxel-centre planes (x = (i + 0.5) * 8 nm ...)
    const chunk: Vec3 = [64, 64, 128];
    const origin: Vec3 = [-0.5 * res[0], -0.5 * res[1], -0.5 * res[2]];
    const cut = cutMeshToGrid(mesh, origin, chunk);
    expect(cut.indices.length).toBe(mesh.indices.length); // no triangle crossed a face
    const { tree, lods } = await roundTrip(mesh, chunk, origin);
    expect(tree.lods.length).toBe(3);
    expect(lods[0].fragments).toBeGreaterThan(8); // a real octree, one fragment per cell
    expect(lods[1].fragments).toBeLessThan(lods[0].fragments);
    const v0 = meshVolume(mesh);
    expect(Math.abs(v0 / (voxels * res[0] * res[1] * res[2]) - 1)).toBeLessThan(0.06);
    expect(openEdges(lods[0].union), 'lod 0 closed and manifold').toBe(0);
    for (const [lod, l] of lods.entries()) {
      expect(holeEdges(l.union), `lod ${lod} closed`).toBe(0);
      const tol = lod === 0 ? 1e-4 : 0.05;
      expect(Math.abs(meshVolume(l.union) / v0 - 1), `lod ${lod} volume`).toBeLessThan(tol);
      if (lod === 0) {
        expect(l.union.indices.length).toBe(mesh.indices.length);
        expect(Math.abs(meshArea(l.union) / meshArea(mesh) - 1)).toBeLessThan(1e-4);
      } else expect(l.union.indices.length).toBeLessThan(lods[lod - 1].union.indices.length);
    }
  });

  it('splits triangles that cross cell faces and keeps the pieces welded', async () => {
    const { mesh } = blob();
    // a grid not aligned with the voxels: many triangles cross faces
    const chunk: Vec3 = [50, 45, 70];
    const origin: Vec3 = [-7, -9, -11];
    const cut = cutMeshToGrid(mesh, origin, chunk);
    expect(cut.indices.length).toBeGreaterThan(mesh.indices.length);
    const { lods } = await roundTrip(mesh, chunk, origin);
    const v0 = meshVolume(mesh);
    expect(openEdges(lods[0].union), 'lod 0 closed and manifold').toBe(0);
    for (const [lod, l] of lods.entries()) {
      expect(holeEdges(l.union), `lod ${lod} closed`).toBe(0);
      expect(Math.abs(meshVolume(l.union) / v0 - 1), `lod ${lod} volume`).toBeLessThan(lod === 0 ? 1e-3 : 0.05);
    }
    expect(Math.abs(meshArea(lods[0].union) / meshArea(mesh) - 1)).toBeLessThan(1e-3);
  });

  it('simplifies lod 0 within half a voxel: fewer triangles, closed, volume within area x error', async () => {
    const { mesh } = blob();
    const chunk: Vec3 = [64, 64, 128];
    const origin: Vec3 = [-0.5 * res[0], -0.5 * res[1], -0.5 * res[2]];
    const { tree, lods } = await roundTrip(mesh, chunk, origin, 4);
    const v0 = meshVolume(mesh);
    const t0 = lods[0].union.indices.length / 3;
    expect(t0).toBeLessThan((mesh.indices.length / 3) * 0.6);
    for (const [lod, l] of lods.entries()) expect(holeEdges(l.union), `lod ${lod} closed`).toBe(0);
    // every node still ends on its cell faces: the fragments weld into one surface without cracks,
    // and the surface moved by at most 4 nm, so the volume by at most area x 4 nm
    expect(Math.abs(meshVolume(lods[0].union) - v0)).toBeLessThan(meshArea(mesh) * 4);
    expect(Math.abs(meshVolume(lods[0].union) / v0 - 1)).toBeLessThan(0.02);
    expect(tree.lods[0].length).toBeGreaterThan(8);
    await expect(buildMeshOctree(mesh, { chunkShape: chunk, gridOrigin: origin, lod0Error: -1 })).rejects.toThrow(/lod-0 simplification error -1/);
  });

  it('keeps a mesh the lod-0 simplification would empty (one- and three-voxel segments alone in a cell)', async () => {
    for (const shape of [[1, 1, 1], [3, 1, 1], [1, 3, 1]] as Vec3[]) {
      const lab = new Uint32Array(shape[0] * shape[1] * shape[2]).fill(1);
      const m = marchingCubesLabels(lab, shape, 1, { voxelSize: [8, 8, 30], offset: [3, 3, 3], closeBorder: true })[1];
      const t = await buildMeshOctree(m, { chunkShape: [512, 512, 510], gridOrigin: [-4, -4, -15], lods: 3, lodScale0: 8, lod0Error: 4 });
      const lod0 = t.lods[0].flatMap((n) => [...n.indices]);
      expect(lod0.length).toBe(m.indices.length); // kept as marched: meshoptimizer collapsed these to nothing
      expect(holeEdges({ vertices: t.vertices instanceof Float32Array ? t.vertices : Float32Array.from(t.vertices), indices: Uint32Array.from(lod0) })).toBe(0);
    }
  });

  it('builds coarser levels only while the previous level has minLodTriangles, lod 0 unchanged', async () => {
    const { mesh } = blob();
    const chunk: Vec3 = [64, 64, 128];
    const origin: Vec3 = [-0.5 * res[0], -0.5 * res[1], -0.5 * res[2]];
    const all = await buildMeshOctree(mesh, { chunkShape: chunk, gridOrigin: origin, lods: 3, lodScale0: 8, lod0Error: 4 });
    expect(all.lods.length).toBe(3);
    const count = (lod: number) => all.lods[lod].reduce((n, node) => n + node.indices.length / 3, 0);
    // a threshold above lod 1's triangles stops after lod 1; one above lod 0's keeps lod 0 alone
    for (const [min, levels] of [[count(1) + 1, 2], [count(0) + 1, 1], [count(1), 3]] as const) {
      const t = await buildMeshOctree(mesh, { chunkShape: chunk, gridOrigin: origin, lods: 3, lodScale0: 8, lod0Error: 4, minLodTriangles: min });
      expect(t.lods.length, `minLodTriangles ${min}`).toBe(levels);
      expect(t.lodScales).toEqual(all.lodScales.slice(0, levels));
      // the levels kept are the same nodes, triangle for triangle
      for (let lod = 0; lod < levels; lod++) {
        expect(t.lods[lod].map((n) => n.position)).toEqual(all.lods[lod].map((n) => n.position));
        t.lods[lod].forEach((n, i) => expect(Array.from(n.indices)).toEqual(Array.from(all.lods[lod][i].indices)));
      }
    }
  });

  it('rejects a vertex below the grid origin', async () => {
    const { mesh } = blob();
    await expect(buildMeshOctree(mesh, { chunkShape: [64, 64, 64], gridOrigin: [100, 0, 0] })).rejects.toThrow(/outside the octree grid/);
  });
});
