import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, boxFromShape, boxGrow, boxIntersect } from '../../core/box.js';
import { Volume, copyBox } from '../../core/volume.js';
import { Forest } from '../../ml/forest.js';
import { featureConfig, featureMargin } from './features.js';
import { PixelModel } from './model.js';
import { predictPixelsBlock, predictPixelsTask, predictVolume } from './predict.js';
import { rocAuc } from './metrics.js';
import { syntheticEm } from './synthetic.js';
import { classesFromLabels, classesFromSegmentation, memorySource, trainPixelClassifier } from './training.js';

// exact filters: blockwise predictions equal whole-volume ones bit for bit (recursive ones: below)
const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 1.6], dims: 3, recursiveFrom: null });

describe('pixel classifier', async () => {
  const { raw, seg } = syntheticEm([40, 36, 24], { cells: 10, seed: 2 });
  const { model, report } = await trainPixelClassifier(memorySource(raw), memorySource(seg), {
    target: 'gt', featureConfig: cfg, maxSamples: 6000, forest: { nTrees: 10 }, threads: 1, seed: 3,
  });
  const truth = classesFromSegmentation(seg, 3);

  it('learns boundaries from a neuron segmentation (--gt)', () => {
    expect(report.classes).toEqual(['interior', 'boundary']);
    expect(report.samplesPerClass[0]).toBe(3000);
    expect(model.outputChannels).toBe(1);
    const p = predictVolume(model, raw);
    expect(p.channels).toBe(1);
    const t = Uint8Array.from(truth, (c) => (c === 1 ? 1 : 0));
    expect(rocAuc(p.data as Float32Array, t)).toBeGreaterThan(0.95);
  });

  it('blockwise prediction with the margin equals whole-volume prediction', () => {
    const whole = predictVolume(model, raw);
    const margin = featureMargin(cfg);
    const assembled = Volume.zeros('float32', raw.box, { channels: 1 });
    for (const [x0, y0, z0] of [[0, 0, 0], [16, 0, 0], [0, 20, 8], [16, 20, 8], [0, 0, 8], [16, 0, 8], [0, 20, 0], [16, 20, 0]]) {
      const b: Box = boxIntersect(boxFromShape([x0 === 0 ? 16 : 24, y0 === 0 ? 20 : 16, z0 === 0 ? 8 : 16], [x0, y0, z0]), raw.box);
      const rb = boxIntersect(boxGrow(b, margin), raw.box);
      const part = predictVolume(model, raw.crop(rb), { box: b });
      copyBox(part, assembled);
    }
    expect(Array.from(assembled.data)).toEqual(Array.from(whole.data as Float32Array));
  });

  it('recursive filters (the default): as accurate, blockwise close to whole-volume, saved and reloaded', async () => {
    const rcfg = featureConfig([1, 1, 1], { sigmas: [0.7, 1.6], dims: 3 });
    expect(rcfg.recursiveFrom).toBeGreaterThan(0);
    const r = await trainPixelClassifier(memorySource(raw), memorySource(seg), {
      target: 'gt', featureConfig: rcfg, maxSamples: 6000, forest: { nTrees: 10 }, threads: 1, seed: 3,
    });
    const whole = predictVolume(r.model, raw);
    const t = Uint8Array.from(truth, (c) => (c === 1 ? 1 : 0));
    expect(rocAuc(whole.data as Float32Array, t)).toBeGreaterThan(0.95);
    const b: Box = boxFromShape([16, 20, 8], [16, 0, 8]);
    const part = predictVolume(r.model, raw.crop(boxIntersect(boxGrow(b, featureMargin(rcfg)), raw.box)), { box: b });
    const ref = predictVolume(r.model, raw, { box: b });
    // a feature a hair different can flip one tree's vote (1/10 here) at a voxel near a split
    let flipped = 0;
    let sum = 0;
    for (let i = 0; i < part.data.length; i++) {
      const d = Math.abs((part.data[i] as number) - (ref.data[i] as number));
      sum += d;
      if (d > 0.1 + 1e-6) flipped++;
    }
    expect(flipped / part.data.length).toBeLessThan(0.01);
    expect(sum / part.data.length).toBeLessThan(0.01);
    const file = path.join(await tempDir(), 'r.rf');
    await r.model.save(file);
    expect((await PixelModel.load(file)).meta.featureConfig.recursiveFrom).toBe(rcfg.recursiveFrom);
  });

  it('runs as a block function and builds its task; writes uint8', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'm.rf');
    await model.save(file);
    const b = boxFromShape([10, 10, 6], [12, 12, 8]);
    const rb = boxIntersect(boxGrow(b, featureMargin(cfg)), raw.box);
    const res = await predictPixelsBlock({ box: b, readBox: rb, inputs: { raw: raw.crop(rb) }, params: { model: file, dtype: 'uint8' }, blockIndex: [0, 0, 0] });
    const out = res.volumes!.out;
    expect(out.dtype).toBe('uint8');
    const ref = predictVolume(model, raw, { box: b });
    for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBe(Math.round((ref.data[i] as number) * 255));
    const task = predictPixelsTask({ model, modelPath: file, raw: 'raw', out: 'out', bounds: raw.box, blockShape: [16, 16, 16], dtype: 'float32' });
    expect(task.margin).toEqual(featureMargin(cfg));
    expect(task.fn).toBe('predictPixelsBlock');
    const loaded = await PixelModel.load(file);
    expect(Array.from(predictVolume(loaded, raw, { box: b }).data as Float32Array)).toEqual(Array.from(ref.data as Float32Array));
  });

  it('trains from sparse scribbles (0 = unlabelled) with one channel per class', async () => {
    const scrib = Volume.zeros('uint8', raw.box, { voxelSize: raw.voxelSize });
    const t = classesFromSegmentation(seg, 3);
    // label every 7th voxel: boundary -> 2, interior -> 5
    for (let i = 0; i < t.length; i += 7) scrib.data[i] = t[i] === 1 ? 2 : 5;
    const { model: m, report: r } = await trainPixelClassifier(memorySource(raw), memorySource(scrib), {
      target: 'labels', featureConfig: cfg, maxSamples: 4000, forest: { nTrees: 10 }, threads: 1,
    });
    expect(r.classes).toEqual(['2', '5']);
    expect(m.meta.outputs).toEqual(['class_2', 'class_5']);
    const p = predictVolume(m, raw);
    expect(p.channels).toBe(2);
    const n = raw.voxels;
    const truthB = Uint8Array.from(t, (c) => (c === 1 ? 1 : 0));
    expect(rocAuc((p.data as Float32Array).subarray(0, n), truthB)).toBeGreaterThan(0.9);
    for (let i = 0; i < n; i += 101) expect((p.data[i] as number) + (p.data[n + i] as number)).toBeCloseTo(1, 5);
  });

  it('works in 2-D per section on anisotropic data', async () => {
    const em = syntheticEm([48, 48, 4], { cells: 8, seed: 5, voxelSize: [4, 4, 40] });
    const { model: m } = await trainPixelClassifier(memorySource(em.raw), memorySource(em.seg), {
      target: 'gt', maxSamples: 4000, forest: { nTrees: 10 }, featureConfig: featureConfig([4, 4, 40], { sigmas: [0.7, 1.6] }), threads: 1,
    });
    expect(m.meta.featureConfig.dims).toBe(2);
    const p = predictVolume(m, em.raw);
    const t = classesFromSegmentation(em.seg, 2);
    expect(rocAuc(p.data as Float32Array, Uint8Array.from(t, (c) => (c === 1 ? 1 : 0)))).toBeGreaterThan(0.9);
  });

  it('rejects empty labels, one class, NaN raw and mismatched models', async () => {
    const empty = Volume.zeros('uint8', raw.box);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(empty, 'lab.h5'), { target: 'labels', featureConfig: cfg })).rejects.toThrow(/lab.h5: no labelled voxels/);
    const one = Volume.zeros('uint8', raw.box);
    one.data[5] = 3;
    await expect(trainPixelClassifier(memorySource(raw), memorySource(one), { target: 'labels', featureConfig: cfg })).rejects.toThrow(/at least two classes/);
    const far = Volume.zeros('uint8', boxFromShape([4, 4, 4], [100, 100, 100]));
    await expect(trainPixelClassifier(memorySource(raw), memorySource(far), { target: 'labels', featureConfig: cfg })).rejects.toThrow(/do not overlap/);
    const nanRaw = Volume.zeros('float32', [8, 8, 8]);
    nanRaw.data[3] = NaN;
    expect(() => predictVolume(model, nanRaw)).toThrow(/NaN/);
    // a forest whose feature count does not match its configuration
    const bad = new Forest(5, 2, model.forest.trees, model.forest.params, { ...model.meta });
    expect(() => PixelModel.fromForest(bad, 'x.rf')).toThrow(/x.rf: the feature configuration gives 20 features but the forest was trained on 5/);
    const plain = new Forest(model.forest.nFeatures, 2, model.forest.trees, model.forest.params, {});
    expect(() => PixelModel.fromForest(plain, 'y.rf')).toThrow(/not a pixel classifier/);
    // a carried segment cut must be a number in (0, 1)
    for (const t of [1.5, 'high', 0]) {
      const cut = new Forest(model.forest.nFeatures, 2, model.forest.trees, model.forest.params, { ...model.meta, segmentThreshold: t });
      expect(() => PixelModel.fromForest(cut, 'z.rf')).toThrow(/z.rf: meta.segmentThreshold must be a number between 0 and 1/);
    }
    // carried seeds: minima with their options, or distance alone
    const seeds = (v: unknown) => PixelModel.fromForest(new Forest(model.forest.nFeatures, 2, model.forest.trees, model.forest.params, { ...model.meta, segmentSeeds: v }), 's.rf');
    expect(seeds({ seeds: 'minima', seedSigma: 1, seedConnectivity: 'full', flood: 'smoothed' }).meta.segmentSeeds?.flood).toBe('smoothed');
    for (const [v, msg] of [[{ seeds: 'maxima' }, /seeds must be distance or minima/], [{ seeds: 'minima', flood: 'smoothed' }, /flood smoothed needs seedSigma > 0/], [{ seeds: 'distance', flood: 'map' }, /for minima seeds/], ['minima', /must be an object/]] as const) {
      expect(() => seeds(v)).toThrow(new RegExp(`s.rf: meta.segmentSeeds.*${msg.source}|${msg.source}.*s.rf`));
    }
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, 'junk'), 'junk');
    await expect(PixelModel.load(path.join(dir, 'junk'))).rejects.toThrow(/WRF1/);
    await expect(PixelModel.load(path.join(dir, 'none'))).rejects.toThrow(/ENOENT/);
  });

  it('scores: exact AUC with ties, pixel error and F1', async () => {
    const { binaryScores } = await import('./metrics.js');
    const s = Float32Array.of(0.1, 0.4, 0.35, 0.8, 0.4, 0.9);
    const t = Uint8Array.of(0, 0, 1, 1, 1, 255);
    // pairs (pos, neg): 0.35>0.1, 0.35<0.4 ; 0.8>both ; 0.4>0.1, 0.4=0.4 -> (1+0+2+1+0.5)/6
    expect(rocAuc(s, t)).toBeCloseTo(4.5 / 6, 12);
    const b = binaryScores(s, t, 0.5);
    expect(b.voxels).toBe(5);
    expect(b.pixelError).toBeCloseTo(2 / 5, 12);
    expect(b.precision).toBe(1);
    expect(b.recall).toBeCloseTo(1 / 3, 12);
  });

  it('maps dense labels and rejects segmentations passed as labels', () => {
    const v = Volume.from('uint8', [4, 1, 1], Uint8Array.of(0, 255, 255, 0));
    expect(classesFromLabels(v, true, 'l').values).toEqual(['0', '255']);
    expect(Array.from(classesFromLabels(v, true, 'l').cls)).toEqual([0, 1, 1, 0]);
    expect(Array.from(classesFromLabels(v, false, 'l').cls)).toEqual([-1, 0, 0, -1]);
    expect(() => classesFromLabels(Volume.zeros('float32', [2, 1, 1]), false, 'f.npy')).toThrow(/f.npy: labels are float32/);
    const many = Volume.from('uint32', [300, 1, 1], Uint32Array.from({ length: 300 }, (_, i) => i + 1));
    expect(() => classesFromLabels(many, false, 'seg.h5')).toThrow(/use --gt/);
  });
});
