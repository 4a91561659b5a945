import { describe, expect, it } from 'vitest';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import { connectedComponents } from '../../kernels/components.js';
import { CLEFT_FEATURE_NAMES, cleftFeatures, objectVoxels, symmetricEigen } from './cleft-features.js';
import { checkCleftFilter, cleftScores, type FilterVolume, trainCleftFilter } from './cleft-filter.js';
import { detectSynapses } from './detect.js';
import { discScene } from './testing.js';

const vs: Vec3 = [8, 8, 30];
const feature = (x: Float32Array, row: number, name: (typeof CLEFT_FEATURE_NAMES)[number]): number => x[row * CLEFT_FEATURE_NAMES.length + CLEFT_FEATURE_NAMES.indexOf(name)];

/** The disc scene of testing.ts (discs in sections 2-5, no segmentation). */
const scene = (seed: number, shape?: Vec3) => discScene(seed, shape);

describe('symmetricEigen', () => {
  it('gives the eigenvalues in descending order and the smallest one\'s eigenvector', () => {
    // diag(4, 9, 1) rotated by 45 degrees about z
    const c = Math.SQRT1_2;
    const R = [c, -c, 0, c, c, 0, 0, 0, 1];
    const D = [4, 9, 1];
    const m = [0, 0, 0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) m[3 * i + j] += R[3 * i + k] * D[k] * R[3 * j + k];
    const e = symmetricEigen(m);
    expect(e.values.map((v) => +v.toFixed(9))).toEqual([9, 4, 1]);
    expect(Math.abs(e.smallest[2])).toBeCloseTo(1, 9);
  });
});

describe('cleftFeatures', () => {
  it('sees a flat disc lying in a section, with the vesicle cloud on one side only', () => {
    const s = scene(3);
    const { labels, count } = connectedComponents(Uint8Array.from(s.cleft, (p) => (p >= 0.5 ? 1 : 0)), s.shape, { connectivity: 6 });
    expect(count).toBe(16);
    const x = cleftFeatures(labels, objectVoxels(labels, count), s, s.shape, vs);
    for (let l = 1; l <= count; l++) {
      const row = l - 1;
      // a disc of radius 5 voxels (40 nm) one section thick: normal along z, thin against its width
      expect(feature(x, row, 'normal_z')).toBeCloseTo(1, 6);
      expect(feature(x, row, 'thickness_nm')).toBeLessThan(feature(x, row, 'width_nm') / 2);
      expect(feature(x, row, 'sections')).toBe(1);
      const i = objectVoxels(labels, count).idx[objectVoxels(labels, count).start[l]];
      const real = s.truth[i] === 1;
      // the cloud lies on one side of the true discs: strong side far above the weak side
      if (real) expect(feature(x, row, 'vesicle_asymmetry')).toBeGreaterThan(0.2);
      else expect(feature(x, row, 'vesicle_asymmetry')).toBeLessThan(0.05);
      expect(feature(x, row, 'mean_p')).toBeGreaterThan(0.7);
      expect(feature(x, row, 'cleft_p_around')).toBeLessThan(0.1);
    }
  });

  it('rejects maps of the wrong size', () => {
    const s = scene(3);
    const labels = new Uint32Array(10);
    expect(() => cleftFeatures(labels, objectVoxels(labels, 0), s, s.shape, vs)).toThrow(/maps of/);
  });
});

