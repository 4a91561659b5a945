// Small segments at full resolution when meshing coarse (small-full-res.ts): each block sends its
// count and, below the threshold, the full-resolution piece; the choice by the total is the same
// for every blocking, small segments get exactly the full-resolution surface, large ones the coarse.
import { describe, expect, it } from 'vitest';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { blockGrid, listBlocks, readBoxOf } from '../../scheduler/blocks.js';
import { type MeshItem, decodeMeshBlock, encodeMeshBlock, meshBlock } from './blocks.js';
import { coarseMeshMargin } from './coarse-mesh.js';
import { type Mesh, holeEdges, mergeMeshes, meshVolume } from './mesh.js';
import { chooseSegmentMesh } from './small-full-res.js';
import { paintTubes, randomTubes } from './synthetic.js';

const blocks = (bounds: Box, size: Vec3): Box[] => listBlocks(blockGrid(bounds, size)).map((b) => b.box);

/** A 1-triangle stand-in mesh (distinguishable by its x). */
const tri = (x: number): Mesh => ({ vertices: Float32Array.from([x, 0, 0, x, 1, 0, x, 0, 1]), indices: Uint32Array.from([0, 1, 2]) });

describe('chooseSegmentMesh', () => {
  it('takes the full-resolution pieces when the summed count is below the threshold, else the coarse meshes', () => {
    const parts = [{ mesh: tri(1), voxels: 30, fine: tri(2) }, { mesh: tri(3), voxels: 60, fine: tri(4) }];
    const small = chooseSegmentMesh(parts, 100);
    expect(small.fine).toBe(true);
    expect([...new Set(Array.from({ length: small.mesh.vertices.length / 3 }, (_, i) => small.mesh.vertices[3 * i]))].sort()).toEqual([2, 4]);
    // 90 voxels in total: not below 90
    const large = chooseSegmentMesh(parts, 90);
    expect(large.fine).toBe(false);
    expect([...new Set(Array.from({ length: large.mesh.vertices.length / 3 }, (_, i) => large.mesh.vertices[3 * i]))].sort()).toEqual([1, 3]);
    // a part without its piece (large in that block) or without a count: coarse; one part as is
    expect(chooseSegmentMesh([{ mesh: tri(1), voxels: 30, fine: tri(2) }, { mesh: tri(3), voxels: 60 }], 1000).fine).toBe(false);
    expect(chooseSegmentMesh([{ mesh: tri(1) }], 1000).fine).toBe(false);
    const one = { mesh: tri(1), voxels: 3, fine: tri(2) };
    expect(chooseSegmentMesh([one], 10).mesh).toBe(one.fine);
    // threshold 0: never full resolution
    expect(chooseSegmentMesh([one], 0).fine).toBe(false);
  });
});

describe('mesh block files with counts and full-resolution pieces', () => {
  it('round-trip, and still read the first layout', () => {
    const items: MeshItem[] = [{ id: 2n ** 63n + 5n, mesh: tri(1), voxels: 7, fine: tri(2) }, { id: 9n, mesh: tri(3), voxels: 2 ** 40 }, { id: 11n, mesh: tri(4) }];
    expect(decodeMeshBlock(encodeMeshBlock(items), 'b')).toEqual(items);
    // the first layout: u32 count, then u64 id, u32 vertices, u32 triangles, arrays
    const m = tri(5);
    const old = new Uint8Array(4 + 16 + 36 + 12);
    const dv = new DataView(old.buffer);
    dv.setUint32(0, 1, true);
    dv.setBigUint64(4, 77n, true);
    dv.setUint32(12, 3, true);
    dv.setUint32(16, 1, true);
    old.set(new Uint8Array(m.vertices.buffer), 20);
    old.set(new Uint8Array(m.indices.buffer), 56);
    expect(decodeMeshBlock(old, 'old')).toEqual([{ id: 77n, mesh: m }]);
    expect(() => decodeMeshBlock(encodeMeshBlock(items).subarray(0, 60), 'cut.bin')).toThrow(/cut\.bin.*truncated|truncated/);
  });
});

