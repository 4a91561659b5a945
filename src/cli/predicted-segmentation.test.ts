// defaultSegmentation: `wiring segment`'s defaults on an in-memory boundary map (what train-pixels --predicted-segmentation gives the cleft filter).
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { defaultSegmentation } from './predicted-segmentation.js';

describe('defaultSegmentation', () => {
  it('splits two cells at a boundary plane and joins the supervoxels inside each', async () => {
    const shape: Vec3 = [40, 24, 6];
    const b = new Float32Array(shape[0] * shape[1] * shape[2]);
    // a membrane plane at x = 19..20, a little noise inside the cells (seeded pattern)
    for (let z = 0, i = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++, i++) {
      b[i] = x === 19 || x === 20 ? 0.95 : ((x * 7 + y * 11 + z * 3) % 10) / 100;
    }
    const { labels, segments, supervoxels } = await defaultSegmentation(b, shape, [8, 8, 30]);
    expect(supervoxels).toBeGreaterThanOrEqual(2);
    expect(segments).toBe(2);
    const at = (x: number, y: number, z: number): number => labels[x + shape[0] * (y + shape[1] * z)];
    const left = at(2, 2, 0), right = at(37, 20, 5);
    expect(left).toBeGreaterThan(0);
    expect(right).toBeGreaterThan(0);
    expect(left).not.toBe(right);
    // every voxel away from the membrane lies in its side's segment, in every section
    for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) {
      for (let x = 0; x < 17; x++) expect(at(x, y, z)).toBe(left);
      for (let x = 23; x < 40; x++) expect(at(x, y, z)).toBe(right);
    }
  });

  it('names a map of the wrong size', async () => {
    await expect(defaultSegmentation(new Float32Array(10), [4, 4, 4], [8, 8, 30])).rejects.toThrow(UsageError);
    await expect(defaultSegmentation(new Float32Array(10), [4, 4, 4], [8, 8, 30])).rejects.toThrow(/10 voxels, not the 4x4x4/);
  });
});
