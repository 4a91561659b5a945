import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { tempDir } from '../../test/data.js';
import { PY, asFloat32, pythonMissing, refScript, referenceBytes } from '../../testdata/refs/reference.js';
import { edt, edtLabels, edtLabelsSquared, edtSquared } from './edt.js';

/** Brute force: for each voxel, min over all "source" voxels of the weighted squared distance. */
function brute(
  labels: ArrayLike<number>,
  shape: Vec3,
  samp: Vec3,
  perLabel: boolean,
  border: boolean,
): Float64Array {
  const [sx, sy, sz] = shape;
  const out = new Float64Array(sx * sy * sz);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        const L = labels[i];
        if (L === 0) continue;
        let best = Infinity;
        for (let z2 = 0; z2 < sz; z2++)
          for (let y2 = 0; y2 < sy; y2++)
            for (let x2 = 0; x2 < sx; x2++) {
              const M = labels[x2 + sx * (y2 + sy * z2)];
              const other = perLabel ? M !== L : M === 0;
              if (!other) continue;
              const d = (samp[0] * (x - x2)) ** 2 + (samp[1] * (y - y2)) ** 2 + (samp[2] * (z - z2)) ** 2;
              if (d < best) best = d;
            }
        if (border) {
          // nearest outside voxel along each present axis
          const cand = [
            sx > 1 ? (samp[0] * Math.min(x + 1, sx - x)) ** 2 : Infinity,
            sy > 1 ? (samp[1] * Math.min(y + 1, sy - y)) ** 2 : Infinity,
            sz > 1 ? (samp[2] * Math.min(z + 1, sz - z)) ** 2 : Infinity,
          ];
          for (const c of cand) if (c < best) best = c;
        }
        out[i] = best;
      }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function blobs(shape: Vec3, nLabels: number, seed: number, pZero = 0.1): Uint32Array {
  // Voronoi-ish labels from random centres, plus random zeros.
  const r = rng(seed);
  const [sx, sy, sz] = shape;
  const cs = Array.from({ length: nLabels }, () => [r() * sx, r() * sy, r() * sz]);
  const out = new Uint32Array(sx * sy * sz);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        let best = 0;
        let bd = Infinity;
        cs.forEach((c, k) => {
          const d = (c[0] - x) ** 2 + (c[1] - y) ** 2 + (c[2] - z) ** 2;
          if (d < bd) {
            bd = d;
            best = k + 1;
          }
        });
        out[x + sx * (y + sy * z)] = r() < pZero ? 0 : best;
      }
  return out;
}

function expectClose(a: Float32Array, b: Float64Array, rel = 1e-6): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (b[i] === Infinity) {
      expect(a[i]).toBe(Infinity);
      continue;
    }
    const tol = rel * Math.max(1, b[i]);
    if (Math.abs(a[i] - b[i]) > tol) throw new Error(`voxel ${i}: got ${a[i]}, expected ${b[i]}`);
  }
}

