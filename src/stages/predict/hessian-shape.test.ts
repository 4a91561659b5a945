import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { DEFAULT_FEATURES, computeFeatures, featureConfig, featureCount, featureNames } from './features.js';
import { mulberry32 } from '../../core/random.js';

// seeded noise plus smooth structure, so second derivatives are not pure noise
function smoothRandom(shape: Vec3, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const a = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0, i = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++, i++) a[i] = 50 * rnd() + 100 * Math.sin(x / 3) * Math.cos(y / 4 + z / 5);
  return a;
}

// a field at 0 with a dark line or sheet (x in 19..20, value -160) and a dark disk or ball (radius 4 around c). The
// ground is 0 because our sampled second-derivative kernels do not sum to exactly 0: on flat ground at 200 both Hessian
// eigenvalues are -0.053 at sigma 1.6, and HoGR1 reads -0.99 there (vigra's kernels are normalised to sum 0)
function scene(shape: Vec3, c: Vec3): Float32Array {
  const a = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++) {
    for (let y = 0; y < shape[1]; y++) {
      for (let x = 0; x < shape[0]; x++) {
        const d2 = (x - c[0]) ** 2 + (y - c[1]) ** 2 + (shape[2] > 1 ? (z - c[2]) ** 2 : 0);
        if (x === 19 || x === 20 || d2 <= 16) a[x + shape[0] * (y + shape[1] * z)] = -160;
      }
    }
  }
  return a;
}

function channelAt(f: Float32Array, names: string[], name: string, shape: Vec3, p: Vec3): number {
  const n = shape[0] * shape[1] * shape[2];
  const k = names.indexOf(name);
  expect(k).toBeGreaterThanOrEqual(0);
  return f[k * n + p[0] + shape[0] * (p[1] + shape[1] * p[2])];
}

describe('HoGR (blob vs ridge of the Hessian)', () => {
  for (const dims of [2, 3] as const) {
    it(`leaves the other channels' bits as they are without it (${dims}-D)`, () => {
      const shape: Vec3 = dims === 2 ? [30, 26, 3] : [22, 20, 14];
      const raw = smoothRandom(shape, 5);
      const plain = featureConfig([1, 1, dims === 2 ? 8 : 1], { dims, sigmas: [0.7, 1.6, 3.5] });
      const withR = featureConfig([1, 1, dims === 2 ? 8 : 1], { dims, sigmas: [0.7, 1.6, 3.5], features: [...DEFAULT_FEATURES, 'HoGR'] });
      const a = computeFeatures(raw, shape, plain);
      const b = computeFeatures(raw, shape, withR);
      const n = shape[0] * shape[1] * shape[2];
      const names = featureNames(withR);
      expect(featureCount(withR)).toBe(featureCount(plain) + 2 * 3);
      expect(names.filter((s) => s.startsWith('HoGR'))).toEqual(['HoGR0_0.7', 'HoGR1_0.7', 'HoGR0_1.6', 'HoGR1_1.6', 'HoGR0_3.5', 'HoGR1_3.5']);
      featureNames(plain).forEach((name, k) => {
        const j = names.indexOf(name);
        expect(Buffer.from(b.subarray(j * n, (j + 1) * n)).equals(Buffer.from(a.subarray(k * n, (k + 1) * n))), name).toBe(true);
      });
      // a region of the block gives the whole block's bits
      const lo: Vec3 = [4, 3, 1], hi: Vec3 = [21, 17, dims === 2 ? 2 : 9];
      const r = computeFeatures(raw, shape, withR, undefined, { min: lo, max: hi });
      const rn = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
      for (let k = 0; k < names.length; k++) {
        let i = 0;
        for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++, i++) expect(r[k * rn + i]).toBe(b[k * n + x + shape[0] * (y + shape[1] * z)]);
      }
    });
  }

  it('is near 1 on a dark line, near 0 on a dark disk, positive on both (dark), 0 on flat ground; the same on a sheet and a ball in 3-D', () => {
    for (const dims of [2, 3] as const) {
      const shape: Vec3 = dims === 2 ? [64, 64, 1] : [40, 40, 40];
      const c: Vec3 = dims === 2 ? [45, 32, 0] : [32, 20, 20];
      // exact filters: the recursive ones' border start leaves small curvatures on flat ground near the volume's faces
      const cfg = featureConfig([1, 1, dims === 2 ? 8 : 1], { dims, sigmas: [1.6], features: ['HoGR'], recursiveFrom: null });
      const f = computeFeatures(scene(shape, c), shape, cfg);
      const names = featureNames(cfg);
      const mid = Math.floor(shape[1] / 2);
      const line: Vec3 = [20, dims === 2 ? 10 : mid, dims === 2 ? 0 : 8];
      const flat: Vec3 = [8, 4, dims === 2 ? 0 : 30];
      expect(channelAt(f, names, 'HoGR0_1.6', shape, line), `${dims}-D line`).toBeGreaterThan(0.8);
      expect(channelAt(f, names, 'HoGR0_1.6', shape, c), `${dims}-D disk`).toBeLessThan(0.1);
      expect(channelAt(f, names, 'HoGR1_1.6', shape, line)).toBeGreaterThan(0.3);
      expect(channelAt(f, names, 'HoGR1_1.6', shape, c)).toBeGreaterThan(0.9);
      expect(Math.abs(channelAt(f, names, 'HoGR0_1.6', shape, flat))).toBeLessThan(0.01);
      expect(Math.abs(channelAt(f, names, 'HoGR1_1.6', shape, flat))).toBeLessThan(0.01);
    }
  });
});
