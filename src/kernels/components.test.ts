import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { tempDir } from '../../test/data.js';
import { PY, asUint32, pythonMissing, refScript, referenceBytes } from '../../testdata/refs/reference.js';
import { type Connectivity, compactLabels, componentRuns, connectedComponents, labelComponents, thresholdRuns } from './components.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** BFS flood fill, components numbered by first voxel in raster order. */
/** Random masks (foreground fractions 0.35 and 0.6) on three shapes, flat ones included, drawn from `r`, each with every connectivity. */
function* randomMasks(r: () => number): Generator<{ m: Uint8Array; shape: Vec3; conn: Connectivity }> {
  for (const shape of [[13, 11, 9], [20, 17, 1], [1, 9, 14]] as Vec3[]) {
    const n = shape[0] * shape[1] * shape[2];
    for (const p of [0.35, 0.6]) {
      const m = new Uint8Array(n);
      for (let i = 0; i < n; i++) m[i] = r() < p ? 1 : 0;
      for (const conn of [4, 8, 6, 18, 26] as Connectivity[]) yield { m, shape, conn };
    }
  }
}

function bfs(lab: ArrayLike<number>, shape: Vec3, conn: Connectivity): { labels: Uint32Array; count: number } {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const out = new Uint32Array(n);
  const offs: Vec3[] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const k = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (k === 0) continue;
        if ((conn === 4 || conn === 8) && dz !== 0) continue;
        if ((conn === 4 || conn === 6) && k > 1) continue;
        if (conn === 18 && k > 2) continue;
        offs.push([dx, dy, dz]);
      }
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (lab[i] === 0 || out[i] !== 0) continue;
    out[i] = ++count;
    const stack = [i];
    while (stack.length) {
      const j = stack.pop()!;
      const x = j % sx;
      const y = Math.floor(j / sx) % sy;
      const z = Math.floor(j / (sx * sy));
      for (const [dx, dy, dz] of offs) {
        const a = x + dx;
        const b = y + dy;
        const c = z + dz;
        if (a < 0 || b < 0 || c < 0 || a >= sx || b >= sy || c >= sz) continue;
        const k = a + sx * (b + sy * c);
        if (out[k] === 0 && lab[k] === lab[i]) {
          out[k] = count;
          stack.push(k);
        }
      }
    }
  }
  return { labels: out, count };
}

