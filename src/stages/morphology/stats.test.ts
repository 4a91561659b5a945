import { promises as fs } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dataPath, describeData, tempDir } from '../../../test/data.js';
import type { Vec3 } from '../../core/box.js';
import { decodeSkeleton, encodeSkeleton, readSkeleton, writeSkeleton, writeSkeletonInfo } from '../../formats/mesh/skeleton.js';
import { formatSwc, parseSwc, readSwc } from '../../formats/swc.js';
import { nearestVertex, segregationIndex, skeletonStats, splitAxonDendrite, strahler } from './stats.js';

// A Y with a longer stem:   0 - 1 - 2 < (3 - 4), (5)
const Y = {
  vertices: new Float32Array([0, 0, 0, 10, 0, 0, 20, 0, 0, 30, 10, 0, 40, 20, 0, 30, -10, 0]),
  edges: new Uint32Array([1, 0, 2, 1, 3, 2, 4, 3, 5, 2]),
  radius: new Float32Array([5, 5, 5, 2, 2, 2]),
};

describe('skeleton statistics', () => {
  it('count nodes, cable, branch and end points, Strahler order', () => {
    const s = skeletonStats(Y);
    expect(s.nodes).toBe(6);
    expect(s.branch_points).toBe(1);
    expect(s.end_points).toBe(3);
    expect(s.components).toBe(1);
    expect(s.cable_length_nm).toBeCloseTo(20 + 2 * Math.SQRT2 * 10 + Math.hypot(10, 10), 4);
    expect(s.strahler_order).toBe(2);
    expect(Array.from(strahler(Y, 0))).toEqual([2, 2, 2, 1, 1, 1]);
    // balanced binary tree of depth 2 -> order 3
    const bt = { vertices: new Float32Array(7 * 3), edges: new Uint32Array([1, 0, 2, 0, 3, 1, 4, 1, 5, 2, 6, 2]) };
    expect(strahler(bt, 0)[0]).toBe(3);
    // an unbranched path is order 1 whichever vertex is listed first (rooted at an end point)
    const path = { vertices: new Float32Array(9), edges: new Uint32Array([0, 1, 0, 2]) };
    expect(skeletonStats(path).strahler_order).toBe(1);
    expect(strahler(path, 0)[0]).toBe(2); // rooted in the middle on purpose
  });
  it('handle empty and single-vertex skeletons', () => {
    expect(skeletonStats({ vertices: new Float32Array(0), edges: new Uint32Array(0) })).toMatchObject({ nodes: 0, cable_length_nm: 0, end_points: 0 });
    expect(skeletonStats({ vertices: new Float32Array(3), edges: new Uint32Array(0) })).toMatchObject({ nodes: 1, components: 1, strahler_order: 1 });
  });
  it('find the nearest vertex', () => {
    const pts: Vec3[] = [[41, 19, 1], [-100, 0, 0], [19, 1, 0]];
    expect(Array.from(nearestVertex(Y, pts))).toEqual([4, 0, 2]);
  });
});

describe('SWC and precomputed skeletons', () => {
  it('round-trip through SWC with a scale', () => {
    const text = formatSwc(Y, { root: 0, comment: 'test', scale: 8 });
    expect(text.split('\n')[1]).toBe('1 0 0 0 0 0.625 -1');
    const back = parseSwc(text, { scale: 8 });
    expect(skeletonStats(back)).toEqual(skeletonStats(Y));
    expect(() => parseSwc('1 0 0 0 0 1 -1\n2 0 1 1 1 1 7\n', { where: 'a.swc' })).toThrow(/a.swc: node 2 has parent 7/);
    expect(() => parseSwc('1 0 x 0 0 1 -1\n', { where: 'b.swc' })).toThrow(/b.swc: line 1/);
    expect(() => parseSwc('1 0 0 0 0 1 -1\n1 0 0 0 0 1 -1\n')).toThrow(/twice/);
  });
  it('round-trip through the Neuroglancer skeleton format', async () => {
    const bytes = encodeSkeleton(Y);
    expect(bytes.length).toBe(8 + 6 * 12 + 5 * 8 + 6 * 4);
    const d = decodeSkeleton(bytes);
    expect(Array.from(d.edges)).toEqual(Array.from(Y.edges));
    expect(Array.from(d.radius)).toEqual(Array.from(Y.radius));
    expect(() => decodeSkeleton(bytes.subarray(0, 30), 'seg 5')).toThrow(/seg 5/);
    const dir = await tempDir();
    await writeSkeletonInfo(dir);
    await writeSkeleton(dir, 864691135639556411n, Y);
    const r = await readSkeleton(dir, 864691135639556411n);
    expect(Array.from(r.vertices)).toEqual(Array.from(Y.vertices));
    expect(JSON.parse(await fs.readFile(`${dir}/info`, 'utf8'))['@type']).toBe('neuroglancer_skeletons');
  });
});

