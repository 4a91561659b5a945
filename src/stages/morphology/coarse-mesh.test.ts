import { describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import { openSource } from '../../formats/open.js';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { blockGrid, listBlocks, readBoxOf } from '../../scheduler/blocks.js';
import { meshBlock } from './blocks.js';
import { coarseMeshMargin, meshDownsampleFactor, modeDownsample, thinPatches } from './coarse-mesh.js';
import { compactLabels, holeEdges, mergeMeshes, meshVolume } from './mesh.js';
import { paintTubes, randomTubes } from './synthetic.js';

const blocks = (bounds: Box, size: Vec3): Box[] => listBlocks(blockGrid(bounds, size)).map((b) => b.box);

describe('modeDownsample', () => {
  it('takes the most frequent label, ties to the label met first, partial cells at the upper border', () => {
    // 3x2x1 by [2,2,1]: cell 0 = x 0-1 (4 voxels), cell 1 = x 2 (2 voxels, partial)
    const lab = new Uint32Array([
      5, 7, 9,
      7, 7, 0,
    ]);
    const d = modeDownsample(lab, [3, 2, 1], [2, 2, 1]);
    expect(d.shape).toEqual([2, 1, 1]);
    // cell 0: 7 x3 beats 5; cell 1: 9 and 0 tie, 9 met first
    expect([...d.labels]).toEqual([7, 9]);
    const t = modeDownsample(new Uint32Array([0, 4, 4, 0]), [2, 2, 1], [2, 2, 1]);
    expect([...t.labels]).toEqual([0]); // 2-2 tie: background met first
  });

  it('2x2x1 cells (compared, not counted) follow the same rule as any other factor', () => {
    // every 2x2 cell of values 0..3, laid side by side along x; the same cells as 2x2x2 with a copy
    // above (counted path: each value twice as often, the same first-met order) must agree
    const cells: number[][] = [];
    for (let q = 0; q < 256; q++) cells.push([q & 3, (q >> 2) & 3, (q >> 4) & 3, (q >> 6) & 3]);
    const w = 2 * cells.length;
    const two = new Uint32Array(w * 2);
    cells.forEach((c, k) => {
      two[2 * k] = c[0];
      two[2 * k + 1] = c[1];
      two[w + 2 * k] = c[2];
      two[w + 2 * k + 1] = c[3];
    });
    const fast = modeDownsample(two, [w, 2, 1], [2, 2, 1]).labels;
    const counted = modeDownsample(Uint32Array.from([...two, ...two]), [w, 2, 2], [2, 2, 2]).labels;
    expect([...fast]).toEqual([...counted]);
    // spot checks: 3 of a kind, a pair against two singles, two pairs (first met), all distinct (first)
    expect([fast[cells.findIndex((c) => c.join() === '1,2,2,2')], fast[cells.findIndex((c) => c.join() === '1,2,3,3')], fast[cells.findIndex((c) => c.join() === '1,2,2,1')], fast[cells.findIndex((c) => c.join() === '3,2,1,0')]]).toEqual([2, 3, 1, 3]);
  });

  it('chooses the factor by voxel size and block shape', () => {
    expect(meshDownsampleFactor([8, 8, 30], [256, 256, 128], 2)).toEqual([2, 2, 1]);
    expect(meshDownsampleFactor([8, 8, 30], [256, 256, 128], 4)).toEqual([2, 2, 1]); // 32 nm would pass 30: 16 is the last <= 15
    expect(meshDownsampleFactor([4, 4, 50], [256, 256, 128], 4)).toEqual([4, 4, 1]);
    expect(meshDownsampleFactor([10, 10, 10], [64, 64, 64], 2)).toEqual([1, 1, 1]);
    expect(meshDownsampleFactor([8, 8, 30], [255, 256, 128], 2)).toEqual([1, 2, 1]);
    expect(meshDownsampleFactor([8, 8, 30], [256, 256, 128], 1)).toEqual([1, 1, 1]);
  });
});

describe('meshBlock downsampled', () => {
  it('meshes a box at half resolution in the same frame, closed, with its volume', () => {
    // a 10x8x4 box at [2..12)x[2..10)x[1..5) of a 16x12x6 volume at offset [4,6,2], 8x8x30 nm
    const shape: Vec3 = [16, 12, 6];
    const offset: Vec3 = [4, 6, 2];
    const res: Vec3 = [8, 8, 30];
    const data = new Uint32Array(shape[0] * shape[1] * shape[2]);
    for (let z = 1; z < 5; z++) for (let y = 2; y < 10; y++) for (let x = 2; x < 12; x++) data[x + shape[0] * (y + shape[1] * z)] = 3;
    const vol = new Volume('uint32', boxFromShape(shape, offset), data, 1, res);
    const [full] = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box });
    const [half] = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box, downsample: [2, 2, 1] });
    expect(half.id).toBe(3n);
    expect(holeEdges(half.mesh)).toBe(0);
    // surfaces lie on voxel faces (voxel i covers [offset + i, offset + i + 1) voxels); the box's
    // faces at even offsets from the volume's corner are coarse faces too: same extents in nm
    const ext = (m: Float32Array, k: number) => {
      let lo = Infinity, hi = -Infinity;
      for (let i = k; i < m.length; i += 3) { lo = Math.min(lo, m[i]); hi = Math.max(hi, m[i]); }
      return [lo, hi];
    };
    for (const k of [0, 1, 2]) expect(ext(half.mesh.vertices, k)).toEqual(ext(full.mesh.vertices, k));
    expect(ext(half.mesh.vertices, 0)).toEqual([(4 + 2) * 8, (4 + 12) * 8]);
    expect(ext(half.mesh.vertices, 1)).toEqual([(6 + 2) * 8, (6 + 10) * 8]);
    expect(half.mesh.indices.length).toBeLessThan(full.mesh.indices.length);
    // marching cubes chamfers edges and corners: the coarse mesh by a coarse voxel
    const voxels = 10 * 8 * 4 * 8 * 8 * 30;
    expect(Math.abs(meshVolume(half.mesh) / voxels - 1)).toBeLessThan(0.25);
    expect(meshVolume(half.mesh)).toBeLessThan(meshVolume(full.mesh));
  });

  it('closes partial coarse voxels on the volume face and keeps lost segments at full resolution', () => {
    // odd extents (9x7): the last coarse voxel is partial; label 2 is one voxel, lost by the mode
    const shape: Vec3 = [9, 7, 3];
    const res: Vec3 = [4, 4, 40];
    const data = new Uint32Array(shape[0] * shape[1] * shape[2]).fill(1);
    data[4 + 9 * (3 + 7 * 1)] = 2;
    const vol = new Volume('uint32', boxFromShape(shape), data, 1, res);
    const items = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box, downsample: [2, 2, 1] });
    const byId = new Map(items.map((it) => [it.id, it.mesh]));
    expect([...byId.keys()].sort()).toEqual([1n, 2n]);
    for (const m of byId.values()) expect(holeEdges(m)).toBe(0);
    for (let i = 0; i < byId.get(1n)!.vertices.length; i += 3) {
      expect(byId.get(1n)!.vertices[i]).toBeLessThanOrEqual(9 * 4);
      expect(byId.get(1n)!.vertices[i + 1]).toBeLessThanOrEqual(7 * 4);
    }
    // the lost voxel's full-resolution mesh: a marching-cubes octahedron-like blob around it
    const m2 = byId.get(2n)!;
    expect(meshVolume(m2)).toBeGreaterThan(0);
    expect(meshVolume(m2)).toBeLessThan(4 * 4 * 40);
  });

  it('meshes a thin process the mode vote drops at full resolution, closed, touching the coarse body', () => {
    // label 1: a 8x8 slab (x 0-7) and a one-voxel line along x (8-15) on odd row y = 5, where every
    // 2x2 cell ties 2-2 with the background met first: the coarse grid loses the whole line
    const shape: Vec3 = [16, 12, 3];
    const res: Vec3 = [8, 8, 30];
    const data = new Uint32Array(shape[0] * shape[1] * shape[2]);
    for (let z = 0; z < 3; z++) {
      for (let y = 2; y < 10; y++) for (let x = 0; x < 8; x++) data[x + 16 * (y + 12 * z)] = 1;
      for (let x = 8; x < 16; x++) data[x + 16 * (5 + 12 * z)] = 1;
    }
    const vol = new Volume('uint32', boxFromShape(shape), data, 1, res);
    const f: Vec3 = [2, 2, 1];
    const xMax = (m: Float32Array) => {
      let hi = -Infinity;
      for (let i = 0; i < m.length; i += 3) hi = Math.max(hi, m[i]);
      return hi;
    };
    const [full] = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box });
    const [plain] = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box, downsample: f, thinPatches: false });
    const [thin] = meshBlock(vol, vol.box, { voxelSize: res, bounds: vol.box, downsample: f });
    // without patches the line is gone: the mesh ends at the slab (x = 8 voxels)
    expect(xMax(plain.mesh.vertices)).toBe(8 * 8);
    // with them it reaches the line's tip like the full-resolution mesh, closed
    expect(xMax(thin.mesh.vertices)).toBe(xMax(full.mesh.vertices));
    expect(holeEdges(thin.mesh)).toBe(0);
    expect(holeEdges(mergeMeshes([thin.mesh]))).toBe(0);
    // the line's volume comes back: closer to full resolution than the coarse surface alone
    const vFull = meshVolume(full.mesh);
    expect(Math.abs(meshVolume(thin.mesh) / vFull - 1)).toBeLessThan(Math.abs(meshVolume(plain.mesh) / vFull - 1));
    // the patch is the line (8 voxels per section) grown back to the slab's coarse face: no more
    const c = modeDownsample(data, shape, f);
    const p = thinPatches(data, shape, c.labels, c.shape, f, [0, 0, 0], shape);
    expect(p.voxels).toBe(3 * 8);
    for (let i = 0; i < data.length; i++) if (p.mask[i]) expect([i % 16 >= 8, ((i / 16) | 0) % 12]).toEqual([true, 5]);
  });

  it('patches nothing where the coarse grid keeps every part within one coarse voxel', () => {
    const shape: Vec3 = [24, 20, 4];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    // two blobs 6 voxels across and a straight boundary: no part thinner than the coarse voxel
    for (let z = 0; z < 4; z++) for (let y = 0; y < 20; y++) for (let x = 0; x < 24; x++) lab[x + 24 * (y + 20 * z)] = x < 11 ? 1 : (x - 17) ** 2 + (y - 10) ** 2 <= 9 ? 2 : 3;
    const c = modeDownsample(lab, shape, [2, 2, 1]);
    expect(thinPatches(lab, shape, c.labels, c.shape, [2, 2, 1], [0, 0, 0], shape).voxels).toBe(0);
  });

  it('stitches downsampled blocks into closed meshes equal to the one-block result', () => {
    const shape: Vec3 = [64, 48, 40];
    const offset: Vec3 = [10, 20, 30];
    const res: Vec3 = [4, 4, 8];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, randomTubes(shape, 12, { seed: 5, radius: [1, 4] }));
    const data = new BigUint64Array(lab.length);
    for (let i = 0; i < lab.length; i++) data[i] = lab[i] ? 864691135639556400n + BigInt(lab[i]) : 0n;
    const vol = new Volume('uint64', boxFromShape(shape, offset), data, 1, res);
    const bounds = vol.box;
    const f: Vec3 = [2, 2, 1];
    const whole = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds, downsample: f }).map((m) => [m.id, m.mesh]));
    const ids = new Set<number>(lab);
    ids.delete(0);
    expect(whole.size).toBe(ids.size); // no segment without a mesh
    const pieces = new Map<bigint, ReturnType<typeof meshBlock>[number]['mesh'][]>();
    for (const b of blocks(bounds, [20, 16, 16])) {
      // the task reads three coarse voxels around the block (margin = coarseMeshMargin)
      const read = readBoxOf(b, coarseMeshMargin(f), bounds);
      for (const it of meshBlock(vol.crop(read), b, { voxelSize: res, bounds, downsample: f })) {
        if (!pieces.has(it.id)) pieces.set(it.id, []);
        pieces.get(it.id)!.push(it.mesh);
      }
    }
    expect(pieces.size).toBe(whole.size);
    for (const [id, parts] of pieces) {
      const m = mergeMeshes(parts);
      expect(holeEdges(m)).toBe(0);
      expect(meshVolume(m)).toBeCloseTo(meshVolume(whole.get(id)!), 0);
    }
  });

  it('rejects a block off the coarse grid', () => {
    const vol = new Volume('uint32', boxFromShape([8, 8, 2]), new Uint32Array(128).fill(1), 1, [8, 8, 30]);
    expect(() => meshBlock(vol, { min: [1, 0, 0], max: [5, 8, 2] }, { voxelSize: [8, 8, 30], bounds: vol.box, downsample: [2, 2, 1] })).toThrow(/coarse grid/);
  });
});

