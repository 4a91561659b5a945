import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { FormatError } from '../core/errors.js';
import { trainCleftFilter } from '../stages/synapses/cleft-filter.js';
import { tempDir } from '../../test/data.js';
import { CLEFT_OUTPUT, VESICLE_OUTPUT, carriedCleftFilter, carriedObjectRule, objectRulesInfo } from './object-rules.js';

/** Two folds of a cleft-like disc with its vesicle cloud above and one without: enough for a filter. */
function folds(): Parameters<typeof trainCleftFilter>[0] {
  const shape: Vec3 = [24, 24, 8];
  return [0, 1].map(() => {
    const n = 24 * 24 * 8;
    const cleft = new Float32Array(n), vesicle = new Float32Array(n), truth = new Uint8Array(n);
    for (const [cx, real] of [[6, true], [17, false]] as const)
      for (let y = 8; y < 16; y++)
        for (let x = cx - 3; x <= cx + 3; x++) {
          cleft[x + 24 * (y + 24 * 3)] = 0.8;
          if (real) {
            truth[x + 24 * (y + 24 * 3)] = 1;
            for (let z = 4; z < 7; z++) vesicle[x + 24 * (y + 24 * z)] = 0.9;
          }
        }
    return { cleft, vesicle, truth, shape };
  });
}

describe('the carried cleft filter', () => {
  it('travels in the map info beside the cleft rule and is read back with its vesicle channel', async () => {
    const { filter } = trainCleftFilter(folds(), [8, 8, 30], { trees: 4, minTrueClefts: 1 });
    expect(filter).toBeDefined();
    const outputs = ['class_1', 'class_2', CLEFT_OUTPUT, VESICLE_OUTPUT];
    const rules = { [CLEFT_OUTPUT]: { high: 0.5, low: 0.25, minSize: 10, filter } };
    const dir = await tempDir();
    const layer = path.join(dir, 'probs');
    mkdirSync(layer);
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 4, wiring: { object_rules: objectRulesInfo(outputs, rules) } }));
    const got = carriedCleftFilter(`${layer}?channel=2`);
    expect(got?.vesicles).toBe(`${layer}?channel=3`);
    expect(got?.filter.cut).toBe(filter!.cut);
    expect(carriedObjectRule(`${layer}?channel=2`)).toEqual({ high: 0.5, low: 0.25, minSize: 10 });
    // a calibrated map does not carry it (its features are the forest's own probabilities)
    const calibrated = objectRulesInfo(outputs, rules, outputs.map(() => ({ x: [0, 1], y: [0, 1] })));
    expect(calibrated['2'].cleft_filter).toBeUndefined();
    expect(carriedCleftFilter(`${layer}?channel=3`)).toBeUndefined();
  });

  it('a malformed filter is a FormatError naming the info file and field', async () => {
    const { filter } = trainCleftFilter(folds(), [8, 8, 30], { trees: 4, minTrueClefts: 1 });
    const dir = await tempDir();
    const layer = path.join(dir, 'probs');
    mkdirSync(layer);
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 1, wiring: { object_rules: { 0: { output: 'class_3', high: 0.5, low: 0.2, min_size: 5, cleft_filter: { ...filter, vesicle_channel: 0, cut: -1 } } } } }));
    expect(() => carriedCleftFilter(layer)).toThrow(FormatError);
    expect(() => carriedCleftFilter(layer)).toThrow(/cleft_filter\.cut/);
    writeFileSync(path.join(layer, 'info'), JSON.stringify({ num_channels: 1, wiring: { object_rules: { 0: { output: 'class_3', high: 0.5, low: 0.2, min_size: 5, cleft_filter: { ...filter } } } } }));
    expect(() => carriedCleftFilter(layer)).toThrow(/vesicle_channel/);
  });
});