describe('connected components', () => {
  it('handles empty, one voxel, solid and 2-D inputs', () => {
    expect(connectedComponents(new Uint8Array(0), [0, 0, 0]).count).toBe(0);
    expect(connectedComponents(new Uint8Array([1]), [1, 1, 1])).toEqual({ labels: Uint32Array.from([1]), count: 1 });
    expect(connectedComponents(new Uint8Array([0]), [1, 1, 1]).count).toBe(0);
    const solid = connectedComponents(new Uint8Array(60).fill(3), [5, 4, 3]);
    expect(solid.count).toBe(1);
    expect(solid.labels.every((v) => v === 1)).toBe(true);
    // diagonal pair: 2 components with 4/6-connectivity, 1 with 8/26
    const diag = new Uint8Array([1, 0, 0, 1]);
    expect(connectedComponents(diag, [2, 2, 1], { connectivity: 4 }).count).toBe(2);
    expect(connectedComponents(diag, [2, 2, 1], { connectivity: 8 }).count).toBe(1);
    expect(connectedComponents(diag, [2, 2, 1], { connectivity: 26 }).count).toBe(1);
    // 4/8: never across sections
    expect(connectedComponents(new Uint8Array([1, 1]), [1, 1, 2], { connectivity: 8 }).count).toBe(2);
    expect(connectedComponents(new Uint8Array([1, 1]), [1, 1, 2], { connectivity: 6 }).count).toBe(1);
  });
  it('matches a BFS flood fill exactly (numbering included), every connectivity', () => {
    for (const { m, shape, conn } of randomMasks(rng(3))) {
      const got = connectedComponents(m, shape, { connectivity: conn });
      const want = bfs(m, shape, conn);
      expect(got.count).toBe(want.count);
      expect(got.labels).toEqual(want.labels);
    }
  });
  it('componentRuns: disjoint row runs in raster order that cover exactly the foreground, labelled as the BFS labels them', () => {
    const r = rng(5);
    for (const { m, shape, conn } of randomMasks(r)) {
      const want = bfs(m, shape, conn);
      const c = componentRuns(m, shape, { connectivity: conn });
      expect(c.count).toBe(want.count);
      const got = new Uint32Array(m.length);
      let last = -1;
      for (let k = 0; k < c.runs; k++) {
        expect(c.rs[k]).toBeGreaterThan(last);
        expect(c.re[k]).toBeGreaterThan(c.rs[k]);
        expect(Math.floor(c.rs[k] / shape[0])).toBe(Math.floor((c.re[k] - 1) / shape[0]));
        for (let i = c.rs[k]; i < c.re[k]; i++) got[i] = c.final[k];
        last = c.re[k] - 1;
      }
      expect(got).toEqual(want.labels);
    }
    expect(componentRuns(new Uint8Array(0), [0, 0, 0]).runs).toBe(0);
    // thresholdRuns(data, t) = componentRuns(data >= t), uint8 and float32 (NaN is never >= t)
    const shape: Vec3 = [17, 12, 6];
    const n = shape[0] * shape[1] * shape[2];
    const u8 = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const f32 = Float32Array.from(u8, (v, i) => (i % 37 === 0 ? NaN : v / 255));
    for (const [data, t] of [[u8, 140], [u8, 200.5], [f32, 0.55], [f32, 0]] as const) {
      const mask = Uint8Array.from(data, (v) => (v >= t ? 1 : 0));
      for (const conn of [6, 26] as Connectivity[]) {
        const want = componentRuns(mask, shape, { connectivity: conn });
        const got = thresholdRuns(data, t, shape, { connectivity: conn });
        expect(got.count).toBe(want.count);
        expect(got.runs).toBe(want.runs);
        expect(got.rs.subarray(0, got.runs)).toEqual(want.rs.subarray(0, want.runs));
        expect(got.re.subarray(0, got.runs)).toEqual(want.re.subarray(0, want.runs));
        expect(got.final).toEqual(want.final);
      }
    }
    expect(() => componentRuns(new Uint8Array(3), [2, 2, 1])).toThrow(/expected 4/);
  });
  it('multi-label: same-label connectivity, uint64 ids', () => {
    const r = rng(5);
    const shape: Vec3 = [15, 12, 7];
    const n = shape[0] * shape[1] * shape[2];
    const lab = new Uint32Array(n);
    for (let i = 0; i < n; i++) lab[i] = Math.floor(r() * 4);
    for (const conn of [6, 26, 8] as Connectivity[]) {
      const got = labelComponents(lab, shape, { connectivity: conn });
      const want = bfs(lab, shape, conn);
      expect(got.labels).toEqual(want.labels);
      const big = BigUint64Array.from(lab, (v) => (v === 0 ? 0n : 864691135639556411n + BigInt(v)));
      expect(labelComponents(big, shape, { connectivity: conn }).labels).toEqual(want.labels);
    }
    // two touching labels stay apart
    expect(labelComponents(new Uint32Array([1, 1, 2, 2, 0, 2]), [6, 1, 1]).count).toBe(3);
  });
  it('rejects bad input', () => {
    expect(() => connectedComponents(new Uint8Array(3), [2, 2, 1])).toThrow(/expected 4/);
    expect(() => connectedComponents(new Uint8Array(4), [2, 2, 1], { connectivity: 5 as Connectivity })).toThrow(/connectivity/);
    expect(() => labelComponents(new Float32Array(4), [2, 2, 1])).toThrow(/integer/);
  });
});

