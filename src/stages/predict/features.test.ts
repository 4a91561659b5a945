import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PY, asFloat32, pythonMissing, refScript, referenceBytes } from '../../../testdata/refs/reference.js';
import { mulberry32 } from '../../core/random.js';
import type { Vec3 } from '../../core/box.js';
import { _useJsEigen, wasmEigenAvailable } from './eigen.js';
import { RECURSIVE_FROM, computeFeatures, cosThirdAcos, eig3, eig3Trig, featureConfig, featureCount, featureMargin, featureNames, releaseFeatures } from './features.js';

// Live when Debian's python3 with scipy is here (the whole stack is compared), else the committed
// fixture: each channel's largest magnitude and its values at 1024 voxels (testdata/refs/README.md).
const noPy = pythonMissing(['scipy.ndimage']);
const REF = refScript('ref_features.py');
const SAMPLES = 1024;

export function smoothRandom(shape: Vec3, seed = 3): Float32Array {
  const n = shape[0] * shape[1] * shape[2];
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32) * 50;
  }
  // Add structure: a few blobs so derivatives are not pure noise.
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++) a[x + shape[0] * (y + shape[1] * z)] += 100 * Math.sin(x / 3) * Math.cos(y / 4 + z / 5);
  return a;
}

function crop(data: Float32Array, shape: Vec3, channels: number, lo: Vec3, hi: Vec3): Float32Array {
  const s: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
  const out = new Float32Array(s[0] * s[1] * s[2] * channels);
  let o = 0;
  for (let c = 0; c < channels; c++)
    for (let z = lo[2]; z < hi[2]; z++)
      for (let y = lo[1]; y < hi[1]; y++)
        for (let x = lo[0]; x < hi[0]; x++) out[o++] = data[x + shape[0] * (y + shape[1] * (z + shape[2] * c))];
  return out;
}

