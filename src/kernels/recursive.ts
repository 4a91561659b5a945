/**
 * Recursive (IIR) Gaussian smoothing and derivatives whose cost per voxel does not grow with sigma:
 * the third-order recursive Gaussian of Young & van Vliet (Signal Processing 44, 1995: one causal and
 * one anti-causal pass of 3 feedback taps each) with the poles of van Vliet, Young & Verbeek (1998)
 * scaled to the exact variance, on float32 volumes [x, y, z] (x fastest).
 *
 * Derivatives are five-point differences of the recursively smoothed line, so one recursion serves
 * orders 0, 1 and 2: (-f[i+2] + 8 f[i+1] - 8 f[i-1] + f[i-2]) / 12 has the frequency response
 * w (1 - w^4/30 + ...) and (-f[i+2] + 16 f[i+1] - 30 f[i] + 16 f[i-1] - f[i-2]) / 12 has
 * -w^2 (1 - w^4/90 + ...), both within 1e-3 of the analytic derivative where a Gaussian of
 * sigma >= 1 leaves any signal (w <= 0.8).
 *
 * Borders: each line is extended by `recursivePad(sigma)` voxels on both sides with the border mode
 * of filters.ts (same reflection tables), and the recursions start in the steady state of the first
 * (last) extended value, so the result approaches the FIR filter's on the same extension. The
 * response is infinite in principle: values more than `recursivePad` voxels away change a result by
 * less than the stated tolerance, not by exactly zero (blockwise results are not bit-identical to
 * whole-volume ones, unlike the FIR filters).
 *
 * Accuracy against the exact (FIR, truncate 4) filters, asserted by recursive.test.ts on a smooth
 * random volume for sigma >= 1.5, every axis and border mode, relative to each output's range:
 * order 0 within 1.5e-2, order 1 within 4e-2, order 2 within 8e-2 (the third-order recursion's
 * kernel is not exactly Gaussian; the second derivative magnifies the difference). Sigma below
 * MIN_RECURSIVE_SIGMA is refused: use the FIR filters there (they are cheap at small sigma anyway).
 *
 * The passes run in WebAssembly SIMD (recursive-wasm.ts, same bits); the JavaScript recursion here is
 * the fallback where WebAssembly SIMD is unavailable and the tests' reference.
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';
import { type BorderMode, borderIndex } from './filters.js';
import { recursiveDerivativesWasm } from './recursive-wasm.js';

/** Smallest sigma the recursive filters accept (below a voxel the third-order kernel and the five-point differences lose accuracy). */
export const MIN_RECURSIVE_SIGMA = 1;

/**
 * Feedback coefficients of the third-order recursive Gaussian for sigma:
 * w[n] = B x[n] + b1 w[n-1] + b2 w[n-2] + b3 w[n-3]. Poles of van Vliet, Young & Verbeek (ICPR 1998,
 * the L-infinity optimal set: 1.40098 +- 1.00236i, 1.85132) scaled as d^(1/q), with q found by
 * bisection so that the variance of the forward-backward filter, sum_i 2 d_i / (d_i - 1)^2, is
 * exactly sigma^2 (Young & van Vliet's closed-form q of 1995 is off by a few percent).
 */
export function yvvCoefficients(sigma: number): { B: number; b1: number; b2: number; b3: number } {
  if (!(sigma >= 0.5) || !Number.isFinite(sigma)) throw new UsageError(`recursive Gaussian: sigma must be at least 0.5, got ${sigma}`);
  const poles = (q: number): [number, number, number] => {
    // complex pole re + i im raised to 1/q, and the real pole
    const r = Math.hypot(1.40098, 1.00236) ** (1 / q);
    const t = Math.atan2(1.00236, 1.40098) / q;
    return [r * Math.cos(t), r * Math.sin(t), 1.85132 ** (1 / q)];
  };
  const variance = (q: number): number => {
    const [re, im, d3] = poles(q);
    // 2 * Re(2 d / (d - 1)^2) for the conjugate pair, + 2 d3 / (d3 - 1)^2
    const ar = re - 1;
    const den = (ar * ar - im * im) ** 2 + (2 * ar * im) ** 2; // |(d-1)^2|^2
    const nr = re * (ar * ar - im * im) + im * (2 * ar * im); // Re(d * conj((d-1)^2))
    return (4 * nr) / den + (2 * d3) / ((d3 - 1) * (d3 - 1));
  };
  let lo = 0.1;
  let hi = 4 * sigma + 10;
  for (let it = 0; it < 100; it++) {
    const mid = 0.5 * (lo + hi);
    if (variance(mid) < sigma * sigma) lo = mid;
    else hi = mid;
  }
  const [re, im, d3] = poles(0.5 * (lo + hi));
  // prod (d_i - z^-1) / prod d_i = 1 - a1 z^-1 + a2 z^-2 - a3 z^-3
  const m2 = re * re + im * im; // d1 d2
  const P = m2 * d3;
  const b1 = (m2 + 2 * re * d3) / P;
  const b2 = -(2 * re + d3) / P;
  const b3 = 1 / P;
  return { B: 1 - (b1 + b2 + b3), b1, b2, b3 };
}

