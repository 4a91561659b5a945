import { describe, expect, it } from 'vitest';
import { Volume } from '../../core/volume.js';
import { rocAuc } from './metrics.js';
import { QUANTILE_LEVELS, applyIntensityMap, checkIntensityMap, matchQuantiles, quantileShift, quantilesOf } from './normalize.js';
import { normalizationFor, predictVolume } from './predict.js';
import { syntheticEm } from './synthetic.js';
import { classesFromSegmentation, memorySource, trainPixelClassifier } from './training.js';

describe('quantile matching', () => {
  it('maps a monotone transform of the values back onto the originals', () => {
    const vals = Array.from({ length: 5000 }, (_, i) => (i * 37) % 251);
    const train = quantilesOf(vals);
    expect(train.length).toBe(QUANTILE_LEVELS.length);
    const gamma = vals.map((v) => 255 * (v / 255) ** 0.5 * 0.6 + 40);
    const m = matchQuantiles(quantilesOf(gamma), train);
    const back = applyIntensityMap(gamma, m);
    let err = 0;
    for (let i = 0; i < vals.length; i++) err = Math.max(err, Math.abs(back[i] - vals[i]));
    // piecewise-linear between 21 knots: within a few grey levels of the original
    expect(err).toBeLessThan(6);
    expect(quantileShift(quantilesOf(gamma), train)).toBeGreaterThan(0.2);
    expect(quantileShift(train, train)).toBe(0);
  });

  it('ties (saturated values) merge into one knot; bad maps are refused', () => {
    const m = matchQuantiles([0, 0, 0, 5, 10], [1, 2, 3, 4, 5]);
    expect(m.src).toEqual([0, 5, 10]);
    expect(m.dst).toEqual([2, 4, 5]);
    expect(Array.from(applyIntensityMap([-5, 0, 7.5, 20], m))).toEqual([0, 2, 4.5, 7]);
    expect(() => checkIntensityMap({ src: [1, 1], dst: [0, 1] }, 'x')).toThrow(/strictly increasing/);
    expect(() => matchQuantiles([1], [1, 2])).toThrow(/1 values for 2/);
  });
});

describe('predict with normalisation', () => {
  it('a model trained on one contrast predicts a gamma/contrast-shifted volume better after matching', async () => {
    const a = syntheticEm([48, 48, 12], { seed: 1, cells: 20 });
    const b = syntheticEm([48, 48, 12], { seed: 2, cells: 20 });
    const { model } = await trainPixelClassifier(memorySource(a.raw), memorySource(a.seg), { target: 'gt', maxSamples: 4000, forest: { nTrees: 10 } });
    expect(model.meta.rawStats?.quantiles?.length).toBe(QUANTILE_LEVELS.length);
    // the training volume itself: no normalisation
    expect(await normalizationFor(model, memorySource(a.raw))).toEqual({ shift: 0 });
    // darker, low-contrast, gamma-changed version of b
    const shifted = Volume.zeros('uint8', b.raw.box, { voxelSize: b.raw.voxelSize });
    for (let i = 0; i < shifted.data.length; i++) shifted.data[i] = Math.round(30 + 0.5 * 255 * (b.raw.data[i] / 255) ** 1.8);
    const n = await normalizationFor(model, memorySource(shifted));
    expect(n.map).toBeDefined();
    expect(n.shift!).toBeGreaterThan(0.05);
    const truth = classesFromSegmentation(b.seg, model.meta.featureConfig.dims, {});
    const t8 = Uint8Array.from(truth, (c) => (c < 0 ? 255 : c));
    const auc = (v: Volume): number => rocAuc(v.data as Float32Array, t8);
    const plain = auc(predictVolume(model, shifted));
    const matched = auc(predictVolume(model, shifted, { normalize: n.map }));
    const original = auc(predictVolume(model, b.raw));
    expect(matched).toBeGreaterThan(plain + 0.02);
    expect(matched).toBeGreaterThan(original - 0.03);
  });
});