describe('feature stack', () => {
  it('names channels and sizes margins', () => {
    const cfg3 = featureConfig([10, 10, 10], { sigmas: [1, 2] });
    expect(cfg3.dims).toBe(3);
    expect(featureCount(cfg3)).toBe(2 * (4 + 3 + 3));
    expect(featureNames(cfg3).slice(0, 6)).toEqual(['G_1', 'GGM_1', 'LoG_1', 'DoG_1', 'STE0_1', 'STE1_1']);
    // radius(2) = 8, plus the structure tensor's outer radius(1) = 4
    expect(featureMargin(cfg3)).toEqual([12, 12, 12]);
    const cfg2 = featureConfig([4, 4, 50]);
    expect(cfg2.dims).toBe(2);
    expect(featureMargin(cfg2)[2]).toBe(0);
    expect(featureCount(cfg2)).toBe(4 * (4 + 2 + 2));
    const aniso = featureConfig([8, 8, 16], { sigmas: [2], features: ['G'] });
    expect(aniso.dims).toBe(3);
    expect(featureMargin(aniso)).toEqual([8, 8, 4]);
    expect(() => featureConfig([1, 1, 1], { sigmas: [-1] })).toThrow(/sigma/);
    expect(() => featureConfig([1, 1, 1], { features: ['XX' as never] })).toThrow(/unknown feature/);
  });

  it('handles one voxel, solid and rejects NaN', () => {
    const cfg = featureConfig([1, 1, 1], { sigmas: [1] });
    const one = computeFeatures(Float32Array.of(4), [1, 1, 1], cfg);
    expect(one[0]).toBeCloseTo(4, 5);
    const solid = computeFeatures(new Float32Array(5 * 4 * 3).fill(2), [5, 4, 3], cfg);
    const n = 60;
    for (let i = 0; i < n; i++) expect(solid[i]).toBeCloseTo(2, 5);
    for (let i = n; i < solid.length; i++) if (i < 3 * n || i >= 4 * n) expect(Math.abs(solid[i])).toBeLessThan(2e-3); // scipy derivative kernels are not re-normalised (tiny DC)
    const bad = new Float32Array(8);
    bad[5] = NaN;
    expect(() => computeFeatures(bad, [2, 2, 2], cfg)).toThrow(/voxel \(1,0,1\).*NaN/);
    expect(computeFeatures(new Float32Array(0), [0, 4, 4], cfg).length).toBe(0);
  });

  it('closed-form 3x3 eigenvalues match a diagonal and a rotated tensor', () => {
    const f = (v: number): Float32Array => Float32Array.of(v);
    const e = [new Float32Array(1), new Float32Array(1), new Float32Array(1)];
    eig3(f(1), f(0), f(0), f(3), f(0), f(2), e[0], e[1], e[2]);
    expect(e.map((a) => a[0])).toEqual([3, 2, 1]);
    // [[2,1,0],[1,2,0],[0,0,5]] -> 5, 3, 1
    eig3(f(2), f(1), f(0), f(2), f(0), f(5), e[0], e[1], e[2]);
    expect(e[0][0]).toBeCloseTo(5, 5);
    expect(e[1][0]).toBeCloseTo(3, 5);
    expect(e[2][0]).toBeCloseTo(1, 5);
    eig3(f(1), f(0), f(0), f(1), f(0), f(1), e[0], e[1], e[2]);
    expect(e.map((a) => a[0])).toEqual([1, 1, 1]);
  });

  it('cos(acos(r)/3) without trigonometry is within 2e-12; eig3 within 2e-7 of the eigenvalues\' scale of the trigonometric form', () => {
    let worst = 0;
    for (let k = 0; k <= 20000; k++) {
      const r = -1 + k / 10000;
      worst = Math.max(worst, Math.abs(cosThirdAcos(r) - Math.cos(Math.acos(r) / 3)));
    }
    expect(worst).toBeLessThan(2e-12);
    // random tensors, plus ones with two equal eigenvalues (r = +-1) and diagonal ones
    const n = 30000;
    let s = 7;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 10;
    const m = Array.from({ length: 6 }, () => new Float32Array(n));
    for (let i = 0; i < n; i++) {
      const kind = i % 3;
      const d = [rnd(), rnd(), rnd()];
      if (kind === 1) d[2] = d[1]; // a double eigenvalue on the diagonal, then rotated about z by 45 degrees
      const [xx, yy, zz] = d;
      if (kind === 2) m.forEach((a, j) => (a[i] = [xx, 0, 0, yy, 0, zz][j]));
      else if (kind === 1) m.forEach((a, j) => (a[i] = [(xx + yy) / 2, (xx - yy) / 2, 0, (xx + yy) / 2, 0, zz][j]));
      else m.forEach((a, j) => (a[i] = rnd()));
    }
    const got = [0, 1, 2].map(() => new Float32Array(n));
    const want = [0, 1, 2].map(() => new Float32Array(n));
    eig3(m[0], m[1], m[2], m[3], m[4], m[5], got[0], got[1], got[2]);
    eig3Trig(m[0], m[1], m[2], m[3], m[4], m[5], want[0], want[1], want[2]);
    let rel = 0;
    for (let i = 0; i < n; i++) {
      const scale = Math.max(Math.abs(want[0][i]), Math.abs(want[2][i]), 1e-30);
      for (let k = 0; k < 3; k++) rel = Math.max(rel, Math.abs(got[k][i] - want[k][i]) / scale);
      expect(got[0][i] >= got[1][i] && got[1][i] >= got[2][i]).toBe(true);
    }
    expect(rel).toBeLessThan(2e-7);
  });

  it('eig3 in WebAssembly SIMD gives the bits of the JavaScript loop (random, double, diagonal, zero tensors; odd counts across chunks)', () => {
    expect(wasmEigenAvailable()).toBe(true);
    let s = 5;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 10;
    for (const n of [1, 7, 4096, 2 * 4096 + 3]) {
      const m = Array.from({ length: 6 }, () => new Float32Array(n));
      for (let i = 0; i < n; i++) {
        const kind = i % 4;
        const d = [rnd(), rnd(), rnd()];
        if (kind === 0) m.forEach((a) => (a[i] = rnd() * 10 ** ((i % 7) - 3)));
        else if (kind === 1) m.forEach((a, j) => (a[i] = [(d[0] + d[1]) / 2, (d[0] - d[1]) / 2, 0, (d[0] + d[1]) / 2, 0, d[1]][j]));
        else if (kind === 2) m.forEach((a, j) => (a[i] = [d[0], 0, 0, d[1], 0, d[2]][j]));
        else m.forEach((a, j) => (a[i] = i % 8 === 3 ? 0 : [d[0], 0, 0, d[0], 0, d[0]][j]));
      }
      const run = (js: boolean): Buffer[] => {
        _useJsEigen(js);
        try {
          const e = [0, 1, 2].map(() => new Float32Array(n));
          eig3(m[0], m[1], m[2], m[3], m[4], m[5], e[0], e[1], e[2]);
          return e.map((a) => Buffer.from(a.buffer));
        } finally {
          _useJsEigen(false);
        }
      };
      const [js, wasm] = [run(true), run(false)];
      for (let k = 0; k < 3; k++) expect(wasm[k].equals(js[k]), `n ${n} eigenvalue ${k}`).toBe(true);
    }
  });

  for (const [dims, steOuter] of [[2, 'half'], [3, 'half'], [2, 'sigma'], [3, 'sigma']] as const) {
    it(`blockwise with the margin equals whole-volume (${dims}-D, structure tensor outer scale ${steOuter})`, () => {
      const shape: Vec3 = [40, 36, 30];
      const raw = smoothRandom(shape);
      const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 2], dims, recursiveFrom: null, steOuter });
      const nch = featureCount(cfg);
      const whole = computeFeatures(raw, shape, cfg);
      const m = featureMargin(cfg);
      const lo: Vec3 = [14, 10, 12];
      const hi: Vec3 = [24, 20, 16];
      const rlo: Vec3 = [Math.max(0, lo[0] - m[0]), Math.max(0, lo[1] - m[1]), Math.max(0, lo[2] - m[2])];
      const rhi: Vec3 = [Math.min(shape[0], hi[0] + m[0]), Math.min(shape[1], hi[1] + m[1]), Math.min(shape[2], hi[2] + m[2])];
      const rshape: Vec3 = [rhi[0] - rlo[0], rhi[1] - rlo[1], rhi[2] - rlo[2]];
      const block = computeFeatures(crop(raw, shape, 1, rlo, rhi), rshape, cfg);
      const a = crop(whole, shape, nch, lo, hi);
      const b = crop(block, rshape, nch, [lo[0] - rlo[0], lo[1] - rlo[1], lo[2] - rlo[2]], [hi[0] - rlo[0], hi[1] - rlo[1], hi[2] - rlo[2]]);
      expect(Array.from(b)).toEqual(Array.from(a));
    });
  }
});

