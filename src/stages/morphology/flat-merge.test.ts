import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import { holeEdgesIndexed, meshArea, marchingCubesLabels, mergeMeshes, meshVolume, openEdges } from './mesh.js';
import { buildMeshOctree, lodIndices } from './octree.js';

/** Random blobs of several labels in anisotropic slabs: each z layer a few axis-aligned rectangles per label. */
function slabs(shape: Vec3, labels: number, seed: number): Uint32Array {
  const [sx, sy, sz] = shape;
  const a = new Uint32Array(sx * sy * sz);
  const r = mulberry32(seed);
  for (let l = 1; l <= labels; l++) {
    let cx = r() * sx, cy = r() * sy;
    let hw = 2 + r() * sx * 0.3, hh = 2 + r() * sy * 0.3;
    const z0 = Math.floor(r() * sz * 0.3);
    const z1 = z0 + 1 + Math.floor(r() * sz * 0.7);
    for (let z = z0; z < Math.min(sz, z1); z++) {
      cx += (r() - 0.5) * 3; cy += (r() - 0.5) * 3;
      hw = Math.max(1, hw + (r() - 0.5) * 2); hh = Math.max(1, hh + (r() - 0.5) * 2);
      for (let y = Math.max(0, Math.floor(cy - hh)); y < Math.min(sy, cy + hh); y++)
        for (let x = Math.max(0, Math.floor(cx - hw)); x < Math.min(sx, cx + hw); x++) {
          // a round-ish blob, not a box, so flat regions have ragged borders
          if (((x - cx) / hw) ** 2 + ((y - cy) / hh) ** 2 <= 1.2) a[x + sx * (y + sy * z)] = l;
        }
    }
  }
  return a;
}

const res: Vec3 = [8, 8, 30];

