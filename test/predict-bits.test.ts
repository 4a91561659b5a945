// The forest's fast paths (rank tables, walks specialised per forest: docs/THROUGHPUT.md "Predict,
// fifth pass") against the paths they replaced (binary-search ranking, the generic walk), through
// the predict stage: the same probabilities bit for bit, float32 and uint8, on a phantom block and
// on real EM (ISBI 2012; skips without ../shared/data).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Box, boxFromShape } from '../src/core/box.js';
import type { VolumeSource } from '../src/formats/source.js';
import { openSource } from '../src/formats/open.js';
import { _useGenericWalk, _useRankSearch } from '../src/ml/forest/wasm.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { featureConfig } from '../src/stages/predict/features.js';
import { PixelModel } from '../src/stages/predict/model.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { trainPixelClassifier } from '../src/stages/predict/training.js';
import { dataPath, describeData, tempDir } from './data.js';

/** The model's probabilities over `target` (float32 and uint8 bytes), from a fresh copy of the model (walks are built per forest object) with the old or the new paths. */
async function predictBoth(model: PixelModel, raw: VolumeSource, readBox: Box, target: Box): Promise<{ fast: Buffer[]; old: Buffer[] }> {
  const block = await raw.read(readBox);
  const run = (): Buffer[] => {
    const m = PixelModel.fromBytes(model.toBytes(), 'test model');
    return (['float32', 'uint8'] as const).map((dtype) => {
      const d = predictVolume(m, block, { box: target, dtype }).data;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    });
  };
  const fast = run();
  _useRankSearch(true);
  _useGenericWalk(true);
  try {
    return { fast, old: run() };
  } finally {
    _useRankSearch(false);
    _useGenericWalk(false);
  }
}

describe('forest fast paths in the predict stage', () => {
  it('predict a phantom block with the bits of the search and the generic walk (unlimited-depth boundary forest)', async () => {
    const dir = path.join(await tempDir('wiring-predict-bits-'), 'ph');
    await generatePhantom(dir, { seed: 5, size: [96, 96, 8], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [96, 96, 8], run: { workers: 1 } });
    const raw = await openSource(path.join(dir, 'raw'));
    const gt = await openSource(path.join(dir, 'neurons'));
    const { model } = await trainPixelClassifier(raw, gt, {
      target: 'gt', bounds: boxFromShape([96, 96, 4]), maxSamples: 6000, forest: { nTrees: 6 }, threads: 1,
      featureConfig: featureConfig([8, 8, 30]),
    });
    const { fast, old } = await predictBoth(model, raw, boxFromShape([96, 96, 4], [0, 0, 4]), boxFromShape([96, 96, 4], [0, 0, 4]));
    expect(fast[0].length).toBe(96 * 96 * 4 * 4);
    expect(fast[0].equals(old[0])).toBe(true);
    expect(fast[1].equals(old[1])).toBe(true);
  }, 120000);
});

describeData('isbi2012', 'forest fast paths on ISBI 2012', () => {
  it('predict unseen sections with the bits of the search and the generic walk', async () => {
    const raw = await openSource(dataPath('isbi2012/train/image'), { voxelSize: [4, 4, 50] });
    const lab = await openSource(dataPath('isbi2012/train/label'), { voxelSize: [4, 4, 50] });
    const { model } = await trainPixelClassifier(raw, lab, {
      target: 'labels', dense: true, bounds: boxFromShape([256, 256, 1]), maxSamples: 10000, forest: { nTrees: 8 }, threads: 1,
      featureConfig: featureConfig([4, 4, 50]),
    });
    const test = boxFromShape([256, 256, 2], [128, 128, 12]);
    const { fast, old } = await predictBoth(model, raw, boxFromShape([256 + 80, 256 + 80, 2], [88, 88, 12]), test);
    expect(fast[0].equals(old[0])).toBe(true);
    expect(fast[1].equals(old[1])).toBe(true);
  }, 120000);
});
