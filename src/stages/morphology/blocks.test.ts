import { describe, expect, it } from 'vitest';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { blockGrid, listBlocks } from '../../scheduler/blocks.js';
import { scoreSkeleton } from '../../metrics/skeletons.js';
import { decodeMeshBlock, decodeSkeletonBlock, encodeMeshBlock, encodeSkeletonBlock, mergeSkeletons, meshBlock, skeletonBlock, skeletonSampleStep } from './blocks.js';
import { mergeMeshes, meshVolume, openEdges } from './mesh.js';
import { skeletonizeLabels } from './skeleton.js';
import { skeletonStats } from './stats.js';
import { paintTubes, randomTubes } from './synthetic.js';

const blocks = (bounds: Box, size: Vec3): Box[] => listBlocks(blockGrid(bounds, size)).map((b) => b.box);

describe('blockwise meshes and skeletons', () => {
  const shape = [64, 48, 40] as const;
  const offset = [10, 20, 30] as const;
  const res = [4, 4, 8] as const;
  const data = new BigUint64Array(shape[0] * shape[1] * shape[2]);
  const lab = new Uint32Array(data.length);
  const tubes = randomTubes(shape, 12, { seed: 5, radius: [2, 4] });
  paintTubes(lab, shape, tubes);
  for (let i = 0; i < lab.length; i++) data[i] = lab[i] ? 864691135639556400n + BigInt(lab[i]) : 0n;
  const vol = new Volume('uint64', boxFromShape(shape, offset), data, 1, res);
  const bounds = vol.box;

  it('stitch meshes across blocks into closed meshes equal to the whole-volume mesh', () => {
    const whole = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds }).map((m) => [m.id, m.mesh]));
    const pieces = new Map<bigint, ReturnType<typeof meshBlock>[number]['mesh'][]>();
    for (const b of blocks(bounds, [20, 16, 16])) {
      const items = decodeMeshBlock(encodeMeshBlock(meshBlock(vol, b, { voxelSize: res, bounds })), 'block');
      for (const it of items) {
        if (!pieces.has(it.id)) pieces.set(it.id, []);
        pieces.get(it.id)!.push(it.mesh);
      }
    }
    expect(pieces.size).toBe(whole.size);
    for (const [id, parts] of pieces) {
      const m = mergeMeshes(parts);
      const w = whole.get(id)!;
      expect(openEdges(m)).toBe(0);
      expect(m.indices.length).toBe(w.indices.length);
      expect(meshVolume(m)).toBeCloseTo(meshVolume(w), 0);
    }
  });

  it('merge skeleton pieces across blocks into connected skeletons close to the whole-volume ones', () => {
    const pieces = new Map<bigint, ReturnType<typeof skeletonBlock>[number]['skel'][]>();
    for (const b of blocks(bounds, [24, 24, 16])) {
      const items = decodeSkeletonBlock(encodeSkeletonBlock(skeletonBlock(vol, b, { voxelSize: res, bounds })), 'block');
      for (const it of items) {
        if (!pieces.has(it.id)) pieces.set(it.id, []);
        pieces.get(it.id)!.push(it.skel);
      }
    }
    const wholeSk = skeletonizeLabels(lab, shape, 12, { voxelSize: res, offset });
    let checked = 0;
    for (const [id, parts] of pieces) {
      const l = Number(id - 864691135639556400n);
      const merged = mergeSkeletons(parts);
      const w = wholeSk[l];
      // same number of connected pieces as the whole-volume skeleton (blocks joined at anchors)
      expect(skeletonStats(merged).components).toBe(skeletonStats(w).components);
      const truth = tubes.filter((t) => t.label === l).map((t) => ({ points: t.points.map((p) => [(p[0] + offset[0] + 0.5) * res[0], (p[1] + offset[1] + 0.5) * res[1], (p[2] + offset[2] + 0.5) * res[2]] as [number, number, number]) }));
      const sw = scoreSkeleton(w, truth, 16);
      const sm = scoreSkeleton(merged, truth, 16);
      expect(sm.recall).toBeGreaterThan(sw.recall - 0.1);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('skeletonize on the sampled grid: vertices on sampled voxels of their segment, pieces weld across blocks', () => {
    const step = skeletonSampleStep(res as unknown as [number, number, number], [24, 24, 16], 2);
    expect(step).toEqual([2, 2, 1]);
    const truthOf = (l: number) => tubes.filter((t) => t.label === l).map((t) => ({ points: t.points.map((p) => [(p[0] + offset[0] + 0.5) * res[0], (p[1] + offset[1] + 0.5) * res[1], (p[2] + offset[2] + 0.5) * res[2]] as [number, number, number]) }));
    const one = new Map(skeletonBlock(vol, bounds, { voxelSize: res, bounds, sampleStep: step }).map((it) => [it.id, it.skel]));
    const full = new Map(skeletonBlock(vol, bounds, { voxelSize: res, bounds }).map((it) => [it.id, it.skel]));
    const pieces = new Map<bigint, ReturnType<typeof skeletonBlock>[number]['skel'][]>();
    for (const b of blocks(bounds, [24, 24, 16])) {
      for (const it of skeletonBlock(vol, b, { voxelSize: res, bounds, sampleStep: step })) {
        if (!pieces.has(it.id)) pieces.set(it.id, []);
        pieces.get(it.id)!.push(it.skel);
      }
    }
    expect(pieces.size).toBe(full.size);
    const sum = { full: { precision: 0, recall: 0 }, sampled: { precision: 0, recall: 0 } };
    for (const [id, parts] of pieces) {
      const l = Number(id - 864691135639556400n);
      const merged = mergeSkeletons(parts);
      const V = merged.vertices;
      for (let i = 0; i < V.length; i += 3) {
        const x = V[i] / res[0] - 0.5 - offset[0], y = V[i + 1] / res[1] - 0.5 - offset[1], z = V[i + 2] / res[2] - 0.5 - offset[2];
        // the centre of a sampled voxel (even x, y from the volume's corner) of its own segment
        expect([x % 2, y % 2, Number.isInteger(z)]).toEqual([0, 0, true]);
        expect(lab[x + shape[0] * (y + shape[1] * z)]).toBe(l);
      }
      // the same pieces as the sampled grid in one block: the seams weld
      expect(skeletonStats(merged).components).toBe(skeletonStats(one.get(id)!).components);
      // as close to the centre lines as the full grid (thin tubes here: 2-3.6 voxels, 1-1.8 samples)
      const sf = scoreSkeleton(full.get(id)!, truthOf(l), 16);
      const sm = scoreSkeleton(merged, truthOf(l), 16);
      for (const k of ['precision', 'recall'] as const) {
        sum.full[k] += sf[k] / pieces.size;
        sum.sampled[k] += sm[k] / pieces.size;
      }
    }
    expect(sum.sampled.recall).toBeGreaterThan(sum.full.recall - 0.05);
    expect(sum.sampled.precision).toBeGreaterThan(sum.full.precision - 0.05);
  });

  it('refuses a block off the sample grid and keeps isotropic volumes on the full grid', () => {
    expect(() => skeletonBlock(vol, { min: [11, 20, 30], max: [35, 44, 46] }, { voxelSize: res, bounds, sampleStep: [2, 2, 1] })).toThrow(/sample grid/);
    expect(skeletonSampleStep([8, 8, 8], [128, 128, 128], 2)).toEqual([1, 1, 1]);
    expect(skeletonSampleStep([8, 8, 30], [128, 128, 128], 1)).toEqual([1, 1, 1]);
    expect(skeletonSampleStep([8, 8, 30], [128, 127, 128], 2)).toEqual([2, 1, 1]);
    expect(skeletonSampleStep([4, 4, 50], [128, 128, 128], 2)).toEqual([2, 2, 1]);
  });

  it('skeletonizes a label the sample misses on the full grid', () => {
    const sh = [12, 12, 6] as const;
    const d = new BigUint64Array(sh[0] * sh[1] * sh[2]);
    for (let z = 0; z < sh[2]; z++) {
      for (let y = 0; y < sh[1]; y++) for (let x = 6; x < 12; x++) d[x + sh[0] * (y + sh[1] * z)] = 7n;
      d[3 + sh[0] * (5 + sh[1] * z)] = 9n; // one voxel wide at odd x and y: no sampled voxel
    }
    const v = new Volume('uint64', boxFromShape(sh), d, 1, [4, 4, 12]);
    const out = new Map(skeletonBlock(v, v.box, { voxelSize: [4, 4, 12], bounds: v.box, sampleStep: [2, 2, 1] }).map((it) => [it.id, it.skel]));
    expect([...out.keys()].sort()).toEqual([7n, 9n]);
    const thin = out.get(9n)!;
    expect(thin.radius.length).toBe(6);
    for (let i = 0; i < thin.vertices.length; i += 3) expect([thin.vertices[i], thin.vertices[i + 1]]).toEqual([14, 22]);
    const thick = out.get(7n)!;
    for (let i = 0; i < thick.vertices.length; i += 3) expect((thick.vertices[i] / 4 - 0.5) % 2).toBe(0);
  });

  it('skeletonizes each missed label on its own box as the whole block would, anchors on shared faces included', () => {
    // two blocks along x (shared plane x = 16) and along z (z = 4); thin labels (odd x and y, one
    // voxel wide) that cross both shared planes, touch each other and sit beside a thick label
    const sh = [32, 14, 8] as const;
    const d = new BigUint64Array(sh[0] * sh[1] * sh[2]);
    const at = (x: number, y: number, z: number) => x + sh[0] * (y + sh[1] * z);
    for (let z = 0; z < sh[2]; z++) {
      for (let y = 8; y < 14; y++) for (let x = 0; x < 32; x++) d[at(x, y, z)] = 7n;
      for (let x = 9; x < 25; x++) d[at(x, 3, z)] = 9n; // along x through x = 16
      d[at(21, 5, z)] = 11n; // along z through z = 4, beside the thick label's face
      d[at(21, 7, z)] = 11n;
      d[at(21, 6, z)] = 11n;
    }
    d[at(3, 1, 2)] = 13n; // a single voxel
    const vs: Vec3 = [4, 4, 12];
    const v = new Volume('uint64', boxFromShape(sh), d, 1, vs);
    const grid = blocks(v.box, [16, 14, 4]);
    for (const box of grid) {
      const ext = { min: box.min, max: [0, 1, 2].map((k) => Math.min(box.max[k] + 1, sh[k])) as unknown as Vec3 };
      const got = new Map(skeletonBlock(v.crop(ext), box, { voxelSize: vs, bounds: v.box, sampleStep: [2, 2, 1] }).map((it) => [it.id, it.skel]));
      for (const id of [9n, 11n, 13n]) {
        // the reference: the full grid with only this label (how missed labels were done before)
        const only = new BigUint64Array(d.length);
        for (let i = 0; i < d.length; i++) if (d[i] === id) only[i] = id;
        const alone = new Volume('uint64', v.box, only, 1, vs).crop(ext);
        const ref = skeletonBlock(alone, box, { voxelSize: vs, bounds: v.box }).find((it) => it.id === id);
        const mine = got.get(id);
        expect(mine === undefined, `label ${id} in block ${box.min}`).toBe(ref === undefined);
        if (!ref || !mine) continue;
        expect(Array.from(mine.vertices)).toEqual(Array.from(ref.skel.vertices));
        expect(Array.from(mine.edges)).toEqual(Array.from(ref.skel.edges));
        expect(Array.from(mine.radius)).toEqual(Array.from(ref.skel.radius));
      }
    }
    // the long thin label has a piece in each of the four blocks, and they share vertices (anchors on the shared planes)
    const parts = grid.flatMap((box) => {
      const ext = { min: box.min, max: [0, 1, 2].map((k) => Math.min(box.max[k] + 1, sh[k])) as unknown as Vec3 };
      return skeletonBlock(v.crop(ext), box, { voxelSize: vs, bounds: v.box, sampleStep: [2, 2, 1] }).filter((it) => it.id === 9n).map((it) => it.skel);
    });
    expect(parts.length).toBe(4); // two blocks along x times two along z
    const merged = mergeSkeletons(parts);
    expect(merged.radius.length).toBeLessThan(parts.reduce((n, p) => n + p.radius.length, 0));
  });
});
