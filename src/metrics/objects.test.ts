import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { matchObjects, objectScores } from './objects.js';

/** A mask with boxes [x0,x1) x [y0,y1) x [z0,z1) set. */
function boxes(shape: Vec3, list: number[][]): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (const [x0, x1, y0, y1, z0, z1] of list) {
    for (let z = z0; z < z1; z++) for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[x + shape[0] * (y + shape[1] * z)] = 1;
  }
  return m;
}

describe('objectScores', () => {
  const shape: Vec3 = [20, 20, 4];
  it('counts one-to-one matches, false positives and misses', () => {
    const truth = boxes(shape, [[0, 4, 0, 4, 0, 2], [10, 14, 10, 14, 0, 4], [16, 19, 0, 3, 0, 1]]);
    // hits the first two; one extra object; misses the third
    const pred = boxes(shape, [[1, 4, 1, 4, 0, 2], [10, 14, 10, 14, 1, 3], [0, 3, 15, 18, 2, 4]]);
    const s = objectScores(pred, truth, shape);
    expect(s.trueObjects).toBe(3);
    expect(s.foundObjects).toBe(3);
    expect(s.matched).toBe(2);
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    let both = 0, np = 0, nt = 0;
    for (let i = 0; i < pred.length; i++) { both += pred[i] & truth[i]; np += pred[i]; nt += truth[i]; }
    expect(s.dice).toBeCloseTo((2 * both) / (np + nt), 12);
  });

  it('a found object that covers two true ones matches only one of them', () => {
    const truth = boxes(shape, [[0, 3, 0, 3, 0, 1], [5, 8, 0, 3, 0, 1]]);
    const pred = boxes(shape, [[0, 8, 0, 3, 0, 1]]);
    const s = objectScores(pred, truth, shape);
    expect(s.matched).toBe(1);
    expect(s.precision).toBe(1);
    expect(s.recall).toBe(0.5);
  });

  it('minIou rejects thin overlaps; 26-connectivity joins diagonal neighbours across sections', () => {
    const truth = boxes(shape, [[0, 10, 0, 10, 0, 1]]);
    const pred = boxes(shape, [[0, 2, 0, 2, 0, 1]]);
    expect(objectScores(pred, truth, shape).matched).toBe(1);
    expect(objectScores(pred, truth, shape, { minIou: 0.5 }).matched).toBe(0);
    const diag = boxes(shape, [[0, 1, 0, 1, 0, 1], [1, 2, 1, 2, 1, 2]]);
    expect(objectScores(diag, diag, shape).trueObjects).toBe(1);
    expect(objectScores(diag, diag, shape, { connectivity: 6 }).trueObjects).toBe(2);
  });

  it('empty masks: no objects, zero scores, Dice 1 when both are empty', () => {
    const z = new Uint8Array(shape[0] * shape[1] * shape[2]);
    const s = objectScores(z, z, shape);
    expect([s.trueObjects, s.foundObjects, s.precision, s.recall, s.f1, s.dice]).toEqual([0, 0, 0, 0, 0, 1]);
    expect(() => matchObjects(new Uint32Array(3), 0, new Uint32Array(4), 0)).toThrow(/3 predicted voxels but 4/);
  });
});
