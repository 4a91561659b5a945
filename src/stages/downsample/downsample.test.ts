import { describe, expect, it } from 'vitest';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { downsampleMean, downsampleMode, downsampledBox, nextFactor } from './downsample.js';

describe('nextFactor', () => {
  it('makes anisotropic data isotropic first', () => {
    expect(nextFactor([4, 4, 40])).toEqual([2, 2, 1]);
    expect(nextFactor([32, 32, 40])).toEqual([2, 2, 2]);
    expect(nextFactor([8, 8, 8])).toEqual([2, 2, 2]);
    expect(nextFactor([10, 5, 5])).toEqual([1, 2, 2]);
  });
});

describe('downsampleMean', () => {
  it('averages 2x2x2 groups and rounds integers to nearest', () => {
    const v = Volume.from('uint8', [2, 2, 2], Uint8Array.from([0, 1, 1, 1, 1, 1, 1, 1]));
    const d = downsampleMean(v, [2, 2, 2]);
    expect(d.shape).toEqual([1, 1, 1]);
    expect(d.data[0]).toBe(1); // 7/8 rounds to 1
    expect(d.voxelSize).toEqual([2, 2, 2]);
  });
  it('averages over the voxels that exist at the upper bounds (odd sizes)', () => {
    const v = Volume.from('float32', [3, 1, 1], Float32Array.from([2, 4, 9]));
    const d = downsampleMean(v, [2, 1, 1]);
    expect(Array.from(d.data)).toEqual([3, 9]);
  });
  it('keeps channels apart and works on 2-D and one voxel', () => {
    const v = Volume.from('uint16', [2, 2, 1], Uint16Array.from([1, 1, 1, 1, 100, 100, 100, 100]), { channels: 2 });
    const d = downsampleMean(v, [2, 2, 1]);
    expect(Array.from(d.data)).toEqual([1, 100]);
    const one = downsampleMean(Volume.from('float32', [1, 1, 1], Float32Array.of(5)), [2, 2, 2]);
    expect(Array.from(one.data)).toEqual([5]);
  });
  it('matches a blockwise run exactly (blocks aligned to the factor)', () => {
    const v = Volume.zeros('uint8', [13, 10, 7]);
    for (let i = 0; i < v.data.length; i++) v.data[i] = (i * 2654435761) >>> 24;
    const whole = downsampleMean(v, [2, 2, 2]);
    for (const [x0, x1] of [[0, 8], [8, 13]]) {
      const part = downsampleMean(v.crop(boxFromShape([x1 - x0, 10, 7], [x0, 0, 0])), [2, 2, 2]);
      expect(Array.from(part.data)).toEqual(Array.from(whole.crop(part.box).data));
    }
  });
  it('rejects misaligned blocks and uint64', () => {
    expect(() => downsampleMean(Volume.zeros('uint8', boxFromShape([2, 2, 2], [1, 0, 0])), [2, 2, 2])).toThrow(/multiple/);
    expect(() => downsampleMean(Volume.zeros('uint64', [2, 2, 2]), [2, 2, 2])).toThrow(/mode/);
  });
});

describe('downsampleMode', () => {
  it('takes the most frequent label, ties to the smallest', () => {
    const v = Volume.from('uint32', [2, 2, 2], Uint32Array.from([5, 5, 3, 3, 3, 9, 9, 5]));
    expect(Array.from(downsampleMode(v, [2, 2, 2]).data)).toEqual([3]);
    const tie = Volume.from('uint32', [2, 1, 1], Uint32Array.from([7, 2]));
    expect(Array.from(downsampleMode(tie, [2, 1, 1]).data)).toEqual([2]);
  });
  it('keeps uint64 ids above 2^53 exact', () => {
    const big = 864691135639556411n;
    const v = Volume.from('uint64', [2, 2, 1], BigUint64Array.from([big, big, big + 1n, 0n]));
    expect(Array.from(downsampleMode(v, [2, 2, 1]).data)).toEqual([big]);
  });
  it('computes the covering box', () => {
    expect(downsampledBox(boxFromShape([5, 4, 3], [2, 0, 0]), [2, 2, 1])).toEqual({ min: [1, 0, 0], max: [4, 2, 3] });
  });
});
