import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { scoreSkeleton } from '../../metrics/skeletons.js';
import { cableLength, skeletonizeLabels } from './skeleton.js';
import { paintTubes, type Tube } from './synthetic.js';

function toNm(t: Tube, res: Vec3) {
  return { points: t.points.map((p) => [(p[0] + 0.5) * res[0], (p[1] + 0.5) * res[1], (p[2] + 0.5) * res[2]] as [number, number, number]) };
}

function isTree(nv: number, edges: Uint32Array): boolean {
  if (nv === 0) return true;
  if (edges.length / 2 !== nv - 1) return false;
  const parent = Int32Array.from({ length: nv }, (_, i) => i);
  const find = (a: number): number => (parent[a] === a ? a : (parent[a] = find(parent[a])));
  for (let e = 0; e < edges.length; e += 2) {
    const a = find(edges[e]), b = find(edges[e + 1]);
    if (a === b) return false;
    parent[a] = b;
  }
  return true;
}

describe('TEASAR skeletons', () => {
  it('handle empty input, one voxel and a solid block', () => {
    expect(skeletonizeLabels(new Uint32Array(8), [2, 2, 2], 0)).toHaveLength(1);
    const one = skeletonizeLabels(new Uint32Array([0, 1, 0]), [3, 1, 1], 1, { voxelSize: [4, 4, 40] });
    expect(one[1].vertices.length / 3).toBe(1);
    expect(Array.from(one[1].vertices)).toEqual([6, 2, 20]);
    const solid = skeletonizeLabels(new Uint32Array(27).fill(1), [3, 3, 3], 1);
    expect(solid[1].vertices.length).toBeGreaterThan(0);
    expect(isTree(solid[1].vertices.length / 3, solid[1].edges)).toBe(true);
  });

  it('trace a straight tube along its centre line (anisotropic voxels)', () => {
    const res: Vec3 = [4, 4, 40];
    const shape: Vec3 = [80, 30, 12];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    const tube: Tube = { label: 1, points: [[5, 15, 6], [74, 15, 6]], radius: 40 };
    paintTubes(lab, shape, [tube], res);
    const [, s] = skeletonizeLabels(lab, shape, 1, { voxelSize: res });
    expect(isTree(s.vertices.length / 3, s.edges)).toBe(true);
    // TEASAR paths end on the surface (targets are the farthest voxels), so the last few vertices
    // leave the centre line: strict tolerance for most vertices, the tube radius for all.
    const score = scoreSkeleton(s, [toNm(tube, res)], 12);
    expect(score.precision).toBeGreaterThan(0.88);
    expect(scoreSkeleton(s, [toNm(tube, res)], 40).precision).toBe(1);
    expect(score.recall).toBeGreaterThan(0.9);
    const len = cableLength(s);
    expect(len).toBeGreaterThan(69 * 4 * 0.9);
    expect(len).toBeLessThan(69 * 4 * 1.3);
    // radius ~ tube radius (DBF to the nearest outside voxel centre)
    const mid = s.radius[Math.floor(s.radius.length / 2)];
    expect(mid).toBeGreaterThanOrEqual(32);
    expect(mid).toBeLessThanOrEqual(56);
  });

  it('keep long skeletons whole past the vertex buffers\' first size, and forced targets of several labels', () => {
    // a 700-voxel tube (one vertex per voxel along it: more than the 256 the workspace starts
    // with) and a short one, each with a forced target on its far end
    const shape: Vec3 = [720, 9, 9];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, [{ label: 1, points: [[4, 4, 4], [704, 4, 4]], radius: 3 }], [1, 1, 1]);
    paintTubes(lab, shape, [{ label: 2, points: [[710, 4, 4], [716, 4, 4]], radius: 2 }], [1, 1, 1]);
    const at = (x: number) => x + shape[0] * (4 + shape[1] * 4);
    const forced = new Map([[1, [at(704)]], [2, [at(716)]]]);
    const out = skeletonizeLabels(lab, shape, 2, { forcedTargets: forced });
    const again = skeletonizeLabels(lab, shape, 2, { forcedTargets: forced });
    for (const l of [1, 2]) {
      const s = out[l];
      const nv = s.vertices.length / 3;
      expect(s.radius.length).toBe(nv);
      expect(isTree(nv, s.edges)).toBe(true);
      // the forced end is a vertex (its centre, x + 0.5)
      const xs = Array.from({ length: nv }, (_, i) => s.vertices[3 * i]);
      expect(xs).toContain((l === 1 ? 704 : 716) + 0.5);
      // a second call (the workspace and its grown buffers reused) gives the same bytes
      expect(Array.from(again[l].vertices)).toEqual(Array.from(s.vertices));
      expect(Array.from(again[l].edges)).toEqual(Array.from(s.edges));
      expect(Array.from(again[l].radius)).toEqual(Array.from(s.radius));
    }
    expect(out[1].vertices.length / 3).toBeGreaterThan(600);
    expect(cableLength(out[1])).toBeGreaterThan(650);
  });

  it('find both arms of a Y and several labels and components in one pass', () => {
    const shape: Vec3 = [70, 70, 20];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    const tubes: Tube[] = [
      { label: 1, points: [[5, 35, 10], [35, 35, 10], [64, 10, 10]], radius: 3 },
      { label: 1, points: [[35, 35, 10], [64, 60, 10]], radius: 3 },
      { label: 2, points: [[5, 5, 3], [30, 5, 3]], radius: 2 },
      { label: 2, points: [[5, 64, 3], [30, 64, 3]], radius: 2 }, // second component of label 2
    ];
    paintTubes(lab, shape, tubes);
    const sk = skeletonizeLabels(lab, shape, 2);
    const truth1 = tubes.filter((t) => t.label === 1).map((t) => toNm(t, [1, 1, 1]));
    const s1 = scoreSkeleton(sk[1], truth1, 2.5);
    expect(s1.precision).toBeGreaterThan(0.9);
    expect(s1.recall).toBeGreaterThan(0.9);
    expect(isTree(sk[1].vertices.length / 3, sk[1].edges)).toBe(true);
    const s2 = scoreSkeleton(sk[2], tubes.filter((t) => t.label === 2).map((t) => toNm(t, [1, 1, 1])), 2.5);
    expect(s2.recall).toBeGreaterThan(0.9);
    // two components -> a forest with two trees: edges = vertices - 2
    expect(sk[2].edges.length / 2).toBe(sk[2].vertices.length / 3 - 2);
  });

  it('includes forced targets as vertices', () => {
    const shape: Vec3 = [40, 20, 20];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, [{ label: 1, points: [[2, 10, 10], [37, 10, 10]], radius: 5 }]);
    const g = 20 + 40 * (13 + 20 * 10); // an off-centre voxel inside the tube
    expect(lab[g]).toBe(1);
    const [, s] = skeletonizeLabels(lab, shape, 1, { forcedTargets: new Map([[1, [g]]]) });
    let found = false;
    for (let i = 0; i < s.vertices.length; i += 3) if (s.vertices[i] === 20.5 && s.vertices[i + 1] === 13.5 && s.vertices[i + 2] === 10.5) found = true;
    expect(found).toBe(true);
    expect(isTree(s.vertices.length / 3, s.edges)).toBe(true);
  });
});