describe('structure tensor at vigra\'s scales (steOuter sigma)', () => {
  it('changes only the STE channels, keeps the margin, and is refused for other values', () => {
    const shape: Vec3 = [30, 28, 3];
    const raw = smoothRandom(shape, 5);
    const a = featureConfig([4, 4, 50]);
    const b = featureConfig([4, 4, 50], { steOuter: 'sigma' });
    expect(a.steOuter).toBeUndefined(); // the default configuration (and every model trained before) carries no field
    expect(b.steOuter).toBe('sigma');
    expect(featureNames(b)).toEqual(featureNames(a));
    expect(featureMargin(b)).toEqual(featureMargin(a));
    const n = shape[0] * shape[1] * shape[2];
    const fa = computeFeatures(raw, shape, a).slice();
    const fb = computeFeatures(raw, shape, b);
    featureNames(a).forEach((name, c) => {
      const same = Buffer.from(fa.buffer, c * n * 4, n * 4).equals(Buffer.from(fb.buffer, c * n * 4, n * 4));
      expect(same, name).toBe(!name.startsWith('STE'));
    });
    expect(() => featureConfig([4, 4, 50], { steOuter: 'double' as 'sigma' })).toThrow(/structure tensor outer scale: expected half or sigma, got "double"/);
  });
});

