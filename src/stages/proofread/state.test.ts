import { describe, expect, it } from 'vitest';
import { buildBase } from './base.js';
import { BaseBuilder } from './builder.js';
import { finishBase } from './base.js';
import { minCut } from './mincut.js';
import { EditError, GraphState } from './state.js';
import { Lineage } from './lineage.js';
import { cellRows, indexSynapses, synapsePartners } from './versions.js';
import { mulberry32 } from '../../core/random.js';

/** 12x4x4 voxels, four slabs along x (supervoxels 10, 20, 30, 40); boundary high between 20 and 30. */
function slabs(segOf: (sv: number) => number) {
  const shape = [12, 4, 4] as const;
  const N = 12 * 16;
  const labels = new Uint32Array(N), seg = new Float64Array(N), b = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = i % 12;
    labels[i] = 1 + Math.floor(x / 3);
    seg[i] = segOf(labels[i]);
    b[i] = x === 5 || x === 6 ? 0.9 : 0.1;
  }
  const ids = new BigUint64Array([0n, 10n, 20n, 30n, 40n]);
  return buildBase(labels, ids, seg, b, { shape, offset: [0, 0, 0], voxelSize: [4, 4, 40] });
}
const meta = { user: 'test', time: '2026-01-01T00:00:00.000Z' };

describe('contact graph', () => {
  it('one edge per touching pair, area in faces, capacity lower across a high boundary', () => {
    const base = slabs(() => 1);
    expect(Array.from(base.edgeA)).toEqual([1, 2, 3]);
    expect(Array.from(base.edgeB)).toEqual([2, 3, 4]);
    expect(Array.from(base.area)).toEqual([16, 16, 16]);
    expect(base.capacity[1]).toBeLessThan(base.capacity[0] / 4);
    expect(Array.from(base.startActive)).toEqual([1, 1, 1]);
    expect(base.rootIdBase).toBe(41n);
  });
  it('background voxels never touch', () => {
    const g = buildBase(new Uint32Array([1, 0, 2, 2]), new BigUint64Array([0n, 5n, 6n]), [1, 1, 1, 1], null, { shape: [4, 1, 1], offset: [0, 0, 0], voxelSize: [1, 1, 1] });
    expect(g.edgeA.length).toBe(1); // no contact, but one segment: a link edge
    expect(g.area[0]).toBe(0);
  });
  it('slab by slab equals the whole volume, whatever the slab', () => {
    const shape = [6, 5, 7] as const;
    const N = 6 * 5 * 7;
    let s = 7;
    const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const sv = new BigUint64Array(N).map((_, i) => BigInt(1 + Math.floor((i % 6) / 2) + 3 * Math.floor(i / 60)) * 1000n);
    const seg = new Float64Array(N).map((_, i) => 1 + Math.floor(i / 120));
    const b = new Float32Array(N).map(() => r());
    const grid = { shape, offset: [0, 0, 0] as const, voxelSize: [4, 4, 40] as const };
    const build = (slab: number) => {
      const bb = new BaseBuilder(grid);
      for (let z = 0; z < 7; z += slab) {
        const nz = Math.min(slab, 7 - z);
        bb.addSlab(sv.subarray(z * 30, (z + nz) * 30), seg.subarray(z * 30, (z + nz) * 30), b.subarray(z * 30, (z + nz) * 30), nz);
      }
      return finishBase(bb);
    };
    const whole = build(7);
    for (const slab of [1, 2, 3]) expect(build(slab)).toEqual(whole);
    expect(whole.edgeA.length).toBeGreaterThan(5);
  });
  it('a start segment in two pieces is joined by a link edge', () => {
    const base = slabs((sv) => (sv === 2 ? 2 : 1)); // 1 and 3,4 in segment 1, not touching 1
    expect(base.edgeA.length).toBe(4);
    const s = new GraphState(base);
    expect(s.members(1n).map((l) => base.ids[l])).toEqual([10n, 30n, 40n]);
  });
});

describe('minCut', () => {
  it('cuts the cheapest edges of a path and a diamond', () => {
    expect(minCut(4, [0, 1, 2], [1, 2, 3], [5, 1, 5], [0], [3]).cut).toEqual([1]);
    const r = minCut(4, [0, 0, 1, 2], [1, 2, 3, 3], [3, 2, 1, 4], [0], [3]);
    expect(r.flow).toBe(3);
    expect(r.cut.sort()).toEqual([1, 2]);
  });
});