describe('axon/dendrite split', () => {
  it('cuts between inputs and outputs and scores segregation', () => {
    // a chain 0..9: inputs on 0..3, outputs on 6..9
    const n = 10;
    const g = { vertices: new Float32Array(n * 3).map((_, i) => (i % 3 === 0 ? i : 0)), edges: new Uint32Array(Array.from({ length: n - 1 }, (_, i) => [i + 1, i]).flat()) };
    const pre = Array.from({ length: n }, (_, i) => (i >= 6 ? 3 : 0));
    const post = Array.from({ length: n }, (_, i) => (i <= 3 ? 5 : 0));
    const s = splitAxonDendrite(g, pre, post, 0);
    expect(s.segregation_index).toBeCloseTo(1, 6);
    expect(Array.from(s.compartment.slice(0, 4))).toEqual([2, 2, 2, 2]);
    expect(Array.from(s.compartment.slice(6))).toEqual([1, 1, 1, 1]);
    expect(segregationIndex([{ pre: 5, post: 5 }])).toBe(0);
    expect(segregationIndex([{ pre: 1, post: 1 }, { pre: 1, post: 1 }])).toBeCloseTo(0, 9);
    // no synapses: no cut
    expect(splitAxonDendrite(g, new Array(n).fill(0), new Array(n).fill(0)).cut).toBe(-1);
  });
});

describeData('hemibrain-da1', 'hemibrain DA1 projection neurons', () => {
  it('read SWC (8 nm units), attach synapses to the nearest vertex, split axon from dendrite', async () => {
    const names = (await fs.readdir(dataPath('hemibrain-da1', 'swc'))).map((f) => f.replace('.swc', ''));
    expect(names.length).toBe(5);
    for (const name of names) {
      const g = await readSwc(dataPath('hemibrain-da1', 'swc', `${name}.swc`), { scale: 8 });
      const stats = skeletonStats(g, 0);
      expect(stats.components).toBeGreaterThanOrEqual(1);
      expect(stats.cable_length_nm).toBeGreaterThan(1e5); // PNs span hundreds of microns
      const csv = (await fs.readFile(dataPath('hemibrain-da1', 'synapses', `${name}.csv`), 'utf8')).trim().split('\n').slice(1);
      const rows = csv.map((l) => l.split(','));
      const pos: Vec3[] = rows.map((r) => [Number(r[3]) * 8, Number(r[4]) * 8, Number(r[5]) * 8]);
      const near = nearestVertex(g, pos);
      // the CSV's node_id is the SWC node the synapse was attached to: nearest should mostly agree
      const idToIndex = new Map<bigint, number>();
      g.ids!.forEach((id, i) => idToIndex.set(id, i));
      let same = 0;
      rows.forEach((r, i) => {
        if (idToIndex.get(BigInt(r[1])) === near[i]) same++;
      });
      expect(same / rows.length).toBeGreaterThan(0.98);
      const pre = new Float64Array(g.radius.length);
      const post = new Float64Array(g.radius.length);
      rows.forEach((r, i) => (r[2] === 'pre' ? pre : post)[near[i]]++);
      const split = splitAxonDendrite(g, pre, post, 0);
      // DA1 PNs: dendrites in the antennal lobe (AL), axon to calyx (CA) and lateral horn (LH)
      let alDend = 0, alTot = 0, lhAxon = 0, lhTot = 0;
      rows.forEach((r, i) => {
        const c = split.compartment[near[i]];
        if (r[6] === 'AL(R)') { alTot++; if (c === 2) alDend++; }
        if (r[6] === 'LH(R)' || r[6] === 'CA(R)') { lhTot++; if (c === 1) lhAxon++; }
      });
      expect(lhAxon / lhTot).toBeGreaterThan(0.95);
      expect(alDend / alTot).toBeGreaterThan(0.95);
      // measured 0.27-0.32 on these five PNs (their dendrites also carry many outputs in the AL)
      expect(split.segregation_index).toBeGreaterThan(0.2);
      expect(split.segregation_index).toBeLessThan(0.5);
    }
  });
});
