import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { Forest } from '../../ml/forest.js';
import { agglomerate, cutTree, meanScorer, relabel } from './agglomerate.js';
import { CUT_GRID, carriedCut, prepareVolume, splitHalves, trainWithCrossFitCuts, voiOfMap } from './cross-fit.js';
import { BASIC_EDGE_FEATURES, RICH_EDGE_FEATURES } from './edge-features.js';
import { forestScorer, trainAgglomeration } from './learned.js';
import { agglomerateRag } from './pipeline.js';
import { overSegmentedCells } from './testing.js';

const shape: Vec3 = [40, 40, 12];

describe('cross-fitted cuts and trajectory training', () => {
  const v = overSegmentedCells(shape, 14, 90, 3);
  const vol = { sv: v.sv, boundary: v.boundary, gt: v.gt, shape };
  it('VOI from the supervoxel table equals the voxel-level VOI', () => {
    const pv = prepareVolume(vol);
    const tree = agglomerate(pv.rag, meanScorer);
    for (const t of [0, 0.3, 0.5, 0.8]) {
      const { map } = cutTree(tree, t);
      const fast = voiOfMap(pv.table, map);
      const slow = evaluateSegmentation(relabel(v.sv, map, new Uint32Array(v.sv.length)), v.gt);
      expect(fast.split).toBeCloseTo(slow.voi_split, 9);
      expect(fast.merge).toBeCloseTo(slow.voi_merge, 9);
    }
  });
  it('halves along the longest axis (or a given one), supervoxels dense per half', () => {
    const [a, b] = splitHalves(vol);
    expect(a.shape).toEqual([20, 40, 12]);
    expect(b.shape).toEqual([20, 40, 12]);
    const max = Math.max(...a.sv);
    expect(new Set(a.sv).size).toBe(max);
    // the voxel at x = 20 of the whole volume is the first of the second half
    expect(b.boundary[0]).toBe(v.boundary[20]);
    expect(b.gt[40 * 20 + 1]).toBe(v.gt[40 * 40 + 21]);
    const [z0, z1] = splitHalves(vol, 2);
    expect(z0.shape).toEqual([40, 40, 6]);
    expect(z1.boundary[0]).toBe(v.boundary[40 * 40 * 6]);
  });
  it('rounds add examples drawn along the classifier\'s own trajectory', () => {
    const pv = prepareVolume(vol);
    const r0 = trainAgglomeration([pv], { nTrees: 10 }, {}, { rounds: 0 });
    const r2 = trainAgglomeration([pv], { nTrees: 10 }, {}, { rounds: 2 });
    const init = trainAgglomeration([pv], { nTrees: 10 }, {}, { initialOnly: true });
    expect(r0.rounds).toHaveLength(1);
    expect(r2.rounds).toHaveLength(3);
    expect(r2.samples).toBe(r2.rounds.reduce((a, r) => a + r.samples, 0));
    expect(r2.rounds[1].samples).toBeGreaterThan(0);
    // round 0 = every initial edge inside the gt + the mean-policy episode
    expect(r0.samples).toBeGreaterThan(init.samples);
    expect(init.samples).toBeLessThanOrEqual(pv.rag.nEdges);
    expect(r2.forest.nFeatures).toBe(RICH_EDGE_FEATURES.length);
    expect(r2.forest.meta.rounds).toBe(2);
  });
  it('the model carries the cuts chosen on its own halves, and agglomeration uses them', () => {
    const res = trainWithCrossFitCuts(vol, { nTrees: 10 }, {}, { rounds: 1 });
    for (const m of ['learned', 'mutex', 'multicut'] as const) {
      expect(CUT_GRID).toContain(res.cuts[m].threshold);
      expect(res.cuts[m].curve).toHaveLength(CUT_GRID.length);
      expect(res.cuts[m].voi).toBe(Math.min(...res.cuts[m].curve));
      expect(carriedCut(res.forest, m)).toBe(res.cuts[m].threshold);
    }
    // through the file format
    const f = Forest.fromBytes(res.forest.toBytes(), 'model');
    const other = overSegmentedCells(shape, 14, 90, 4);
    const pv = prepareVolume({ ...other, shape });
    const a = agglomerateRag(pv.rag, { forest: f });
    expect(a.method).toBe('learned');
    expect(a.threshold).toBe(res.cuts.learned.threshold);
    expect(agglomerateRag(pv.rag, { forest: f, threshold: 0.5 }).threshold).toBe(0.5);
    const mc = agglomerateRag(pv.rag, { forest: f, method: 'multicut' });
    expect(mc.threshold).toBe(res.cuts.multicut.threshold);
    expect(agglomerateRag(pv.rag, { forest: f, method: 'mutex' }).threshold).toBe(res.cuts.mutex.threshold);
    // a model without carried cuts (before issue #17): learned 0.5
    const plain = trainAgglomeration([prepareVolume(vol)], { nTrees: 5 }).forest;
    expect(agglomerateRag(pv.rag, { forest: plain }).threshold).toBe(0.5);
  });
  it('models with the 18 basic features still score', () => {
    const basic = trainAgglomeration([prepareVolume(vol)], { nTrees: 5 }, {}, { features: 'basic', rounds: 0, initialEdges: false }).forest;
    expect(basic.nFeatures).toBe(BASIC_EDGE_FEATURES.length);
    const pv = prepareVolume(vol);
    expect(agglomerateRag(pv.rag, { forest: basic }).count).toBeGreaterThan(0);
    const wrong = Forest.train({ x: new Float32Array(6), y: Uint8Array.from([0, 1, 0]), nSamples: 3, nFeatures: 2, layout: 'sample-major', nClasses: 2 }, { nTrees: 1 });
    expect(() => forestScorer(wrong)).toThrow(/features/);
  });
});