describe('trainCleftFilter', () => {
  const folds = [scene(1), scene(2), scene(4)];

  it('learns to keep the discs with a vesicle cloud and drop the others (out-of-fold and on a new scene)', () => {
    const { filter, rows } = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1 });
    expect(filter).toBeDefined();
    const f = filter!;
    expect(rows.length).toBeGreaterThan(0);
    expect(f.oof.truth).toBe(folds.reduce((a, s) => a + s.nTrue, 0));
    expect(f.oof.f1).toBe(1);
    const s = scene(9);
    const { labels, count } = connectedComponents(Uint8Array.from(s.cleft, (p) => (p >= f.candidates.low ? 1 : 0)), s.shape, { connectivity: 6 });
    const o = objectVoxels(labels, count);
    const scores = cleftScores(f, labels, o, s, s.shape, vs);
    let kept = 0, keptTrue = 0;
    for (let l = 1; l <= count; l++) {
      if (scores[l - 1] < f.cut) continue;
      kept++;
      if (s.truth[o.idx[o.start[l]]]) keptTrue++;
    }
    expect(keptTrue).toBe(s.nTrue);
    expect(kept).toBe(s.nTrue);
  });

  it('needs two folds, and returns no filter when no fold holds a true cleft or too few do', () => {
    expect(() => trainCleftFilter([folds[0]], vs)).toThrow(/two volumes/);
    const empty = folds.map((s) => ({ ...s, truth: new Uint8Array(s.truth.length) }));
    expect(trainCleftFilter(empty, vs, { minTrueClefts: 1 }).filter).toBeUndefined();
    // too few true clefts to learn from: no filter, and why
    const few = trainCleftFilter(folds, vs, { minTrueClefts: 1000 });
    expect(few.filter).toBeUndefined();
    expect(few.skipped).toMatch(/true clefts in the training volumes, fewer than the 1000/);
  });

  it('checks a filter read from a file, naming the field', () => {
    const { filter } = trainCleftFilter(folds, vs, { trees: 4, minTrueClefts: 1 });
    const json = JSON.parse(JSON.stringify(filter));
    expect(checkCleftFilter(json, 'info').cut).toBe(filter!.cut);
    expect(() => checkCleftFilter({ ...json, cut: 2 }, 'x/info')).toThrow(FormatError);
    expect(() => checkCleftFilter({ ...json, cut: 2 }, 'x/info')).toThrow(/cleft_filter\.cut/);
    expect(() => checkCleftFilter({ ...json, features: ['size'] }, 'x/info')).toThrow(/cleft_filter\.features/);
    expect(() => checkCleftFilter({ ...json, forest: 'AAAA' }, 'x/info')).toThrow(/cleft_filter\.forest/);
  });

  it('drops the filtered candidates in detectSynapses', () => {
    const { filter } = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1 });
    const s = scene(9);
    const box = boxFromShape(s.shape);
    // two cells at every disc: one below it (its section included), one above
    const seg = new Uint32Array(s.cleft.length);
    s.discs.forEach(([cx, cy, cz], k) => {
      for (let z = 0; z < s.shape[2]; z++)
        for (let y = cy - 10; y <= cy + 10; y++)
          for (let x = cx - 10; x <= cx + 10; x++) seg[x + s.shape[0] * (y + s.shape[1] * z)] = 10 * (k + 1) + (z <= cz ? 1 : 2);
    });
    const vol = (d: Float32Array | Uint32Array): Volume => (d instanceof Float32Array ? new Volume('float32', box, d) : new Volume('uint32', box, d));
    const p = { threshold: filter!.candidates.high, lowThreshold: filter!.candidates.low, minSize: 10, partnerRadius: 38, voxelSize: vs, bounds: box };
    const inputs = { clefts: vol(s.cleft), segmentation: vol(seg), filterVesicles: vol(s.vesicle) };
    const without = detectSynapses(inputs, box, p);
    const withFilter = detectSynapses(inputs, box, { ...p, cleftFilter: filter });
    expect(without.dropped.filtered).toBeUndefined();
    expect(withFilter.dropped.filtered).toBe(s.nFalse);
    expect(withFilter.synapses.length).toBe(without.synapses.length - s.nFalse);
    // the filter reads the vesicle map it is given; the partners' direction needs none here (no --vesicles)
    expect(() => detectSynapses({ ...inputs, filterVesicles: undefined }, box, { ...p, cleftFilter: filter })).toThrow(/vesicle probability map/);
  });
});
