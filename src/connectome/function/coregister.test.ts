import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { type Landmark, type Point3, applyTransform, coregister, fitAffine, fitSpline, parseTransform, solve } from './coregister.js';

/** EM nm -> 2-photon µm: a rotation about y, anisotropic scale, a shift, and (optionally) a smooth warp. */
function truth(warp: number) {
  const th = 0.3;
  const c = Math.cos(th), s = Math.sin(th);
  return (p: Point3): Point3 => {
    const [x, y, z] = [p[0] / 1000, p[1] / 1000, p[2] / 1000]; // nm -> µm
    const q: Point3 = [1.1 * (c * x + s * z) + 12, 0.95 * y - 40, 1.05 * (-s * x + c * z) + 300];
    q[0] += warp * Math.sin(y / 80);
    q[2] += warp * Math.cos(x / 90);
    return q;
  };
}

function landmarks(n: number, f: (p: Point3) => Point3, seed = 7, noise = 0): Landmark[] {
  const rnd = mulberry32(seed);
  const out: Landmark[] = [];
  for (let i = 0; i < n; i++) {
    const p: Point3 = [rnd() * 400_000, rnd() * 300_000, rnd() * 200_000];
    const t = f(p).map((v) => v + noise * (rnd() - 0.5)) as Point3;
    out.push({ source: p, target: t, name: `L${i}` });
  }
  return out;
}

describe('landmark coregistration', () => {
  it('solves a linear system with pivoting', () => {
    const M = Float64Array.from([0, 2, 1, 1, 1, 0, 3, 0, 1]);
    const x = solve(M, 3, Float64Array.from([5, 3, 7]), 1);
    // check M x = b
    expect(0 * x[0] + 2 * x[1] + 1 * x[2]).toBeCloseTo(5, 10);
    expect(1 * x[0] + 1 * x[1] + 0 * x[2]).toBeCloseTo(3, 10);
    expect(3 * x[0] + 0 * x[1] + 1 * x[2]).toBeCloseTo(7, 10);
  });

  it('recovers an exact affine (nm to µm) and maps new points', () => {
    const f = truth(0);
    const t = fitAffine(landmarks(6, f));
    for (const p of landmarks(20, f, 99)) {
      const q = applyTransform(t, p.source);
      for (let a = 0; a < 3; a++) expect(q[a]).toBeCloseTo(p.target[a], 6);
    }
  });

  it('a thin-plate spline interpolates its landmarks and predicts a smooth warp better than the affine', () => {
    const f = truth(6);
    const lms = landmarks(60, f);
    const tps = coregister(lms, 'tps');
    const aff = coregister(lms, 'affine');
    expect(tps.fit_rms).toBeLessThan(1e-6);
    expect(tps.loo_median).toBeLessThan(aff.loo_median / 2);
    // held-out points
    const test = landmarks(200, f, 123);
    const err = (t: typeof tps.transform) => test.reduce((s, l) => s + Math.hypot(...(applyTransform(t, l.source).map((v, a) => v - l.target[a]) as Point3)), 0) / test.length;
    expect(err(tps.transform)).toBeLessThan(err(aff.transform) / 2);
    // smoothing: a large lambda tends to the affine
    const smooth = fitSpline(lms, 1e9);
    expect(err(smooth)).toBeCloseTo(err(aff.transform), 1);
  });

  it('reports leave-one-out residuals close to the noise on a noisy affine', () => {
    const f = truth(0);
    const rep = coregister(landmarks(30, f, 5, 2), 'affine');
    expect(rep.residuals).toHaveLength(30);
    expect(rep.loo_median).toBeGreaterThan(0.1);
    expect(rep.loo_median).toBeLessThan(3);
    expect(rep.loo_p95).toBeGreaterThanOrEqual(rep.loo_median);
    for (const r of rep.residuals) expect(r.loo).toBeGreaterThanOrEqual(r.fit * 0.5);
  });

  it('refuses too few, degenerate or non-finite landmarks, and bad transform files', () => {
    const f = truth(0);
    expect(() => fitAffine(landmarks(3, f))).toThrow(/at least 4 landmark/);
    const planar = landmarks(8, f).map((l) => ({ ...l, source: [l.source[0], l.source[1], 0] as Point3 }));
    expect(() => fitAffine(planar)).toThrow(/degenerate/);
    const bad = landmarks(6, f);
    bad[2].target[1] = NaN;
    expect(() => fitAffine(bad)).toThrow(/landmark L2: coordinates must be finite/);
    expect(() => parseTransform({ kind: 'rigid' }, 't.json')).toThrow(/t.json: not a coregistration transform/);
    expect(() => parseTransform({ kind: 'affine', matrix: [[1, 0, 0]] }, 't.json')).toThrow(/3 rows of 4/);
    const ok = fitAffine(landmarks(5, f));
    expect(parseTransform(JSON.parse(JSON.stringify(ok)), 't.json')).toEqual(ok);
  });
});
