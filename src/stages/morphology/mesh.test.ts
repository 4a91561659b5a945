import { describe, expect, it } from 'vitest';
import { FACE_DIAGONAL_CASES, TRI_EDGES, TRI_START } from './mc-table.js';
import { compactLabels, marchingCubesLabels, mergeMeshes, meshVolume, openEdges, weldVertices } from './mesh.js';

function ball(n: number, r: number, label = 1): Uint32Array {
  const a = new Uint32Array(n * n * n);
  const c = (n - 1) / 2;
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        if ((x - c) ** 2 + (y - c) ** 2 + (z - c) ** 2 <= r * r) a[x + n * (y + n * z)] = label;
      }
  return a;
}

function countLabel(a: Uint32Array, l: number): number {
  let n = 0;
  for (const v of a) if (v === l) n++;
  return n;
}

describe('marching cubes table', () => {
  it('has no triangles for empty and full cubes and one per single corner', () => {
    expect(FACE_DIAGONAL_CASES).toEqual([]);
    expect(TRI_START[1] - TRI_START[0]).toBe(0);
    expect(TRI_START[256] - TRI_START[255]).toBe(0);
    for (let c = 0; c < 8; c++) expect(TRI_START[(1 << c) + 1] - TRI_START[1 << c]).toBe(1);
    expect(TRI_EDGES.length % 3).toBe(0);
  });
});