describe('compactLabels', () => {
  it('relabels by first appearance, keeps 0, round-trips uint64 ids', () => {
    const big = BigUint64Array.from([0n, 864691135639556411n, 5n, 864691135639556411n, 0n, (1n << 64n) - 1n, 5n]);
    const c = compactLabels(big);
    expect(Array.from(c.labels)).toEqual([0, 1, 2, 1, 0, 3, 2]);
    expect(Array.from(c.ids)).toEqual([0n, 864691135639556411n, 5n, (1n << 64n) - 1n]);
    const c32 = compactLabels(Int32Array.from([7, 7, 0, 3, 9, 3]));
    expect(Array.from(c32.labels)).toEqual([1, 1, 0, 2, 3, 2]);
    expect(Array.from(c32.ids)).toEqual([0n, 7n, 3n, 9n]);
    expect(() => compactLabels(Int32Array.from([1, -1]))).toThrow(/non-negative/);
  });
  it('grows its table for many ids', () => {
    const n = 50000;
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) a[i] = (i * 7919) % 40000 + 1;
    const c = compactLabels(a);
    expect(c.count).toBe(40000);
    for (let i = 0; i < n; i++) if (Number(c.ids[c.labels[i]]) !== a[i]) throw new Error(`mismatch at ${i}`);
    const b = BigUint64Array.from(a, (v) => BigInt(v) << 33n);
    const cb = compactLabels(b);
    expect(cb.labels).toEqual(c.labels);
  });
  it('unsigned labels through the lookup table equal the hash table (Float64 copy), also in place and with sparse ids', () => {
    let s = 3;
    const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (const [n, max] of [[1, 1], [7, 3], [5000, 200], [5000, 30000], [3000, 4000000000], [100, 0]] as const) {
      const a = Uint32Array.from({ length: n }, () => (r() < 0.2 ? 0 : Math.floor(r() * (max + 1))));
      const ref = compactLabels(Float64Array.from(a));
      for (const input of [a, Uint16Array.from(a, (v) => v & 0xffff), Uint8Array.from(a, (v) => v & 0xff)]) {
        const want = compactLabels(Float64Array.from(input));
        const got = compactLabels(input);
        expect(got.count).toBe(want.count);
        expect(Array.from(got.labels)).toEqual(Array.from(want.labels));
        expect(Array.from(got.ids)).toEqual(Array.from(want.ids));
      }
      // uint64 ids with high words 0 (table) and the same ids shifted past 2^32 (hash table): same numbering
      const got64 = compactLabels(BigUint64Array.from(a, (v) => BigInt(v)));
      const hashed = compactLabels(BigUint64Array.from(a, (v) => (v === 0 ? 0n : BigInt(v) | (1n << 40n))));
      expect(Array.from(got64.labels)).toEqual(Array.from(ref.labels));
      expect(Array.from(hashed.labels)).toEqual(Array.from(ref.labels));
      expect(Array.from(got64.ids)).toEqual(Array.from(ref.ids));
      const inPlace = a.slice();
      expect(compactLabels(inPlace, inPlace).count).toBe(ref.count);
      expect(Array.from(inPlace)).toEqual(Array.from(ref.labels));
    }
  });
});

// Live when Debian's python3 with scipy + scikit-image is here, else the committed fixture
// (testdata/refs/README.md); either way the claim "identical labels" is checked.
const noPy = pythonMissing(['scipy', 'skimage']);

describe('components vs scipy.ndimage.label / skimage.measure.label (ref_cc.py)', () => {
  it('binary and multi-label, 6-connected, identical labels', async () => {
    const shape: Vec3 = [64, 48, 20];
    const n = shape[0] * shape[1] * shape[2];
    const r = rng(9);
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = r();
    const dir = await tempDir();
    const inp = path.join(dir, 'in.raw');
    const outB = path.join(dir, 'b.raw');
    const outL = path.join(dir, 'l.raw');
    const zyx = `${shape[2]},${shape[1]},${shape[0]}`;
    const ref = asUint32(referenceBytes('cc-binary', noPy, () => {
      writeFileSync(inp, new Uint8Array(f.buffer));
      const rb = spawnSync(PY, [refScript('ref_cc.py'), inp, '--shape', zyx, '--threshold', '0.6', '--mode', 'binary', '--out', outB], { encoding: 'utf8' });
      expect(rb.status, rb.stderr).toBe(0);
      return readFileSync(outB);
    }));
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = f[i] > 0.6 ? 1 : 0;
    expect(connectedComponents(mask, shape).labels).toEqual(ref);
    // multi-label: quantise into 3 labels + background
    const lab = new Uint32Array(n);
    for (let i = 0; i < n; i++) lab[i] = Math.floor(f[i] * 4);
    const refL = asUint32(referenceBytes('cc-labels', noPy, () => {
      writeFileSync(inp, new Uint8Array(lab.buffer));
      const rl = spawnSync(PY, [refScript('ref_cc.py'), inp, '--shape', zyx, '--dtype', 'uint32', '--mode', 'labels', '--out', outL], { encoding: 'utf8' });
      expect(rl.status, rl.stderr).toBe(0);
      return readFileSync(outL);
    }));
    expect(labelComponents(lab, shape).labels).toEqual(refL);
  });
});
