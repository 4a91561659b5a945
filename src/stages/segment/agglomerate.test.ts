import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { agglomerate, cutTree, meanScorer, mutexWatershed, quantileScorer, relabel } from './agglomerate.js';
import { buildRag, histQuantile } from './rag.js';

/** Three slabs along x: 1 | 2 | 3, with boundary values 0.2 on the 1|2 contact and 0.6 on 2|3. */
function slabs(): { labels: Uint32Array; b: Float32Array; shape: Vec3 } {
  const shape: Vec3 = [6, 2, 2];
  const labels = new Uint32Array(24);
  const b = new Float32Array(24);
  for (let i = 0; i < 24; i++) {
    const x = i % 6;
    labels[i] = x < 2 ? 1 : x < 4 ? 2 : 3;
    b[i] = x === 1 ? 0.2 : x === 3 ? 0.6 : 0.05;
  }
  return { labels, b, shape };
}

describe('region adjacency graph', () => {
  it('collects contacts, areas and boundary statistics', () => {
    const { labels, b, shape } = slabs();
    const rag = buildRag(labels, b, shape);
    expect(rag.nNodes).toBe(3);
    expect(rag.nEdges).toBe(2);
    expect(Array.from(rag.u)).toEqual([1, 2]);
    expect(Array.from(rag.v)).toEqual([2, 3]);
    expect(Array.from(rag.area)).toEqual([4, 4]);
    expect(rag.sum[0] / rag.area[0]).toBeCloseTo(0.2, 6);
    expect(rag.sum[1] / rag.area[1]).toBeCloseTo(0.6, 6);
    expect(Array.from(rag.nodeSize)).toEqual([0, 8, 8, 8]);
    expect(histQuantile(rag.hist, 0, rag.bins, rag.area[0], 0.5)).toBeCloseTo(0.2, 1);
    // mean contact mode averages both voxels
    const ragMean = buildRag(labels, b, shape, { contact: 'mean' });
    expect(ragMean.sum[0] / ragMean.area[0]).toBeCloseTo(0.125, 6);
  });
  it('handles empty, single-label and background volumes', () => {
    expect(buildRag(new Uint32Array(0), new Float32Array(0), [0, 0, 0]).nEdges).toBe(0);
    expect(buildRag(new Uint32Array(8).fill(1), new Float32Array(8), [2, 2, 2]).nEdges).toBe(0);
    const r = buildRag(Uint32Array.from([1, 0, 2]), new Float32Array(3), [3, 1, 1]);
    expect(r.nEdges).toBe(0); // 0 separates, is no node
    expect(() => buildRag(new Uint32Array(3), new Float32Array(2), [3, 1, 1])).toThrow(/voxels/);
  });
  it('twoD ignores contacts across sections', () => {
    const r = buildRag(Uint32Array.from([1, 2]), new Float32Array(2), [1, 1, 2], { twoD: true });
    expect(r.nEdges).toBe(0);
  });
});

describe('agglomeration', () => {
  it('merges the weakest boundary first and keeps the tree for any threshold', () => {
    const { labels, b, shape } = slabs();
    const rag = buildRag(labels, b, shape);
    const tree = agglomerate(rag, meanScorer);
    expect(tree.count).toBe(2);
    expect(Array.from(tree.score).map((s) => +s.toFixed(4))).toEqual([0.2, 0.6]);
    expect(cutTree(tree, 0.1).count).toBe(3);
    expect(Array.from(cutTree(tree, 0.3).map)).toEqual([0, 1, 1, 2]);
    expect(cutTree(tree, 0.7).count).toBe(1);
    const seg = relabel(labels, cutTree(tree, 0.3).map, new Uint32Array(labels.length));
    expect(new Set(seg).size).toBe(2);
    // `until` stops early and gives the same prefix
    const partial = agglomerate(rag, meanScorer, { until: 0.3 });
    expect(partial.count).toBe(1);
    expect(quantileScorer(0.5)).toBeTypeOf('function');
  });
  it('merged edges pool their statistics (exact mean of the union contact)', () => {
    // rows y=0: 1 3 3, y=1: 2 3 3. Contacts (mean of both voxels): 1|3 0.3, 1|2 0.5, 2|3 0.9.
    const shape: Vec3 = [3, 2, 1];
    const labels = Uint32Array.from([1, 3, 3, 2, 3, 3]);
    const b = Float32Array.from([0.1, 0.5, 0.5, 0.9, 0.9, 0.5]);
    const rag = buildRag(labels, b, shape, { contact: 'mean' });
    const tree = agglomerate(rag, meanScorer);
    expect(tree.count).toBe(2);
    expect(tree.score[0]).toBeCloseTo(0.3, 6); // 1|3 first
    // then {1,3} | 2 pools the 1|2 (0.5) and 2|3 (0.9) contacts
    expect(tree.score[1]).toBeCloseTo(0.7, 6);
  });
  it('mutex watershed separates regions joined only through a repulsive edge', () => {
    // chain 1 - 2 - 3 with 1|2 attractive (0.1) and 2|3 repulsive (0.9)
    const labels = Uint32Array.from([1, 1, 2, 2, 3, 3]);
    const b = Float32Array.from([0, 0.1, 0.1, 0.9, 0.9, 0]);
    const rag = buildRag(labels, b, [6, 1, 1]);
    const m = mutexWatershed(rag, meanScorer, 0.5);
    expect(m.count).toBe(2);
    expect(Array.from(m.map)).toEqual([0, 1, 1, 2]);
    expect(() => mutexWatershed(rag, meanScorer, 1)).toThrow(/bias/);
  });
});
