/**
 * Probability calibration: isotonic regression (pool-adjacent-violators) of "is this class" on the
 * forest's probability, fitted on out-of-fold maps of the training region (auto-context.ts
 * outOfFoldMap), so that a probability means the frequency of the class among voxels the forest
 * has not seen. A forest trained on class-balanced samples over-states rare classes (a cleft
 * voxel is sampled as often as a cytoplasm one); the calibrated map does not, and a cut chosen on
 * calibrated out-of-fold maps means the same on a new volume's calibrated map.
 *
 * Stored in the model (meta.calibration) as monotone knots; applied by linear interpolation
 * between knots (constant beyond the ends).
 */
import { UsageError } from '../../core/errors.js';

export interface Calibration {
  /** knot positions (increasing forest probabilities) */
  x: number[];
  /** calibrated probability at each knot (non-decreasing) */
  y: number[];
}

/** Histogram bins of the forest probability the fit pools over. */
export const CALIBRATION_BINS = 500;

/**
 * Isotonic fit of truth (1/0; voxels with truth -1 are ignored) on p. Weighted PAV over
 * CALIBRATION_BINS equal-width bins of p; knots at the pooled blocks' mean p.
 */
export function fitIsotonic(p: Float32Array, truth: (i: number) => number): Calibration {
  const B = CALIBRATION_BINS;
  const cnt = new Float64Array(B), pos = new Float64Array(B), sp = new Float64Array(B);
  for (let i = 0; i < p.length; i++) {
    const t = truth(i);
    if (t < 0) continue;
    const v = p[i];
    const b = Math.min(B - 1, Math.max(0, Math.floor(v * B)));
    cnt[b]++;
    sp[b] += v;
    if (t > 0) pos[b]++;
  }
  // blocks: [weight, positives, sum p]
  const w: number[] = [], s: number[] = [], q: number[] = [];
  for (let b = 0; b < B; b++) {
    if (cnt[b] === 0) continue;
    w.push(cnt[b]);
    s.push(pos[b]);
    q.push(sp[b]);
    while (w.length > 1 && s[s.length - 2] / w[w.length - 2] > s[s.length - 1] / w[w.length - 1]) {
      const ww = w.pop()!, ss = s.pop()!, qq = q.pop()!;
      w[w.length - 1] += ww;
      s[s.length - 1] += ss;
      q[q.length - 1] += qq;
    }
  }
  if (w.length === 0) throw new UsageError('calibration: no labelled voxels');
  const x = w.map((ww, k) => +(q[k] / ww).toFixed(6));
  const y = w.map((ww, k) => +(s[k] / ww).toFixed(6));
  return { x, y };
}

/** Calibrated probability of one forest probability. */
export function calibrate(c: Calibration, v: number): number {
  const { x, y } = c;
  if (v <= x[0]) return y[0];
  const n = x.length;
  if (v >= x[n - 1]) return y[n - 1];
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (x[m] <= v) lo = m;
    else hi = m;
  }
  const t = (v - x[lo]) / (x[hi] - x[lo] || 1);
  return y[lo] + t * (y[hi] - y[lo]);
}

/** Calibrate a probability array in place. */
export function calibrateInPlace(c: Calibration, p: Float32Array): void {
  for (let i = 0; i < p.length; i++) p[i] = calibrate(c, p[i]);
}

/** Check a calibration read from a model file (throws a message; the caller adds the file). */
export function checkCalibration(c: unknown, what: string): Calibration {
  const o = c as Partial<Calibration> | null;
  if (!o || !Array.isArray(o.x) || !Array.isArray(o.y) || o.x.length === 0 || o.x.length !== o.y.length) throw new Error(`${what} must hold knots x and y of the same non-zero length`);
  for (let i = 0; i < o.x.length; i++) {
    const xi = o.x[i], yi = o.y[i];
    if (typeof xi !== 'number' || typeof yi !== 'number' || !(yi >= 0 && yi <= 1) || (i > 0 && (xi < o.x[i - 1] || yi < o.y[i - 1]))) {
      throw new Error(`${what} knot ${i} (${JSON.stringify(xi)}, ${JSON.stringify(yi)}) is not increasing within [0, 1]`);
    }
  }
  return o as Calibration;
}
