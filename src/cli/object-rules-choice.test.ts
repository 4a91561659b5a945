import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Vec3, box } from '../core/box.js';
import { FormatError } from '../core/errors.js';
import type { CrossFitResult } from '../stages/predict/training.js';
import { trainObjectFilter } from '../stages/synapses/object-filter.js';
import { tempDir } from '../../test/data.js';
import { OBJECT_RULE_GRID, SPLIT_MIN_GAIN, SPLIT_RULE_GRID, WHOLE_REGION_CROSSING, carriedObjectFilter, chooseObjectFilter, chooseObjectRules, filterFolds, objectRulesInfo } from './object-rules.js';

/**
 * A cross-fitted region of 4 sections halved along z (as per-section features are): true objects
 * 4x5 voxels through all 4 sections (80 voxels, 40 in each half), false ones 4x4 over 2 sections
 * (32 voxels) inside one half; both at p 0.9.
 */
function crossFit(): CrossFitResult {
  const shape: Vec3 = [40, 40, 4];
  const n = shape[0] * shape[1] * shape[2];
  const map = new Float32Array(n), classes = new Int16Array(n).fill(1);
  const at = (x: number, y: number, z: number): number => x + 40 * (y + 40 * z);
  for (let k = 0; k < 4; k++)
    for (let z = 0; z < 4; z++)
      for (let y = 2; y < 7; y++)
        for (let x = 2 + 9 * k; x < 6 + 9 * k; x++) {
          map[at(x, y, z)] = 0.9;
          classes[at(x, y, z)] = 0;
        }
  for (let k = 0; k < 4; k++)
    for (let z = k % 2 ? 2 : 0; z < (k % 2 ? 4 : 2); z++)
      for (let y = 20; y < 24; y++) for (let x = 2 + 9 * k; x < 6 + 9 * k; x++) map[at(x, y, z)] = 0.9;
  return { region: box([0, 0, 0], shape), maps: [map], classes, halves: [box([0, 0, 0], [40, 40, 2]), box([0, 0, 2], shape)] };
}

describe('object rules chosen on the cross-fitted region', () => {
  it('score whole objects: the halves\' cut does not truncate the objects that cross it', () => {
    const r = chooseObjectRules(crossFit(), ['class_1'], OBJECT_RULE_GRID).class_1;
    // whole true objects are 80 voxels and the false ones 32: only a minimum of 50 keeps all and only the true
    expect(r.minSize).toBe(50);
    expect(r.f1).toBe(1);
    expect(r.truth).toBe(4);
    expect(r.objectFilter).toBeUndefined();
  });

  it('searches a split on the plain rule chosen first and keeps it only when it gains SPLIT_MIN_GAIN out of fold', () => {
    // two true objects touching along a fainter seam (p 0.92 between cores of 0.99): one component
    // at every low of the grid, two after a split at 0.95
    const shape: Vec3 = [40, 40, 4];
    const n = shape[0] * shape[1] * shape[2];
    const map = new Float32Array(n), classes = new Int16Array(n).fill(1);
    const at = (x: number, y: number, z: number): number => x + 40 * (y + 40 * z);
    for (let k = 0; k < 3; k++)
      for (let z = 0; z < 4; z++)
        for (let y = 2 + 12 * k; y < 10 + 12 * k; y++)
          for (let x = 2; x < 30; x++) {
            const seam = x === 15 || x === 16;
            map[at(x, y, z)] = seam ? 0.92 : 0.99;
            if (!seam) classes[at(x, y, z)] = 0;
          }
    const cf: CrossFitResult = { region: box([0, 0, 0], shape), maps: [map], classes, halves: [box([0, 0, 0], [40, 40, 2]), box([0, 0, 2], shape)] };
    const plain = chooseObjectRules(cf, ['class_1'], OBJECT_RULE_GRID).class_1;
    expect(plain.split).toBeUndefined();
    const split = chooseObjectRules(cf, ['class_1'], SPLIT_RULE_GRID).class_1;
    // the split keeps the plain rule's thresholds and doubles the matches (3 -> 6 of 6)
    expect([split.high, split.low]).toEqual([plain.high, plain.low]);
    expect(split.split).toBe(0.95);
    expect(split.f1).toBe(1);
    expect(split.f1).toBeGreaterThanOrEqual(plain.f1 + SPLIT_MIN_GAIN);
    // the same objects without a seam: the split gains nothing and is not kept
    const flat = { ...cf, maps: [Float32Array.from(map, (p) => (p > 0 ? 0.99 : 0))], classes: Int16Array.from(map, (p) => (p > 0 ? 0 : 1)) };
    expect(chooseObjectRules(flat, ['class_1'], SPLIT_RULE_GRID).class_1.split).toBeUndefined();
  });

  it('scores per half when few true objects cross the halves\' cut (fewer than WHOLE_REGION_CROSSING)', () => {
    // 7 true objects inside the first half (sections 0-1) and 1 through all 4 sections: 1 in 8 crosses
    const shape: Vec3 = [80, 10, 4];
    const n = shape[0] * shape[1] * shape[2];
    const map = new Float32Array(n), classes = new Int16Array(n).fill(1);
    for (let k = 0; k < 8; k++)
      for (let z = 0; z < (k === 0 ? 4 : 2); z++)
        for (let y = 2; y < 7; y++)
          for (let x = 2 + 10 * k; x < 6 + 10 * k; x++) {
            map[x + 80 * (y + 10 * z)] = 0.9;
            classes[x + 80 * (y + 10 * z)] = 0;
          }
    expect(1 / 8).toBeLessThan(WHOLE_REGION_CROSSING);
    const cf: CrossFitResult = { region: box([0, 0, 0], shape), maps: [map], classes, halves: [box([0, 0, 0], [80, 10, 2]), box([0, 0, 2], shape)] };
    // per half the crossing object counts once in each half: 9 true objects
    expect(chooseObjectRules(cf, ['class_1'], OBJECT_RULE_GRID).class_1.truth).toBe(9);
  });

  it('cuts the filter\'s folds across the sections, each keeping every section', () => {
    const folds = filterFolds(box([0, 0, 0], [512, 256, 6]));
    expect(folds.map((b) => [b.min[0], b.max[0], b.min[2], b.max[2]])).toEqual([[0, 128, 0, 6], [128, 256, 0, 6], [256, 384, 0, 6], [384, 512, 0, 6]]);
  });

  it('trains no object filter on too few true objects, and says why', () => {
    const cf = crossFit();
    const ch = chooseObjectFilter({ ...cf, maps: [cf.maps[0], new Float32Array(cf.maps[0].length)] }, ['class_1', 'class_2'], 'class_1', [10, 10, 40], { high: 0.5, low: 0.5, minSize: 10 });
    expect(ch.filter).toBeUndefined();
    expect(ch.skipped).toMatch(/fewer than the 50/);
    const rules = chooseObjectRules({ ...cf, maps: [cf.maps[0], new Float32Array(cf.maps[0].length)] }, ['class_1', 'class_2'], OBJECT_RULE_GRID, [10, 10, 40], ['class_1']);
    expect(rules.class_1.objectFilterSkipped).toMatch(/fewer than the 50/);
  });
});

