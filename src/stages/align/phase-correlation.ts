/**
 * Phase correlation of two equal-size square patches: the displacement d such that
 * fixed(p) ~ moving(p + d), found as the peak of the inverse FFT of the whitened cross-power
 * spectrum, refined to subpixel precision by an upsampled DFT around the peak (the matrix-product
 * DFT of Guizar-Sicairos et al. 2008, the method scikit-image's phase_cross_correlation uses).
 * The peak ratio (peak over the highest value away from it) says how trustworthy the match is.
 */
import { WiringError } from '../../core/errors.js';
import { fft2d, isPowerOfTwo } from './fft.js';

export interface PhaseCorrelation {
  dx: number;
  dy: number;
  /** Height of the correlation peak (1 = perfect match of whitened spectra). */
  peak: number;
  /** Peak over the highest value farther than 2 px from it (>= 1; noise gives ~1.2-1.5). */
  ratio: number;
}

export interface PhaseOptions {
  /** Subpixel resolution 1/upsample (default 20; 1 = integer peak only). */
  upsample?: number;
  /** Largest |dx|, |dy| searched, px (default n/4: larger shifts wrap around and are unreliable). */
  maxShift?: number;
  /** Gaussian low-pass of the correlation, sigma px (default 0): neighbouring sections share coarse structure, not fine texture. */
  lowpass?: number;
  /** Whitening floor as a fraction of the mean cross-power magnitude (default WHITEN_EPS; large = plain cross-correlation). */
  whiten?: number;
}

/** Whitening floor as a fraction of the mean cross-power magnitude (chosen on ISBI patches, see docs/ALIGNMENT.md). */
const WHITEN_EPS = 0.1;
const windows = new Map<number, Float64Array>();
function hann(n: number): Float64Array {
  let w = windows.get(n);
  if (!w) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
    windows.set(n, w);
  }
  return w;
}

/** Patch minus its mean, times a 2-D Hann window (values NaN count as the mean). */
function prepare(p: ArrayLike<number>, n: number, re: Float64Array): void {
  let s = 0;
  let c = 0;
  for (let i = 0; i < n * n; i++) {
    const v = p[i];
    if (v === v) {
      s += v;
      c++;
    }
  }
  const mean = c ? s / c : 0;
  const w = hann(n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v = p[x + n * y];
      re[x + n * y] = ((v === v ? v : mean) - mean) * w[x] * w[y];
    }
  }
}

/**
 * Phase correlation of two n x n patches (n a power of two, x fastest).
 * Returns d with fixed(p) ~ moving(p + d).
 */
