// wiring train-pixels --preset: a preset sets its options, a flag given beside it wins, an unknown name is refused with the list.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured } from '../../../test/cli-in-process.js';
import { diskTrainArgs, writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { PixelModel } from '../../stages/predict/model.js';
import { PIXEL_TRAINING_DEFAULTS, PIXEL_TRAINING_PRESETS } from '../../stages/predict/training.js';

const wiring = wiringCaptured;

describe('wiring train-pixels --preset', () => {
  it('sstem-membranes trains auto-context on its sigmas and features; --features beside it wins; unknown names are listed', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const args = diskTrainArgs(dir, model,
      '--trees', '3', '--samples', '2000', '--threads', '1', '--cross-fit', 'off', '--smooth-output', '0', '--json');
    const preset = PIXEL_TRAINING_PRESETS['sstem-membranes'];
    const t = await wiring([...args, '--preset', 'sstem-membranes']);
    expect(t.code, t.out).toBeUndefined();
    expect(JSON.parse(t.stdout)).toMatchObject({ preset: 'sstem-membranes', auto_context: true });
    const m = await PixelModel.load(model);
    expect(m.contextForest).toBeTruthy();
    expect(m.meta.featureConfig.features).toEqual(preset.features.split(','));
    expect(m.meta.featureConfig.sigmas).toEqual(preset.sigmas.split(',').map(Number));

    const o = await wiring([...args, '--preset', 'sstem-membranes', '--features', 'G,HoGE', '--no-auto-context']);
    expect(o.code, o.out).toBeUndefined();
    const m2 = await PixelModel.load(model);
    expect(m2.contextForest).toBeFalsy();
    expect(m2.meta.featureConfig.features).toEqual(['G', 'HoGE']);
    expect(m2.meta.featureConfig.sigmas).toEqual(preset.sigmas.split(',').map(Number));

    const bad = await wiring([...args, '--preset', 'fibsem']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--preset: unknown preset "fibsem"; the presets are sstem-membranes/);
  });

  it('sstem-synapses trains one forest on the default sigmas plus the LINE features', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const t = await wiring(diskTrainArgs(dir, model,
      '--trees', '3', '--samples', '2000', '--threads', '1', '--cross-fit', 'off', '--preset', 'sstem-synapses', '--json'));
    expect(t.code, t.out).toBeUndefined();
    expect(JSON.parse(t.stdout)).toMatchObject({ preset: 'sstem-synapses', auto_context: false });
    const m = await PixelModel.load(model);
    expect(m.contextForest).toBeFalsy();
    expect(m.meta.featureConfig.features).toEqual(['G', 'GGM', 'LoG', 'DoG', 'STE', 'HoGE', 'LINE']);
    expect(m.meta.featureConfig.sigmas).toEqual(PIXEL_TRAINING_DEFAULTS.sigmas.split(',').map(Number));
  });
});
