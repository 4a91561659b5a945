import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { carriedObjectRule, objectRulesInfo } from './object-rules.js';

describe('carried split rules', () => {
  it('round-trip through a map info (calibrated thresholds mapped), and malformed splits name the file', async () => {
    const dir = await tempDir('split-rule-');
    const rules = { class_3: { high: 0.6, low: 0.42, minSize: 800, split: 0.9, splitMinSeed: 80 }, class_4: { high: 0.7, low: 0.49, minSize: 200 } };
    const info = objectRulesInfo(['class_3', 'class_4'], rules);
    expect(info['0']).toEqual({ output: 'class_3', high: 0.6, low: 0.42, min_size: 800, split: 0.9, split_min_seed: 80 });
    expect(info['1'].split).toBeUndefined();
    // a calibration maps the split level like the thresholds (identity below 0.5, halved above here)
    const cal = { x: [0, 0.5, 1], y: [0, 0.5, 0.75] } as never;
    expect(objectRulesInfo(['class_3', 'class_4'], rules, [cal, cal])['0'].split).toBeCloseTo(0.7, 5);
    await fs.writeFile(path.join(dir, 'info'), JSON.stringify({ num_channels: 2, wiring: { object_rules: info } }));
    expect(carriedObjectRule(`${dir}?channel=0`)).toEqual({ high: 0.6, low: 0.42, minSize: 800, split: 0.9, splitMinSeed: 80 });
    expect(carriedObjectRule(`${dir}?channel=1`)).toEqual({ high: 0.7, low: 0.49, minSize: 200 });
    await fs.writeFile(path.join(dir, 'info'), JSON.stringify({ num_channels: 1, wiring: { object_rules: { 0: { high: 0.6, low: 0.42, min_size: 8, split: 0.3, split_min_seed: 5 } } } }));
    expect(() => carriedObjectRule(dir)).toThrow(/split must lie in \[low, 1\]/);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
