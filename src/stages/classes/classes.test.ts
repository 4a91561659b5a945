import { describe, expect, it } from 'vitest';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { CLASS, classLabels } from './classes.js';

describe('classLabels', () => {
  it('marks cell borders, id 0 and organelles', () => {
    // Two cells side by side along x: 1 1 2 2, one voxel of id 0 at the end.
    const n = Volume.from('uint64', [5, 1, 1], BigUint64Array.from([1n, 1n, 2n, 2n, 0n]));
    const c = classLabels({ neurons: n }, n.box);
    expect(Array.from(c.data)).toEqual([CLASS.cytoplasm, CLASS.boundary, CLASS.boundary, CLASS.boundary, CLASS.boundary]);
    const cleft = Volume.from('uint64', [5, 1, 1], BigUint64Array.from([0n, 0n, 9n, 0n, 0n]));
    const mito = Volume.from('uint32', [5, 1, 1], Uint32Array.from([3, 0, 0, 0, 0]));
    const d = classLabels({ neurons: n, clefts: cleft, mitochondria: mito }, n.box);
    expect(Array.from(d.data)).toEqual([CLASS.mitochondrion, CLASS.boundary, CLASS.cleft, CLASS.boundary, CLASS.boundary]);
  });
  it('gives the same classes blockwise as on the whole volume', () => {
    const n = Volume.zeros('uint32', [12, 9, 5]);
    for (let i = 0; i < n.data.length; i++) n.data[i] = 1 + (Math.floor((i % 12) / 4) + 3 * Math.floor(i / 108));
    const whole = classLabels({ neurons: n }, n.box);
    const block = boxFromShape([4, 9, 5], [4, 0, 0]);
    const part = classLabels({ neurons: n.crop(boxFromShape([6, 9, 5], [3, 0, 0])) }, block);
    expect(Array.from(part.data)).toEqual(Array.from(whole.crop(block).data));
  });
  it('handles one voxel and a solid volume', () => {
    expect(Array.from(classLabels({ neurons: Volume.from('uint32', [1, 1, 1], Uint32Array.of(4)) }, boxFromShape([1, 1, 1])).data)).toEqual([CLASS.cytoplasm]);
    const solid = Volume.zeros('uint32', [3, 3, 3]);
    solid.data.fill(7);
    expect(new Set(classLabels({ neurons: solid }, solid.box).data)).toEqual(new Set([CLASS.cytoplasm]));
  });
});
