import { describe, expect, it } from 'vitest';
import { dataPath, describeData } from '../../../test/data.js';
import { mulberry32 } from '../../core/random.js';
import { type Affine, apply } from './affine.js';
import { detectFeatures, gaussianBlur, matchFeatures } from './features.js';
import { type Image2D, bilinear, halve, image } from './image.js';
import { ransacAffine } from './ransac.js';
import { readSlice } from './testing.js';

/** b(x) = a(S(x)) with S a similarity about the centre plus a shift. */
function warped(a: Image2D, deg: number, s: number, tx: number, ty: number): { im: Image2D; S: Affine } {
  const t = (deg * Math.PI) / 180;
  const c = (a.w - 1) / 2;
  const m = [s * Math.cos(t), -s * Math.sin(t), s * Math.sin(t), s * Math.cos(t)];
  const S: Affine = [m[0], m[1], c + tx - m[0] * c - m[1] * c, m[2], m[3], c + ty - m[2] * c - m[3] * c];
  const im = image(a.w, a.h);
  for (let y = 0; y < a.h; y++) {
    for (let x = 0; x < a.w; x++) {
      const [X, Y] = apply(S, x, y);
      const v = bilinear(a, X, Y);
      im.data[x + a.w * y] = v === v ? v : NaN;
    }
  }
  return { im, S };
}

function fit(fa: ReturnType<typeof detectFeatures>, fb: ReturnType<typeof detectFeatures>, guide?: { dx: number; dy: number; radius: number }) {
  const m = matchFeatures(fb, fa, 0.9, guide);
  const p = { x: m.map((k) => fb.keypoints[k.i].x), y: m.map((k) => fb.keypoints[k.i].y), u: m.map((k) => fa.keypoints[k.j].x), v: m.map((k) => fa.keypoints[k.j].y) };
  return { matches: m.length, fit: ransacAffine(p, { model: 'similarity', threshold: 1, iterations: 500, seed: 1 }) };
}

describe('features: edge cases', () => {
  it('a flat or all-outside image has no keypoints and matches nothing', () => {
    const flat = detectFeatures(image(64, 64, new Float32Array(64 * 64).fill(7)));
    expect(flat.keypoints).toHaveLength(0);
    const nan = detectFeatures(image(32, 32, new Float32Array(32 * 32).fill(NaN)));
    expect(nan.keypoints).toHaveLength(0);
    expect(matchFeatures(flat, nan)).toEqual([]);
  });

  it('finds a blob at its centre and scale, and the Gaussian blur keeps the mean', () => {
    const im = image(64, 64);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) im.data[x + 64 * y] = 100 * Math.exp(-((x - 30.3) ** 2 + (y - 33.6) ** 2) / (2 * 4 * 4));
    const f = detectFeatures(im);
    expect(f.keypoints.length).toBeGreaterThan(0);
    const k = f.keypoints[0];
    expect(Math.hypot(k.x - 30.3, k.y - 33.6)).toBeLessThan(0.6);
    // a Gaussian blob of sigma 4 is found at a DoG scale near 4 / sqrt(2) .. 4
    expect(k.sigma).toBeGreaterThan(2);
    expect(k.sigma).toBeLessThan(6);
    const b = gaussianBlur(im, 2);
    const sum = (d: Float32Array) => d.reduce((s, v) => s + v, 0);
    expect(sum(b.data)).toBeCloseTo(sum(im.data), -1);
  });

  it('a guide admits only candidates near the expected place', () => {
    const r = mulberry32(3);
    const im = image(96, 96);
    for (let i = 0; i < im.data.length; i++) im.data[i] = 255 * r();
    const a = detectFeatures(gaussianBlur(im, 1.5));
    const all = matchFeatures(a, a);
    expect(all.length).toBeGreaterThan(10);
    expect(all.every((m) => m.i === m.j)).toBe(true);
    // expecting everything 40 px to the right: nothing in range matches itself
    expect(matchFeatures(a, a, 0.9, { dx: 40, dy: 0, radius: 3 }).every((m) => m.i !== m.j)).toBe(true);
  });
});

describeData('isbi2012/train/image/0.png', 'features on a real section (ISBI 2012)', () => {
  it('recover a 5 degree rotation and 3 % scale of the same section (rotation invariance)', async () => {
    const s = await readSlice(dataPath('isbi2012/train/image/0.png'));
    const a = halve(image(s.w, s.h, s.data));
    const { im, S } = warped(a, 5, 1.03, 3.3, -2.1);
    const fa = detectFeatures(a);
    const fb = detectFeatures(im);
    const { matches, fit: f } = fit(fa, fb);
    expect(matches).toBeGreaterThan(50);
    expect(f).not.toBeNull();
    expect(f!.count).toBeGreaterThan(0.8 * matches);
    for (const [x, y] of [[40, 40], [200, 60], [128, 220]]) {
      const [ex, ey] = apply(S, x, y);
      const [fx, fy] = apply(f!.affine, x, y);
      expect(Math.hypot(ex - fx, ey - fy)).toBeLessThan(0.5);
    }
  });
});