/** Voxels each line is extended by on both sides for sigma (longer extensions change no result by more than 1e-3 of its range: recursive.test.ts). */
export function recursivePad(sigma: number): number {
  return Math.ceil(3 * sigma) + 3;
}

type Coefficients = { B: number; b1: number; b2: number; b3: number };

/**
 * Forward recursion over the extended line src[base + table[i]] (table -1: zero) into buf, then the
 * backward recursion in place. Each starts in the steady state of its first sample, where the filtered
 * value equals the input.
 */
function recurseLine(src: Float32Array, base: number, table: Int32Array, buf: Float64Array, c: Coefficients): void {
  const { B, b1, b2, b3 } = c;
  const len = table.length;
  const t0 = table[0];
  let w1 = t0 < 0 ? 0 : src[base + t0], w2 = w1, w3 = w1;
  for (let j = 0; j < len; j++) {
    const t = table[j];
    const w = B * (t < 0 ? 0 : src[base + t]) + b1 * w1 + b2 * w2 + b3 * w3;
    buf[j] = w;
    w3 = w2;
    w2 = w1;
    w1 = w;
  }
  w1 = buf[len - 1];
  w2 = w1;
  w3 = w1;
  for (let j = len - 1; j >= 0; j--) {
    const w = B * buf[j] + b1 * w1 + b2 * w2 + b3 * w3;
    buf[j] = w;
    w3 = w2;
    w2 = w1;
    w1 = w;
  }
}

/** recurseLine on the four lines starting at base, base + sx, base + 2 sx, base + 3 sx, interleaved (the same operations per line, so the same bits). */
function recurseLines4(src: Float32Array, base: number, sx: number, table: Int32Array, p: Float64Array, q: Float64Array, r: Float64Array, u: Float64Array, c: Coefficients): void {
  const { B, b1, b2, b3 } = c;
  const len = table.length;
  const bp = base, bq = base + sx, br = base + 2 * sx, bu = base + 3 * sx;
  const t0 = table[0];
  let p1 = t0 < 0 ? 0 : src[bp + t0], q1 = t0 < 0 ? 0 : src[bq + t0], r1 = t0 < 0 ? 0 : src[br + t0], u1 = t0 < 0 ? 0 : src[bu + t0];
  let p2 = p1, p3 = p1, q2 = q1, q3 = q1, r2 = r1, r3 = r1, u2 = u1, u3 = u1;
  for (let j = 0; j < len; j++) {
    const t = table[j];
    const xp = t < 0 ? 0 : src[bp + t], xq = t < 0 ? 0 : src[bq + t], xr = t < 0 ? 0 : src[br + t], xu = t < 0 ? 0 : src[bu + t];
    const wp = B * xp + b1 * p1 + b2 * p2 + b3 * p3;
    const wq = B * xq + b1 * q1 + b2 * q2 + b3 * q3;
    const wr = B * xr + b1 * r1 + b2 * r2 + b3 * r3;
    const wu = B * xu + b1 * u1 + b2 * u2 + b3 * u3;
    p[j] = wp; q[j] = wq; r[j] = wr; u[j] = wu;
    p3 = p2; p2 = p1; p1 = wp;
    q3 = q2; q2 = q1; q1 = wq;
    r3 = r2; r2 = r1; r1 = wr;
    u3 = u2; u2 = u1; u1 = wu;
  }
  p1 = p[len - 1]; p2 = p1; p3 = p1;
  q1 = q[len - 1]; q2 = q1; q3 = q1;
  r1 = r[len - 1]; r2 = r1; r3 = r1;
  u1 = u[len - 1]; u2 = u1; u3 = u1;
  for (let j = len - 1; j >= 0; j--) {
    const wp = B * p[j] + b1 * p1 + b2 * p2 + b3 * p3;
    const wq = B * q[j] + b1 * q1 + b2 * q2 + b3 * q3;
    const wr = B * r[j] + b1 * r1 + b2 * r2 + b3 * r3;
    const wu = B * u[j] + b1 * u1 + b2 * u2 + b3 * u3;
    p[j] = wp; q[j] = wq; r[j] = wr; u[j] = wu;
    p3 = p2; p2 = p1; p1 = wp;
    q3 = q2; q2 = q1; q1 = wq;
    r3 = r2; r2 = r1; r1 = wr;
    u3 = u2; u2 = u1; u1 = wu;
  }
}

