import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { box } from '../../core/box.js';
import { checkEdgeBand, edgeBandHalo, edgeBandIds, edgeBandOf } from './edge-band.js';
import { syntheticEm } from './synthetic.js';
import { memorySource, trainPixelClassifier } from './training.js';

// a 2-class label image: class 1 a vertical stripe x 4..7 (a "membrane"), class 0 elsewhere, one unlabelled pixel
function stripes(shape: Vec3): Int16Array {
  const ids = new Int16Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) ids[x + shape[0] * (y + shape[1] * z)] = x >= 4 && x < 8 ? 1 : 0;
  ids[1] = -1;
  return ids;
}

describe('edge-band sampling ids', () => {
  const shape: Vec3 = [12, 5, 2];
  const ids = stripes(shape);
  const all = (out: Int16Array, x: number) => Array.from({ length: shape[1] * shape[2] }, (_, j) => out[x + shape[0] * j]);

  it('leaves out the voxels within the width of another class (keep 0), on both sides of the edge, and nothing else', () => {
    const out = edgeBandIds(ids, shape, [0, 0, 0], shape, [0, 0, 0], { width: 1, keep: 0 }, 2, 0);
    for (const x of [3, 4, 7, 8]) expect(all(out, x).every((v) => v === -1)).toBe(true);
    for (const x of [2, 5, 6, 9]) expect(all(out, x).every((v) => v === ids[x + shape[0]])).toBe(true);
    expect(out[1]).toBe(-1); // unlabelled stays unlabelled
    const wide = edgeBandIds(ids, shape, [0, 0, 0], shape, [0, 0, 0], { width: 2, keep: 0 }, 2, 0);
    for (const x of [2, 3, 4, 5, 6, 7, 8, 9]) expect(all(wide, x).every((v) => v === -1)).toBe(true);
    expect(all(wide, 10).every((v) => v === 0)).toBe(true);
  });

  it('keep 1 changes nothing; keep 0.5 keeps about half of the band, the same voxels whatever the block', () => {
    expect(Array.from(edgeBandIds(ids, shape, [0, 0, 0], shape, [0, 0, 0], { width: 1, keep: 1 }, 2, 3))).toEqual(Array.from(ids));
    const big: Vec3 = [12, 200, 1];
    const bids = stripes(big);
    const half = edgeBandIds(bids, big, [0, 0, 0], big, [0, 0, 0], { width: 1, keep: 0.5 }, 2, 7);
    let kept = 0;
    for (let y = 0; y < big[1]; y++) for (const x of [3, 4, 7, 8]) if (half[x + 12 * y] >= 0) kept++;
    expect(kept / 800).toBeGreaterThan(0.4);
    expect(kept / 800).toBeLessThan(0.6);
    // the block y 50..100, grown by the halo, cropped: the same ids as the whole image's there
    const h = edgeBandHalo({ width: 1, keep: 0.5 }, 2);
    expect(h).toEqual([1, 1, 0]);
    const g0 = 49, g1 = 101;
    const sub = bids.slice(12 * g0, 12 * g1);
    const part = edgeBandIds(sub, [12, g1 - g0, 1], [0, 1, 0], [12, 50, 1], [0, g0, 0], { width: 1, keep: 0.5 }, 2, 7);
    expect(Array.from(part)).toEqual(Array.from(half.slice(12 * 50, 12 * 100)));
    // another seed keeps other voxels
    const other = edgeBandIds(bids, big, [0, 0, 0], big, [0, 0, 0], { width: 1, keep: 0.5 }, 2, 8);
    expect(Array.from(other)).not.toEqual(Array.from(half));
  });

  it('outside < 1 keeps every band voxel and that fraction of the others', () => {
    const big: Vec3 = [12, 200, 1];
    const bids = stripes(big);
    const out = edgeBandIds(bids, big, [0, 0, 0], big, [0, 0, 0], { width: 1, keep: 1, outside: 0.25 }, 2, 7);
    let band = 0, rest = 0;
    for (let y = 0; y < big[1]; y++) {
      for (let x = 0; x < 12; x++) {
        const i = x + 12 * y;
        if (bids[i] < 0) continue;
        if ([3, 4, 7, 8].includes(x)) { expect(out[i]).toBe(bids[i]); band++; } else if (out[i] >= 0) rest++;
      }
    }
    expect(band).toBe(800);
    expect(rest / (12 * 200 - 800 - 1)).toBeGreaterThan(0.2);
    expect(rest / (12 * 200 - 800 - 1)).toBeLessThan(0.3);
    expect(() => checkEdgeBand({ width: 1, keep: 1, outside: 0 })).toThrow(/outside must be in/);
  });

  it('3-D bands reach across sections; 2-D ones do not', () => {
    const s: Vec3 = [3, 3, 3];
    const v = new Int16Array(27).fill(0);
    v[1 + 3 * (1 + 3 * 2)] = 1; // one voxel of class 1 in the top section
    const d3 = edgeBandIds(v, s, [0, 0, 0], s, [0, 0, 0], { width: 1, keep: 0 }, 3, 0);
    const d2 = edgeBandIds(v, s, [0, 0, 0], s, [0, 0, 0], { width: 1, keep: 0 }, 2, 0);
    expect(d3[1 + 3 * (1 + 3 * 1)]).toBe(-1);
    expect(d2[1 + 3 * (1 + 3 * 1)]).toBe(0);
  });

  it('maps --edge-weight to the band: > 1 thins the rest, < 1 the band, 1 is none', () => {
    expect(edgeBandOf(1, 1)).toBeUndefined();
    expect(edgeBandOf(4, 1)).toEqual({ width: 1, keep: 1, outside: 0.25 });
    expect(edgeBandOf(0.5, 2)).toEqual({ width: 2, keep: 0.5 });
    expect(() => edgeBandOf(2, 0)).toThrow(/width must be in/);
    expect(() => edgeBandOf(-1, 1)).toThrow(/edge weight/);
  });

  it('rejects widths and fractions out of range', () => {
    expect(() => checkEdgeBand({ width: 0, keep: 0 })).toThrow(/width must be in/);
    expect(() => checkEdgeBand({ width: 1, keep: 1.5 })).toThrow(/keep must be in 0..1/);
  });
});