describe('marchingCubesLabels', () => {
  it('meshes one voxel as a closed octahedron (1/6 of the voxel), outward wound', () => {
    const lab = new Uint32Array([1]);
    const [, m] = marchingCubesLabels(lab, [1, 1, 1], 1, { closeBorder: true, voxelSize: [4, 4, 40] });
    expect(m.indices.length / 3).toBe(8);
    expect(m.vertices.length / 3).toBe(6);
    expect(openEdges(m)).toBe(0);
    expect(meshVolume(m)).toBeCloseTo((4 * 4 * 40) / 6, 3);
    // vertices on the voxel's faces: x in {0, 4, 8}... voxel 0 covers [0,4) so faces at 0 and 4
    const xs = new Set(Array.from(m.vertices.filter((_, i) => i % 3 === 0)));
    expect([...xs].sort((a, b) => a - b)).toEqual([0, 2, 4]);
  });

  it('handles empty, solid and 2-D input', () => {
    const empty = marchingCubesLabels(new Uint32Array(27), [3, 3, 3], 0);
    expect(empty.length).toBe(1);
    const solid = marchingCubesLabels(new Uint32Array(27).fill(1), [3, 3, 3], 1);
    expect(solid[1].indices.length).toBe(0); // open border: nothing inside
    const solidClosed = marchingCubesLabels(new Uint32Array(27).fill(1), [3, 3, 3], 1, { closeBorder: true });
    expect(openEdges(solidClosed[1])).toBe(0);
    const flat = marchingCubesLabels(new Uint32Array(16).fill(1), [4, 4, 1], 1, { closeBorder: true });
    expect(openEdges(flat[1])).toBe(0);
    expect(meshVolume(flat[1])).toBeGreaterThan(0);
    const flatOpen = marchingCubesLabels(new Uint32Array(16).fill(1), [4, 4, 1], 1);
    expect(flatOpen[1].indices.length).toBe(0);
  });

  it('gives a watertight sphere whose volume matches the voxel count (anisotropic voxels)', () => {
    const n = 24;
    const lab = ball(n, 10);
    const res: [number, number, number] = [4, 6, 40];
    const [, m] = marchingCubesLabels(lab, [n, n, n], 1, { voxelSize: res });
    expect(openEdges(m)).toBe(0);
    const voxVol = countLabel(lab, 1) * res[0] * res[1] * res[2];
    expect(Math.abs(meshVolume(m) / voxVol - 1)).toBeLessThan(0.05);
  });

  it('gives a box its volume within a few percent', () => {
    const [sx, sy, sz] = [22, 32, 42];
    const lab = new Uint32Array(sx * sy * sz);
    for (let z = 1; z < sz - 1; z++) for (let y = 1; y < sy - 1; y++) for (let x = 1; x < sx - 1; x++) lab[x + sx * (y + sy * z)] = 1;
    const [, m] = marchingCubesLabels(lab, [sx, sy, sz], 1);
    expect(openEdges(m)).toBe(0);
    const v = meshVolume(m);
    const count = 20 * 30 * 40;
    expect(v).toBeLessThan(count);
    expect(Math.abs(v / count - 1)).toBeLessThan(0.05);
  });

  it('meshes touching labels in one pass, each closed, with diagonal contacts separate', () => {
    const n = 12;
    const lab = new Uint32Array(n * n * n);
    for (let z = 2; z < 10; z++)
      for (let y = 2; y < 10; y++)
        for (let x = 2; x < 10; x++) lab[x + n * (y + n * z)] = x < 6 ? 1 : y < 6 ? 2 : 3;
    // two voxels of label 4 touching along an edge only, and a checkerboard-ish label 5 cluster
    lab[0 + n * (0 + n * 11)] = 4;
    lab[1 + n * (1 + n * 11)] = 4;
    const meshes = marchingCubesLabels(lab, [n, n, n], 4, { closeBorder: true, voxelSize: [2, 3, 5] });
    for (let l = 1; l <= 4; l++) {
      expect(openEdges(meshes[l])).toBe(0);
      expect(meshVolume(meshes[l])).toBeGreaterThan(0);
    }
    // diagonal voxels: two octahedra, 16 triangles
    expect(meshes[4].indices.length / 3).toBe(16);
    // total of labels 1..3 ~ the 8^3 box
    const total = meshVolume(meshes[1]) + meshVolume(meshes[2]) + meshVolume(meshes[3]);
    expect(total / (512 * 30)).toBeGreaterThan(0.85);
  });

  it('stitches blocks with a one-voxel overlap into the same closed mesh', () => {
    const n = 30;
    const lab = ball(n, 12);
    // random bumps so faces are not trivial
    let seed = 7;
    for (let i = 0; i < lab.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      if ((seed >>> 16) % 17 === 0 && lab[i] === 1) lab[i] = 0;
    }
    const whole = marchingCubesLabels(lab, [n, n, n], 1, { closeBorder: true })[1];
    const parts = [];
    const cut = [0, 11, 19, n]; // blocks [0,11] [11,19] [19,30) with shared planes 11 and 19
    for (let bz = 0; bz < 3; bz++)
      for (let by = 0; by < 3; by++)
        for (let bx = 0; bx < 3; bx++) {
          const lo = [cut[bx], cut[by], cut[bz]];
          const hi = [Math.min(n, cut[bx + 1] + 1), Math.min(n, cut[by + 1] + 1), Math.min(n, cut[bz + 1] + 1)];
          const s = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]] as const;
          const sub = new Uint32Array(s[0] * s[1] * s[2]);
          for (let z = 0; z < s[2]; z++)
            for (let y = 0; y < s[1]; y++)
              for (let x = 0; x < s[0]; x++) sub[x + s[0] * (y + s[1] * z)] = lab[lo[0] + x + n * (lo[1] + y + n * (lo[2] + z))];
          const closeBorder = [lo[0] === 0, hi[0] === n, lo[1] === 0, hi[1] === n, lo[2] === 0, hi[2] === n];
          parts.push(marchingCubesLabels(sub, s, 1, { offset: [lo[0], lo[1], lo[2]], closeBorder })[1]);
        }
    const merged = mergeMeshes(parts);
    expect(openEdges(merged)).toBe(0);
    expect(merged.indices.length).toBe(whole.indices.length);
    expect(merged.vertices.length).toBe(whole.vertices.length);
    expect(meshVolume(merged)).toBeCloseTo(meshVolume(whole), 0);
  });

  it('welds duplicate vertices', () => {
    const m = weldVertices({
      vertices: new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0]),
      indices: new Uint32Array([0, 1, 2, 3, 2, 0]),
    });
    expect(m.vertices.length).toBe(9);
    expect(Array.from(m.indices)).toEqual([0, 1, 2, 1, 2, 0]);
  });

  it('compacts uint64 ids', () => {
    const { labels, ids } = compactLabels(BigUint64Array.from([0n, 864691135639556411n, 5n, 864691135639556411n]));
    expect(Array.from(labels)).toEqual([0, 1, 2, 1]);
    expect(ids).toEqual([0n, 864691135639556411n, 5n]);
  });
});