describe('the carried object filter', () => {
  it('travels in the map info with its context channels and is read back', async () => {
    // blobs of class_2 in two folds, the true ones inside a ring of class_1 (its context)
    const shape: Vec3 = [30, 30, 3];
    const vols = [0, 1].map(() => {
      const n = 30 * 30 * 3;
      const map = new Float32Array(n), ring = new Float32Array(n), truth = new Uint8Array(n);
      for (const [cx, real] of [[7, true], [22, false]] as const)
        for (let y = 5; y < 25; y++)
          for (let x = cx - 6; x <= cx + 6; x++) {
            const i = x + 30 * (y + 30 * 1);
            if (Math.abs(x - cx) <= 2 && y >= 12 && y < 18) {
              map[i] = 0.9;
              if (real) truth[i] = 1;
            } else if (real) ring[i] = 0.9;
          }
      return { map, context: [ring], truth, shape };
    });
    const { filter } = trainObjectFilter(vols, ['class_1'], [10, 10, 40], { high: 0.5, low: 0.5, minSize: 5 }, { trees: 4, minTrueObjects: 1, minGain: -1 });
    expect(filter).toBeDefined();
    const outputs = ['class_1', 'class_2'];
    const rules = { class_2: { high: 0.5, low: 0.5, minSize: 5, objectFilter: filter } };
    const dir = await tempDir();
    const layer = path.join(dir, 'probs');
    mkdirSync(layer);
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 2, wiring: { object_rules: objectRulesInfo(outputs, rules) } }));
    const got = carriedObjectFilter(`${layer}?channel=1`);
    expect(got?.context).toEqual([`${layer}?channel=0`]);
    expect(got?.filter.cut).toBe(filter!.cut);
    // a calibrated map does not carry it (its features are the forest's own probabilities)
    expect(objectRulesInfo(outputs, rules, outputs.map(() => ({ x: [0, 1], y: [0, 1] })))['1'].object_filter).toBeUndefined();
  });

  it('a malformed filter is a FormatError naming the info file and field; none carried is undefined', async () => {
    const dir = await tempDir();
    const layer = path.join(dir, 'probs');
    mkdirSync(layer);
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 2, wiring: { object_rules: objectRulesInfo(['class_1', 'class_2'], { class_1: { high: 0.5, low: 0.5, minSize: 10 } }) } }));
    expect(carriedObjectFilter(`${layer}?channel=0`)).toBeUndefined();
    const bad = { version: 1, context: ['class_2'], features: ['x'], candidates: { high: 0.5, low: 0.5, minSize: 10 }, connectivity: 26, cut: 0.5, forest: 'AAAA', context_channels: [1] };
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 2, wiring: { object_rules: { 0: { output: 'class_1', high: 0.5, low: 0.5, min_size: 10, object_filter: bad } } } }));
    expect(() => carriedObjectFilter(`${layer}?channel=0`)).toThrow(FormatError);
    expect(() => carriedObjectFilter(`${layer}?channel=0`)).toThrow(/object_filter\.features/);
  });
});
