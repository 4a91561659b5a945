import { describe, expect, it } from 'vitest';
import { boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { blockCellStats, mergeCellStats } from './cells.js';

function ball(shape: [number, number, number], centre: [number, number, number], r: number, id: bigint, vol: Volume<'uint64'>) {
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++)
        if ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= r * r) vol.data[vol.index(x, y, z)] = id;
}

describe('cell statistics', () => {
  const shape: [number, number, number] = [40, 30, 20];
  const vol = Volume.zeros('uint64', shape, { voxelSize: [8, 8, 8] });
  vol.data.fill(5n); // a background cell filling the rest
  ball(shape, [12, 15, 10], 7, 864691135639556411n, vol);
  ball(shape, [30, 12, 8], 4, 9n, vol);
  const bounds = vol.box;

  it('counts voxels and anchors each cell at its deepest voxel', () => {
    const stats = mergeCellStats([blockCellStats(vol, bounds, bounds, 1000)]);
    const big = stats.find((s) => s.id === 864691135639556411n)!;
    expect(big.anchor).toEqual([12, 15, 10]);
    expect(stats.find((s) => s.id === 9n)!.anchor).toEqual([30, 12, 8]);
    const total = stats.reduce((a, s) => a + s.voxels, 0);
    expect(total).toBe(40 * 30 * 20);
  });

  it('gives the same answer blockwise (margin = clip distance)', () => {
    const clip = 24; // nm = 3 voxels
    const whole = mergeCellStats([blockCellStats(vol, bounds, bounds, clip)]);
    const blocks = [];
    for (let z = 0; z < 20; z += 8)
      for (let y = 0; y < 30; y += 16)
        for (let x = 0; x < 40; x += 16) {
          const box = boxIntersect(boxFromShape([16, 16, 8], [x, y, z]), bounds);
          const read = boxIntersect(boxGrow(box, [3, 3, 3]), bounds);
          blocks.push(blockCellStats(vol.crop(read), box, bounds, clip));
        }
    expect(mergeCellStats(blocks)).toEqual(whole);
  });

  it('handles an empty (all zero) volume', () => {
    const z = Volume.zeros('uint32', [3, 3, 3]);
    expect(blockCellStats(z, z.box, z.box, 10)).toEqual([]);
  });
});
