import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { type Affine, apply, compose, fitAffine, invert } from './affine.js';
import { ransacAffine } from './ransac.js';

function rotation(deg: number, s: number, tx: number, ty: number): Affine {
  const a = (deg * Math.PI) / 180;
  return [s * Math.cos(a), -s * Math.sin(a), tx, s * Math.sin(a), s * Math.cos(a), ty];
}

function pairs(m: Affine, n: number, seed: number, noise = 0) {
  const r = mulberry32(seed);
  const x: number[] = [];
  const y: number[] = [];
  const u: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(r() * 500);
    y.push(r() * 400);
    const [a, b] = apply(m, x[i], y[i]);
    u.push(a + (r() - 0.5) * noise);
    v.push(b + (r() - 0.5) * noise);
  }
  return { x, y, u, v };
}

describe('affine', () => {
  it('composes and inverts', () => {
    const m: Affine = [1.1, 0.2, 5, -0.1, 0.9, -3];
    const q = compose(m, invert(m));
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(q[i]).toBeCloseTo(v, 12));
    const [x, y] = apply(compose(m, [1, 0, 2, 0, 1, 3]), 1, 1);
    const [x2, y2] = apply(m, 3, 4);
    expect(x).toBeCloseTo(x2, 12);
    expect(y).toBeCloseTo(y2, 12);
    expect(() => invert([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
  });

  it('fits each model exactly to exact pairs', () => {
    const cases: Array<[Affine, 'rigid' | 'similarity' | 'affine']> = [
      [rotation(3, 1, 12.5, -7), 'rigid'],
      [rotation(-4, 1.03, -2, 9), 'similarity'],
      [[1.02, 0.05, 3, -0.03, 0.97, -4], 'affine'],
    ];
    for (const [m, model] of cases) {
      const f = fitAffine(pairs(m, 20, 1), model)!;
      m.forEach((v, i) => expect(f[i]).toBeCloseTo(v, 8));
    }
    expect(fitAffine({ x: [1, 2], y: [1, 2], u: [1, 2], v: [1, 2] }, 'affine')).toBeNull();
  });

  it('RANSAC ignores 30% gross outliers', () => {
    const m = rotation(2, 1.01, 20, -15);
    const p = pairs(m, 100, 2, 0.2);
    const r = mulberry32(9);
    for (let i = 0; i < 30; i++) {
      p.u[i] += 20 + r() * 50;
      p.v[i] -= 10 + r() * 50;
    }
    const res = ransacAffine(p, { model: 'similarity', threshold: 1, iterations: 200, seed: 1 })!;
    expect(res.count).toBe(70);
    expect(res.inliers.slice(0, 30).every((b) => !b)).toBe(true);
    const [x, y] = apply(res.affine, 250, 200);
    const [tx, ty] = apply(m, 250, 200);
    expect(Math.hypot(x - tx, y - ty)).toBeLessThan(0.1);
    expect(ransacAffine({ x: [], y: [], u: [], v: [] }, { model: 'rigid', threshold: 1, iterations: 10, seed: 1 })).toBeNull();
  });
});
