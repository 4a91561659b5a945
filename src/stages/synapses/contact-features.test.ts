import { describe, expect, it } from 'vitest';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { mulberry32 } from '../../core/random.js';
import { connectedComponents } from '../../kernels/components.js';
import { objectVoxels } from './cleft-features.js';
import { CONTACT_FEATURE_NAMES, contactFeatures } from './contact-features.js';
import { FormatError } from '../../core/errors.js';
import { FILTER_FEATURE_SETS, type FilterVolume, checkCleftFilter, cleftScores, trainCleftFilter } from './cleft-filter.js';
import { detectSynapses } from './detect.js';

const vs: Vec3 = [8, 8, 30];
const F = CONTACT_FEATURE_NAMES.length;
const feature = (x: Float32Array, row: number, name: (typeof CONTACT_FEATURE_NAMES)[number]): number => x[row * F + CONTACT_FEATURE_NAMES.indexOf(name)];

/**
 * Cleft-like discs (one section, radius 5 voxels) each between a cell below and a cell above, with a
 * vesicle cloud two to three sections above every disc. At a true disc the cell above holds the
 * cloud; at a false one the cell above is one section thin and the cloud lies in a third cell beyond
 * it: the maps are alike, only the segmentation tells them apart.
 */
function scene(seed: number, shape: Vec3 = [96, 96, 12]): FilterVolume & { segmentation: Uint32Array; real: boolean[] } {
  const rnd = mulberry32(seed);
  const n = shape[0] * shape[1] * shape[2];
  const cleft = new Float32Array(n), vesicle = new Float32Array(n), truth = new Uint8Array(n), segmentation = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    cleft[i] = 0.1 * rnd();
    vesicle[i] = 0.1 * rnd();
  }
  const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
  const real: boolean[] = [];
  for (let gy = 0; gy < 4; gy++)
    for (let gx = 0; gx < 4; gx++) {
      const k = gy * 4 + gx;
      const cx = 12 + gx * 24, cy = 12 + gy * 24, cz = 2 + Math.floor(rnd() * 4);
      const r = rnd() < 0.5;
      real.push(r);
      for (let z = 0; z < shape[2]; z++)
        for (let y = cy - 12; y < cy + 12; y++)
          for (let x = cx - 12; x < cx + 12; x++) segmentation[at(x, y, z)] = 10 * (k + 1) + (z <= cz ? 1 : r || z === cz + 1 ? 2 : 3);
      for (let y = cy - 5; y <= cy + 5; y++)
        for (let x = cx - 5; x <= cx + 5; x++) {
          if ((x - cx) ** 2 + (y - cy) ** 2 > 25) continue;
          cleft[at(x, y, cz)] = 0.7 + 0.2 * rnd();
          if (r) truth[at(x, y, cz)] = 1;
          for (let z = cz + 2; z <= cz + 3; z++) vesicle[at(x, y, z)] = 0.9;
        }
    }
  return { cleft, vesicle, truth, shape, segmentation, real };
}

function discs(s: FilterVolume): { labels: Uint32Array; count: number } {
  return connectedComponents(Uint8Array.from(s.cleft, (p) => (p >= 0.5 ? 1 : 0)), s.shape, { connectivity: 6 });
}

describe('contactFeatures', () => {
  it('finds the two cells across each disc and the vesicle cloud inside one of them', () => {
    const s = scene(3);
    const { labels, count } = discs(s);
    expect(count).toBe(16);
    const o = objectVoxels(labels, count);
    const x = contactFeatures(o, s, s.segmentation, s.shape, vs);
    for (let l = 1; l <= count; l++) {
      const row = l - 1;
      const real = s.truth[o.idx[o.start[l]]] === 1;
      // below and above: it lies on their contact all over; at a false disc the third cell, two
      // sections above, lies within the near reach (40 nm: two sections) too
      expect(feature(x, row, 'on_contact_fraction')).toBe(1);
      expect(feature(x, row, 'seg_count')).toBe(real ? 2 : 3);
      if (real) expect(feature(x, row, 'seg_top2_share')).toBe(1);
      else expect(feature(x, row, 'seg_top2_share')).toBeLessThan(0.9);
      expect(feature(x, row, 'contact_coverage')).toBeGreaterThan(0);
      // the cloud inside the cell above only where the disc is true
      if (real) expect(feature(x, row, 'vesicle_pre_log_voxels')).toBeGreaterThan(Math.log(100));
      else expect(feature(x, row, 'vesicle_pre_log_voxels')).toBe(0);
      expect(feature(x, row, 'vesicle_post_log_voxels')).toBe(0);
      // one disc per pair of cells
      expect(feature(x, row, 'pair_candidates')).toBe(0);
      expect(feature(x, row, 'pair_nearest_nm')).toBe(2000);
    }
  });

  it('counts a third cell reaching the candidate, and the other candidates on the same pair', () => {
    const shape: Vec3 = [40, 40, 6];
    const n = shape[0] * shape[1] * shape[2];
    const seg = new Uint32Array(n), cleft = new Float32Array(n), vesicle = new Float32Array(n), labels = new Uint32Array(n);
    const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
    // cells 1 (x < 20) and 2 (x >= 20), cell 3 in the corner y >= 30, x >= 16
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) seg[at(x, y, z)] = y >= 30 && x >= 16 ? 3 : x < 20 ? 1 : 2;
    // object 1: on the 1|2 contact at y 5..9; object 2: on it at y 15..19 (the same pair, 80 nm away);
    // object 3: at the triple junction y 26..29
    const put = (l: number, y0: number, y1: number) => {
      for (let z = 2; z <= 3; z++) for (let y = y0; y <= y1; y++) for (let x = 19; x <= 20; x++) labels[at(x, y, z)] = l;
    };
    put(1, 5, 9);
    put(2, 15, 19);
    put(3, 26, 29);
    const x = contactFeatures(objectVoxels(labels, 3), { cleft, vesicle }, seg, shape, vs);
    expect(feature(x, 0, 'seg_count')).toBe(2);
    // the junction's two main cells are 1 and 2 as well: three candidates on that pair
    expect(feature(x, 0, 'pair_candidates')).toBe(2);
    expect(feature(x, 1, 'pair_candidates')).toBe(2);
    expect(feature(x, 0, 'pair_nearest_nm')).toBeCloseTo(80, 6);
    expect(feature(x, 2, 'seg_count')).toBe(3);
    expect(feature(x, 0, 'seg_balance')).toBeCloseTo(1, 6);
    expect(() => contactFeatures(objectVoxels(labels, 3), { cleft, vesicle }, new Uint32Array(5), shape, vs)).toThrow(/segmentation of 5 voxels/);
  });
});