/**
 * The same recursions over sx lines at once: the extended input is the rows src[rows[i] .. + sx)
 * (rows[i] -1: zeros) and buf holds `rows.length` rows of sx samples, so each step combines whole
 * contiguous rows. Rows before the first (after the last) are the steady state, i.e. equal to the
 * first (last) row, which the recursion leaves unchanged.
 */
function recurseRows(src: Float32Array, rows: Int32Array, buf: Float64Array, sx: number, c: Coefficients): void {
  const { B, b1, b2, b3 } = c;
  const len = rows.length;
  if (rows[0] < 0) buf.fill(0, 0, sx);
  else copyRow(src, rows[0], buf, sx);
  // one small function per row step (called len times per plane, so V8 optimises it early and
  // whole; a long loop nest here was compiled on-stack and deoptimised again on its first blocks)
  for (let j = 1; j < len; j++) {
    const p1 = (j - 1) * sx;
    const p2 = Math.max(j - 2, 0) * sx;
    const p3 = Math.max(j - 3, 0) * sx;
    const s = rows[j];
    if (s < 0) feedbackRow(buf, j * sx, p1, p2, p3, sx, b1, b2, b3);
    else forwardRow(src, s, buf, j * sx, p1, p2, p3, sx, B, b1, b2, b3);
  }
  for (let j = len - 2; j >= 0; j--) {
    backwardRow(buf, j * sx, (j + 1) * sx, Math.min(j + 2, len - 1) * sx, Math.min(j + 3, len - 1) * sx, sx, B, b1, b2, b3);
  }
}

function copyRow(src: Float32Array, s: number, buf: Float64Array, sx: number): void {
  for (let x = 0; x < sx; x++) buf[x] = src[s + x];
}

function feedbackRow(buf: Float64Array, p: number, p1: number, p2: number, p3: number, sx: number, b1: number, b2: number, b3: number): void {
  for (let x = 0; x < sx; x++) buf[p + x] = b1 * buf[p1 + x] + b2 * buf[p2 + x] + b3 * buf[p3 + x];
}

function forwardRow(src: Float32Array, s: number, buf: Float64Array, p: number, p1: number, p2: number, p3: number, sx: number, B: number, b1: number, b2: number, b3: number): void {
  for (let x = 0; x < sx; x++) buf[p + x] = B * src[s + x] + b1 * buf[p1 + x] + b2 * buf[p2 + x] + b3 * buf[p3 + x];
}

function backwardRow(buf: Float64Array, p: number, p1: number, p2: number, p3: number, sx: number, B: number, b1: number, b2: number, b3: number): void {
  for (let x = 0; x < sx; x++) buf[p + x] = B * buf[p + x] + b1 * buf[p1 + x] + b2 * buf[p2 + x] + b3 * buf[p3 + x];
}

function check(src: Float32Array, outs: Array<Float32Array | undefined>, shape: Vec3, axis: number, sigma: number): void {
  for (const s of shape) if (!Number.isInteger(s) || s < 0) throw new UsageError(`recursive Gaussian: shape [${shape}] must be non-negative integers`);
  const n = shape[0] * shape[1] * shape[2];
  if (src.length < n) throw new UsageError(`recursive Gaussian: input of ${src.length} elements is shorter than shape [${shape}]`);
  for (const o of outs) {
    if (o === src) throw new UsageError('recursive Gaussian: an output cannot be the input');
    if (o && o.length < n) throw new UsageError(`recursive Gaussian: output of ${o.length} elements is shorter than shape [${shape}]`);
  }
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new UsageError(`recursive Gaussian: axis must be 0, 1 or 2, got ${axis}`);
  if (!(sigma >= MIN_RECURSIVE_SIGMA) || !Number.isFinite(sigma)) {
    throw new UsageError(`recursive Gaussian: sigma must be at least ${MIN_RECURSIVE_SIGMA} (use the FIR filters below), got ${sigma}`);
  }
}

/**
 * Recursive Gaussian derivatives of orders 0, 1 and 2 along one axis: `outs[order]` receives that
 * order (undefined entries are skipped); the same contract as gaussianDerivatives1d in filters.ts
 * (convolution: order 1 is d/dx of the smoothed image; no sigma^k normalisation). `src` must not be
 * an output. Cost per voxel: one 3+3-tap recursion for all orders, independent of sigma.
 */
