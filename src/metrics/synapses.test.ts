import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { Volume } from '../core/volume.js';
import { cleftDistanceScore, hungarian, relabelPartners, synapticPartnerScore, type PartnerSynapse } from './synapses.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function permutations(n: number, k: number): number[][] {
  // all injective maps of k rows into n columns
  const out: number[][] = [];
  const cur: number[] = [];
  const used = new Array(n).fill(false);
  const go = () => {
    if (cur.length === k) return void out.push([...cur]);
    for (let j = 0; j < n; j++) {
      if (used[j]) continue;
      used[j] = true;
      cur.push(j);
      go();
      cur.pop();
      used[j] = false;
    }
  };
  go();
  return out;
}

describe('hungarian', () => {
  it('finds the minimum-cost assignment (vs brute force), square and rectangular', () => {
    const r = rng(3);
    for (const [rows, cols] of [[1, 1], [2, 2], [3, 3], [4, 4], [3, 5], [5, 6], [6, 6]]) {
      for (let t = 0; t < 5; t++) {
        const cost = Float64Array.from({ length: rows * cols }, () => Math.floor(r() * 20));
        const a = hungarian(cost, rows, cols);
        expect(new Set(a).size).toBe(rows);
        const total = Array.from(a).reduce((s, c, i) => s + cost[i * cols + c], 0);
        const best = Math.min(...permutations(cols, rows).map((p) => p.reduce((s, c, i) => s + cost[i * cols + c], 0)));
        expect(total).toBe(best);
      }
    }
  });
});

const P = (pre: bigint, post: bigint, a: Vec3, b: Vec3): PartnerSynapse => ({ pre_id: pre, post_id: post, pre: a, post: b });

describe('synapticPartnerScore', () => {
  it('matches within the distance only when both partners agree, one-to-one', () => {
    const big = 1n << 62n;
    const gt = [P(big, 2n, [0, 0, 0], [10, 0, 0]), P(3n, 4n, [1000, 0, 0], [1010, 0, 0]), P(5n, 6n, [5000, 0, 0], [5010, 0, 0])];
    const pred = [
      P(big, 2n, [50, 0, 0], [60, 0, 0]), // match gt 0
      P(4n, 3n, [1000, 0, 0], [1010, 0, 0]), // reversed partners: no match
      P(5n, 6n, [5500, 0, 0], [5510, 0, 0]), // too far (500 > 400)
      P(big, 2n, [20, 0, 0], [30, 0, 0]), // second candidate for gt 0: only one may match
    ];
    const s = synapticPartnerScore(pred, gt, { maxDistance: 400 });
    expect(s.tp).toBe(1);
    expect(s.matches).toEqual([[3, 0]]); // the closer one
    expect(s.fp).toBe(3);
    expect(s.fn).toBe(2);
    expect(s.fscore).toBeCloseTo(2 / (2 + 3 + 2), 12);
    expect(s.meanDistance).toBeCloseTo(20, 12);
    expect(synapticPartnerScore(pred, gt, { maxDistance: 600 }).tp).toBe(2);
  });

  it('maximises the number of matches before the distance (not greedy)', () => {
    // greedy nearest-first would pair p0-g1 (distance 1) and leave p1 and g0 unmatched
    const gt = [P(1n, 2n, [0, 0, 0], [0, 0, 0]), P(1n, 2n, [10, 0, 0], [10, 0, 0])];
    const pred = [P(1n, 2n, [9, 0, 0], [9, 0, 0]), P(1n, 2n, [19, 0, 0], [19, 0, 0])];
    const s = synapticPartnerScore(pred, gt, { maxDistance: 9.5 });
    expect(s.tp).toBe(2);
    expect(s.matches).toEqual([[0, 0], [1, 1]]);
  });

  it('empty inputs', () => {
    expect(synapticPartnerScore([], []).fscore).toBe(1);
    const g = [P(1n, 2n, [0, 0, 0], [0, 0, 0])];
    expect(synapticPartnerScore([], g)).toMatchObject({ tp: 0, fn: 1, fscore: 0, recall: 0 });
    expect(synapticPartnerScore(g, [])).toMatchObject({ tp: 0, fp: 1, fscore: 0, precision: 0 });
  });

  it('relabels predicted partners through a ground-truth segmentation', () => {
    const seg = Volume.from('uint64', [4, 1, 1], BigUint64Array.from([7n, 7n, 9n, 9n]), { voxelSize: [10, 10, 10] });
    const r = relabelPartners([P(100n, 200n, [5, 5, 5], [35, 5, 5]), P(1n, 1n, [-5, 0, 0], [99, 0, 0])], seg);
    expect([r[0].pre_id, r[0].post_id]).toEqual([7n, 9n]);
    expect([r[1].pre_id, r[1].post_id]).toEqual([0n, 0n]);
  });
});

describe('cleftDistanceScore', () => {
  it('equals brute-force mean nearest distances, anisotropic', () => {
    const shape: Vec3 = [9, 7, 5];
    const vs: Vec3 = [4, 4, 40];
    const n = 9 * 7 * 5;
    const r = rng(8);
    const pred = Uint8Array.from({ length: n }, () => (r() < 0.08 ? 1 : 0));
    const gt = Uint8Array.from({ length: n }, () => (r() < 0.08 ? 1 : 0));
    const pts = (m: Uint8Array) => {
      const o: number[][] = [];
      for (let i = 0; i < n; i++) if (m[i]) o.push([(i % 9) * vs[0], (Math.floor(i / 9) % 7) * vs[1], Math.floor(i / 63) * vs[2]]);
      return o;
    };
    const a = pts(pred);
    const b = pts(gt);
    const near = (p: number[], set: number[][]) => Math.min(...set.map((q) => Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2])));
    const adf = a.reduce((s, p) => s + near(p, b), 0) / a.length;
    const adgt = b.reduce((s, p) => s + near(p, a), 0) / b.length;
    const s = cleftDistanceScore(pred, gt, shape, vs, { tolerance: 30 });
    expect(s.adf).toBeCloseTo(adf, 3);
    expect(s.adgt).toBeCloseTo(adgt, 3);
    expect(s.cremiScore).toBeCloseTo((adf + adgt) / 2, 3);
    expect(s.fpVoxels).toBe(a.filter((p) => near(p, b) > 30).length);
    expect(s.fnVoxels).toBe(b.filter((p) => near(p, a) > 30).length);
  });

  it('identical masks score 0; empty sides are infinite; shape mismatch is an error', () => {
    const m = Uint8Array.from([0, 1, 1, 0]);
    expect(cleftDistanceScore(m, m, [4, 1, 1], [1, 1, 1]).cremiScore).toBe(0);
    expect(cleftDistanceScore(new Uint8Array(4), m, [4, 1, 1], [1, 1, 1]).adgt).toBe(Infinity);
    expect(cleftDistanceScore(new Uint8Array(4), new Uint8Array(4), [4, 1, 1], [1, 1, 1]).cremiScore).toBe(0);
    expect(() => cleftDistanceScore(m, m, [5, 1, 1], [1, 1, 1])).toThrow(/expected 5/);
  });
});
