// wiring train-pixels --bootstrap and --ste-outer: each reaches the model (forest parameters, feature
// configuration), predict reads the model back, and other values are refused naming the option.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { wiringCaptured as wiring } from '../../../test/cli-in-process.js';
import { diskTrainArgs, writeDiskLabels } from '../../../test/pixel-fixtures.js';
import { Forest } from '../../ml/forest/index.js';
import { PixelModel } from '../../stages/predict/model.js';
import { PIXEL_TRAINING_DEFAULTS } from '../../stages/predict/training.js';

describe('wiring train-pixels --bootstrap, --ste-outer', () => {
  it('plain bootstrap and the structure tensor at vigra\'s scales reach the model; bad values exit 2 or fail the load', async () => {
    const dir = await tempDir();
    await writeDiskLabels(dir);
    const model = path.join(dir, 'm.forest');
    const args = diskTrainArgs(dir, model,
      '--trees', '3', '--samples', '2000', '--threads', '1', '--cross-fit', 'off', '--json');
    const d = await wiring(args);
    expect(d.code, d.out).toBeUndefined();
    const m0 = await PixelModel.load(model);
    expect(m0.forest.params.balanced).toBe(PIXEL_TRAINING_DEFAULTS.bootstrap === 'balanced');
    expect(m0.meta.featureConfig.steOuter).toBeUndefined();

    const t = await wiring([...args, '--bootstrap', 'plain', '--ste-outer', 'sigma']);
    expect(t.code, t.out).toBeUndefined();
    const m = await PixelModel.load(model);
    expect(m.forest.params.balanced).toBe(false);
    expect(m.meta.featureConfig.steOuter).toBe('sigma');
    // a model file naming another outer scale is refused on load, naming the field
    const bad = new Forest(m.forest.nFeatures, m.forest.nClasses, m.forest.trees, m.forest.params, { ...m.forest.meta, featureConfig: { ...m.meta.featureConfig, steOuter: 'double' } });
    expect(() => PixelModel.fromForest(bad, 'bad.forest')).toThrow(/meta.featureConfig.steOuter "double": expected half or sigma/);
    const p = await wiring(['predict', '--raw', path.join(dir, 'raw.npy'), '--voxel-size', '4,4,40', '--model', model, path.join(dir, 'p'), '--json']);
    expect(p.code, p.out).toBeUndefined();

    const b = await wiring([...args, '--bootstrap', 'stratified']);
    expect(b.code).toBe(2);
    expect(b.out).toMatch(/--bootstrap: expected balanced or plain, got "stratified"/);
    const s = await wiring([...args, '--ste-outer', 'double']);
    expect(s.code).toBe(2);
    expect(s.out).toMatch(/--ste-outer: expected half or sigma, got "double"/);
  });
});
