import { describe, expect, it } from 'vitest';
import { type Vec3, box } from '../core/box.js';
import type { CrossFitResult } from '../stages/predict/training.js';
import { chooseObjectParams } from '../stages/synapses/objects.js';
import { OBJECT_RULE_GRID, RULE_MIN_TRUE_OBJECTS, RULE_WARN_F1, boundedMinSizes, chooseObjectRules } from './object-rules.js';

/**
 * Few small true objects (4 of 3x3x2 = 18 voxels, through both sections, so scored on the whole
 * region) and a map at p 0.6 that merges one of them into a blob of 2,000 voxels, finds the other
 * three exactly, and has 21 false pieces of their size: as the pipeline bench's small training
 * phantom, where a large minimum size keeps only the merged blob.
 */
function fewSmallObjects(): CrossFitResult {
  const shape: Vec3 = [120, 40, 2];
  const n = shape[0] * shape[1] * shape[2];
  const map = new Float32Array(n), classes = new Int16Array(n).fill(1);
  const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
  const square = (x0: number, y0: number, w: number, h: number, f: (i: number) => void): void => {
    for (let z = 0; z < 2; z++) for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) f(at(x, y, z));
  };
  square(0, 0, 50, 20, (i) => (map[i] = 0.6));
  square(10, 5, 3, 3, (i) => (classes[i] = 0));
  for (const y of [24, 32])
    for (let k = 0; k < 12; k++) {
      square(55 + 5 * k, y, 3, 3, (i) => (map[i] = 0.6));
      if (y === 24 && k < 3) square(55 + 5 * k, y, 3, 3, (i) => (classes[i] = 0));
    }
  return { region: box([0, 0, 0], shape), maps: [map], classes, halves: [box([0, 0, 0], [120, 40, 1]), box([0, 0, 1], shape)] };
}

describe('minimum sizes bounded by the true objects', () => {
  it('the unbounded choice keeps only the merged blob (a minimum larger than every true object); the bounded one keeps the objects', () => {
    const cf = fewSmallObjects();
    const truth = Uint8Array.from(cf.classes, (c) => (c === 0 ? 1 : 0));
    // the old choice: the whole grid, tie broken toward the larger size
    const old = chooseObjectParams([{ prob: cf.maps[0], truth, shape: [120, 40, 2] }], OBJECT_RULE_GRID).best;
    expect(old.minSize).toBe(1600);
    expect(old.found).toBe(1);
    const r = chooseObjectRules(cf, ['class_1'], OBJECT_RULE_GRID).class_1;
    expect(r.largestTrue).toBe(18);
    expect(r.minSize).toBeLessThanOrEqual(18);
    expect(r.minSize).toBe(10);
    // every true object found (the blob and the three exact pieces), with the false pieces
    expect([r.found, r.truth]).toEqual([25, 4]);
    expect(r.f1).toBeCloseTo((2 * 4) / (25 + 4), 4);
    // 4 true objects, F1 under RULE_WARN_F1: the rule carries a warning naming the class and the count
    expect(4).toBeLessThan(RULE_MIN_TRUE_OBJECTS);
    expect(r.f1).toBeLessThan(RULE_WARN_F1);
    expect(r.warning).toMatch(/class_1: object rule chosen on 4 true objects/);
  });

  it('keeps the sizes up to the largest true object, else the smallest size; many true objects give no warning', () => {
    const t = new Uint8Array(50);
    t.fill(1, 0, 30); // one object of 30 voxels
    expect(boundedMinSizes([10, 25, 50, 100], [{ truth: t, shape: [50, 1, 1] }])).toEqual({ sizes: [10, 25], largestTrue: 30 });
    expect(boundedMinSizes([50, 100], [{ truth: t, shape: [50, 1, 1] }]).sizes).toEqual([50]);
    // 40 true objects of 12 voxels in a row, found exactly: no warning
    const shape: Vec3 = [560, 1, 1];
    const map = new Float32Array(560), classes = new Int16Array(560).fill(1);
    for (let k = 0; k < 40; k++) {
      map.fill(0.9, 14 * k, 14 * k + 12);
      classes.fill(0, 14 * k, 14 * k + 12);
    }
    const r = chooseObjectRules({ region: box([0, 0, 0], shape), maps: [map], classes, halves: [box([0, 0, 0], [280, 1, 1]), box([280, 0, 0], shape)] }, ['class_1'], OBJECT_RULE_GRID).class_1;
    expect(r.largestTrue).toBe(12);
    expect(r.truth).toBe(40);
    expect(r.f1).toBe(1);
    expect(r.warning).toBeUndefined();
    // 4 of those objects alone, found exactly (F1 1): few, but no warning
    const few = chooseObjectRules({ region: box([0, 0, 0], shape), maps: [map.map((p, i) => (i < 56 ? p : 0))], classes: classes.map((c, i) => (i < 56 ? c : 1)), halves: [box([0, 0, 0], [280, 1, 1]), box([280, 0, 0], shape)] }, ['class_1'], OBJECT_RULE_GRID).class_1;
    expect([few.truth, few.f1, few.warning]).toEqual([4, 1, undefined]);
  });
});