describe('edt (binary)', () => {
  it('handles empty, one voxel and solid volumes', () => {
    expect(edt(new Uint8Array(0), [0, 3, 3]).length).toBe(0);
    expect(Array.from(edt(new Uint8Array([1]), [1, 1, 1]))).toEqual([Infinity]);
    expect(Array.from(edt(new Uint8Array([1]), [1, 1, 1], { borderIsBoundary: true }))).toEqual([Infinity]);
    expect(Array.from(edt(new Uint8Array([0]), [1, 1, 1]))).toEqual([0]);
    const solid = new Uint8Array(27).fill(1);
    expect(edt(solid, [3, 3, 3]).every((v) => v === Infinity)).toBe(true);
    const b = edt(solid, [3, 3, 3], { borderIsBoundary: true, sampling: [1, 2, 3] });
    expect(b[13]).toBeCloseTo(2, 6); // centre: 2 voxels to the x border at 1 nm
    expect(b[0]).toBeCloseTo(1, 6);
  });
  it('1-D line with anisotropic sampling', () => {
    const m = new Uint8Array([0, 1, 1, 1, 1, 0, 1, 1]);
    expect(Array.from(edt(m, [8, 1, 1], { sampling: [4, 1, 1] }))).toEqual([0, 4, 8, 8, 4, 0, 4, 8]);
  });
  it('matches brute force on random 3-D masks (anisotropic, both border modes)', () => {
    const r = rng(7);
    for (const [shape, samp] of [
      [[9, 7, 5], [4, 4, 40]],
      [[12, 10, 1], [1, 2, 1]],
      [[1, 6, 8], [3, 1, 2]],
      [[6, 6, 6], [1, 1, 1]],
    ] as [Vec3, Vec3][]) {
      const n = shape[0] * shape[1] * shape[2];
      for (const p of [0.05, 0.3]) {
        const m = new Uint8Array(n);
        for (let i = 0; i < n; i++) m[i] = r() < p ? 0 : 1;
        for (const border of [false, true]) {
          expectClose(edtSquared(m, shape, { sampling: samp, borderIsBoundary: border }), brute(m, shape, samp, false, border));
        }
      }
    }
  });
  it('accepts float and uint64 masks and an output array', () => {
    const f = new Float32Array([0, 0.5, 0.5, 0]);
    expect(Array.from(edt(f, [4, 1, 1]))).toEqual([0, 1, 1, 0]);
    const b = new BigUint64Array([0n, 5n, 5n, 5n]);
    const out = new Float32Array(4);
    expect(edt(b, [4, 1, 1], { out })).toBe(out);
    expect(Array.from(out)).toEqual([0, 1, 2, 3]);
  });
  it('rejects wrong lengths and bad sampling', () => {
    expect(() => edt(new Uint8Array(5), [2, 2, 2])).toThrow(/expected 8/);
    expect(() => edt(new Uint8Array(8), [2, 2, 2], { sampling: [1, 0, 1] })).toThrow(/sampling/);
  });
});

describe('edtLabels', () => {
  it('matches brute force on random multi-label volumes', () => {
    for (const [shape, samp, seed] of [
      [[10, 9, 6], [4, 4, 40], 1],
      [[16, 12, 1], [1, 1, 1], 2],
      [[7, 7, 7], [1, 2, 3], 3],
    ] as [Vec3, Vec3, number][]) {
      const lab = blobs(shape, 6, seed, 0.05);
      for (const border of [false, true]) {
        expectClose(edtLabelsSquared(lab, shape, { sampling: samp, borderIsBoundary: border }), brute(lab, shape, samp, true, border));
      }
    }
  });
  it('a region: the same bits inside it as the whole transform (3-D, 2-D, 1-D, both border modes, binary and per label)', () => {
    for (const [shape, samp, seed, region] of [
      [[23, 19, 11], [8, 8, 30], 4, { min: [5, 3, 2], max: [17, 15, 9] }],
      [[23, 19, 11], [1, 1, 1], 5, { min: [0, 0, 0], max: [23, 1, 11] }],
      [[30, 20, 1], [4, 5, 1], 6, { min: [7, 0, 0], max: [20, 20, 1] }],
      [[1, 1, 40], [1, 1, 3], 7, { min: [0, 0, 10], max: [1, 1, 30] }],
      [[12, 1, 14], [2, 1, 3], 8, { min: [3, 0, 0], max: [9, 1, 14] }],
    ] as [Vec3, Vec3, number, { min: Vec3; max: Vec3 }][]) {
      const lab = blobs(shape, 6, seed, 0.05);
      for (const border of [false, true])
        for (const f of [edtLabelsSquared, edtSquared]) {
          const whole = f(lab, shape, { sampling: samp, borderIsBoundary: border });
          const part = f(lab, shape, { sampling: samp, borderIsBoundary: border, region });
          let inside = 0;
          for (let z = region.min[2]; z < region.max[2]; z++)
            for (let y = region.min[1]; y < region.max[1]; y++)
              for (let x = region.min[0]; x < region.max[0]; x++) {
                const i = x + shape[0] * (y + shape[1] * z);
                expect(part[i]).toBe(whole[i]);
                inside++;
              }
          expect(inside).toBeGreaterThan(0);
        }
    }
    expect(() => edtLabels(new Uint32Array(8), [2, 2, 2], { region: { min: [0, 0, 0], max: [3, 2, 2] } })).toThrow(/region/);
  });
  it('two labels touching: distance to the other label, uint64 ids', () => {
    const big = 864691135639556411n;
    const lab = new BigUint64Array([big, big, big, 7n, 7n]);
    expect(Array.from(edtLabels(lab, [5, 1, 1]))).toEqual([3, 2, 1, 1, 2]);
    expect(Array.from(edtLabels(lab, [5, 1, 1], { borderIsBoundary: true }))).toEqual([1, 2, 1, 1, 1]);
  });
});

