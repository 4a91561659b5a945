// Partial-volume vertex placement on the coarse grid (partial-volume.ts): a boundary inside a coarse
// voxel moves the coarse surface towards it, meshes stay closed, and blocks still weld into the
// one-block result.
import { describe, expect, it } from 'vitest';
import { type Box, type Vec3, boxFromShape } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import { Volume } from '../../core/volume.js';
import { blockGrid, listBlocks, readBoxOf } from '../../scheduler/blocks.js';
import { meshBlock } from './blocks.js';
import { coarseMeshMargin } from './coarse-mesh.js';
import { type Mesh, holeEdges, mergeMeshes, meshVolume } from './mesh.js';
import { PV_REACH } from './partial-volume.js';
import { paintTubes, randomTubes } from './synthetic.js';

const blocks = (bounds: Box, size: Vec3): Box[] => listBlocks(blockGrid(bounds, size)).map((b) => b.box);
const extent = (m: Mesh, k: number): [number, number] => {
  let lo = Infinity, hi = -Infinity;
  for (let i = k; i < m.vertices.length; i += 3) { lo = Math.min(lo, m.vertices[i]); hi = Math.max(hi, m.vertices[i]); }
  return [lo, hi];
};

describe('partial-volume vertices on the coarse grid', () => {
  it('moves a face that lies inside a coarse voxel to the full-resolution face (up to PV_REACH), and leaves aligned faces', () => {
    // a box x 2..edge, y 2..6, z 1..3 in a 12x8x4 volume at 1 nm, factor [2,2,1]
    for (const edge of [5, 6, 7]) {
      const d = new Uint32Array(12 * 8 * 4);
      for (let z = 1; z < 3; z++) for (let y = 2; y < 6; y++) for (let x = 2; x < edge; x++) d[x + 12 * (y + 8 * z)] = 1;
      const vol = new Volume('uint32', boxFromShape([12, 8, 4]), d, 1, [1, 1, 1]);
      const o = { voxelSize: [1, 1, 1] as Vec3, bounds: vol.box, downsample: [2, 2, 1] as Vec3 };
      const [mode] = meshBlock(vol, vol.box, o);
      const [pv] = meshBlock(vol, vol.box, { ...o, partialVolume: true });
      expect(holeEdges(pv.mesh)).toBe(0);
      // the mode ties the half-covered coarse voxel to the box (face at the next even x); the
      // partial-volume face comes back to the box's face, stopped PV_REACH coarse voxels from the coarse face
      const coarseFace = 2 * Math.ceil(edge / 2);
      expect(extent(mode.mesh, 0)[1]).toBe(coarseFace);
      expect(extent(pv.mesh, 0)[1]).toBeCloseTo(edge === coarseFace ? edge : coarseFace - 2 * PV_REACH, 5);
      // the y and z faces of the box lie on coarse faces and stay where they are
      expect(extent(pv.mesh, 1)).toEqual(extent(mode.mesh, 1));
      expect(extent(pv.mesh, 2)).toEqual(extent(mode.mesh, 2));
    }
  });

  it('brings random boxes closer to their full-resolution volume than the mode grid does, closed', () => {
    const rnd = mulberry32(4);
    let pvErr = 0, modeErr = 0;
    for (let n = 0; n < 30; n++) {
      const shape: Vec3 = [24, 24, 6];
      const d = new Uint32Array(shape[0] * shape[1] * shape[2]);
      const lo = [1 + Math.floor(rnd() * 8), 1 + Math.floor(rnd() * 8), 1];
      const hi = [lo[0] + 4 + Math.floor(rnd() * 10), lo[1] + 4 + Math.floor(rnd() * 10), 5];
      for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) d[x + shape[0] * (y + shape[1] * z)] = 1;
      const vol = new Volume('uint32', boxFromShape(shape), d, 1, [8, 8, 30]);
      const o = { voxelSize: [8, 8, 30] as Vec3, bounds: vol.box };
      const full = meshVolume(meshBlock(vol, vol.box, o)[0].mesh);
      const [mode] = meshBlock(vol, vol.box, { ...o, downsample: [2, 2, 1] });
      const [pv] = meshBlock(vol, vol.box, { ...o, downsample: [2, 2, 1], partialVolume: true });
      expect(holeEdges(pv.mesh)).toBe(0);
      pvErr += Math.abs(meshVolume(pv.mesh) / full - 1);
      modeErr += Math.abs(meshVolume(mode.mesh) / full - 1);
    }
    expect(pvErr).toBeLessThan(0.6 * modeErr);
  });

  it('stitches blocks into closed meshes equal to the one-block result', () => {
    const shape: Vec3 = [64, 48, 24];
    const res: Vec3 = [8, 8, 30];
    const lab = new Uint32Array(shape[0] * shape[1] * shape[2]);
    paintTubes(lab, shape, randomTubes(shape, 12, { seed: 8, radius: [1, 5] }));
    // bounds start off the coarse grid's even planes (odd offset): positions come from bounds.min
    const vol = new Volume('uint32', boxFromShape(shape, [7, 3, 2]), lab, 1, res);
    const bounds = vol.box;
    const f: Vec3 = [2, 2, 1];
    const o = { voxelSize: res, bounds, downsample: f, partialVolume: true };
    const whole = new Map(meshBlock(vol, bounds, o).map((m) => [m.id, m.mesh]));
    const mode = new Map(meshBlock(vol, bounds, { ...o, partialVolume: false }).map((m) => [m.id, m.mesh]));
    let differs = 0;
    for (const [id, m] of whole) if (meshVolume(m) !== meshVolume(mode.get(id)!)) differs++;
    expect(differs).toBeGreaterThan(whole.size / 2);
    for (const size of [[20, 16, 8], [16, 24, 24]] as Vec3[]) {
      const pieces = new Map<bigint, Mesh[]>();
      for (const b of blocks(bounds, size)) {
        for (const it of meshBlock(vol.crop(readBoxOf(b, coarseMeshMargin(f), bounds)), b, o)) {
          if (!pieces.has(it.id)) pieces.set(it.id, []);
          pieces.get(it.id)!.push(it.mesh);
        }
      }
      expect(pieces.size).toBe(whole.size);
      for (const [id, parts] of pieces) {
        const m = mergeMeshes(parts);
        expect(holeEdges(m), `segment ${id} closed in blocks ${size}`).toBe(0);
        expect(meshVolume(m)).toBeCloseTo(meshVolume(whole.get(id)!), 0);
      }
    }
  });
});
