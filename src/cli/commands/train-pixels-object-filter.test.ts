// wiring train-pixels --object-filter: the option's checks and what the model records when a class has too few objects.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { diskTrainArgs, writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { PixelModel } from '../../stages/predict/model.js';

const wiring = wiringCaptured;

describe('wiring train-pixels --object-filter', () => {
  it('names an unknown output, and records why a class with too few objects got no filter', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const args = diskTrainArgs(dir, model, '--sigmas', '0.7,1.6', '--trees', '6', '--samples', '3000', '--threads', '1', '--json');
    const bad = await wiring([...args, '--object-filter', 'class_2,class_9']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--object-filter: no output class_9 \(the outputs are class_1, class_2\)/);
    const t = await wiring([...args, '--object-filter', 'class_2']);
    expect(t.code, t.out).toBeUndefined();
    const rule = JSON.parse(t.stdout).object_rules.class_2;
    expect(rule.objectFilter).toBeUndefined();
    expect(rule.objectFilterSkipped).toMatch(/true objects in the training folds, fewer than the 50 the object filter needs/);
    expect((await PixelModel.load(model)).meta.objectRules!.class_2.objectFilterSkipped).toBe(rule.objectFilterSkipped);
  });
});
