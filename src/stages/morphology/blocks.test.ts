import { describe, expect, it } from 'vitest';
import { type Box, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { scoreSkeleton } from '../../metrics/skeletons.js';
import { decodeMeshBlock, decodeSkeletonBlock, encodeMeshBlock, encodeSkeletonBlock, mergeSkeletons, meshBlock, skeletonBlock } from './blocks.js';
import { mergeMeshes, meshVolume, openEdges } from './mesh.js';
import { skeletonizeLabels } from './skeleton.js';
import { skeletonStats } from './stats.js';
import { paintTubes, randomTubes } from './synthetic.js';

function blocks(bounds: Box, size: number[]): Box[] {
  const out: Box[] = [];
  for (let z = bounds.min[2]; z < bounds.max[2]; z += size[2])
    for (let y = bounds.min[1]; y < bounds.max[1]; y += size[1])
      for (let x = bounds.min[0]; x < bounds.max[0]; x += size[0])
        out.push({ min: [x, y, z], max: [Math.min(x + size[0], bounds.max[0]), Math.min(y + size[1], bounds.max[1]), Math.min(z + size[2], bounds.max[2])] });
  return out;
}

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
});