describe('training with an edge band', async () => {
  const { raw, seg } = syntheticEm([40, 36, 6], { cells: 8, seed: 2 });
  // class labels from the segmentation: 1 = boundary (id 0), 2 = cell
  const lab = Volume.zeros('uint8', box([0, 0, 0], raw.shape), { voxelSize: raw.voxelSize });
  // 1 within 2 voxels (in x or y) of another segment id (membranes about 4 voxels wide), else 2
  const sd = seg.data as ArrayLike<number | bigint>;
  const [sx, sy] = raw.shape;
  for (let i = 0; i < lab.data.length; i++) {
    const x = i % sx, y = Math.floor(i / sx) % sy;
    let edge = false;
    for (let d = -2; d <= 2 && !edge; d++) {
      if (x + d >= 0 && x + d < sx && sd[i + d] !== sd[i]) edge = true;
      if (y + d >= 0 && y + d < sy && sd[i + d * sx] !== sd[i]) edge = true;
    }
    lab.data[i] = edge ? 1 : 2;
  }
  const opts = { target: 'labels' as const, classes: ['1', '2'], maxSamples: 1_000_000, forest: { nTrees: 4 }, threads: 1, seed: 3, crossFit: false };

  it('draws no sample in the band (keep 0) and counts every labelled voxel as before', async () => {
    const plain = await trainPixelClassifier(memorySource(raw), memorySource(lab), opts);
    const banded = await trainPixelClassifier(memorySource(raw), memorySource(lab), { ...opts, edgeBand: { width: 1, keep: 0 } });
    expect(banded.report.labelledVoxels).toEqual(plain.report.labelledVoxels);
    // all voxels are sampled without the band (maxSamples above the count); the band's are not
    const ids = new Int16Array(lab.data.length);
    for (let i = 0; i < ids.length; i++) ids[i] = lab.data[i] - 1;
    const want = edgeBandIds(ids, raw.shape, [0, 0, 0], raw.shape, [0, 0, 0], { width: 1, keep: 0 }, banded.model.meta.featureConfig.dims, 3);
    const per = [0, 0];
    for (const v of want) if (v >= 0) per[v]++;
    expect(plain.report.samplesPerClass).toEqual(plain.report.labelledVoxels);
    expect(banded.report.samplesPerClass).toEqual(per);
    expect(per[0]).toBeLessThan(plain.report.labelledVoxels[0]);
    expect((banded.model.meta.training?.edgeBand as { samplesPerClass: number[] }).samplesPerClass).toEqual(per);
    expect(plain.model.meta.training?.edgeBand).toBeUndefined();
  });

  it('with auto-context and contextEdgeBand false, weights the first forest only: the context forest learns from samples drawn without the band', async () => {
    const ac = { ...opts, maxSamples: 3000, autoContext: true, outputSigma: 0 };
    const band = { width: 1, keep: 1, outside: 0.25 };
    const plain = await trainPixelClassifier(memorySource(raw), memorySource(lab), ac);
    const both = await trainPixelClassifier(memorySource(raw), memorySource(lab), { ...ac, edgeBand: band });
    const first = await trainPixelClassifier(memorySource(raw), memorySource(lab), { ...ac, edgeBand: band, contextEdgeBand: false });
    // the first forest is the band-weighted one
    expect(first.model.forest.nNodes).toBe(both.model.forest.nNodes);
    expect(Array.from(first.model.forest.importances())).toEqual(Array.from(both.model.forest.importances()));
    // the context forest learns from the unweighted samples (those of the model without a band)
    const e = first.model.meta.training?.edgeBand as { contextSamplesPerClass: number[]; contextForests: string };
    expect(e.contextForests).toBe('without the band');
    expect(e.contextSamplesPerClass).toEqual(plain.report.samplesPerClass);
    expect(Array.from(first.model.contextForest!.importances())).not.toEqual(Array.from(both.model.contextForest!.importances()));
  });

  it('says so when the band leaves one class', async () => {
    await expect(trainPixelClassifier(memorySource(raw), memorySource(lab), { ...opts, edgeBand: { width: 4, keep: 0 } })).rejects.toThrow(/edge band|two classes/);
  });
});
