import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume, copyBox } from '../../core/volume.js';
import { Forest } from '../../ml/forest.js';
import { contextHalves } from './auto-context.js';
import { contextCount, contextMargin, roundMargin } from './context.js';
import { featureConfig, featureMargin } from './features.js';
import { rocAuc } from './metrics.js';
import { PixelModel } from './model.js';
import { modelMargin, predictPixelsTask, predictVolume } from './predict.js';
import { syntheticEm } from './synthetic.js';
import { classesFromSegmentation, memorySource, trainPixelClassifier } from './training.js';

// per-section features on a noisy stack: membranes are faint in the pixels, continuous in context
const vs: [number, number, number] = [1, 1, 8];
const cfg = featureConfig(vs, { sigmas: [0.7, 1.6], dims: 2 });

/** The model's map predicted block by block (each block read with the model's margin), pasted into one volume. */
function predictBlocks(model: PixelModel, raw: Volume, blocks: number[][]): Float32Array {
  const m = modelMargin(model);
  const out = Volume.zeros('float32', raw.box, { channels: 1 });
  for (const [x0, y0, z0, sx, sy, sz] of blocks) {
    const b = boxFromShape([sx, sy, sz], [x0, y0, z0]);
    copyBox(predictVolume(model, raw.crop(boxIntersect(boxGrow(b, m), raw.box)), { box: b }), out);
  }
  return out.data as Float32Array;
}

