/**
 * One section as a float image (x fastest) and the sampling the aligner needs: bilinear and
 * nearest lookups with a fill value outside, mean-downsampling by 2, statistics, patches.
 */
import { WiringError } from '../../core/errors.js';
import { gaussianFilter } from '../../kernels/filters.js';

export interface Image2D {
  data: Float32Array;
  w: number;
  h: number;
}

export function image(w: number, h: number, data?: Float32Array): Image2D {
  const d = data ?? new Float32Array(w * h);
  if (d.length !== w * h) throw new WiringError(`image data has ${d.length} values, expected ${w}x${h}`);
  return { data: d, w, h };
}

/** Bilinear sample at (x, y) (pixel centres at integers); NaN outside [0, w-1] x [0, h-1]. */
export function bilinear(im: Image2D, x: number, y: number): number {
  const { w, h, data } = im;
  if (!(x >= 0 && y >= 0 && x <= w - 1 && y <= h - 1)) return NaN;
  let x0 = Math.floor(x);
  let y0 = Math.floor(y);
  if (x0 === w - 1) x0 = Math.max(0, w - 2);
  if (y0 === h - 1) y0 = Math.max(0, h - 2);
  const fx = x - x0;
  const fy = y - y0;
  const i = x0 + w * y0;
  const x1 = w > 1 ? 1 : 0;
  const y1 = h > 1 ? w : 0;
  const a = data[i] + fx * (data[i + x1] - data[i]);
  const b = data[i + y1] + fx * (data[i + y1 + x1] - data[i + y1]);
  return a + fy * (b - a);
}

/** Nearest sample (rounding half up); NaN outside. */
export function nearest(im: Image2D, x: number, y: number): number {
  const xi = Math.floor(x + 0.5);
  const yi = Math.floor(y + 0.5);
  if (xi < 0 || yi < 0 || xi >= im.w || yi >= im.h) return NaN;
  return im.data[xi + im.w * yi];
}

/** Mean of 2x2 pixels (odd edges: the last row/column averages what exists; NaN pixels (masked) are left out, NaN where all are). */
export function halve(im: Image2D): Image2D {
  const w = Math.max(1, Math.ceil(im.w / 2));
  const h = Math.max(1, Math.ceil(im.h / 2));
  const out = image(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = 2 * y + dy;
        if (yy >= im.h) continue;
        for (let dx = 0; dx < 2; dx++) {
          const xx = 2 * x + dx;
          if (xx >= im.w) continue;
          const v = im.data[xx + im.w * yy];
          if (v !== v) continue;
          s += v;
          n++;
        }
      }
      out.data[x + w * y] = n ? s / n : NaN;
    }
  }
  return out;
}

/** Mean and standard deviation of the finite values (NaN = outside) and how many there were. */
export function stats(data: ArrayLike<number>): { mean: number; std: number; n: number } {
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== v) continue;
    s += v;
    s2 += v * v;
    n++;
  }
  if (n === 0) return { mean: 0, std: 0, n: 0 };
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)), n };
}

/** Pearson correlation of two images over the pixels finite in both (NaN when fewer than 16). */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== x || y !== y) continue;
    n++;
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  if (n < 16) return NaN;
  const cov = sab / n - (sa / n) * (sb / n);
  const va = saa / n - (sa / n) ** 2;
  const vb = sbb / n - (sb / n) ** 2;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : NaN;
}

/**
 * Local contrast normalisation (a flat field for matching, never for rendering): each pixel's
 * departure from a Gaussian-weighted local mean (sigma px), divided by the local standard deviation
 * of the same window, then put back on the image's own global mean and standard deviation, so that
 * grey-level thresholds (minStd) keep their meaning. Removes a smooth gain and offset across the
 * field (uneven illumination, vignetting) at scales well above sigma. NaN pixels (masked) stay NaN
 * and do not enter the local statistics (normalised convolution). sigma <= 0 returns the image.
 */
export function flatField(im: Image2D, sigma: number): Image2D {
  if (!(sigma > 0)) return im;
  const { w, h, data } = im;
  const n = w * h;
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const v2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (x === x) {
      m[i] = 1;
      v[i] = x;
      v2[i] = x * x;
    }
  }
  const g = stats(data);
  const opts = { mode: 'reflect' as const, truncate: 3 };
  const sm = gaussianFilter(m, [w, h, 1], [sigma, sigma, 0], 0, opts);
  const sv = gaussianFilter(v, [w, h, 1], [sigma, sigma, 0], 0, opts);
  const sv2 = gaussianFilter(v2, [w, h, 1], [sigma, sigma, 0], 0, opts);
  const out = new Float32Array(n);
  // floor of the local std: a tenth of the global one (flat regions are not blown up into noise)
  const floor = 0.1 * g.std;
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (x !== x || !(sm[i] > 1e-6)) {
      out[i] = Number.NaN;
      continue;
    }
    const mu = sv[i] / sm[i];
    const sd = Math.sqrt(Math.max(0, sv2[i] / sm[i] - mu * mu));
    out[i] = g.mean + (g.std * (x - mu)) / Math.max(sd, floor);
  }
  return { w, h, data: out };
}
