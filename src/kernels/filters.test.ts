import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/data.js';
import { PY, asFloat32, pythonMissing, referenceBytes } from '../../testdata/refs/reference.js';
import type { Vec3 } from '../core/box.js';
import { type BorderMode, borderIndex, gaussianDerivatives1d, gaussianFilter, gaussianFilter1d, gaussianKernel1d, kernelRadius } from './filters.js';

// Live when Debian's python3 with scipy is here, else the committed fixture (testdata/refs/README.md).
const noPy = pythonMissing(['scipy.ndimage']);

function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32;
  }
  return a;
}

/** scipy.ndimage.gaussian_filter on the same bytes: numpy (z, y, x) C-order = our [x, y, z]. */
async function scipyGaussian(data: Float32Array, shape: Vec3, sigma: Vec3, order: Vec3, mode: BorderMode): Promise<Float32Array> {
  const name = `gaussian-${sigma.join('_')}-${order.join('')}-${mode}`;
  if (noPy) return asFloat32(referenceBytes(name, noPy, () => new Uint8Array()));
  const dir = await tempDir('wiring-filters-');
  const fin = path.join(dir, 'in.raw');
  const fout = path.join(dir, 'out.raw');
  await fs.writeFile(fin, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const script = `
import numpy as np, scipy.ndimage as ndi
a = np.fromfile(${JSON.stringify(fin)}, '<f4').reshape(${shape[2]}, ${shape[1]}, ${shape[0]})
o = ndi.gaussian_filter(a, sigma=(${sigma[2]}, ${sigma[1]}, ${sigma[0]}), order=(${order[2]}, ${order[1]}, ${order[0]}), mode='${mode}', truncate=4.0, output=np.float32)
o.astype('<f4').tofile(${JSON.stringify(fout)})
`;
  execFileSync(PY, ['-c', script]);
  const buf = await fs.readFile(fout);
  await fs.rm(dir, { recursive: true, force: true });
  return asFloat32(referenceBytes(name, undefined, () => buf));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('gaussian kernels', () => {
  it('have scipy radius and normalisation', () => {
    expect(kernelRadius(1)).toBe(4);
    expect(kernelRadius(0.7)).toBe(3);
    expect(kernelRadius(1.6)).toBe(6);
    const g = gaussianKernel1d(1.5);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const d1 = gaussianKernel1d(1.5, 1);
    // A derivative-of-Gaussian kernel convolved with f(x) = x gives ~1 (the slope).
    let slope = 0;
    for (let k = 0; k < d1.length; k++) slope += d1[k] * -(k - (d1.length - 1) / 2);
    expect(slope).toBeCloseTo(1, 3);
    expect(() => gaussianKernel1d(0)).toThrow(/sigma/);
    expect(() => gaussianKernel1d(1, 3)).toThrow(/order/);
  });
  it('extends borders like scipy', () => {
    // reflect: d c b a | a b c d | d c b a ; mirror: d c b | a b c d | c b a
    expect([-3, -2, -1, 4, 5, 6, 8, 9].map((i) => borderIndex(i, 4, 'reflect'))).toEqual([2, 1, 0, 3, 2, 1, 0, 1]);
    expect([-3, -2, -1, 4, 5, 6, 7].map((i) => borderIndex(i, 4, 'mirror'))).toEqual([3, 2, 1, 2, 1, 0, 1]);
    expect([-5, 7].map((i) => borderIndex(i, 1, 'mirror'))).toEqual([0, 0]);
    expect([-2, 5].map((i) => borderIndex(i, 4, 'nearest'))).toEqual([0, 3]);
    expect(borderIndex(-1, 4, 'constant')).toBe(-1);
  });
});

describe('gaussianFilter edge cases', () => {
  it('handles empty, one voxel, solid and in-place', () => {
    expect(gaussianFilter(new Float32Array(0), [0, 3, 3], 1).length).toBe(0);
    expect(Array.from(gaussianFilter(Float32Array.of(5), [1, 1, 1], 2))).toEqual([5]);
    expect(Math.abs(gaussianFilter(Float32Array.of(5), [1, 1, 1], 2, [1, 0, 0])[0])).toBe(0);
    const solid = new Float32Array(6 * 5 * 4).fill(3);
    const sm = gaussianFilter(solid, [6, 5, 4], [1, 2, 3]);
    for (const v of sm) expect(v).toBeCloseTo(3, 5);
    const d = gaussianFilter(solid, [6, 5, 4], [1, 2, 3], [0, 1, 0]);
    for (const v of d) expect(Math.abs(v)).toBeLessThan(1e-5);
    const a = rand(7 * 6 * 5);
    const out = gaussianFilter(a, [7, 6, 5], [1, 1.3, 0.8], [1, 0, 2]);
    const inPlace = a.slice();
    gaussianFilter(inPlace, [7, 6, 5], [1, 1.3, 0.8], [1, 0, 2], { dst: inPlace });
    expect(Array.from(inPlace)).toEqual(Array.from(out));
  });
  it('leaves sigma-0 axes alone (2-D per section)', () => {
    const a = rand(8 * 8 * 3);
    const out = gaussianFilter(a, [8, 8, 3], [1, 1, 0]);
    const sec = gaussianFilter(a.slice(64, 128), [8, 8, 1], [1, 1, 0]);
    expect(Array.from(out.subarray(64, 128))).toEqual(Array.from(sec));
    expect(() => gaussianFilter(a, [8, 8, 3], [1, 1, 0], [0, 0, 1])).toThrow(/sigma > 0/);
  });
  it('computes orders 0, 1, 2 in one sweep exactly like three single passes', () => {
    const shape: Vec3 = [13, 9, 7];
    const a = rand(13 * 9 * 7, 3);
    for (const axis of [0, 1, 2] as const) {
      for (const mode of ['reflect', 'mirror', 'nearest', 'constant'] as const) {
        const outs: [Float32Array, Float32Array | undefined, Float32Array] = [new Float32Array(a.length), axis === 1 ? undefined : new Float32Array(a.length), new Float32Array(a.length)];
        gaussianDerivatives1d(a, shape, axis, 1.7, outs, { mode });
        for (const order of [0, 1, 2]) {
          const o = outs[order];
          if (!o) continue;
          const ref = new Float32Array(a.length);
          gaussianFilter1d(a, ref, shape, axis, 1.7, order, { mode });
          let m = 0;
          for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(ref[i] - o[i]));
          expect(m).toBeLessThan(1e-6);
        }
      }
    }
  });
  it('radius 8 (sigma 2, unrolled paths) gives the same bits as the per-tap sums in order', () => {
    // the reference: every output a float64 sum in the order centre, then -k and +k for k = 1..r, stored as float32 after each axis
    const ordered = (src: Float32Array, shape: Vec3, sigma: Vec3, mode: BorderMode): Float32Array => {
      let cur = Float32Array.from(src);
      const strides = [1, shape[0], shape[0] * shape[1]];
      for (const ax of [0, 1, 2]) {
        if (!(sigma[ax] > 0)) continue;
        const w = gaussianKernel1d(sigma[ax], 0, 4);
        const r = (w.length - 1) >> 1;
        const next = new Float32Array(cur.length);
        const len = shape[ax];
        for (let i = 0; i < cur.length; i++) {
          const p = Math.floor(i / strides[ax]) % len;
          const at = (q: number) => {
            const b = borderIndex(q, len, mode);
            return b < 0 ? 0 : cur[i + (b - p) * strides[ax]];
          };
          let acc = w[r] * cur[i];
          if (ax === 0) for (let k = 1; k <= r; k++) acc += w[r + k] * (at(p - k) + at(p + k));
          else for (let k = 1; k <= r; k++) {
            if (mode !== 'constant' || borderIndex(p - k, len, mode) >= 0) acc += w[r + k] * at(p - k);
            if (mode !== 'constant' || borderIndex(p + k, len, mode) >= 0) acc += w[r + k] * at(p + k);
          }
          next[i] = acc;
        }
        cur = next;
      }
      return cur;
    };
    const shape: Vec3 = [29, 21, 19];
    const a = rand(shape[0] * shape[1] * shape[2], 11);
    for (const sigma of [[2, 2, 2], [2, 2, 0], [2, 1, 2]] as Vec3[])
      for (const mode of ['reflect', 'constant'] as const) expect(Array.from(gaussianFilter(a, shape, sigma, 0, { mode }))).toEqual(Array.from(ordered(a, shape, sigma, mode)));
  });
  it('rejects arrays shorter than the shape', () => {
    expect(() => gaussianFilter1d(new Float32Array(3), new Float32Array(3), [2, 2, 1], 0, 1)).toThrow(/shorter/);
  });
});

describe('gaussianFilter matches scipy.ndimage.gaussian_filter', () => {
  const shape: Vec3 = [23, 17, 11];
  const data = rand(shape[0] * shape[1] * shape[2], 7);
  const cases: Array<{ sigma: Vec3; order: Vec3; mode: BorderMode }> = [
    { sigma: [1, 1, 1], order: [0, 0, 0], mode: 'reflect' },
    { sigma: [0.7, 1.6, 3.5], order: [0, 0, 0], mode: 'reflect' },
    { sigma: [3.5, 3.5, 3.5], order: [0, 0, 0], mode: 'mirror' }, // radius 14 > 11 voxels along z
    { sigma: [1.6, 1.6, 1.6], order: [1, 0, 0], mode: 'reflect' },
    { sigma: [1.6, 1.6, 1.6], order: [0, 1, 0], mode: 'mirror' },
    { sigma: [1.6, 1.6, 0.5], order: [0, 0, 1], mode: 'reflect' },
    { sigma: [2, 2, 2], order: [2, 0, 0], mode: 'reflect' },
    { sigma: [2, 2, 2], order: [1, 1, 0], mode: 'nearest' },
    { sigma: [5, 5, 5], order: [0, 1, 1], mode: 'constant' },
    { sigma: [0.7, 0.7, 0.7], order: [0, 0, 2], mode: 'mirror' },
  ];
  for (const c of cases) {
    it(`sigma [${c.sigma}] order [${c.order}] ${c.mode}`, async () => {
      const ours = gaussianFilter(data, shape, c.sigma, c.order, { mode: c.mode });
      const ref = await scipyGaussian(data, shape, c.sigma, c.order, c.mode);
      expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-5);
    });
  }
  it('2-D per section equals scipy with sigma 0 along z', async () => {
    const ours = gaussianFilter(data, shape, [1.2, 1.2, 0], [1, 0, 0]);
    const ref = await scipyGaussian(data, shape, [1.2, 1.2, 0], [1, 0, 0], 'reflect');
    expect(maxAbsDiff(ours, ref)).toBeLessThan(1e-5);
  });
});
