import { describe, expect, it } from 'vitest';
import { cutTree } from './agglomerate.js';
import { multicutGaec } from './multicut.js';
import type { Rag } from './rag.js';

/** A graph of n nodes with the given edges (u < v), unit areas unless given. */
function graph(n: number, edges: Array<[number, number, number?]>): Rag {
  const m = edges.length;
  return {
    nNodes: n,
    nodeSize: new Float64Array(n + 1).fill(10),
    nodeSum: new Float64Array(n + 1),
    nEdges: m,
    u: Uint32Array.from(edges.map((e) => e[0])),
    v: Uint32Array.from(edges.map((e) => e[1])),
    area: Float64Array.from(edges.map((e) => e[2] ?? 1)),
    sum: new Float64Array(m),
    sumSq: new Float64Array(m),
    min: new Float32Array(m),
    max: new Float32Array(m),
    bins: 1,
    hist: new Float32Array(m),
  };
}

describe('multicut (greedy additive edge contraction)', () => {
  it('merges edges below the bias and keeps those above apart', () => {
    const g = graph(4, [[1, 2], [2, 3], [3, 4]]);
    const r = multicutGaec(g, Float64Array.from([0.1, 0.9, 0.2]), { bias: 0.5 });
    expect(r.count).toBe(2);
    expect(r.map[1]).toBe(r.map[2]);
    expect(r.map[3]).toBe(r.map[4]);
    expect(r.map[2]).not.toBe(r.map[3]);
    // a higher bias makes 0.9 attractive too
    expect(multicutGaec(g, Float64Array.from([0.1, 0.9, 0.2]), { bias: 0.95 }).count).toBe(1);
    // a lower bias than every p: nothing merges
    expect(multicutGaec(g, Float64Array.from([0.1, 0.9, 0.2]), { bias: 0.05 }).count).toBe(4);
  });
  it('sums the costs of parallel edges: a strong repulsion through a third node wins', () => {
    // 1-2 attract weakly, 2-3 attract strongly, 1-3 repel strongly: after 2+3 contract, {2,3}-1 = weak + strong repulsive < 0
    const g = graph(3, [[1, 2], [2, 3], [1, 3]]);
    const r = multicutGaec(g, Float64Array.from([0.4, 0.01, 0.999]), { bias: 0.5, weighting: 'none' });
    expect(r.count).toBe(2);
    expect(r.map[2]).toBe(r.map[3]);
    expect(r.map[1]).not.toBe(r.map[2]);
    // the mutex-free greedy merge of both attractive edges would have joined all three
  });
  it('weights costs by contact area', () => {
    // 1-2 attractive on a small contact, repulsive 1-3 on a large one, 2-3 attractive: contracting 2-3 first
    const g = graph(3, [[1, 2, 1], [2, 3, 100], [1, 3, 50]]);
    const p = Float64Array.from([0.2, 0.3, 0.6]);
    const byArea = multicutGaec(g, p, { bias: 0.5 });
    expect(byArea.count).toBe(2);
    expect(byArea.map[2]).toBe(byArea.map[3]);
    const unweighted = multicutGaec(g, p, { bias: 0.5, weighting: 'none' });
    expect(unweighted.count).toBe(1);
  });
  it('its merge tree cut at the bias is the solution', () => {
    const g = graph(6, [[1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [1, 6]]);
    const p = Float64Array.from([0.1, 0.3, 0.8, 0.2, 0.4, 0.6]);
    for (const bias of [0.35, 0.5, 0.7]) {
      const r = multicutGaec(g, p, { bias });
      expect(Array.from(r.tree.score).every((s) => s < bias)).toBe(true);
      expect(Array.from(cutTree(r.tree, bias).map)).toEqual(Array.from(r.map));
    }
    expect(() => multicutGaec(g, p, { bias: 1 })).toThrow(/bias/);
  });
  it('an empty graph and a graph without edges', () => {
    expect(multicutGaec(graph(0, []), new Float64Array(0)).count).toBe(0);
    expect(multicutGaec(graph(3, []), new Float64Array(0)).count).toBe(3);
  });
});
