import { describe, expect, it } from 'vitest';
import { type Vec3, boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { sweepSynapseParams } from './tune.js';

describe('sweepSynapseParams', () => {
  it('tries plain thresholds, whatever hysteresis low the parameters carry', () => {
    // two cells across x = 5, a cleft of p 0.4 between them, vesicles on the first cell's side
    const shape: Vec3 = [12, 8, 4];
    const n = shape[0] * shape[1] * shape[2];
    const seg = new BigUint64Array(n);
    const cleft = new Float32Array(n);
    const ves = new Float32Array(n);
    for (let z = 0; z < 4; z++)
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 12; x++) {
          const i = x + 12 * (y + 8 * z);
          seg[i] = x < 5 ? 1n : x > 6 ? 2n : 0n;
          if (x >= 5 && x <= 6 && y >= 2 && y < 6) cleft[i] = 0.4;
          if (x >= 2 && x < 5 && y >= 2 && y < 6) ves[i] = 0.9;
        }
    const opts = { voxelSize: [4, 4, 40] as Vec3 };
    const b = boxFromShape(shape);
    const inputs = { clefts: Volume.from('float32', shape, cleft, opts), segmentation: Volume.from('uint64', shape, seg, opts), vesicles: Volume.from('float32', shape, ves, opts) };
    // a carried rule's low (0.6) above the thresholds tried must neither fail nor change the objects
    const params = { threshold: 0.9, lowThreshold: 0.6, minSize: 1, vesicleThreshold: 0.5, partnerRadius: 12, voxelSize: opts.voxelSize, bounds: b };
    const r = sweepSynapseParams([{ inputs, params, score: (s) => ({ tp: s.length, fp: 0, fn: 1 - s.length, precision: 1, recall: s.length, fscore: s.length ? 1 : 0 }) }], { thresholds: [0.3, 0.5], minSizes: [1] });
    expect(r.rows.map((x) => [x.threshold, x.detected])).toEqual([[0.3, 1], [0.5, 0]]);
    expect(r.best?.threshold).toBe(0.3);
  });
});
