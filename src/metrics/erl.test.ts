import { describe, expect, it } from 'vitest';
import { type ErlSkeleton, expectedRunLength } from './erl.js';

/** A straight skeleton of n nodes 10 nm apart along x at height y, with the given segment ids. */
function line(y: number, segments: number[]): ErlSkeleton {
  const n = segments.length;
  const positions: number[] = [];
  const edges: number[] = [];
  for (let i = 0; i < n; i++) {
    positions.push(10 * i, y, 0);
    if (i) edges.push(i - 1, i);
  }
  return { positions, edges, segments: segments.map(BigInt) };
}

describe('expectedRunLength', () => {
  it('a perfect segmentation reaches the maximum: sum L^2 / sum L', () => {
    const s = expectedRunLength([line(0, [1, 1, 1, 1, 1]), line(100, [2, 2, 2])]);
    // lengths 40 and 20
    expect(s.totalLength).toBe(60);
    expect(s.erl).toBeCloseTo((40 * 40 + 20 * 20) / 60, 12);
    expect(s.maxErl).toBeCloseTo(s.erl, 12);
    expect(s.mergers).toBe(0);
    expect(s.errorLength).toBe(0);
  });

  it('a split cuts the run at the changing edge; background nodes break runs', () => {
    const s = expectedRunLength([line(0, [1, 1, 1, 3, 3])]);
    // runs 20 and 10, the edge 1-3 (10 nm) is an error
    expect(s.erl).toBeCloseTo((20 * 20 + 10 * 10) / 40, 12);
    expect(s.errorLength).toBe(10);
    const b = expectedRunLength([line(0, [1, 1, 0, 1, 1])]);
    expect(b.erl).toBeCloseTo((10 * 10 + 10 * 10) / 40, 12);
  });

  it('a segment on two skeletons is a merger: all its edges count 0', () => {
    const s = expectedRunLength([line(0, [1, 1, 1, 1, 1]), line(100, [1, 1, 2, 2])]);
    expect(s.mergers).toBe(1);
    // only the 2-2 edge (10 nm) of the second skeleton is correct
    expect(s.erl).toBeCloseTo((10 * 10) / 70, 12);
    expect(s.maxErl).toBeCloseTo((40 * 40 + 30 * 30) / 70, 12);
  });

  it('branching skeletons: a run is the connected cable of correct edges', () => {
    // star: centre 0 with three arms of 10 nm each (nodes 1, 2, 3); arm 3 has another segment
    const s = expectedRunLength([{ positions: [0, 0, 0, 10, 0, 0, 0, 10, 0, -10, 0, 0], edges: [0, 1, 0, 2, 0, 3], segments: [5n, 5n, 5n, 6n] }]);
    expect(s.erl).toBeCloseTo((20 * 20) / 30, 12);
    expect(() => expectedRunLength([{ positions: [0, 0, 0], edges: [0, 1], segments: [1n] }])).toThrow(/edge 0 names node 1/);
    expect(expectedRunLength([]).erl).toBe(0);
  });
});
