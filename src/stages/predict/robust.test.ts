// The pixel classifier on data it was not written against: other raw dtypes, single 2-D images,
// label conventions other than ours, blockwise label scans, voxel-size and intensity mismatches, NaNs.
import { describe, expect, it } from 'vitest';
import { type Box, boxFromShape, boxVoxels } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import { featureConfig } from './features.js';
import { rocAuc } from './metrics.js';
import { checkRawForModel, predictVolume } from './predict.js';
import { syntheticEm } from './synthetic.js';
import { classesFromSegmentation, defaultDims, intensityMismatch, memorySource, rawStats, trainPixelClassifier } from './training.js';

const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 1.6], features: ['G', 'GGM', 'LoG', 'HoGE'], dims: 3 });
const small = { maxSamples: 3000, forest: { nTrees: 6 }, threads: 1, featureConfig: cfg };

function boundaryTruth(seg: Volume, dims: 2 | 3): Uint8Array {
  return Uint8Array.from(classesFromSegmentation(seg, dims), (c) => (c === 1 ? 1 : 0));
}

/** A source that records the largest read. */
function countingSource(v: Volume): VolumeSource & { maxRead: number } {
  const s = memorySource(v, 'labels.h5') as VolumeSource & { maxRead: number };
  s.maxRead = 0;
  const read = s.read.bind(s);
  s.read = async (b: Box) => {
    s.maxRead = Math.max(s.maxRead, boxVoxels(b));
    return read(b);
  };
  return s;
}

