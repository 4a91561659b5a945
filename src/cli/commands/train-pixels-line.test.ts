// wiring train-pixels --features ...,LINE: the oriented line filters parsed from the command line, carried in the model, and refused for 3-D features.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { diskTrainArgs, writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { PixelModel } from '../../stages/predict/model.js';

const wiring = wiringCaptured;

describe('wiring train-pixels --features with LINE', () => {
  it('trains a model whose features include the line channels, and names the problem for 3-D features', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const args = diskTrainArgs(dir, model,
      '--sigmas', '1.6', '--trees', '4', '--samples', '2000', '--threads', '1', '--cross-fit', 'off', '--smooth-output', '0', '--json');
    const t = await wiring([...args, '--features', 'G,HoGE,LINE']);
    expect(t.code, t.out).toBeUndefined();
    const m = await PixelModel.load(model);
    expect(m.meta.featureConfig.features).toEqual(['G', 'HoGE', 'LINE']);
    expect(m.meta.featureNames).toEqual(['G_1.6', 'HoGE0_1.6', 'HoGE1_1.6', 'LINE0_1.6', 'LINE1_1.6', 'LINE2_1.6']);
    const bad = await wiring([...args, '--features', 'G,LINE', '--dims', '3']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/LINE \(oriented line filters\) is 2-D only/);
  });

  it('takes LINE among the context features of an auto-context model (--context-features) and names an unknown one', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'c.forest');
    const args = diskTrainArgs(dir, model,
      '--sigmas', '1.6', '--trees', '4', '--samples', '2000', '--threads', '1', '--cross-fit', 'off', '--smooth-output', '0', '--auto-context', '--json');
    const t = await wiring([...args, '--context-features', 'G,LINE']);
    expect(t.code, t.out).toBeUndefined();
    const m = await PixelModel.load(model);
    expect(m.meta.context!.features.features).toEqual(['G', 'LINE']);
    const bad = await wiring([...args, '--context-features', 'G,LINEAR']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--context-features: features: unknown feature "LINEAR"/);
  });
});
