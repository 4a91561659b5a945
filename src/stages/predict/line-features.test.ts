import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../core/box.js';
import { mulberry32 } from '../../core/random.js';
import { computeFeatures, featureConfig, featureMargin, featureNames } from './features.js';

function smoothRandom(shape: Vec3, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const a = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0, i = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++, i++) a[i] = 50 * rnd() + 100 * Math.sin(x / 3 + z) * Math.cos(y / 4);
  return a;
}

describe('LINE features (oriented line filters)', () => {
  const base = ['G', 'GGM', 'HoGE'] as const;
  it('adds max, min and max - min per scale and leaves the other channels as they are', () => {
    const shape: Vec3 = [40, 36, 2];
    const raw = smoothRandom(shape, 1);
    const plain = featureConfig([4, 4, 50], { sigmas: [0.7, 1.6], features: [...base] });
    const line = featureConfig([4, 4, 50], { sigmas: [0.7, 1.6], features: [...base, 'LINE'] });
    const names = featureNames(line);
    expect(names).toEqual(['G_0.7', 'GGM_0.7', 'HoGE0_0.7', 'HoGE1_0.7', 'LINE0_0.7', 'LINE1_0.7', 'LINE2_0.7',
      'G_1.6', 'GGM_1.6', 'HoGE0_1.6', 'HoGE1_1.6', 'LINE0_1.6', 'LINE1_1.6', 'LINE2_1.6']);
    const n = shape[0] * shape[1] * shape[2];
    const a = computeFeatures(raw, shape, plain).slice();
    const b = computeFeatures(raw, shape, line);
    const plainNames = featureNames(plain);
    for (let c = 0; c < plainNames.length; c++) {
      const k = names.indexOf(plainNames[c]);
      expect(b.subarray(k * n, (k + 1) * n)).toEqual(a.subarray(c * n, (c + 1) * n));
    }
    for (const s of [0.7, 1.6]) {
      const [l0, l1, l2] = [0, 1, 2].map((j) => names.indexOf(`LINE${j}_${s}`));
      let lines = 0;
      for (let i = 0; i < n; i++) {
        expect(b[l0 * n + i]).toBeGreaterThanOrEqual(b[l1 * n + i]);
        expect(b[l2 * n + i]).toBe(Math.fround(b[l0 * n + i] - b[l1 * n + i]));
        if (b[l2 * n + i] > 0) lines++;
      }
      expect(lines).toBeGreaterThan(n / 2);
    }
  });

  it('gives the whole-volume bits on a block read with the feature margin, and on a region of the block', () => {
    const shape: Vec3 = [140, 120, 3];
    const raw = smoothRandom(shape, 2);
    const cfg = featureConfig([4, 4, 50], { sigmas: [1.6, 3.5], features: ['G', 'LINE'] });
    const whole = computeFeatures(raw, shape, cfg).slice();
    const m = featureMargin(cfg);
    expect(m[0]).toBeGreaterThan(30);
    expect(m[2]).toBe(0);
    const lo: Vec3 = [70, 50, 1], hi: Vec3 = [90, 66, 3];
    const c0: Vec3 = [Math.max(0, lo[0] - m[0]), Math.max(0, lo[1] - m[1]), lo[2]];
    const c1: Vec3 = [Math.min(shape[0], hi[0] + m[0]), Math.min(shape[1], hi[1] + m[1]), hi[2]];
    const bs: Vec3 = [c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2]];
    const block = new Float32Array(bs[0] * bs[1] * bs[2]);
    for (let z = 0; z < bs[2]; z++) for (let y = 0; y < bs[1]; y++) {
      const s = c0[0] + shape[0] * (c0[1] + y + shape[1] * (c0[2] + z));
      block.set(raw.subarray(s, s + bs[0]), bs[0] * (y + bs[1] * z));
    }
    const region = { min: [lo[0] - c0[0], lo[1] - c0[1], 0] as Vec3, max: [hi[0] - c0[0], hi[1] - c0[1], bs[2]] as Vec3 };
    const part = computeFeatures(block, bs, cfg, undefined, region);
    const nr = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    const nw = shape[0] * shape[1] * shape[2];
    const names = featureNames(cfg);
    for (let c = 0; c < names.length; c++) {
      let i = 0;
      for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++, i++) {
        const w = whole[c * nw + x + shape[0] * (y + shape[1] * z)];
        if (names[c].startsWith('LINE')) expect(part[c * nr + i]).toBe(w);
        else expect(Math.abs(part[c * nr + i] - w)).toBeLessThan(1e-3 * (1 + Math.abs(w))); // recursive G at 3.5
      }
    }
  });

  it('is 2-D only, and named among the features', () => {
    expect(() => featureConfig([8, 8, 8], { features: ['G', 'LINE'] })).toThrow(/LINE \(oriented line filters\) is 2-D only/);
    expect(() => featureConfig([4, 6, 50], { features: ['G', 'LINE'] })).toThrow(/equal x and y voxel sizes/);
    expect(() => featureConfig([4, 4, 50], { features: ['G', 'LINES' as 'LINE'] })).toThrow(/unknown feature "LINES"; expected some of .*HoGR,LINE/);
  });
});