describe('meshBlock downsampled with small segments at full resolution', () => {
  // 12 tubes of radius 1-4 and a 3x3x2 box (18 voxels) at 8x8x30 nm
  const shape: Vec3 = [64, 48, 24];
  const offset: Vec3 = [10, 20, 30];
  const res: Vec3 = [8, 8, 30];
  const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
  paintTubes(lab, shape, randomTubes(shape, 12, { seed: 9, radius: [1, 4] }));
  for (let z = 10; z < 12; z++) for (let y = 3; y < 6; y++) for (let x = 51; x < 54; x++) lab[x + shape[0] * (y + shape[1] * z)] = 40;
  const data = new BigUint64Array(lab.length);
  for (let i = 0; i < lab.length; i++) data[i] = lab[i] ? 864691135639556400n + BigInt(lab[i]) : 0n;
  const vol = new Volume('uint64', boxFromShape(shape, offset), data, 1, res);
  const bounds = vol.box;
  const f: Vec3 = [2, 2, 1];
  const count = new Map<bigint, number>();
  for (const v of data) if (v) count.set(v, (count.get(v) ?? 0) + 1);
  // a threshold between the segments' sizes, so that some are small and some large
  const sizes = [...count.values()].sort((a, b) => a - b);
  const small = (sizes[sizes.length >> 1] + sizes[(sizes.length >> 1) - 1]) / 2;

  it('sends counts and full-resolution pieces; small segments get the full-resolution surface, large ones the coarse one', () => {
    expect(count.get(864691135639556440n)).toBe(18);
    const full = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds }).map((m) => [m.id, m.mesh]));
    const coarse = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds, downsample: f }).map((m) => [m.id, m.mesh]));
    const items = meshBlock(vol, bounds, { voxelSize: res, bounds, downsample: f, smallVoxels: small });
    expect(items.length).toBe(count.size);
    let nSmall = 0;
    for (const it of items) {
      expect(it.voxels).toBe(count.get(it.id));
      expect(it.fine !== undefined).toBe(it.voxels! < small);
      const c = chooseSegmentMesh([it], small);
      if (it.fine) {
        nSmall++;
        expect(c.fine).toBe(true);
        // the same surface as the full-resolution path
        expect(c.mesh.indices.length).toBe(full.get(it.id)!.indices.length);
        expect(meshVolume(c.mesh)).toBeCloseTo(meshVolume(full.get(it.id)!), 3);
      } else expect(meshVolume(c.mesh)).toBeCloseTo(meshVolume(coarse.get(it.id)!), 3);
      expect(holeEdges(c.mesh)).toBe(0);
    }
    expect(nSmall).toBeGreaterThan(2);
    expect(nSmall).toBeLessThan(items.length - 2);
  });

  it('chooses the same in blocks as in one block: closed meshes, the same volumes', () => {
    const whole = new Map(meshBlock(vol, bounds, { voxelSize: res, bounds, downsample: f, smallVoxels: small }).map((it) => [it.id, chooseSegmentMesh([it], small)]));
    for (const size of [[20, 16, 8], [32, 24, 24]] as Vec3[]) {
      const parts = new Map<bigint, MeshItem[]>();
      for (const b of blocks(bounds, size)) {
        const read = readBoxOf(b, coarseMeshMargin(f), bounds);
        // through the block file, as the task writes it
        for (const it of decodeMeshBlock(encodeMeshBlock(meshBlock(vol.crop(read), b, { voxelSize: res, bounds, downsample: f, smallVoxels: small })), 'block')) {
          if (!parts.has(it.id)) parts.set(it.id, []);
          parts.get(it.id)!.push(it);
        }
      }
      expect(parts.size).toBe(whole.size);
      for (const [id, p] of parts) {
        // the counts of the blocks' own boxes add up to the segment's size
        expect(p.reduce((n, it) => n + (it.voxels ?? 0), 0)).toBe(count.get(id));
        const c = chooseSegmentMesh(p, small);
        const w = whole.get(id)!;
        expect(c.fine).toBe(w.fine);
        const m = mergeMeshes([c.mesh]);
        expect(holeEdges(m), `segment ${id} closed in blocks ${size}`).toBe(0);
        expect(meshVolume(m)).toBeCloseTo(meshVolume(w.mesh), 0);
      }
    }
  });
});
