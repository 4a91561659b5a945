/**
 * Radix-2 complex FFT (iterative Cooley-Tukey, in place) and the 2-D transform built from it.
 * Sizes are powers of two: alignment chooses its patch sizes, so no Bluestein step is needed.
 * Proven against numpy.fft.fft2 in fft.test.ts. (A maintained npm library, fft.js 4.0.4, would
 * do the 1-D part; it is not a dependency yet.)
 */
import { WiringError } from '../../core/errors.js';

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && (n & (n - 1)) === 0;
}

const twiddles = new Map<number, { cos: Float64Array; sin: Float64Array; rev: Uint32Array }>();

function plan(n: number) {
  let p = twiddles.get(n);
  if (!p) {
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    const rev = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      rev[i] = r;
    }
    p = { cos, sin, rev };
    twiddles.set(n, p);
  }
  return p;
}

/**
 * In-place FFT of n = 2^k complex values stored at re[off + i*stride], im[off + i*stride].
 * Forward: X_k = sum x_j exp(-2 pi i jk/n). Inverse (unscaled): exp(+...); divide by n yourself.
 */
export function fft1d(re: Float64Array, im: Float64Array, n: number, inverse = false, off = 0, stride = 1): void {
  if (!isPowerOfTwo(n)) throw new WiringError(`FFT size ${n} is not a power of two`);
  const { cos, sin, rev } = plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      const a = off + i * stride;
      const b = off + j * stride;
      let t = re[a];
      re[a] = re[b];
      re[b] = t;
      t = im[a];
      im[a] = im[b];
      im[b] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sign * sin[k * step];
        const a = off + (start + k) * stride;
        const b = a + half * stride;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

/** In-place 2-D FFT of a w x h complex image (x fastest). Inverse is scaled by 1/(w h). */
export function fft2d(re: Float64Array, im: Float64Array, w: number, h: number, inverse = false): void {
  if (re.length !== w * h || im.length !== w * h) throw new WiringError(`FFT image of ${re.length} values, expected ${w}x${h}`);
  for (let y = 0; y < h; y++) fft1d(re, im, w, inverse, y * w, 1);
  for (let x = 0; x < w; x++) fft1d(re, im, h, inverse, x, w);
  if (inverse) {
    const s = 1 / (w * h);
    for (let i = 0; i < w * h; i++) {
      re[i] *= s;
      im[i] *= s;
    }
  }
}