export function phaseCorrelate(fixed: ArrayLike<number>, moving: ArrayLike<number>, n: number, opts: PhaseOptions = {}): PhaseCorrelation {
  if (!isPowerOfTwo(n) || n < 4) throw new WiringError(`phase correlation patch size ${n}: expected a power of two >= 4`);
  if (fixed.length !== n * n || moving.length !== n * n) throw new WiringError(`phase correlation patches must have ${n * n} values`);
  const N = n * n;
  const ar = new Float64Array(N);
  const ai = new Float64Array(N);
  const br = new Float64Array(N);
  const bi = new Float64Array(N);
  prepare(fixed, n, ar);
  prepare(moving, n, br);
  fft2d(ar, ai, n, n);
  fft2d(br, bi, n, n);
  // R = B conj(A) / |B conj(A)|: its inverse transform peaks at +d.
  const rr = new Float64Array(N);
  const ri = new Float64Array(N);
  let meanMag = 0;
  for (let i = 0; i < N; i++) {
    rr[i] = br[i] * ar[i] + bi[i] * ai[i];
    ri[i] = bi[i] * ar[i] - br[i] * ai[i];
    meanMag += Math.hypot(rr[i], ri[i]);
  }
  // Whitening regularized by a fraction of the mean magnitude, so that frequencies with no
  // signal (blurred images) do not contribute amplified noise.
  const eps = (opts.whiten ?? WHITEN_EPS) * (meanMag / N) + 1e-12;
  let norm = 0;
  for (let i = 0; i < N; i++) {
    const m = Math.hypot(rr[i], ri[i]) + eps;
    rr[i] /= m;
    ri[i] /= m;
    norm += Math.hypot(rr[i], ri[i]);
  }
  const lp = opts.lowpass ?? 0;
  for (let y = 0; y < n; y++) {
    const fy = (y >= n / 2 ? y - n : y) / n;
    for (let x = 0; x < n; x++) {
      const fx = (x >= n / 2 ? x - n : x) / n;
      const g = lp > 0 ? Math.exp(-2 * Math.PI * Math.PI * lp * lp * (fx * fx + fy * fy)) : 1;
      rr[x + n * y] *= (g * N) / norm;
      ri[x + n * y] *= (g * N) / norm;
    }
  }
  const cr = rr.slice();
  const ci = ri.slice();
  fft2d(cr, ci, n, n, true);
  const maxShift = Math.min(opts.maxShift ?? n / 4, n / 2 - 1);
  const wrap = (k: number) => (k >= n / 2 ? k - n : k);
  let best = -Infinity;
  let bx = 0;
  let by = 0;
  for (let y = 0; y < n; y++) {
    const sy = wrap(y);
    if (Math.abs(sy) > maxShift) continue;
    for (let x = 0; x < n; x++) {
      const sx = wrap(x);
      if (Math.abs(sx) > maxShift) continue;
      const v = cr[x + n * y];
      if (v > best) {
        best = v;
        bx = sx;
        by = sy;
      }
    }
  }
  let second = 0;
  for (let y = 0; y < n; y++) {
    const sy = wrap(y);
    for (let x = 0; x < n; x++) {
      const sx = wrap(x);
      const ddx = Math.abs(sx - bx);
      const ddy = Math.abs(sy - by);
      if (Math.min(ddx, n - ddx) <= 2 && Math.min(ddy, n - ddy) <= 2) continue;
      if (cr[x + n * y] > second) second = cr[x + n * y];
    }
  }
  const ratio = best > 0 ? best / Math.max(second, 1e-9) : 0;
  const up = Math.max(1, Math.round(opts.upsample ?? 20));
  if (up === 1 || !(best > 0)) return { dx: bx, dy: by, peak: best, ratio };
  const fine = upsampledPeak(rr, ri, n, bx, by, up);
  return { dx: fine.x, dy: fine.y, peak: fine.value, ratio };
}

/**
 * The inverse DFT of spectrum (re, im) evaluated on a grid of spacing 1/up over 1.5 px around
 * (x0, y0), by two matrix products; returns the grid maximum.
 */
function upsampledPeak(re: Float64Array, im: Float64Array, n: number, x0: number, y0: number, up: number) {
  const m = Math.ceil(1.5 * up);
  const half = Math.floor(m / 2);
  const freq = new Float64Array(n);
  for (let k = 0; k < n; k++) freq[k] = k >= n / 2 ? k - n : k;
  const xs = new Float64Array(m);
  const ys = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    xs[j] = x0 + (j - half) / up;
    ys[j] = y0 + (j - half) / up;
  }
  // T[kv][j] = sum_ku R[kv][ku] exp(2 pi i ku xs[j] / n)
  const tr = new Float64Array(n * m);
  const ti = new Float64Array(n * m);
  const er = new Float64Array(n * m);
  const ei = new Float64Array(n * m);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < m; j++) {
      const a = (2 * Math.PI * freq[k] * xs[j]) / n;
      er[k * m + j] = Math.cos(a);
      ei[k * m + j] = Math.sin(a);
    }
  }
  for (let kv = 0; kv < n; kv++) {
    for (let j = 0; j < m; j++) {
      let sr = 0;
      let si = 0;
      for (let ku = 0; ku < n; ku++) {
        const xr = re[ku + n * kv];
        const xi = im[ku + n * kv];
        const wr = er[ku * m + j];
        const wi = ei[ku * m + j];
        sr += xr * wr - xi * wi;
        si += xr * wi + xi * wr;
      }
      tr[kv * m + j] = sr;
      ti[kv * m + j] = si;
    }
  }
  let best = -Infinity;
  let bx = x0;
  let by = y0;
  const fr = new Float64Array(n);
  const fi = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let kv = 0; kv < n; kv++) {
      const a = (2 * Math.PI * freq[kv] * ys[i]) / n;
      fr[kv] = Math.cos(a);
      fi[kv] = Math.sin(a);
    }
    for (let j = 0; j < m; j++) {
      let sr = 0;
      for (let kv = 0; kv < n; kv++) sr += tr[kv * m + j] * fr[kv] - ti[kv * m + j] * fi[kv];
      if (sr > best) {
        best = sr;
        bx = xs[j];
        by = ys[i];
      }
    }
  }
  return { x: bx, y: by, value: best / (n * n) };
}