// Live when Debian's python3 with scipy is here, else the committed fixture (testdata/refs/README.md).
const noPy = pythonMissing(['scipy']);
const REF = refScript('ref_edt.py');

describe('edt vs scipy.ndimage.distance_transform_edt (ref_edt.py)', () => {
  it('binary, anisotropic 40,4,4 (z,y,x) on a 48x64x24 random blob volume', async () => {
    const shape: Vec3 = [48, 64, 24];
    const lab = blobs(shape, 30, 11, 0.0);
    // membrane-like mask: voxels with a face neighbour of a different label are 0
    const [sx, sy] = shape;
    const mask = new Uint32Array(lab.length);
    for (let i = 0; i < lab.length; i++) {
      const x = i % sx;
      const y = Math.floor(i / sx) % sy;
      let boundary = false;
      if (x + 1 < sx && lab[i + 1] !== lab[i]) boundary = true;
      if (y + 1 < sy && lab[i + sx] !== lab[i]) boundary = true;
      mask[i] = boundary ? 0 : lab[i];
    }
    const dir = await tempDir();
    const inp = path.join(dir, 'in.raw');
    const outp = path.join(dir, 'out.raw');
    writeFileSync(inp, new Uint8Array(mask.buffer));
    const ref = asFloat32(referenceBytes('edt-binary', noPy, () => {
      const r = spawnSync(PY, [REF, inp, '--shape', `${shape[2]},${shape[1]},${shape[0]}`, '--dtype', 'uint32', '--sampling', '40,4,4', '--out', outp], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(outp);
    }));
    const ours = edt(mask, shape, { sampling: [4, 4, 40] });
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
    expect(maxDiff).toBeLessThan(1e-3);
    // ref's --labels mode (label boundaries zeroed, then binary EDT) is reproducible from ours too
    const ref2 = asFloat32(referenceBytes('edt-labels', noPy, () => {
      const r2 = spawnSync(PY, [REF, inp, '--shape', `${shape[2]},${shape[1]},${shape[0]}`, '--dtype', 'uint32', '--sampling', '40,4,4', '--labels', '--out', outp], { encoding: 'utf8' });
      expect(r2.status, r2.stderr).toBe(0);
      return readFileSync(outp);
    }));
    const [, , sz] = shape;
    const m2 = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) continue;
      const x = i % sx;
      const y = Math.floor(i / sx) % sy;
      const z = Math.floor(i / (sx * sy));
      const nb = [x > 0 ? i - 1 : -1, x + 1 < sx ? i + 1 : -1, y > 0 ? i - sx : -1, y + 1 < sy ? i + sx : -1, z > 0 ? i - sx * sy : -1, z + 1 < sz ? i + sx * sy : -1];
      m2[i] = nb.every((j) => j < 0 || mask[j] === mask[i]) ? 1 : 0;
    }
    const ours2 = edt(m2, shape, { sampling: [4, 4, 40] });
    maxDiff = 0;
    for (let i = 0; i < ref2.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours2[i] - ref2[i]));
    expect(maxDiff).toBeLessThan(1e-3);
  });
});
