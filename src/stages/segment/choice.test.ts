import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { MAP_HISTOGRAM_BINS, mapHistogram } from '../../kernels/map-histogram.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { relabel } from './agglomerate.js';
import { computeAgglomeration, computeSupervoxels } from './pipeline.js';
import { CUT_GRID, chooseSegmentation, mapLevels, scoreCuts, scoreCutsPerSection, seedParams, SEED_CANDIDATES } from './choice.js';
import { lcg, voronoiCells } from './testing.js';

/** Voronoi cells (ids 1..n) over `shape` and their faces (voxels whose +x/+y/+z neighbour is another cell). */
function cells(shape: Vec3, n: number, seed: number): { gt: Uint32Array; face: Uint8Array } {
  const { labels, face } = voronoiCells(shape, n, lcg(seed));
  return { gt: labels, face };
}

const sampling: Vec3 = [1, 1, 1];

describe('the segmentation choice (seeds, map variant, cut) by out-of-fold VOI', () => {
  it('faint membranes (all below the interior threshold 0.5): the smoothed-minima seeds win', () => {
    // distance seeds see one interior (everything < 0.5), so one supervoxel per connected piece;
    // minima of the smoothed map still find every cell
    const shape: Vec3 = [36, 36, 12];
    const folds = [3, 4].map((seed) => {
      const { gt, face } = cells(shape, 12, seed);
      const r = lcg(seed + 10);
      const map = Float32Array.from(face, (f) => (f ? 0.45 : 0.1 * r()));
      return { map: () => map, shape, truth: gt };
    });
    const c = chooseSegmentation(folds, [0], { sampling, twoD: false });
    expect(c.seeds).toBe('minima-smoothed');
    expect(c.carriedSeeds).toEqual(SEED_CANDIDATES['minima-smoothed']);
    const [dist, minima] = c.candidates;
    expect(dist.seeds).toBe('distance');
    expect(minima.best.voi).toBeLessThan(dist.best.voi - 0.5);
    // the distance seeds merge (one supervoxel per fold), the minima seeds do not
    expect(dist.supervoxels).toEqual([1, 1]);
    expect(dist.best.merge).toBeGreaterThan(2);
    expect(c.meanVoi[c.grid.indexOf(c.threshold)]).toBe(minima.best.voi);
    // the cut lies between the interior contacts and the faint membranes
    expect(c.threshold).toBeGreaterThan(0.1);
    expect(c.threshold).toBeLessThan(0.45);
  });

  it('two cells joined by a wide gap in their membrane: the smoothed-minima seeds lose', () => {
    // flat interiors: the smoothed map's zero plateau runs through the gap, one minimum for both
    // cells; the distance transform has a maximum in each cell and splits them at the neck
    const shape: Vec3 = [40, 40, 6];
    const [sx, sy, sz] = shape;
    const map = new Float32Array(sx * sy * sz);
    const gt = new Uint32Array(sx * sy * sz);
    for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++) {
      const i = x + sx * (y + sy * z);
      const wall = (x === 19 || x === 20) && !(y >= 13 && y < 27);
      map[i] = wall ? 1 : 0;
      gt[i] = x < 20 ? 1 : 2;
    }
    const folds = [{ map: () => map, shape, truth: gt }, { map: () => map, shape, truth: gt }];
    const c = chooseSegmentation(folds, [0], { sampling, twoD: false });
    expect(c.seeds).toBe('distance');
    expect(c.carriedSeeds).toEqual({ seeds: 'distance' });
    const [dist, minima] = c.candidates;
    expect(minima.supervoxels).toEqual([1, 1]);
    expect(minima.best.merge).toBeCloseTo(1, 2); // two equal cells merged: 1 bit
    expect(dist.best.voi).toBeLessThan(0.5);
  });

  it('chooses the map variant with the lowest VOI, ties to the first variant, the first seeds and the default cut', () => {
    const shape: Vec3 = [32, 32, 10];
    const { gt, face } = cells(shape, 10, 7);
    const r = lcg(8);
    const clean = Float32Array.from(face, (f) => (f ? 0.9 : 0.1 * r()));
    // variant 1: half the membrane voxels missing (VOI merge), variant 0 clean
    const holes = Float32Array.from(clean, (v, i) => (face[i] && i % 2 === 0 ? 0.05 : v));
    const fold = { map: (v: number) => (v === 0 ? holes : clean), shape, truth: gt };
    const c = chooseSegmentation([fold, fold], [3, 5], { sampling, twoD: false });
    expect(c.variant).toBe(5);
    // identical variants: the first one; default cut 0.7 where every cut between the levels scores the same
    const same = { map: () => clean, shape, truth: gt };
    const t = chooseSegmentation([same, same], [2, 4], { sampling, twoD: false, seeds: ['distance'] });
    expect(t.variant).toBe(2);
    const best = Math.min(...t.meanVoi);
    if (t.meanVoi[t.grid.indexOf(0.7)] === best) expect(t.threshold).toBe(0.7);
    expect(t.meanVoi[t.grid.indexOf(t.threshold)]).toBe(best);
    expect(t.default).toBe(0.7);
    expect(chooseSegmentation([same], [0], { sampling, twoD: true, seeds: ['distance'] }).default).toBe(0.55);
  });

  it('scoreCuts: the VOI of the segmentation `wiring segment` makes at each cut', () => {
    const shape: Vec3 = [24, 24, 8];
    const { gt, face } = cells(shape, 6, 2);
    const r = lcg(5);
    const map = Float32Array.from(face, (f) => (f ? 0.5 + 0.5 * r() : 0.3 * r()));
    const params = seedParams(SEED_CANDIDATES.distance, sampling, false);
    const s = scoreCuts(map, shape, gt, params);
    expect(s.split).toHaveLength(CUT_GRID.length);
    const maps = { boundary: map, shape };
    const sv = computeSupervoxels(maps, params);
    expect(s.supervoxels).toBe(sv.count);
    for (const t of [0.3, 0.6, 0.9]) {
      const res = computeAgglomeration(sv.labels, maps, { method: 'mean', threshold: t });
      const e = evaluateSegmentation(relabel(sv.labels, res.map, new Uint32Array(sv.labels.length)), gt);
      const i = CUT_GRID.indexOf(t);
      expect(s.split[i]).toBeCloseTo(e.voi_split, 9);
      expect(s.merge[i]).toBeCloseTo(e.voi_merge, 9);
    }
    expect(new Set(s.merge).size).toBeGreaterThan(1);
  });

  it('scoreCutsPerSection: each section segmented on its own, scored together (ids per section)', () => {
    // sections of different 2-D Voronoi cells (as membrane labels' interior components: ids per section)
    const [sx, sy, sz] = [28, 28, 4];
    const n = sx * sy;
    const map = new Float32Array(n * sz);
    const gt = new Uint32Array(n * sz);
    const r = lcg(21);
    let base = 0;
    const perSection: Array<{ map: Float32Array; gt: Uint32Array }> = [];
    for (let z = 0; z < sz; z++) {
      const { gt: g, face } = cells([sx, sy, 1], 5 + z, 30 + z);
      const m = Float32Array.from(face, (f) => (f ? 0.6 + 0.4 * r() : 0.3 * r()));
      map.set(m, z * n);
      for (let i = 0; i < n; i++) gt[z * n + i] = g[i] + base;
      base += 5 + z;
      perSection.push({ map: m, gt: g });
    }
    const params = seedParams(SEED_CANDIDATES.distance, [4, 4, 50], true);
    const s = scoreCutsPerSection(map, [sx, sy, sz], gt, params);
    // the supervoxels are those of each one-section map; no segment spans two sections
    const one = perSection.map((p) => scoreCuts(p.map, [sx, sy, 1], p.gt, params));
    expect(s.supervoxels).toBe(one.reduce((a, o) => a + o.supervoxels, 0));
    CUT_GRID.forEach((t, i) => expect(s.segments[i]).toBe(one.reduce((a, o) => a + o.segments[i], 0)));
    // at each cut: the VOI of the sections' own segmentations put together with ids per section
    for (const t of [0.3, 0.5, 0.8]) {
      const seg = new Uint32Array(n * sz);
      let off = 0;
      perSection.forEach((p, z) => {
        const maps = { boundary: p.map, shape: [sx, sy, 1] as Vec3 };
        const sv = computeSupervoxels(maps, params);
        const res = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: true, threshold: t });
        const l = relabel(sv.labels, res.map, new Uint32Array(n));
        for (let i = 0; i < n; i++) seg[z * n + i] = l[i] + off;
        off += res.count;
      });
      const e = evaluateSegmentation(seg, gt);
      const i = CUT_GRID.indexOf(t);
      expect(s.split[i]).toBeCloseTo(e.voi_split, 9);
      expect(s.merge[i]).toBeCloseTo(e.voi_merge, 9);
    }
    // a 3-D segmentation of the same map joins the sections' cells: per-section truth sees merges
    const threeD = scoreCuts(map, [sx, sy, sz], gt, params);
    expect(Math.min(...threeD.merge)).toBeGreaterThan(Math.min(...s.merge) + 0.5);
  });

  it('per-section choice: cells cut by fainter inner walls want a cut above the default; the levels locate it in the map', () => {
    // true membranes 0.95, walls of a finer Voronoi inside the cells 0.7 (supervoxel boundaries, not
    // cells), interiors 0-0.2: cuts 0.7-0.9 join the pieces and keep the cells; the default 0.55 splits
    const [sx, sy, sz] = [32, 32, 3];
    const folds = [41, 42].map((seed) => {
      const r = lcg(seed);
      const map = new Float32Array(sx * sy * sz);
      const gt = new Uint32Array(sx * sy * sz);
      let base = 0;
      for (let z = 0; z < sz; z++) {
        const { gt: g, face } = cells([sx, sy, 1], 5, seed * 10 + z);
        const { face: inner } = cells([sx, sy, 1], 20, seed * 10 + z + 5);
        for (let i = 0; i < sx * sy; i++) {
          map[z * sx * sy + i] = face[i] ? 0.95 : inner[i] ? 0.7 : 0.2 * r();
          gt[z * sx * sy + i] = face[i] ? 0 : g[i] + base; // membranes unlabelled, as membrane labels' interior components
        }
        base += 5;
      }
      return { map: () => map, shape: [sx, sy, sz] as Vec3, truth: gt };
    });
    const c = chooseSegmentation(folds, [0], { sampling: [4, 4, 50], twoD: false, seeds: ['distance'], perSection: true });
    expect(c.perSection).toBe(true);
    expect(c.default).toBe(0.55); // per section: the anisotropic default
    expect(c.threshold).toBeGreaterThanOrEqual(0.7);
    expect(c.threshold).toBeLessThan(0.95);
    expect(c.meanVoi[c.grid.indexOf(c.threshold)]).toBeLessThan(c.meanVoi[c.grid.indexOf(0.55)] - 0.5);
    expect(c.foldVoi).toHaveLength(2);
    // levels: the fraction of map values <= the cut, and of supervoxels merged away, both rise with the cut
    const lv = c.levels;
    for (let i = 1; i < c.grid.length; i++) {
      expect(lv.map[i]).toBeGreaterThanOrEqual(lv.map[i - 1]);
      expect(lv.merged[i]).toBeGreaterThanOrEqual(lv.merged[i - 1]);
    }
    expect(lv.merged[c.grid.indexOf(c.threshold)]).toBeGreaterThan(lv.merged[c.grid.indexOf(0.55)]);
    // the out-of-fold histogram: fractions summing to 1, its mass at 0.95 (faces) and 0.7 (inner faces) as the maps'
    expect(c.histogram).toHaveLength(MAP_HISTOGRAM_BINS);
    expect(c.histogram.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    const frac = (v: number): number => folds.reduce((a, fo) => { const m = fo.map(); return a + m.filter((x) => x === Math.fround(v)).length / m.length; }, 0) / folds.length;
    const bin = (v: number): number => mapHistogram(Float32Array.of(v)).indexOf(1);
    expect(frac(0.95)).toBeGreaterThan(0.05);
    expect(c.histogram[bin(0.95)]).toBeCloseTo(frac(0.95), 3);
    expect(c.histogram[bin(0.7)]).toBeCloseTo(frac(0.7), 3);
    const m0 = folds[0].map();
    expect(mapLevels(m0, [0.75, 0.2])).toEqual([0.75, 0.2].map((t) => m0.filter((v) => v <= t).length / m0.length));
  });
});