describe('features on a region of the block', () => {
  it('reuses a released stack and the last call\'s scratch with the bits of a fresh computation (2-D and 3-D, regions)', () => {
    const shape: Vec3 = [21, 18, 9];
    const [a, b] = [smoothRandom(shape, 21), smoothRandom(shape, 22)];
    for (const cfg of [featureConfig([1, 1, 1], { dims: 3 }), featureConfig([4, 4, 50])]) {
      for (const region of [undefined, { min: [2, 3, 1] as Vec3, max: [19, 15, 8] as Vec3 }]) {
        computeFeatures(smoothRandom([7, 6, 5], 1), [7, 6, 5], cfg); // another shape: nothing of this one kept
        const fresh = computeFeatures(b, shape, cfg, undefined, region).slice();
        const first = computeFeatures(a, shape, cfg, undefined, region);
        releaseFeatures(first);
        const again = computeFeatures(b, shape, cfg, undefined, region); // a's scratch and output, dirty
        expect(again).toBe(first);
        expect(Buffer.from(again.buffer).equals(Buffer.from(fresh.buffer))).toBe(true);
        releaseFeatures(again.subarray(1)); // a view is not taken
        expect(computeFeatures(b, shape, cfg, undefined, region)).not.toBe(again);
      }
    }
  });

  it('equal the whole block\'s features cropped, bit for bit (exact and recursive, 2-D and 3-D, every border mode)', () => {
    const shape: Vec3 = [23, 19, 17];
    const raw = smoothRandom(shape, 11);
    const configs = [
      featureConfig([1, 1, 1], { dims: 3 }),
      featureConfig([1, 1, 1], { dims: 3, recursiveFrom: null, mode: 'mirror' }),
      featureConfig([1, 1, 2], { dims: 3, mode: 'constant', sigmas: [0.7, 2.5] }),
      featureConfig([1, 1, 1], { dims: 3, mode: 'nearest', features: ['G', 'DoG', 'HoGE'] }),
      featureConfig([4, 4, 50]),
      featureConfig([4, 4, 50], { recursiveFrom: null, features: ['STE', 'GGM'] }),
      featureConfig([1, 1, 2], { dims: 3, steOuter: 'sigma', sigmas: [0.7, 2.5] }),
      featureConfig([4, 4, 50], { steOuter: 'sigma' }),
    ];
    const regions: Array<[Vec3, Vec3]> = [
      [[5, 4, 6], [17, 13, 11]], // inside, margins on every side
      [[0, 0, 0], [9, 19, 4]], // touching the low borders, whole y
      [[22, 18, 16], [23, 19, 17]], // one voxel in the far corner
      [[3, 0, 8], [20, 1, 9]], // one row
    ];
    for (const cfg of configs) {
      const F = featureCount(cfg);
      const full = computeFeatures(raw, shape, cfg);
      for (const [lo, hi] of regions) {
        const got = computeFeatures(raw, shape, cfg, undefined, { min: lo, max: hi });
        const want = crop(full, shape, F, lo, hi);
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `${cfg.dims}-D ${cfg.mode} recursiveFrom ${cfg.recursiveFrom} region [${lo}]-[${hi}]`).toBe(true);
      }
    }
    expect(() => computeFeatures(raw, shape, configs[0], undefined, { min: [0, 0, 0], max: [24, 1, 1] })).toThrow(/region .* is not inside the block/);
  });
});

describe('recursive (IIR) filters in the feature stack', () => {
  // Channels from sigma RECURSIVE_FROM on use the recursive filters; below it they are exact. The
  // tolerance, relative to each channel's range: 3e-2 for G (three passes of the kernels' 1.5e-2),
  // 0.1 for derivative channels, 0.12 for structure-tensor eigenvalues (products of first
  // derivatives, smoothed again).
  it('equals the exact stack below recursiveFrom and stays within tolerance above it (3-D and 2-D)', () => {
    for (const dims of [3, 2] as const) {
      const shape: Vec3 = [26, 24, 18];
      const n = shape[0] * shape[1] * shape[2];
      const raw = smoothRandom(shape, 4);
      const rec = featureConfig([1, 1, 1], { dims });
      expect(rec.recursiveFrom).toBe(RECURSIVE_FROM);
      const exact = computeFeatures(raw, shape, featureConfig([1, 1, 1], { dims, recursiveFrom: null }));
      const ours = computeFeatures(raw, shape, rec);
      featureNames(rec).forEach((name, c) => {
        let lo = Infinity, hi = -Infinity, err = 0;
        for (let i = c * n; i < (c + 1) * n; i++) {
          lo = Math.min(lo, exact[i]);
          hi = Math.max(hi, exact[i]);
          err = Math.max(err, Math.abs(exact[i] - ours[i]));
        }
        const s = Number(name.split('_')[1]);
        if (s < RECURSIVE_FROM && !name.startsWith('DoG') && !name.startsWith('STE')) expect(err, name).toBe(0);
        else expect(err / (hi - lo), name).toBeLessThan(name.startsWith('STE') ? 0.12 : name.startsWith('G_') ? 3e-2 : 0.1);
      });
    }
  });

  it('blockwise with the margin stays within 1e-2 of the channel range of whole-volume', () => {
    const shape: Vec3 = [40, 36, 30];
    const raw = smoothRandom(shape);
    const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 2], dims: 3 });
    const nch = featureCount(cfg);
    const whole = computeFeatures(raw, shape, cfg);
    const m = featureMargin(cfg);
    const lo: Vec3 = [14, 10, 12];
    const hi: Vec3 = [24, 20, 16];
    const rlo: Vec3 = [Math.max(0, lo[0] - m[0]), Math.max(0, lo[1] - m[1]), Math.max(0, lo[2] - m[2])];
    const rhi: Vec3 = [Math.min(shape[0], hi[0] + m[0]), Math.min(shape[1], hi[1] + m[1]), Math.min(shape[2], hi[2] + m[2])];
    const rshape: Vec3 = [rhi[0] - rlo[0], rhi[1] - rlo[1], rhi[2] - rlo[2]];
    const block = computeFeatures(crop(raw, shape, 1, rlo, rhi), rshape, cfg);
    const a = crop(whole, shape, nch, lo, hi);
    const b = crop(block, rshape, nch, [lo[0] - rlo[0], lo[1] - rlo[1], lo[2] - rlo[2]], [hi[0] - rlo[0], hi[1] - rlo[1], hi[2] - rlo[2]]);
    const k = a.length / nch;
    for (let c = 0; c < nch; c++) {
      let lo2 = Infinity, hi2 = -Infinity, err = 0;
      for (let i = c * k; i < (c + 1) * k; i++) {
        lo2 = Math.min(lo2, a[i]);
        hi2 = Math.max(hi2, a[i]);
        err = Math.max(err, Math.abs(a[i] - b[i]));
      }
      expect(err / (hi2 - lo2 || 1), featureNames(cfg)[c]).toBeLessThan(1e-2);
    }
  });
});