describe('marching cubes with flat z-quads merged (mergeFlat)', () => {
  it('gives the same surface (volume, area) closed and manifold with fewer triangles', () => {
    for (const seed of [1, 2, 3]) {
      const shape: Vec3 = [40, 36, 12];
      const lab = slabs(shape, 6, seed);
      const plain = marchingCubesLabels(lab, shape, 6, { voxelSize: res, closeBorder: true });
      const merged = marchingCubesLabels(lab, shape, 6, { voxelSize: res, closeBorder: true, mergeFlat: { cell: [0, 0, 0], origin: [0, 0, 0] } });
      let fewer = 0;
      for (let l = 1; l <= 6; l++) {
        const p = plain[l], m = merged[l];
        if (p.indices.length === 0) {
          expect(m.indices.length).toBe(0);
          continue;
        }
        expect(openEdges(m)).toBe(0);
        expect(meshVolume(m)).toBeGreaterThan(0);
        expect(meshVolume(m)).toBeCloseTo(meshVolume(p), -1); // nm^3, within 0.5 x 10 of ~10^6
        expect(Math.abs(meshVolume(m) / meshVolume(p) - 1)).toBeLessThan(1e-6);
        expect(Math.abs(meshArea(m) / meshArea(p) - 1)).toBeLessThan(1e-5);
        expect(m.indices.length).toBeLessThanOrEqual(p.indices.length);
        if (m.indices.length < p.indices.length) fewer++;
        // no degenerate triangle: the zip never puts three collinear perimeter vertices together
        const v = m.vertices, f = m.indices;
        let smallest = Infinity;
        for (let t = 0; t < f.length; t += 3) {
          const a = 3 * f[t], b = 3 * f[t + 1], c = 3 * f[t + 2];
          const ux = v[b] - v[a], uy = v[b + 1] - v[a + 1], uz = v[b + 2] - v[a + 2];
          const wx = v[c] - v[a], wy = v[c + 1] - v[a + 1], wz = v[c + 2] - v[a + 2];
          smallest = Math.min(smallest, Math.hypot(uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx));
        }
        expect(smallest).toBeGreaterThan(0);
      }
      expect(fewer).toBeGreaterThan(0);
    }
  });

  it('merges a box top into one rectangle of 2(w + h) - 2 triangles', () => {
    // a 10 x 6 x 3 box inside background: the top and bottom faces are 9 x 5 cubes of quads each
    const shape: Vec3 = [12, 8, 5];
    const lab = new Uint32Array(12 * 8 * 5);
    for (let z = 1; z < 4; z++) for (let y = 1; y < 7; y++) for (let x = 1; x < 11; x++) lab[x + 12 * (y + 8 * z)] = 1;
    const plain = marchingCubesLabels(lab, shape, 1, { voxelSize: res })[1];
    const merged = marchingCubesLabels(lab, shape, 1, { voxelSize: res, mergeFlat: { cell: [0, 0, 0], origin: [0, 0, 0] } })[1];
    expect(openEdges(merged)).toBe(0);
    // the flat cubes of each face: (10 - 1) x (6 - 1) = 45 quads = 90 triangles -> 2 (9 + 5) - 2 = 26
    expect(plain.indices.length / 3 - merged.indices.length / 3).toBe(2 * (90 - 26));
    expect(meshVolume(merged)).toBeCloseTo(meshVolume(plain), 3);
  });

  it('does not merge across cell lines, so no triangle crosses a cell face', () => {
    const shape: Vec3 = [40, 36, 12];
    const lab = slabs(shape, 6, 4);
    const cell: Vec3 = [8, 8, 3];
    const origin: Vec3 = [-1, -1, -1]; // a lattice cell line at voxel corner -1 (bounds.min - 1)
    const merged = marchingCubesLabels(lab, shape, 6, { voxelSize: res, closeBorder: true, mergeFlat: { cell, origin } });
    for (let l = 1; l <= 6; l++) {
      const m = merged[l];
      expect(openEdges(m)).toBe(0);
      const v = m.vertices, f = m.indices;
      let crossing = 0;
      for (let t = 0; t < f.length; t += 3) {
        for (let axis = 0; axis < 2; axis++) {
          // position in cells: vertices of cube corner X sit at (X + 0.5) voxels
          const u = [0, 1, 2].map((q) => (v[3 * f[t + q] + axis] / res[axis] - 0.5 - origin[axis]) / cell[axis]);
          const lo = Math.min(...u), hi = Math.max(...u);
          if (Math.floor(lo + 1e-9) + 1 < hi - 1e-9) crossing++;
        }
      }
      expect(crossing).toBe(0);
    }
  });

  it('stitches blocks with a one-voxel overlap into a closed mesh with the one-block volume', () => {
    const n: Vec3 = [30, 30, 14];
    const lab = slabs(n, 4, 9);
    const opts = { voxelSize: res, mergeFlat: { cell: [8, 8, 3] as Vec3, origin: [-1, -1, -1] as Vec3 } };
    const whole = marchingCubesLabels(lab, n, 4, { ...opts, closeBorder: true });
    const cut = [[0, 11, 19, 30], [0, 11, 19, 30], [0, 5, 14]];
    for (let l = 1; l <= 4; l++) {
      const parts = [];
      for (let bz = 0; bz < 2; bz++)
        for (let by = 0; by < 3; by++)
          for (let bx = 0; bx < 3; bx++) {
            const lo = [cut[0][bx], cut[1][by], cut[2][bz]];
            const hi = [Math.min(n[0], cut[0][bx + 1] + 1), Math.min(n[1], cut[1][by + 1] + 1), Math.min(n[2], cut[2][bz + 1] + 1)];
            const s: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
            const sub = new Uint32Array(s[0] * s[1] * s[2]);
            for (let z = 0; z < s[2]; z++)
              for (let y = 0; y < s[1]; y++)
                for (let x = 0; x < s[0]; x++) sub[x + s[0] * (y + s[1] * z)] = lab[lo[0] + x + n[0] * (lo[1] + y + n[1] * (lo[2] + z))];
            const closeBorder = [lo[0] === 0, hi[0] === n[0], lo[1] === 0, hi[1] === n[1], lo[2] === 0, hi[2] === n[2]];
            parts.push(marchingCubesLabels(sub, s, 4, { ...opts, offset: [lo[0], lo[1], lo[2]], closeBorder })[l]);
          }
      const merged = mergeMeshes(parts);
      if (whole[l].indices.length === 0) continue;
      expect(openEdges(merged)).toBe(0);
      expect(Math.abs(meshVolume(merged) / meshVolume(whole[l]) - 1)).toBeLessThan(1e-6);
    }
  });

  it('feeds the lod-0 octree: no merged triangle is cut, lod 0 simplified stays without holes', async () => {
    const shape: Vec3 = [40, 36, 12];
    const lab = slabs(shape, 6, 5);
    const cell: Vec3 = [8, 8, 2];
    const merged = marchingCubesLabels(lab, shape, 6, { voxelSize: res, closeBorder: true, mergeFlat: { cell, origin: [-1, -1, -1] } });
    for (let l = 1; l <= 6; l++) {
      const m = merged[l];
      if (m.indices.length === 0) continue;
      // finishMeshes' lattice: cells start half a voxel before the volume (voxel -1's centre)
      const tree = await buildMeshOctree(m, { chunkShape: [64, 64, 60], gridOrigin: [-4, -4, -15], lods: 2, lodScale0: 8, lod0Error: 4 });
      expect(tree.vertices.length).toBe(m.vertices.length); // no vertex added by cutting at cell faces
      expect(holeEdgesIndexed(lodIndices(tree, 0), tree.vertices.length / 3)).toBe(0);
    }
  });
});