export function recursiveDerivatives1d(
  src: Float32Array,
  shape: Vec3,
  axis: 0 | 1 | 2,
  sigma: number,
  outs: [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined],
  opts: { mode?: BorderMode } = {},
): void {
  check(src, outs, shape, axis, sigma);
  const mode = opts.mode ?? 'reflect';
  const [sx, sy, sz] = shape;
  if (sx * sy * sz === 0) return;
  const len = shape[axis];
  const pad = recursivePad(sigma);
  const table = new Int32Array(len + 2 * pad);
  for (let i = 0; i < table.length; i++) table[i] = borderIndex(i - pad, len, mode);
  const orders = [0, 1, 2].filter((o) => outs[o] !== undefined);
  const coeffs = yvvCoefficients(sigma);
  // WebAssembly SIMD (recursive-wasm.ts), the same bits; the JavaScript below where it is unavailable
  if (recursiveDerivativesWasm(src, shape, axis, table, pad, coeffs, outs)) return;
  const L = len + 2 * pad;
  if (axis === 0) {
    // four lines at a time: each recursion is a serial chain (every sample waits for the previous
    // one's multiply-adds); four independent chains keep the floating-point units busy
    const bufs = [new Float64Array(L), new Float64Array(L), new Float64Array(L), new Float64Array(L)];
    const rows = sy * sz;
    let row = 0;
    for (; row + 3 < rows; row += 4) {
      const base = row * sx;
      recurseLines4(src, base, sx, table, bufs[0], bufs[1], bufs[2], bufs[3], coeffs);
      for (let q = 0; q < 4; q++) for (const order of orders) writeX(bufs[q], pad, len, order, outs[order]!, base + q * sx);
    }
    for (; row < rows; row++) {
      const base = row * sx;
      recurseLine(src, base, table, bufs[0], coeffs);
      for (const order of orders) writeX(bufs[0], pad, len, order, outs[order]!, base);
    }
    return;
  }
  // y or z: whole x rows per step (rows of one z plane for y; one row per z at fixed y for z)
  const outer = axis === 1 ? sz : sy;
  const buf = new Float64Array(L * sx);
  const rows = new Int32Array(L);
  // row j of plane o starts at first + j * step
  const step = axis === 1 ? sx : sx * sy;
  for (let o = 0; o < outer; o++) {
    const first = axis === 1 ? sx * sy * o : sx * o;
    for (let i = 0; i < L; i++) rows[i] = table[i] < 0 ? -1 : first + table[i] * step;
    recurseRows(src, rows, buf, sx, coeffs);
    for (const order of orders) {
      const out = outs[order]!;
      for (let j = 0; j < len; j++) writeRow(buf, (pad + j) * sx, sx, order, out, first + j * step);
    }
  }
}

/** Write one smoothed x line (samples pad..pad+len-1 of buf) as `order` to out[dst..dst+len) (five-point differences). */
function writeX(buf: Float64Array, pad: number, len: number, order: number, out: Float32Array, dst: number): void {
  if (order === 0) for (let c = 0; c < len; c++) out[dst + c] = buf[pad + c];
  else if (order === 1) {
    for (let c = 0, p = pad; c < len; c++, p++) out[dst + c] = (8 * (buf[p + 1] - buf[p - 1]) - (buf[p + 2] - buf[p - 2])) / 12;
  } else {
    for (let c = 0, p = pad; c < len; c++, p++) out[dst + c] = (16 * (buf[p + 1] + buf[p - 1]) - (buf[p + 2] + buf[p - 2]) - 30 * buf[p]) / 12;
  }
}

/** Write one x row of `order` at buf offset `at` (axis neighbours sx apart) to out[dst..dst+sx). */
function writeRow(buf: Float64Array, at: number, sx: number, order: number, out: Float32Array, dst: number): void {
  const s2 = 2 * sx;
  if (order === 0) for (let x = 0; x < sx; x++) out[dst + x] = buf[at + x];
  else if (order === 1) {
    for (let x = 0, p = at; x < sx; x++, p++) out[dst + x] = (8 * (buf[p + sx] - buf[p - sx]) - (buf[p + s2] - buf[p - s2])) / 12;
  } else {
    for (let x = 0, p = at; x < sx; x++, p++) out[dst + x] = (16 * (buf[p + sx] + buf[p - sx]) - (buf[p + s2] + buf[p - s2]) - 30 * buf[p]) / 12;
  }
}

/** Recursive Gaussian (derivative) of one order along one axis into dst (dst may not be src). */
export function recursiveFilter1d(src: Float32Array, dst: Float32Array, shape: Vec3, axis: 0 | 1 | 2, sigma: number, order = 0, opts: { mode?: BorderMode } = {}): void {
  if (order !== 0 && order !== 1 && order !== 2) throw new UsageError(`recursive Gaussian: order must be 0, 1 or 2, got ${order}`);
  const outs: [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined] = [undefined, undefined, undefined];
  outs[order] = dst;
  recursiveDerivatives1d(src, shape, axis, sigma, outs, opts);
}
