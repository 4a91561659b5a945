import { describe, expect, it } from 'vitest';
import { FormatError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { convertBlock, layerDataType } from './convert.js';

describe('layer data types', () => {
  it('stores labels unsigned and images unchanged', () => {
    expect(layerDataType('int32', 'segmentation')).toBe('uint32');
    expect(layerDataType('uint64', 'segmentation')).toBe('uint64');
    expect(layerDataType('int16', 'image')).toBe('int16');
    expect(() => layerDataType('float32', 'segmentation')).toThrow(/--type image/);
  });
});

describe('convertBlock', () => {
  it('converts signed labels to uint32 and uint64', () => {
    const v = Volume.from('int32', [3, 1, 1], Int32Array.from([0, 7, 2147483647]));
    expect([...convertBlock(v, 'uint32', 'x').data]).toEqual([0, 7, 2147483647]);
    expect([...convertBlock(v, 'uint64', 'x').data]).toEqual([0n, 7n, 2147483647n]);
  });
  it('names the voxel of a negative label', () => {
    const v = Volume.from('int32', [2, 2, 1], Int32Array.from([0, 1, 2, -3]), { offset: [10, 20, 30] });
    expect(() => convertBlock(v, 'uint32', 'gt.h5#stack')).toThrow(FormatError);
    expect(() => convertBlock(v, 'uint32', 'gt.h5#stack')).toThrow('gt.h5#stack: label -3 at voxel [11, 21, 30]');
  });
  it('returns the same block when no conversion is needed', () => {
    const v = Volume.zeros('uint8', [1, 1, 1]);
    expect(convertBlock(v, 'uint8', 'x')).toBe(v);
  });
});