describeData('gala-medulla', 'meshBlock downsampled on gala-medulla ground truth (200x100x50 at 10 nm)', () => {
  it('meshes every segment, closed across 8 blocks, the same as one block, volumes of large segments near full resolution', async () => {
    const src = await openSource(`${dataPath('gala-medulla', 'train-gt.h5')}#stack`);
    const raw = await src.read({ min: [0, 0, 0], max: src.shape });
    const res: Vec3 = [10, 10, 10];
    const vol = new Volume(raw.dtype, raw.box, raw.data, 1, res);
    const bounds = vol.box;
    const f: Vec3 = [2, 2, 1];
    const { labels, ids } = compactLabels(vol.data as Int32Array);
    const counts = new Float64Array(ids.length);
    for (const l of labels) counts[l]++;
    const full = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds }).map((m) => [m.id, m.mesh]));
    // as `wiring mesh --downsample` makes them: partial-volume vertices (MESH_DEFAULTS.partialVolume)
    const whole = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds, downsample: f, partialVolume: true }).map((m) => [m.id, m.mesh]));
    expect(whole.size).toBe(ids.length - 1); // 87 segments, none lost
    const pieces = new Map<bigint, ReturnType<typeof meshBlock>[number]['mesh'][]>();
    for (const b of blocks(bounds, [100, 50, 25])) {
      const read = readBoxOf(b, coarseMeshMargin(f), bounds);
      for (const it of meshBlock(vol.crop(read), b, { voxelSize: res, bounds, downsample: f, partialVolume: true })) {
        if (!pieces.has(it.id)) pieces.set(it.id, []);
        pieces.get(it.id)!.push(it.mesh);
      }
    }
    expect(pieces.size).toBe(whole.size);
    for (let l = 1; l < ids.length; l++) {
      const m = mergeMeshes(pieces.get(ids[l])!);
      expect(holeEdges(m), `segment ${ids[l]} closed`).toBe(0);
      expect(meshVolume(m) / meshVolume(whole.get(ids[l])!)).toBeCloseTo(1, 6);
      // bench/mesh-stage: p95 5 % for segments >= 1000 voxels; the large ones stay within 3 %
      if (counts[l] >= 20000) expect(Math.abs(meshVolume(m) / meshVolume(full.get(ids[l])!) - 1), `segment ${ids[l]} (${counts[l]} voxels)`).toBeLessThan(0.03);
    }
  });
});
