import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume, copyBox } from '../../core/volume.js';
import { gaussianFilter } from '../../kernels/filters.js';
import { featureConfig } from './features.js';
import { PixelModel } from './model.js';
import { outputMargin } from './output-smoothing.js';
import { modelMargin, predictVolume } from './predict.js';
import { syntheticEm } from './synthetic.js';
import { memorySource, trainPixelClassifier } from './training.js';

// exact filters: blockwise predictions equal whole-volume ones bit for bit
const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 1.6], dims: 3, recursiveFrom: null });

describe('output smoothing', async () => {
  const { raw, seg } = syntheticEm([40, 36, 20], { cells: 10, seed: 4 });
  const train = (outputSigma?: number) => trainPixelClassifier(memorySource(raw), memorySource(seg), {
    target: 'gt', featureConfig: cfg, maxSamples: 4000, forest: { nTrees: 6 }, threads: 1, seed: 5, outputSigma,
  });
  const plain = (await train()).model;
  const { model } = await train(1.5);

  it('predicts the plain forest map smoothed (reflected at the volume faces)', () => {
    expect(model.meta.outputSigma).toBe(1.5);
    expect(plain.meta.outputSigma).toBeUndefined();
    const p0 = predictVolume(plain, raw).data as Float32Array;
    const p1 = predictVolume(model, raw).data as Float32Array;
    const want = gaussianFilter(p0, raw.shape, [1.5, 1.5, 1.5], 0, { mode: cfg.mode, truncate: cfg.truncate });
    for (let i = 0; i < p1.length; i += 97) expect(p1[i]).toBeCloseTo(want[i], 5);
  });

  it('blockwise prediction with the model margin equals whole-volume prediction', () => {
    const whole = predictVolume(model, raw);
    const margin = modelMargin(model);
    expect(margin[0]).toBeGreaterThanOrEqual(outputMargin(cfg, 1.5)[0] + 1);
    const assembled = Volume.zeros('float32', raw.box, { channels: 1 });
    for (const [x0, y0, z0] of [[0, 0, 0], [16, 0, 0], [0, 20, 8], [16, 20, 8], [0, 0, 8], [16, 0, 8], [0, 20, 0], [16, 20, 0]]) {
      const b: Box = boxIntersect(boxFromShape([x0 === 0 ? 16 : 24, y0 === 0 ? 20 : 16, z0 === 0 ? 8 : 12], [x0, y0, z0]), raw.box);
      const part = predictVolume(model, raw.crop(boxIntersect(boxGrow(b, margin), raw.box)), { box: b });
      copyBox(part, assembled);
    }
    expect(Array.from(assembled.data)).toEqual(Array.from(whole.data as Float32Array));
  });

  it('is saved with the model and checked on load', async () => {
    const dir = await tempDir('smooth-');
    const file = path.join(dir, 'm.wrf');
    await model.save(file);
    const back = await PixelModel.load(file);
    expect(back.meta.outputSigma).toBe(1.5);
    expect(Array.from(predictVolume(back, raw).data)).toEqual(Array.from(predictVolume(model, raw).data));
    await expect(train(-1)).rejects.toThrow(/output smoothing/);
    await expect(train(99)).rejects.toThrow(/output smoothing/);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