describe('auto-context', async () => {
  const { raw, seg } = syntheticEm([64, 64, 4], { cells: 14, seed: 5, voxelSize: vs, noise: 90 });
  const test = syntheticEm([64, 64, 3], { cells: 14, seed: 9, voxelSize: vs, noise: 90 });
  const opts = { target: 'gt' as const, featureConfig: cfg, maxSamples: 6000, forest: { nTrees: 12 }, threads: 1, seed: 3 };
  const plain = (await trainPixelClassifier(memorySource(raw), memorySource(seg), opts)).model;
  const { model } = await trainPixelClassifier(memorySource(raw), memorySource(seg), { ...opts, autoContext: true });

  it('halves the training region along z for per-section features, else along the longest axis', () => {
    expect(contextHalves(boxFromShape([64, 64, 4]), 2).halves.map((b) => [b.min[2], b.max[2]])).toEqual([[0, 2], [2, 4]]);
    expect(contextHalves(boxFromShape([64, 30, 1]), 2).axis).toBe(0);
    expect(contextHalves(boxFromShape([20, 30, 40]), 3).axis).toBe(2);
    expect(() => contextHalves(boxFromShape([1, 1, 1]), 3)).toThrow(/too small to halve/);
  });

  it('records its context and beats the single forest on another volume', () => {
    expect(model.contextForest).toBeDefined();
    expect(model.contextForest!.nFeatures).toBe(model.forest.nFeatures + contextCount(model.meta.context!));
    expect(model.meta.context!.channels).toEqual([1]);
    const truth = Uint8Array.from(classesFromSegmentation(test.seg, 2), (c) => (c === 1 ? 1 : 0));
    const a = rocAuc(predictVolume(plain, test.raw).data as Float32Array, truth);
    const b = rocAuc(predictVolume(model, test.raw).data as Float32Array, truth);
    expect(b).toBeGreaterThan(a + 0.003);
  });

  it('predicts blockwise with the model margin exactly as on the whole volume; the task reads that margin', () => {
    const m = modelMargin(model);
    const fm = featureMargin(cfg), cm = contextMargin(model.meta.context!);
    expect(m).toEqual([fm[0] + cm[0], fm[1] + cm[1], 0]);
    const whole = predictVolume(model, test.raw);
    const blocks = predictBlocks(model, test.raw, [[0, 0, 0, 24, 40, 2], [24, 0, 0, 40, 40, 3], [0, 40, 0, 64, 24, 3], [0, 0, 2, 24, 40, 1]]);
    expect(Array.from(blocks)).toEqual(Array.from(whole.data as Float32Array));
    const task = predictPixelsTask({ model, modelPath: 'm', raw: 'raw', out: 'out', bounds: test.raw.box, blockShape: [32, 32, 1], dtype: 'float32' });
    expect(task.margin).toEqual(m);
  });

  it('round-trips through its file (two forests) and refuses a damaged one', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'ac.forest');
    await model.save(file);
    const bytes = await fs.readFile(file);
    expect(bytes.subarray(0, 4).toString()).toBe('WPC1');
    const back = await PixelModel.load(file);
    expect([...predictVolume(back, test.raw).data]).toEqual([...predictVolume(model, test.raw).data]);
    await fs.writeFile(path.join(dir, 'cut'), bytes.subarray(0, bytes.length - 8));
    await expect(PixelModel.load(path.join(dir, 'cut'))).rejects.toThrow(/cut: WPC1 model: file has \d+ bytes, the header describes \d+/);
    const f = model.forest;
    const noCtx = new PixelModel(new Forest(f.nFeatures, f.nClasses, f.trees, f.params, { ...model.meta, context: undefined }), model.meta, model.contextForest);
    await fs.writeFile(path.join(dir, 'nometa'), noCtx.toBytes());
    await expect(PixelModel.load(path.join(dir, 'nometa'))).rejects.toThrow(/nometa: .*meta.context is missing/);
  });

  describe('context features given (contextFeatures: oriented line filters of the first map)', async () => {
    const lined = (await trainPixelClassifier(memorySource(raw), memorySource(seg), { ...opts, autoContext: true, contextFeatures: ['G', 'LINE'] })).model;

    it('records them, reads their margin, predicts blockwise exactly and round-trips through its file', async () => {
      expect(lined.meta.context!.features.features).toEqual(['G', 'LINE']);
      expect(contextCount(lined.meta.context!)).toBe(1 + 4 * (1 + 3));
      expect(lined.contextForest!.nFeatures).toBe(lined.forest.nFeatures + contextCount(lined.meta.context!));
      const m = modelMargin(lined);
      expect(m[0]).toBeGreaterThan(modelMargin(model)[0]);
      const whole = predictVolume(lined, test.raw);
      const blocks = predictBlocks(lined, test.raw, [[0, 0, 0, 24, 40, 3], [24, 0, 0, 40, 40, 3], [0, 40, 0, 64, 24, 3]]);
      expect(Array.from(blocks)).toEqual(Array.from(whole.data as Float32Array));
      const dir = await tempDir();
      await lined.save(path.join(dir, 'l.forest'));
      const back = await PixelModel.load(path.join(dir, 'l.forest'));
      expect(Array.from(predictVolume(back, test.raw).data as Float32Array)).toEqual(Array.from(whole.data as Float32Array));
    });
  });

  describe('two rounds', async () => {
    const two = (await trainPixelClassifier(memorySource(raw), memorySource(seg), { ...opts, autoContext: true, contextRounds: 2 })).model;

    it('hold a context forest per round, read one context margin per round, and predict blockwise exactly', () => {
      expect(two.contextForests).toHaveLength(2);
      expect(two.meta.context!.rounds).toBe(2);
      const fm = featureMargin(cfg), rm = roundMargin(two.meta.context!);
      expect(modelMargin(two)).toEqual([fm[0] + 2 * rm[0], fm[1] + 2 * rm[1], 0]);
      const whole = predictVolume(two, test.raw);
      const blocks = predictBlocks(two, test.raw, [[0, 0, 0, 24, 40, 3], [24, 0, 0, 40, 40, 3], [0, 40, 0, 64, 24, 3]]);
      expect(Array.from(blocks)).toEqual(Array.from(whole.data as Float32Array));
      // the second round changes the map (it is not the first round's forest again)
      const one = predictVolume(model, test.raw).data as Float32Array;
      expect(Array.from(whole.data as Float32Array)).not.toEqual(Array.from(one));
    });

    it('round-trip through a WPC1 file of three forests; a file whose rounds disagree with its forests is refused', async () => {
      const dir = await tempDir();
      const file = path.join(dir, 'ac2.forest');
      await two.save(file);
      const bytes = await fs.readFile(file);
      expect(bytes.readUInt32LE(4)).toBe(3);
      const back = await PixelModel.load(file);
      expect(back.contextForests).toHaveLength(2);
      expect([...predictVolume(back, test.raw).data]).toEqual([...predictVolume(two, test.raw).data]);
      const f = two.forest;
      const lying = new PixelModel(new Forest(f.nFeatures, f.nClasses, f.trees, f.params, { ...two.meta, context: { ...two.meta.context!, rounds: 1 } }), two.meta, two.contextForest, two.laterRounds);
      await fs.writeFile(path.join(dir, 'lying'), lying.toBytes());
      await expect(PixelModel.load(path.join(dir, 'lying'))).rejects.toThrow(/lying: meta.context.rounds is 1 but the file holds 2 context forest/);
      await expect(trainPixelClassifier(memorySource(raw), memorySource(seg), { ...opts, autoContext: true, contextRounds: 9 })).rejects.toThrow(/rounds: expected an integer 1..4, got 9/);
    });
  });
});