describe('feature stack matches ref_features.py --flavor plain', () => {
  for (const mode of ['reflect', 'mirror'] as const) {
    it(`G, GGM, LoG, HoGE at 0.7, 1.6, 3.5 in 3-D (${mode})`, async () => {
      const shape: Vec3 = [34, 30, 20];
      const raw = smoothRandom(shape, 11);
      const cfg = featureConfig([1, 1, 1], { sigmas: [0.7, 1.6, 3.5], features: ['G', 'GGM', 'LoG', 'HoGE'], dims: 3, mode, recursiveFrom: null });
      const ours = computeFeatures(raw, shape, cfg);
      const n = shape[0] * shape[1] * shape[2];
      const nch = 18;
      // Voxels of the sampled comparison: four corners and seeded random ones.
      const rand = mulberry32(5);
      const at = [0, shape[0] - 1, shape[0] * (shape[1] - 1), n - 1, ...Array.from({ length: SAMPLES - 4 }, () => Math.floor(rand() * n))];
      let full: Float32Array | undefined;
      const packed = asFloat32(referenceBytes(`features-${mode}`, noPy, () => {
        const dir = path.join(os.tmpdir(), `wiring-feat-${process.pid}-${mode}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'raw'), new Uint8Array(raw.buffer));
        execFileSync(PY, [REF, path.join(dir, 'raw'), '--shape', `${shape[2]},${shape[1]},${shape[0]}`, '--dtype', 'float32',
          '--mode', mode, '--out', path.join(dir, 'f')], { stdio: ['ignore', 'pipe', 'ignore'] });
        const buf = readFileSync(path.join(dir, 'f'));
        rmSync(dir, { recursive: true, force: true });
        full = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        expect(full.length).toBe(ours.length);
        // The fixture: per channel, the largest magnitude then the values at the sampled voxels.
        const p = new Float32Array(nch * (1 + SAMPLES));
        for (let c = 0; c < nch; c++) {
          let scale = 0;
          for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(full[c * n + i]));
          p[c * (1 + SAMPLES)] = scale;
          at.forEach((i, k) => (p[c * (1 + SAMPLES) + 1 + k] = full![c * n + i]));
        }
        return new Uint8Array(p.buffer);
      }));
      expect(packed.length).toBe(nch * (1 + SAMPLES));
      for (let c = 0; c < nch; c++) {
        const scale = packed[c * (1 + SAMPLES)];
        let err = 0;
        if (full) for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(full[c * n + i] - ours[c * n + i]));
        else at.forEach((i, k) => (err = Math.max(err, Math.abs(packed[c * (1 + SAMPLES) + 1 + k] - ours[c * n + i]))));
        expect(err / Math.max(scale, 1e-6), `channel ${featureNames(cfg)[c]}`).toBeLessThan(2e-5);
      }
    });
  }
});
