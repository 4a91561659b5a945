import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { connectedComponents } from '../../kernels/components.js';
import { objectVoxels } from './cleft-features.js';
import { OBJECT_SHAPE_FEATURES, objectFeatureNames, objectFeatures } from './object-features.js';
import { type ObjectFilterVolume, applyObjectFilter, checkObjectFilter, trainObjectFilter } from './object-filter.js';

const vs: Vec3 = [20, 20, 60];

/**
 * Blobs of one class (p 0.6-0.9, 7x7 voxels over 2 sections) on a faint background; the true ones
 * sit in a ring of high "membrane" context (another class map), the false ones (same blob) in none.
 * With `signal` false the ring is drawn around every blob, whatever its truth: the context tells nothing.
 */
function scene(seed: number, signal = true, shape: Vec3 = [96, 96, 6]): ObjectFilterVolume & { nTrue: number; nFalse: number } {
  const rnd = mulberry32(seed);
  const n = shape[0] * shape[1] * shape[2];
  const map = new Float32Array(n), ring = new Float32Array(n), other = new Float32Array(n), truth = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    map[i] = 0.1 * rnd();
    ring[i] = 0.1 * rnd();
    other[i] = rnd();
  }
  const at = (x: number, y: number, z: number): number => x + shape[0] * (y + shape[1] * z);
  let nTrue = 0, nFalse = 0;
  for (let gy = 0; gy < 4; gy++)
    for (let gx = 0; gx < 4; gx++) {
      const cx = 12 + gx * 24, cy = 12 + gy * 24, cz = 1 + Math.floor(rnd() * 3);
      const real = rnd() < 0.5;
      if (real) nTrue++;
      else nFalse++;
      for (let z = cz - 1; z <= cz + 2; z++)
        for (let y = cy - 10; y <= cy + 10; y++)
          for (let x = cx - 10; x <= cx + 10; x++) {
            const inner = Math.abs(x - cx) <= 3 && Math.abs(y - cy) <= 3;
            if (inner && (z === cz || z === cz + 1)) {
              map[at(x, y, z)] = 0.6 + 0.3 * rnd();
              if (real) truth[at(x, y, z)] = 1;
            } else if (!inner && (real || !signal)) ring[at(x, y, z)] = 0.9;
          }
    }
  return { map, context: [ring, other], truth, shape, nTrue, nFalse };
}

const CONTEXT = ['membrane', 'noise'];
const plain = { high: 0.5, low: 0.5, minSize: 10 };

describe('objectFeatures', () => {
  it('reads the object\'s size, sections and the context maps inside and around it', () => {
    const s = scene(3);
    const { labels, count } = connectedComponents(Uint8Array.from(s.map, (p) => (p >= 0.5 ? 1 : 0)), s.shape, { connectivity: 26 });
    expect(count).toBe(16);
    const names = objectFeatureNames(CONTEXT);
    const x = objectFeatures(labels, objectVoxels(labels, count), s.map, s.context, s.shape, vs);
    expect(x.length).toBe(16 * names.length);
    const f = (row: number, name: string): number => x[row * names.length + names.indexOf(name)];
    const o = objectVoxels(labels, count);
    for (let l = 1; l <= count; l++) {
      expect(Math.exp(f(l - 1, 'log_size'))).toBeCloseTo(98, 2);
      expect(f(l - 1, 'sections')).toBe(2);
      expect(f(l - 1, 'mean_p')).toBeGreaterThan(0.6);
      // the ring is outside the object: low inside, high around for the true blobs only
      expect(f(l - 1, 'membrane_inside')).toBeLessThan(0.1);
      const real = s.truth[o.idx[o.start[l]]] === 1;
      if (real) expect(f(l - 1, 'membrane_around')).toBeGreaterThan(0.2);
      else expect(f(l - 1, 'membrane_around')).toBeLessThan(0.1);
    }
    expect(names.slice(0, OBJECT_SHAPE_FEATURES.length)).toEqual([...OBJECT_SHAPE_FEATURES]);
  });

  it('rejects maps of the wrong size', () => {
    const s = scene(3);
    const labels = new Uint32Array(10);
    expect(() => objectFeatures(labels, objectVoxels(labels, 0), s.map, s.context, s.shape, vs)).toThrow(/every map must hold/);
  });
});

describe('trainObjectFilter', () => {
  const folds = [scene(1), scene(2), scene(4), scene(5)];

  it('learns the context that tells true objects from false, and keeps it on a new scene', () => {
    const ch = trainObjectFilter(folds, CONTEXT, vs, plain, { trees: 16, minTrueObjects: 1 });
    expect(ch.filter).toBeDefined();
    const f = ch.filter!;
    // the plain rule finds every blob (F1 = 2 nTrue / (nTrue + all)); the filter finds the true ones only
    const nTrue = folds.reduce((a, s) => a + s.nTrue, 0), all = folds.reduce((a, s) => a + s.nTrue + s.nFalse, 0);
    expect(ch.baselineF1).toBeCloseTo((2 * nTrue) / (nTrue + all), 6);
    expect(f.oof.f1).toBeGreaterThan(0.9);
    expect(f.oof.baselineF1).toBeLessThan(0.8);
    const s = scene(9);
    const a = applyObjectFilter(f, s.map, s.context, s.shape, vs);
    expect(a.count).toBe(s.nTrue);
    expect(a.dropped).toBe(s.nFalse);
    for (let i = 0; i < s.map.length; i++) if (a.labels[i]) expect(s.truth[i]).toBe(1);
  });

  it('is not kept when it does not beat the plain rule out of fold, nor trained on too few objects', () => {
    const blind = [scene(1, false), scene(2, false), scene(4, false), scene(5, false)];
    const ch = trainObjectFilter(blind, CONTEXT, vs, plain, { trees: 16, minTrueObjects: 1, minGain: 0.02 });
    expect(ch.filter).toBeUndefined();
    expect(ch.skipped).toMatch(/does not beat the plain rule/);
    const few = trainObjectFilter(folds, CONTEXT, vs, plain, { minTrueObjects: 1000 });
    expect(few.filter).toBeUndefined();
    expect(few.skipped).toMatch(/fewer than the 1000/);
    expect(() => trainObjectFilter([folds[0]], CONTEXT, vs, plain)).toThrow(/two volumes/);
    expect(() => trainObjectFilter(folds, ['membrane'], vs, plain)).toThrow(/context maps/);
  });

  it('checks a filter read from a file, naming the field', () => {
    const { filter } = trainObjectFilter(folds, CONTEXT, vs, plain, { trees: 4, minTrueObjects: 1 });
    const json = JSON.parse(JSON.stringify(filter));
    expect(checkObjectFilter(json, 'info').cut).toBe(filter!.cut);
    expect(() => checkObjectFilter({ ...json, cut: 2 }, 'x/info')).toThrow(FormatError);
    expect(() => checkObjectFilter({ ...json, cut: 2 }, 'x/info')).toThrow(/object_filter\.cut/);
    expect(() => checkObjectFilter({ ...json, features: ['size'] }, 'x/info')).toThrow(/object_filter\.features/);
    expect(() => checkObjectFilter({ ...json, connectivity: 5 }, 'x/info')).toThrow(/object_filter\.connectivity/);
    expect(() => checkObjectFilter({ ...json, forest: 'AAAA' }, 'x/info')).toThrow(/object_filter\.forest/);
    const s = scene(9);
    expect(() => applyObjectFilter(filter!, s.map, [s.context[0]], s.shape, vs)).toThrow(/reads 2 context maps/);
  });
});
