import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume, copyBox } from '../../core/volume.js';
import { gaussianFilter } from '../../kernels/filters.js';
import { featureConfig } from './features.js';
import { PixelModel } from './model.js';
import { OUTPUT_SIGMA_CANDIDATES, OUTPUT_SIGMA_MIN_GAIN, chooseOutputSigma, outputMargin } from './output-smoothing.js';
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
    expect([...(predictVolume(back, raw).data as Float32Array)]).toEqual([...(predictVolume(model, raw).data as Float32Array)]);
    await expect(train(-1)).rejects.toThrow(/output smoothing/);
    await expect(train(99)).rejects.toThrow(/output smoothing/);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

describe('output smoothing chosen out of fold (chooseOutputSigma)', () => {
  const shape: [number, number, number] = [48, 40, 3];
  const n = shape[0] * shape[1] * shape[2];
  const cfg2 = featureConfig([4, 4, 50], { sigmas: [0.7, 1.6], dims: 2, recursiveFrom: null });
  // a seeded uniform in [0, 1)
  let s = 12345;
  const u = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);

  it('chooses a scale where the map is vote noise around thick structures, and none on a 1-voxel pattern', () => {
    // truth: 4-voxel-wide membranes every 12 voxels; map: a noisy vote, smoothing averages the noise away
    const cls = new Int16Array(n);
    const noisy = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const x = i % shape[0];
      cls[i] = x % 12 < 4 ? 1 : 0;
      noisy[n + i] = 0.3 * cls[i] + 0.7 * u();
      noisy[i] = 1 - noisy[n + i];
    }
    const c = chooseOutputSigma(noisy, shape, 2, cls, cfg2);
    expect(c.candidates).toEqual([...OUTPUT_SIGMA_CANDIDATES]);
    expect(c.sigma).toBeGreaterThan(0);
    const i0 = c.candidates.indexOf(0), ic = c.candidates.indexOf(c.sigma);
    expect(c.auc[ic]).toBeGreaterThanOrEqual(c.auc[i0] + OUTPUT_SIGMA_MIN_GAIN);
    expect(c.auc[ic]).toBe(Math.max(...c.auc));
    expect(c.voxels).toBe(n);
    // a checkerboard of 1-voxel classes with a nearly clean map: any smoothing erases it
    const checker = new Int16Array(n);
    const clean = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const x = i % shape[0], y = Math.floor(i / shape[0]) % shape[1];
      checker[i] = (x + y) % 2;
      clean[n + i] = 0.8 * checker[i] + 0.2 * u();
      clean[i] = 1 - clean[n + i];
    }
    const d = chooseOutputSigma(clean, shape, 2, checker, cfg2);
    expect(d.sigma).toBe(0);
    expect(d.auc[0]).toBeGreaterThan(d.auc[1] + 0.1);
    // unlabelled voxels (-1) are not scored; the stride keeps at most maxScored
    checker.fill(-1, 0, n / 2);
    expect(chooseOutputSigma(clean, shape, 2, checker, cfg2).voxels).toBe(n / 2);
    expect(chooseOutputSigma(clean, shape, 2, checker, cfg2, { maxScored: 100 }).voxels).toBeLessThanOrEqual(100);
  });

  it('a gain below minGain chooses none', () => {
    const cls = new Int16Array(n);
    const map = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      cls[i] = i % shape[0] % 12 < 4 ? 1 : 0;
      map[n + i] = 0.3 * cls[i] + 0.7 * u();
      map[i] = 1 - map[n + i];
    }
    expect(chooseOutputSigma(map, shape, 2, cls, cfg2, { minGain: 1 }).sigma).toBe(0);
  });
});

