import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../core/box.js';
import { gaussianDerivatives1d, gaussianFilter } from './filters.js';
import { MIN_RECURSIVE_SIGMA, recursiveDerivatives1d, recursiveFilter1d, yvvCoefficients } from './recursive.js';
import { _keptRecursiveBytes, _recursiveKeepBytes, _useJsRecursion, wasmRecursionAvailable } from './recursive-wasm.js';

function smoothRandom(shape: Vec3, seed = 3): Float32Array {
  let s = seed >>> 0;
  const n = shape[0] * shape[1] * shape[2];
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 255;
  return gaussianFilter(a, shape, 1);
}

const triple = (n: number): [Float32Array, Float32Array, Float32Array] => [new Float32Array(n), new Float32Array(n), new Float32Array(n)];

describe('recursive Gaussian (Young-van Vliet)', () => {
  it('has unit gain and the requested variance', () => {
    for (const sigma of [1, 2.5, 7]) {
      const L = 401;
      const delta = new Float32Array(L);
      delta[200] = 1;
      const h = new Float32Array(L);
      recursiveFilter1d(delta, h, [L, 1, 1], 0, sigma, 0, { mode: 'constant' });
      let sum = 0;
      let m2 = 0;
      for (let i = 0; i < L; i++) {
        sum += h[i];
        m2 += (i - 200) ** 2 * h[i];
      }
      expect(sum).toBeCloseTo(1, 5);
      expect(m2 / (sigma * sigma)).toBeCloseTo(1, 3);
      const c = yvvCoefficients(sigma);
      expect(c.B + c.b1 + c.b2 + c.b3).toBeCloseTo(1, 12);
    }
  });

  it('keeps constants, differentiates a ramp and a parabola exactly away from the borders', () => {
    const L = 80;
    const ramp = Float32Array.from({ length: L }, (_, i) => 3 * i + 5);
    const parab = Float32Array.from({ length: L }, (_, i) => 0.5 * (i - 40) ** 2);
    const [g, d1, d2] = triple(L);
    recursiveDerivatives1d(new Float32Array(L).fill(7), [L, 1, 1], 0, 3, [g, d1, d2]);
    for (let i = 0; i < L; i++) {
      expect(g[i]).toBeCloseTo(7, 4);
      expect(d1[i]).toBeCloseTo(0, 4);
      expect(d2[i]).toBeCloseTo(0, 4);
    }
    recursiveDerivatives1d(ramp, [L, 1, 1], 0, 3, [undefined, d1, undefined], { mode: 'constant' });
    recursiveDerivatives1d(parab, [L, 1, 1], 0, 3, [undefined, undefined, d2], { mode: 'constant' });
    for (let i = 30; i < 50; i++) {
      expect(d1[i]).toBeCloseTo(3, 3);
      expect(d2[i]).toBeCloseTo(1, 3);
    }
  });

  // The stated tolerance (src/kernels/recursive.ts): within 1.5e-2 (order 0), 4e-2 (order 1) and 8e-2
  // (order 2) of each output's range of the exact FIR result, on every axis, border mode and sigma >= 1.5.
  it('stays within the stated tolerance of the exact Gaussian derivatives', () => {
    const shape: Vec3 = [32, 28, 24];
    const n = shape[0] * shape[1] * shape[2];
    const raw = smoothRandom(shape);
    const tol = [1.5e-2, 4e-2, 8e-2];
    const worst = [0, 0, 0];
    for (const mode of ['reflect', 'mirror', 'nearest'] as const) {
      for (const sigma of [1.5, 2.5, 5]) {
        for (const axis of [0, 1, 2] as const) {
          const exact = triple(n);
          const rec = triple(n);
          gaussianDerivatives1d(raw, shape, axis, sigma, exact, { mode });
          recursiveDerivatives1d(raw, shape, axis, sigma, rec, { mode });
          for (let o = 0; o < 3; o++) {
            let lo = Infinity, hi = -Infinity, err = 0;
            for (let i = 0; i < n; i++) {
              lo = Math.min(lo, exact[o][i]);
              hi = Math.max(hi, exact[o][i]);
              err = Math.max(err, Math.abs(exact[o][i] - rec[o][i]));
            }
            worst[o] = Math.max(worst[o], err / (hi - lo));
          }
        }
      }
    }
    for (let o = 0; o < 3; o++) expect(worst[o], `order ${o}`).toBeLessThan(tol[o]);
  });

  it('runs in WebAssembly SIMD with the bits of the JavaScript recursion (every axis, mode, order; odd, tiny and 8-line shapes)', () => {
    expect(wasmRecursionAvailable()).toBe(true);
    let s = 11;
    const shapes: Vec3[] = [[13, 7, 5], [1, 1, 1], [1, 5, 3], [2, 3, 17], [16, 8, 2], [33, 17, 9]];
    for (const shape of shapes) {
      const n = shape[0] * shape[1] * shape[2];
      // rough input (not smoothed): every rounding difference would show
      const src = Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 200 - 50);
      for (const mode of ['reflect', 'mirror', 'nearest', 'constant'] as const) {
        for (const axis of [0, 1, 2] as const) {
          for (const sigma of [1, 2.2]) {
            const run = (js: boolean): Float32Array[] => {
              _useJsRecursion(js);
              try {
                const o = triple(n);
                recursiveDerivatives1d(src, shape, axis, sigma, o, { mode });
                return o;
              } finally {
                _useJsRecursion(false);
              }
            };
            const [js, wasm] = [run(true), run(false)];
            for (let q = 0; q < 3; q++) {
              expect(Buffer.from(wasm[q].buffer).equals(Buffer.from(js[q].buffer)), `${shape} ${mode} axis ${axis} sigma ${sigma} order ${q}`).toBe(true);
            }
          }
        }
      }
    }
    // a call above the kept memory's bound runs on a memory of its own: same bits, the kept one not grown
    const big: Vec3 = [40, 30, 20];
    const raw = smoothRandom(big);
    const want = triple(24000);
    recursiveDerivatives1d(raw, big, 1, 2, want);
    const kept = _keptRecursiveBytes();
    _recursiveKeepBytes(65536);
    try {
      const got = triple(24000);
      recursiveDerivatives1d(raw, big, 1, 2, got);
      for (let q = 0; q < 3; q++) expect(Buffer.from(got[q].buffer).equals(Buffer.from(want[q].buffer))).toBe(true);
      expect(_keptRecursiveBytes()).toBe(kept);
    } finally {
      _recursiveKeepBytes();
    }
    // one order only leaves the other outputs untouched
    const shape: Vec3 = [9, 10, 3];
    const o: [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined] = [undefined, new Float32Array(270).fill(7), undefined];
    recursiveDerivatives1d(smoothRandom(shape), shape, 0, 1.5, o);
    expect(o[1]!.some((v) => v !== 7)).toBe(true);
  });

  it('gives the same result for one order as for all three at once', () => {
    const shape: Vec3 = [17, 13, 11];
    const n = shape[0] * shape[1] * shape[2];
    const raw = smoothRandom(shape, 9);
    const all = triple(n);
    recursiveDerivatives1d(raw, shape, 1, 2, all);
    for (let o = 0; o < 3; o++) {
      const one = new Float32Array(n);
      recursiveFilter1d(raw, one, shape, 1, 2, o);
      expect(one).toEqual(all[o]);
    }
  });

  it('rejects small sigma, in-place use and bad shapes', () => {
    const a = new Float32Array(8);
    expect(() => recursiveFilter1d(a, new Float32Array(8), [8, 1, 1], 0, MIN_RECURSIVE_SIGMA / 2)).toThrow(/at least/);
    expect(() => recursiveFilter1d(a, a, [8, 1, 1], 0, 2)).toThrow(/cannot be the input/);
    expect(() => recursiveFilter1d(a, new Float32Array(8), [9, 1, 1], 0, 2)).toThrow(/shorter/);
    expect(() => recursiveFilter1d(a, new Float32Array(8), [8, 1, 1], 0, 2, 3)).toThrow(/order/);
  });
});
