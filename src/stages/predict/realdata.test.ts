// Real EM (skips without ../shared/data): a small pixel classifier on ISBI 2012 and gala-medulla.
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { featureConfig } from './features.js';
import { binaryScores } from './metrics.js';
import { predictVolume } from './predict.js';
import { classesFromSegmentation, trainPixelClassifier } from './training.js';

describeData('isbi2012', 'pixel classifier on ISBI 2012', () => {
  it('trains on two sections and separates membranes on an unseen one', async () => {
    const raw = await openSource(dataPath('isbi2012/train/image'), { voxelSize: [4, 4, 50] });
    const lab = await openSource(dataPath('isbi2012/train/label'), { voxelSize: [4, 4, 50] });
    const { model, report } = await trainPixelClassifier(raw, lab, {
      target: 'labels', dense: true, bounds: boxFromShape([256, 256, 1]), maxSamples: 10000, forest: { nTrees: 10 }, threads: 1,
      featureConfig: featureConfig([4, 4, 50], { sigmas: [0.7, 1.6, 3.5] }),
    });
    expect(model.meta.featureConfig.dims).toBe(2);
    expect(report.classes).toEqual(['0', '255']);
    const test = boxFromShape([256, 256, 1], [128, 128, 12]);
    const p = predictVolume(model, await raw.read(boxFromShape([256 + 42, 256 + 42, 1], [107, 107, 12])), { box: test });
    const truth = Uint8Array.from((await lab.read(test)).data as Uint8Array, (v) => (v === 0 ? 1 : 0));
    const s = binaryScores((p.data as Float32Array).subarray(0, 256 * 256), truth);
    expect(s.auc).toBeGreaterThan(0.85);
    expect(s.pixelError).toBeLessThan(0.25);
  }, 60000);
});

describeData('gala-medulla', 'pixel classifier on gala-medulla (--gt)', () => {
  it('learns 3-D boundaries from the neuron segmentation', async () => {
    const raw = await openSource(`${path.join(dataPath('gala-medulla'), 'train-image.h5')}#stack`, { voxelSize: [10, 10, 10] });
    const gt = await openSource(`${path.join(dataPath('gala-medulla'), 'train-gt.h5')}#stack`, { voxelSize: [10, 10, 10] });
    const { model } = await trainPixelClassifier(raw, gt, {
      target: 'gt', bounds: boxFromShape([100, 100, 12]), maxSamples: 8000, forest: { nTrees: 10 }, threads: 1,
      featureConfig: featureConfig([10, 10, 10], { sigmas: [0.7, 1.6], features: ['G', 'GGM', 'LoG', 'HoGE'] }),
    });
    expect(model.meta.featureConfig.dims).toBe(3);
    const test = boxFromShape([80, 80, 6], [100, 10, 36]);
    const p = predictVolume(model, await raw.read(boxFromShape([92, 92, 18], [94, 4, 30])), { box: test });
    const cls = classesFromSegmentation(await gt.read(test), 3);
    const s = binaryScores(p.data as Float32Array, Uint8Array.from(cls, (c) => (c < 0 ? 255 : c)));
    expect(s.auc).toBeGreaterThan(0.8);
  }, 60000);
});