describe('train with output smoothing auto', async () => {
  const { raw, seg } = syntheticEm([40, 36, 20], { cells: 10, seed: 4 });
  const train = (outputSigma?: number | 'auto' | 'boundary') => trainPixelClassifier(memorySource(raw), memorySource(seg), {
    target: 'gt', featureConfig: cfg, maxSamples: 4000, forest: { nTrees: 6 }, threads: 1, seed: 5, outputSigma,
  });
  const auto = await train('auto');

  it('carries the scale of the best out-of-fold AUC and is the model trained with that scale', async () => {
    const rec = auto.model.meta.training?.outputSigma as { sigma: number; candidates: number[]; auc: number[]; folds: unknown[] };
    expect(rec.candidates).toEqual([...OUTPUT_SIGMA_CANDIDATES]);
    expect(rec.folds).toHaveLength(2);
    const i0 = rec.candidates.indexOf(0);
    const best = rec.auc.indexOf(Math.max(...rec.auc));
    const want = rec.auc[best] >= rec.auc[i0] + OUTPUT_SIGMA_MIN_GAIN ? rec.candidates[best] : 0;
    expect(rec.sigma).toBe(want);
    expect(auto.model.meta.outputSigma ?? 0).toBe(want);
    // the forest and its predictions are those of the model trained with the chosen scale given
    const fixed = (await train(want)).model;
    expect([...(predictVolume(auto.model, raw).data as Float32Array)]).toEqual([...(predictVolume(fixed, raw).data as Float32Array)]);
  });

  it('sparse labels get none, recorded as skipped; a region whose half holds one class warns and gets none', async () => {
    const sparse = Volume.zeros('uint8', raw.shape, { voxelSize: raw.voxelSize });
    for (let i = 0; i < sparse.voxels; i += 37) sparse.data[i] = (seg.data[i] % 2) + 1;
    const { model } = await trainPixelClassifier(memorySource(raw), memorySource(sparse), { target: 'labels', featureConfig: cfg, maxSamples: 2000, forest: { nTrees: 3 }, threads: 1, outputSigma: 'auto' });
    expect(model.meta.outputSigma).toBeUndefined();
    expect((model.meta.training?.outputSigma as { skipped: string }).skipped).toMatch(/sparse labels/);
    // one id over x < 21: the half x < 20 (the cross-fitting's halves split x at 20) holds interior only
    const half = new Volume(seg.dtype, seg.box, Uint32Array.from(seg.data as Uint32Array, (v, i) => (i % 40 < 21 ? 1 : v)), 1, seg.voxelSize);
    const one = await trainPixelClassifier(memorySource(raw), memorySource(half), {
      target: 'gt', featureConfig: cfg, maxSamples: 2000, forest: { nTrees: 3 }, threads: 1, outputSigma: 'auto',
    });
    expect(one.model.meta.outputSigma).toBeUndefined();
    expect(one.report.warnings.join('\n')).toMatch(/output smoothing not chosen/);
  });

  it("'boundary' (train-pixels' default) chooses on --gt and two-class models, and leaves models of more classes unsmoothed", async () => {
    const rec = (m: PixelModel) => m.meta.training?.outputSigma as { sigma: number } | undefined;
    const b = await train('boundary');
    expect(rec(b.model)?.sigma).toBe(rec(auto.model)?.sigma);
    expect(b.model.meta.outputSigma).toBe(auto.model.meta.outputSigma);
    // dense labels of three classes: none unless asked for ('auto' records a choice)
    const three = new Volume('uint8', seg.box, Uint8Array.from(seg.data as Uint32Array, (v) => v % 3), 1, seg.voxelSize);
    const dense = (outputSigma: 'auto' | 'boundary') => trainPixelClassifier(memorySource(raw), memorySource(three), { target: 'labels', dense: true, featureConfig: cfg, maxSamples: 3000, forest: { nTrees: 3 }, threads: 1, outputSigma });
    const m3 = (await dense('boundary')).model;
    expect(m3.meta.outputSigma).toBeUndefined();
    expect(rec(m3)).toBeUndefined();
    expect(rec((await dense('auto')).model)?.sigma).toBeGreaterThanOrEqual(0);
    await expect(train('sometimes' as 'auto')).rejects.toThrow(/output smoothing: expected a scale in voxels, auto or boundary/);
  });
});