describe('edits', () => {
  it('split cuts at the high boundary; merge rejoins; undo and redo make new roots; replay equals live', () => {
    const base = slabs(() => 5);
    const s = new GraphState(base);
    expect(s.rootOf(10n)).toBe(5n);
    const sp = s.edit({ kind: 'split', sources: [10n], sinks: [40n] }, meta);
    expect(sp.removed).toEqual([['20', '30']]);
    expect(sp.retired).toEqual(['5']);
    expect(sp.created).toEqual([{ id: '41', supervoxel: '10' }, { id: '42', supervoxel: '30' }]);
    expect([s.rootOf(10n), s.rootOf(20n), s.rootOf(30n), s.rootOf(40n)]).toEqual([41n, 41n, 42n, 42n]);
    const mg = s.edit({ kind: 'merge', a: 10n, b: 40n }, meta); // not touching: a link edge
    expect(mg.created).toEqual([{ id: '43', supervoxel: '10' }]);
    expect(s.rootOf(30n)).toBe(43n);
    const un = s.edit({ kind: 'undo', op: 2 }, meta);
    expect(un.removed).toEqual([['10', '40']]);
    expect(s.rootOf(10n)).toBe(44n);
    expect(s.rootOf(40n)).toBe(45n);
    s.edit({ kind: 'redo', op: 2 }, meta);
    expect(s.rootOf(10n)).toBe(46n);
    expect(s.rootOf(40n)).toBe(46n);
    const replay = new GraphState(base);
    for (const r of s.records) replay.apply(r);
    expect(Array.from(replay.root)).toEqual(Array.from(s.root));
    const lin = new Lineage((id) => id === 5n, s.records);
    expect(lin.latest(5n)).toEqual(['46']);
    expect(lin.past(46n)).toEqual(['5', '41', '42', '43', '44', '45']);
    expect(lin.operations(43n)).toEqual([2, 3]);
    expect(lin.info(41n)).toMatchObject({ created_by: 1, retired_by: 2 });
    const g = lin.graph(43n, 1);
    expect(g.nodes.map((n) => n.id)).toEqual(['41', '42', '43', '44', '45']);
  });
  it('refuses bad edits with clear messages and changes nothing', () => {
    const base = slabs((sv) => (sv <= 2 ? 1 : 2));
    const s = new GraphState(base);
    const before = Array.from(s.root);
    expect(() => s.edit({ kind: 'merge', a: 10n, b: 20n }, meta)).toThrow(/already in one root .*cannot be merged with itself/);
    expect(() => s.edit({ kind: 'merge', a: 10n, b: 99n }, meta)).toThrow(/supervoxel 99 is not a supervoxel/);
    expect(() => s.edit({ kind: 'split', sources: [10n], sinks: [30n] }, meta)).toThrow(/must lie in one root/);
    expect(() => s.edit({ kind: 'split', sources: [10n], sinks: [10n] }, meta)).toThrow(/both a source and a sink/);
    expect(() => s.edit({ kind: 'undo', op: 1 }, meta)).toThrow(EditError);
    expect(s.op).toBe(0);
    expect(Array.from(s.root)).toEqual(before);
    s.edit({ kind: 'merge', a: 20n, b: 30n }, meta);
    s.edit({ kind: 'split', sources: [10n], sinks: [40n] }, meta);
    expect(() => s.edit({ kind: 'undo', op: 1 }, meta)).toThrow(/has since been edited/);
    expect(() => s.edit({ kind: 'redo', op: 1 }, meta)).toThrow(/not undone/);
    const r1 = BigInt(s.records[0].created[0].id);
    expect(() => s.edit({ kind: 'split', sources: [20n], sinks: [30n], root: r1 }, meta)).toThrow(/root \d+ is stale: operation 2 \(split/);
    expect(() => s.edit({ kind: 'merge', a: 10n, b: 40n, roots: [s.rootOf(10n), s.rootOf(10n)] }, meta)).toThrow(/supervoxel 40 is in root \d+, not in root \d+/);
    expect(() => s.edit({ kind: 'merge', a: 10n, b: 40n, roots: [12345n, s.rootOf(40n)] }, meta)).toThrow(/root 12345 is not a root id/);
    expect(s.op).toBe(2);
  });
});

describe('split in a region around the points', () => {
  /**
   * A U of 4x4x1-voxel supervoxels, one root: the lower arm (y block 0) and upper arm (y block 2)
   * are joined only at x block `n - 1`, far (4n voxels) from the points at x block 0.
   */
  function uShape(n: number, weak: number) {
    const shape: [number, number, number] = [4 * n, 12, 1];
    const labels = new Uint32Array(shape[0] * 12);
    const b = new Float32Array(labels.length).fill(0.1);
    for (let y = 0; y < 12; y++) for (let x = 0; x < 4 * n; x++) {
      const bx = x >> 2, by = y >> 2;
      if (by === 1 && bx < n - 1) continue; // the gap between the arms
      labels[x + shape[0] * y] = by === 0 ? 1 + bx : by === 2 ? 1 + n + bx : 2 * n + 1;
      // a high boundary (a weak contact) between lower-arm blocks `weak` and `weak + 1`
      if (by === 0 && (x === 4 * weak + 3 || x === 4 * weak + 4)) b[x + shape[0] * y] = 0.95;
    }
    const ids = new BigUint64Array(2 * n + 2).map((_, i) => BigInt(i));
    return buildBase(labels, ids, Array.from(labels, (l) => (l ? 1 : 0)), b, { shape, offset: [0, 0, 0], voxelSize: [4, 4, 40] });
  }

  it('grows the region until the cut separates the sides in the whole root; the cut is the weakest contact of the path', () => {
    const n = 40;
    // the weak contact is 30 blocks (120 voxels) from the points: beyond the first boxes
    const s = new GraphState(uShape(n, 30));
    const r = s.edit({ kind: 'split', sources: [1n], sinks: [BigInt(n + 1)] }, meta);
    expect(r.removed).toEqual([['31', '32']]);
    expect(s.rootOf(1n)).not.toBe(s.rootOf(BigInt(n + 1)));
    expect(s.rootOf(31n)).toBe(s.rootOf(1n));
    expect(s.rootOf(32n)).toBe(s.rootOf(BigInt(n + 1)));
    // the rows of a few roots (from their members) are the rows of the whole scan
    const all = cellRows(s);
    for (const r of [s.rootOf(1n), s.rootOf(32n)]) expect(cellRows(s, new Set([r]))).toEqual(all.filter((c) => c.pt_root_id === r));
    expect(cellRows(s, new Set([s.rootOf(1n), s.rootOf(32n)]))).toEqual(all);
  });

  it('cuts the weak contact near the points on a long root (the first box separates them)', () => {
    const s = new GraphState(uShape(200, 2));
    // the lower arm's end (block 0) hangs on the rest through blocks 1-2-3: the weak contact is 3-4
    const r = s.edit({ kind: 'split', sources: [1n], sinks: [5n] }, meta);
    expect(r.removed).toEqual([['3', '4']]);
    expect(s.rootOf(3n)).toBe(s.rootOf(1n));
    expect(s.rootOf(4n)).toBe(s.rootOf(400n));
  });
});

describe('merge records and kept members', () => {
  it('a cut into three pieces: each piece a new root, named and ordered as a sweep over the root finds them', () => {
    // one segment of five supervoxels in a row, 1-2-3-4-5: 3 split from 1 and 5 cuts 2-3 and 3-4, three pieces
    const shape = [15, 1, 1] as [number, number, number];
    const labels = new Uint32Array(15).map((_, i) => 1 + Math.floor(i / 3));
    const ids = new BigUint64Array([0n, 1n, 2n, 3n, 4n, 5n]);
    const s = new GraphState(buildBase(labels, ids, Array.from(labels, () => 9), null, { shape, offset: [0, 0, 0], voxelSize: [1, 1, 1] }));
    const r = s.edit({ kind: 'split', sources: [3n], sinks: [1n, 5n] }, meta);
    expect(r.created.map((c) => c.supervoxel)).toEqual(['1', '3', '4']);
    expect(r.created.map((c) => s.members(BigInt(c.id)).map((l) => Number(s.base.ids[l])))).toEqual([[1, 2], [3], [4, 5]]);
    // undo joins them again; redo cuts the same three pieces
    expect(s.edit({ kind: 'undo', op: 1 }, meta).created).toHaveLength(1);
    expect(s.edit({ kind: 'redo', op: 1 }, meta).created.map((c) => c.supervoxel)).toEqual(['1', '3', '4']);
  });

  it('a merge names its root by the union\'s smallest supervoxel without a search; members equal a fresh replay\'s', () => {
    // a row of 40 supervoxels (3 voxels each along x), each its own start segment
    const n = 40, shape = [3 * n, 2, 2] as [number, number, number];
    const labels = new Uint32Array(shape[0] * 4).map((_, i) => 1 + Math.floor((i % shape[0]) / 3));
    const ids = new BigUint64Array(n + 1).map((_, i) => BigInt(i));
    const base = buildBase(labels, ids, Array.from(labels), null, { shape, offset: [0, 0, 0], voxelSize: [1, 1, 1] });
    const s = new GraphState(base);
    const rnd = mulberry32(4);
    for (let k = 0; k < 60; k++) {
      const a = BigInt(1 + Math.floor(rnd() * n)), b = BigInt(1 + Math.floor(rnd() * n));
      if (s.rootOf(a) === s.rootOf(b)) {
        if (rnd() < 0.7 && a !== b) s.edit({ kind: 'split', sources: [a], sinks: [b] }, meta);
        continue;
      }
      const r = s.edit({ kind: 'merge', a, b }, meta);
      const m = s.members(BigInt(r.created[0].id));
      expect(r.created[0].supervoxel).toBe(base.ids[m[0]].toString());
      expect(m).toEqual([...m].sort((x, y) => x - y));
    }
    // a fresh state replaying the log (every component searched from scratch): the same members for
    // every current root, and every record's new roots named by their smallest supervoxel, in order
    const replay = new GraphState(base);
    let splits = 0;
    for (const r of s.records) {
      replay.apply(r);
      if (r.kind === 'split') splits++;
      const firsts = r.created.map((c) => replay.sv(BigInt(c.supervoxel)));
      expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
      for (const c of r.created) if (replay.isCurrent(BigInt(c.id))) expect(replay.members(BigInt(c.id))[0]).toBe(replay.sv(BigInt(c.supervoxel)));
    }
    expect(splits).toBeGreaterThan(3);
    for (let l = 1; l <= n; l++) expect(replay.members(replay.root[l])).toEqual(s.members(s.root[l]));
  });
});

describe('synapse partners of a root', () => {
  it('count each synapse once per partner root (autapses, both ends in the root, unknown and 0 supervoxels), as a scan of every synapse does', () => {
    const n = 30, shape = [3 * n, 2, 2] as [number, number, number];
    const labels = new Uint32Array(shape[0] * 4).map((_, i) => 1 + Math.floor((i % shape[0]) / 3));
    const ids = new BigUint64Array(n + 1).map((_, i) => BigInt(100 + i));
    const base = buildBase(labels, ids, Array.from(labels, (l) => 1 + Math.floor((l - 1) / 5)), null, { shape, offset: [0, 0, 0], voxelSize: [1, 1, 1] });
    const s = new GraphState(base);
    s.edit({ kind: 'merge', a: 101n, b: 130n }, meta); // a root of two far pieces
    const rnd = mulberry32(8);
    const pick = () => { const u = rnd(); return u < 0.05 ? 0n : u < 0.1 ? 99999n : BigInt(101 + Math.floor(rnd() * n)); };
    const k = 400;
    const pre = new BigUint64Array(k).map(pick), post = new BigUint64Array(k).map((_, i) => (i % 17 === 0 ? pre[i] : pick()));
    const syn = indexSynapses(new BigUint64Array(k).map((_, i) => BigInt(i + 1)), pre, post);
    const rootOf = (sv: bigint) => { const l = s.index.get(sv); return l === undefined ? 0n : s.root[l]; };
    for (const root of new Set(Array.from(s.root.subarray(1)))) {
      const ins = new Map<bigint, number>(), outs = new Map<bigint, number>();
      for (let i = 0; i < k; i++) {
        const a = rootOf(pre[i]), b = rootOf(post[i]);
        if (a === root) outs.set(b, (outs.get(b) ?? 0) + 1);
        if (b === root) ins.set(a, (ins.get(a) ?? 0) + 1);
      }
      const got = synapsePartners(s, syn, root);
      const asMap = (l: Array<{ partner: bigint; synapses: number }>) => new Map(l.map((x) => [x.partner, x.synapses]));
      expect(asMap(got.outputs)).toEqual(outs);
      expect(asMap(got.inputs)).toEqual(ins);
    }
  });
});