describe('trainCleftFilter with the segmentation', () => {
  const folds = [scene(1), scene(2), scene(4)];

  it('tells the discs apart only with the segmentation features, and then needs the segmentation to score', () => {
    const withSeg = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1 });
    const mapsOnly = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1, segmentation: false });
    expect(withSeg.filter!.features).toEqual(FILTER_FEATURE_SETS.segmentation);
    expect(mapsOnly.filter!.features).toEqual(FILTER_FEATURE_SETS.maps);
    expect(withSeg.filter!.oof.f1).toBe(1);
    expect(mapsOnly.filter!.oof.f1).toBeLessThan(0.9);
    // on a new scene
    const s = scene(9);
    const { labels, count } = discs(s);
    const o = objectVoxels(labels, count);
    const f = withSeg.filter!;
    const sc = cleftScores(f, labels, o, s, s.shape, vs);
    const kept = [...sc].map((v, k) => (v >= f.cut ? s.truth[o.idx[o.start[k + 1]]] : -1));
    expect(kept.filter((v) => v === 1).length).toBe(s.real.filter((r) => r).length);
    expect(kept.filter((v) => v === 0).length).toBe(0);
    expect(() => cleftScores(f, labels, o, { cleft: s.cleft, vesicle: s.vesicle }, s.shape, vs)).toThrow(/needs the segmentation/);
  });

  it('reads the segmentation detectSynapses is given: the false discs are dropped, the true ones kept', () => {
    const f = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1 }).filter!;
    const s = scene(9);
    const box = boxFromShape(s.shape);
    const inputs = { clefts: new Volume('float32', box, s.cleft), segmentation: new Volume('uint32', box, s.segmentation), filterVesicles: new Volume('float32', box, s.vesicle) };
    const r = detectSynapses(inputs, box, { threshold: f.candidates.high, lowThreshold: f.candidates.low, minSize: 10, partnerRadius: 38, voxelSize: vs, bounds: box, cleftFilter: f });
    const nReal = s.real.filter((x) => x).length;
    expect(r.dropped.filtered).toBe(16 - nReal);
    expect(r.synapses.length).toBe(nReal);
  });

  it('may cut its candidates along the segment pairs (then detectSynapses does too), and checks that such a filter reads the segmentation', () => {
    const rule = { high: 0.5, low: 0.5, minSize: 10, bySegmentPair: true };
    const f = trainCleftFilter(folds, vs, { trees: 16, minTrueClefts: 1, candidateRules: [], pairRules: [rule] }).filter!;
    expect(f.candidates).toEqual(rule);
    expect(f.oof.f1).toBe(1);
    const s = scene(9);
    const box = boxFromShape(s.shape);
    const inputs = { clefts: new Volume('float32', box, s.cleft), segmentation: new Volume('uint32', box, s.segmentation), filterVesicles: new Volume('float32', box, s.vesicle) };
    const r = detectSynapses(inputs, box, { threshold: 0.5, lowThreshold: 0.5, minSize: 10, partnerRadius: 38, voxelSize: vs, bounds: box, cleftFilter: f });
    expect(r.synapses.length).toBe(s.real.filter((x) => x).length);
    const json = JSON.parse(JSON.stringify(f));
    expect(checkCleftFilter(json, 'info').candidates.bySegmentPair).toBe(true);
    expect(() => checkCleftFilter({ ...json, candidates: { ...rule, bySegmentPair: 'yes' } }, 'x/info')).toThrow(/candidates\.bySegmentPair/);
    const mapsOnly = JSON.parse(JSON.stringify(trainCleftFilter(folds, vs, { trees: 4, minTrueClefts: 1, segmentation: false }).filter));
    expect(() => checkCleftFilter({ ...mapsOnly, candidates: rule }, 'x/info')).toThrow(FormatError);
  });
});