describe('pixel classifier on unfamiliar data', () => {
  const { raw, seg } = syntheticEm([32, 28, 16], { cells: 8, seed: 7 });
  const truth = boundaryTruth(seg, 3);

  it('trains and predicts from uint8, uint16 and float32 raw; warns when intensities do not match the model', async () => {
    const u16 = Volume.from('uint16', raw.shape, Uint16Array.from(raw.data, (v) => v * 257));
    const f32 = Volume.from('float32', raw.shape, Float32Array.from(raw.data, (v) => v / 255));
    const models = [];
    for (const r of [raw, u16, f32]) {
      const { model } = await trainPixelClassifier(memorySource(r), memorySource(seg), { target: 'gt', ...small });
      expect(model.meta.rawDtype).toBe(r.dtype);
      const p = predictVolume(model, r);
      expect(rocAuc(p.data as Float32Array, truth)).toBeGreaterThan(0.9);
      models.push(model);
    }
    // same kind of data: no warnings
    expect(await checkRawForModel(models[0], memorySource(raw))).toEqual([]);
    // the uint8 model on uint16 and on [0, 1] float data: dtype and intensity warnings
    const w16 = await checkRawForModel(models[0], memorySource(u16));
    expect(w16.join('\n')).toMatch(/trained on uint8 raw, this raw is uint16/);
    expect(w16.join('\n')).toMatch(/differ from the training raw's/);
    expect((await checkRawForModel(models[0], memorySource(f32))).join('\n')).toMatch(/rescale the data/);
    // float32 holding the same values: only the dtype differs
    const same = Volume.from('float32', raw.shape, Float32Array.from(raw.data));
    expect(await checkRawForModel(models[0], memorySource(same))).toEqual(['the model was trained on uint8 raw, this raw is float32']);
  }, 30000);

  it('single 2-D images get 2-D features; a 3-D model on one section is flagged', async () => {
    const em = syntheticEm([48, 40, 1], { cells: 6, seed: 3 });
    expect(defaultDims([1, 1, 1], 1)).toBe(2);
    expect(defaultDims([1, 1, 1], 5)).toBe(3);
    expect(defaultDims([4, 4, 50], 5)).toBe(2);
    const { model } = await trainPixelClassifier(memorySource(em.raw), memorySource(em.seg), { target: 'gt', maxSamples: 2000, forest: { nTrees: 6 }, threads: 1 });
    expect(model.meta.featureConfig.dims).toBe(2);
    const p = predictVolume(model, em.raw);
    expect(rocAuc(p.data as Float32Array, boundaryTruth(em.seg, 2))).toBeGreaterThan(0.85);
    const { model: m3 } = await trainPixelClassifier(memorySource(raw), memorySource(seg), { target: 'gt', ...small });
    expect((await checkRawForModel(m3, memorySource(em.raw))).join('\n')).toMatch(/3-D features but the raw is a single section/);
  }, 30000);

  it('dense labels with 0 as a class (ISBI: 0 = membrane, 255 = interior): clear error, --dense and --classes', async () => {
    const isbi = Volume.from('uint8', raw.shape, Uint8Array.from(truth, (b) => (b ? 0 : 255)));
    await expect(trainPixelClassifier(memorySource(raw), memorySource(isbi, 'label.png'), { target: 'labels', ...small }))
      .rejects.toThrow(/label.png: need labelled voxels of at least two classes.*255: \d+ voxels.*pass --dense or --classes 0,255/);
    const dense = await trainPixelClassifier(memorySource(raw), memorySource(isbi), { target: 'labels', dense: true, ...small });
    expect(dense.report.classes).toEqual(['0', '255']);
    // --classes keeps the given order: channel 0 = interior here
    const { model, report } = await trainPixelClassifier(memorySource(raw), memorySource(isbi), { target: 'labels', classes: ['255', '0'], ...small });
    expect(report.classes).toEqual(['255', '0']);
    expect(model.meta.outputs).toEqual(['class_255', 'class_0']);
    const p = predictVolume(model, raw);
    expect(rocAuc((p.data as Float32Array).subarray(raw.voxels), truth)).toBeGreaterThan(0.9);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(isbi), { target: 'labels', classes: ['0', '7'], ...small })).rejects.toThrow(/value\(s\) 7 do not occur/);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(isbi), { target: 'labels', classes: ['0'], ...small })).rejects.toThrow(/list 2\.\.255 label values/);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(isbi), { target: 'labels', classes: ['0', 'x'], ...small })).rejects.toThrow(/"x" is not a whole-number/);
    // three dense values read sparsely: 0 is dropped, with a warning
    const three = Volume.from('uint8', raw.shape, Uint8Array.from(truth, (b, i) => (b ? 0 : i % 2 ? 128 : 255)));
    const r3 = await trainPixelClassifier(memorySource(raw), memorySource(three), { target: 'labels', ...small });
    expect(r3.report.classes).toEqual(['128', '255']);
    expect(r3.report.warnings.join('\n')).toMatch(/labels look dense .* value 0 .* is read as "unlabelled"/);
    // a dense label image with one value only
    const one = Volume.zeros('uint8', raw.shape);
    one.data.fill(255);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(one), { target: 'labels', dense: true, ...small })).rejects.toThrow(/255: \d+ voxels; a dense label image needs at least two different values/);
    // a segmentation without interfaces, and one that is all 0 with 0 = unlabelled
    const flat = Volume.zeros('uint32', raw.shape);
    flat.data.fill(3);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(flat), { target: 'gt', ...small })).rejects.toThrow(/no interfaces between ids/);
    await expect(trainPixelClassifier(memorySource(raw), memorySource(Volume.zeros('uint32', raw.shape)), { target: 'gt', zeroIs: 'unlabelled', ...small })).rejects.toThrow(/no labelled voxels/);
  }, 30000);

  it('scans labels in bounded blocks with the same class counts (interfaces across block faces included)', async () => {
    const src = countingSource(seg);
    const big = await trainPixelClassifier(memorySource(raw), memorySource(seg), { target: 'gt', ...small });
    const blocked = await trainPixelClassifier(memorySource(raw), src, { target: 'gt', ...small, labelBlockVoxels: 700 });
    // 700 voxels per block (26 x 26 x 1) plus a 1-voxel halo on each side
    expect(src.maxRead).toBeLessThanOrEqual(28 * 28 * 3);
    const whole = classesFromSegmentation(seg, 3);
    const nb = whole.reduce((a, c) => a + (c === 1 ? 1 : 0), 0);
    expect(big.report.labelledVoxels).toEqual([seg.voxels - nb, nb]);
    expect(blocked.report.labelledVoxels).toEqual([seg.voxels - nb, nb]);
    expect(blocked.report.samplesPerClass).toEqual([1500, 1500]);
    expect(rocAuc(predictVolume(blocked.model, raw).data as Float32Array, truth)).toBeGreaterThan(0.9);
    // sparse scribbles through small blocks: every scribble is found, all of them sampled when few
    const scrib = Volume.zeros('uint16', raw.shape);
    let n2 = 0, n9 = 0;
    for (let i = 0; i < truth.length; i += 13) {
      scrib.data[i] = truth[i] ? 2 : 9;
      if (truth[i]) n2++;
      else n9++;
    }
    const s = await trainPixelClassifier(memorySource(raw), memorySource(scrib), { target: 'labels', ...small, maxSamples: 100000, labelBlockVoxels: 500 });
    expect(s.report.labelledVoxels).toEqual([n2, n9]);
    expect(s.report.samplesPerClass).toEqual([n2, n9]);
  }, 30000);

  it('boundaries from a segmentation: exact classes in 2-D and 3-D, id 0 as boundary or unlabelled', () => {
    const row = Volume.from('uint32', [4, 1, 1], Uint32Array.of(1, 1, 2, 2));
    expect(Array.from(classesFromSegmentation(row, 2))).toEqual([0, 1, 1, 0]);
    expect(Array.from(classesFromSegmentation(row, 2, { width: 2 }))).toEqual([1, 1, 1, 1]);
    const zero = Volume.from('uint32', [3, 1, 1], Uint32Array.of(1, 0, 2));
    expect(Array.from(classesFromSegmentation(zero, 2))).toEqual([1, 1, 1]);
    expect(Array.from(classesFromSegmentation(zero, 2, { zeroIs: 'unlabelled' }))).toEqual([0, -1, 0]);
    const col = Volume.from('uint32', [1, 1, 2], Uint32Array.of(1, 2));
    expect(Array.from(classesFromSegmentation(col, 3))).toEqual([1, 1]);
    expect(Array.from(classesFromSegmentation(col, 2))).toEqual([0, 0]);
    const yy = Volume.from('uint32', [1, 2, 1], Uint32Array.of(1, 2));
    expect(Array.from(classesFromSegmentation(yy, 2))).toEqual([1, 1]);
  });

  it('voxel-size mismatch is an error unless allowed; NaN raw names the voxel; intensity checks', async () => {
    const { model } = await trainPixelClassifier(memorySource(raw), memorySource(seg), { target: 'gt', ...small });
    const other = Volume.from('uint8', raw.shape, raw.data, { voxelSize: [8, 8, 8] });
    // labels on another grid are refused; labels over part of the raw train on the overlap, with a note
    await expect(trainPixelClassifier(memorySource(raw), memorySource(Volume.from('uint32', seg.shape, seg.data, { voxelSize: [2, 2, 2] }), 'lab.zarr'), { target: 'gt', ...small }))
      .rejects.toThrow(/lab.zarr: labels have voxels of \[2,2,2\] nm but the raw has \[1,1,1\] nm/);
    const part = await trainPixelClassifier(memorySource(raw), memorySource(seg.crop(boxFromShape([32, 28, 8], [0, 0, 4]))), { target: 'gt', ...small });
    expect(part.report.warnings.join()).toMatch(/differ in extent: training on their overlap/);
    expect(part.report.region).toEqual(boxFromShape([32, 28, 8], [0, 0, 4]));
    // a model whose training raw had no voxel size (1,1,1) predicts a raw that has one, with a warning
    expect((await checkRawForModel(model, memorySource(other, 'other.zarr'))).join()).toMatch(/recorded no voxel size.*cannot be checked against this raw's \[8,8,8\] nm/);
    // two known, different voxel sizes are an error unless allowed; so is a raw without one
    const { model: model8 } = await trainPixelClassifier(memorySource(other), memorySource(Volume.from('uint32', seg.shape, seg.data, { voxelSize: [8, 8, 8] })), { target: 'gt', ...small });
    const at4 = Volume.from('uint8', raw.shape, raw.data, { voxelSize: [4, 4, 4] });
    await expect(checkRawForModel(model8, memorySource(at4, 'other.zarr'))).rejects.toThrow(/other.zarr: the model was trained on voxels of \[8,8,8\] nm but the raw volume has \[4,4,4\] nm.*--allow-voxel-size/);
    expect((await checkRawForModel(model8, memorySource(at4), { allowVoxelSize: true })).join()).toMatch(/another scale/);
    await expect(checkRawForModel(model8, memorySource(raw, 'stack.png'))).rejects.toThrow(/stack.png: the model was trained on voxels of \[8,8,8\] nm but the raw volume has \[1,1,1\] nm.*pass --voxel-size 8,8,8/);
    const nan = Volume.from('float32', raw.shape, Float32Array.from(raw.data), { offset: [100, 0, 0] });
    nan.data[5 + 32 * 3] = NaN;
    expect(() => predictVolume(model, nan)).toThrow(/raw voxel \[105,3,0\] is NaN/);
    await expect(trainPixelClassifier(memorySource(nan, 'raw.h5'), memorySource(Volume.from('uint32', raw.shape, seg.data, { offset: [100, 0, 0] })), { target: 'gt', ...small, maxSamples: 100000 }))
      .rejects.toThrow(/raw.h5: raw voxel \[105,3,0\] is NaN/);
    expect(rawStats(Float32Array.from({ length: 101 }, (_, i) => i))).toEqual({ p1: 1, p50: 50, p99: 99 });
    const t = { p1: 40, p50: 150, p99: 220 };
    expect(intensityMismatch(t, { p1: 50, p50: 160, p99: 230 })).toBeUndefined();
    expect(intensityMismatch(t, { p1: 0.2, p50: 0.6, p99: 0.9 })).toMatch(/differ/);
    expect(intensityMismatch(t, { p1: 140, p50: 150, p99: 160 })).toMatch(/differ/);
  }, 30000);
});

