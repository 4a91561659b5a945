/**
 * Separable Gaussian filters on float32 volumes laid out [x, y, z] with x fastest
 * (index = x + sx * (y + sy * z)).
 *
 * Semantics follow scipy.ndimage.gaussian_filter / gaussian_filter1d exactly:
 *  - kernel radius r = floor(truncate * sigma + 0.5) (scipy's int(truncate*sigma + 0.5)), truncate 4 by default;
 *  - the order-0 kernel is exp(-x^2 / 2 sigma^2) normalised to sum 1; order 1 and 2 kernels are the analytic
 *    derivatives of that normalised kernel (-x/s^2 * g and (x^2/s^4 - 1/s^2) * g), not re-normalised;
 *  - the kernel is convolved (not correlated), so order 1 gives d/dx of the smoothed image;
 *  - border modes: 'reflect' (scipy's default: d c b a | a b c d | d c b a, edge voxel repeated),
 *    'mirror' (d c b | a b c d | c b a, = vigra's REFLECT), 'nearest' (a a | a b | b b), 'constant' (zeros).
 *    Extensions longer than the line repeat the reflection periodically, as scipy does.
 *  - sigma 0 on an axis means "no filtering along that axis" (2-D per-section filtering is sigma [s, s, 0]).
 *
 * Sums run in float64 and are rounded to float32 once per axis pass (as scipy does with output=float32).
 * Inner loops allocate nothing; each call allocates one line/plane scratch buffer (or takes `scratch`).
 * `src` and `dst` may be the same array (in place).
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';

export type BorderMode = 'reflect' | 'mirror' | 'nearest' | 'constant';

export interface FilterOptions {
  /** Border handling (default 'reflect', scipy.ndimage's default). */
  mode?: BorderMode;
  /** Kernel half-width in sigmas (default 4, scipy's default). */
  truncate?: number;
}

/** Kernel radius in voxels for one sigma, as scipy computes it. */
export function kernelRadius(sigma: number, truncate = 4): number {
  if (!(sigma > 0)) return 0;
  return Math.floor(truncate * sigma + 0.5);
}

/**
 * The 1-D Gaussian (derivative) kernel of scipy's _gaussian_kernel1d, as weights w[k + r] for offsets
 * k = -r..r, applied as a convolution: out[i] = sum_k w[k + r] * in[i - k].
 */
export function gaussianKernel1d(sigma: number, order = 0, truncate = 4): Float64Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new UsageError(`gaussian kernel: sigma must be positive, got ${sigma}`);
  if (order !== 0 && order !== 1 && order !== 2) throw new UsageError(`gaussian kernel: order must be 0, 1 or 2, got ${order}`);
  const r = kernelRadius(sigma, truncate);
  const w = new Float64Array(2 * r + 1);
  const s2 = sigma * sigma;
  let sum = 0;
  for (let k = -r; k <= r; k++) {
    const v = Math.exp((-0.5 * k * k) / s2);
    w[k + r] = v;
    sum += v;
  }
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  if (order === 1) {
    for (let k = -r; k <= r; k++) w[k + r] *= -k / s2;
  } else if (order === 2) {
    for (let k = -r; k <= r; k++) w[k + r] *= (k * k) / (s2 * s2) - 1 / s2;
  }
  return w;
}

/**
 * Index of position i (any integer, may lie outside 0..n-1) in a line of n samples under a border mode;
 * -1 means "outside, value 0" (constant mode).
 */
export function borderIndex(i: number, n: number, mode: BorderMode): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 'reflect': {
      const p = 2 * n;
      let m = i % p;
      if (m < 0) m += p;
      return m < n ? m : p - 1 - m;
    }
    case 'mirror': {
      if (n === 1) return 0;
      const p = 2 * n - 2;
      let m = i % p;
      if (m < 0) m += p;
      return m < n ? m : p - m;
    }
    case 'nearest':
      return i < 0 ? 0 : n - 1;
    case 'constant':
      return -1;
  }
}

function checkShape(src: Float32Array, dst: Float32Array, shape: Vec3, what: string): void {
  const n = shape[0] * shape[1] * shape[2];
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new UsageError(`${what}: shape [${shape}] must be non-negative integers`);
  }
  if (src.length < n || dst.length < n) {
    throw new UsageError(`${what}: arrays of ${src.length} and ${dst.length} elements are shorter than shape [${shape}] (${n} voxels)`);
  }
}

/** Mapping table for the positions -r..n-1+r of one axis (index + r), -1 = zero (constant mode). */
function borderTable(n: number, r: number, mode: BorderMode): Int32Array {
  const t = new Int32Array(n + 2 * r);
  for (let i = -r; i < n + r; i++) t[i + r] = borderIndex(i, n, mode);
  return t;
}

/**
 * Filter along one axis with a Gaussian (derivative) of `sigma` voxels. `src` and `dst` hold
 * shape[0]*shape[1]*shape[2] float32 voxels (x fastest); they may be the same array.
 */
export function gaussianFilter1d(
  src: Float32Array,
  dst: Float32Array,
  shape: Vec3,
  axis: 0 | 1 | 2,
  sigma: number,
  order = 0,
  opts: FilterOptions = {},
): void {
  checkShape(src, dst, shape, 'gaussianFilter1d');
  const n = shape[0] * shape[1] * shape[2];
  if (n === 0) return;
  if (!(sigma > 0)) {
    if (order !== 0) throw new UsageError(`gaussianFilter1d: derivative order ${order} needs sigma > 0 on axis ${axis}`);
    if (src !== dst) dst.set(src.subarray(0, n));
    return;
  }
  const w = gaussianKernel1d(sigma, order, opts.truncate ?? 4);
  correlateAxis(src, dst, shape, axis, w, order % 2 === 1 ? -1 : 1, opts.mode ?? 'reflect');
}

/**
 * Convolve along `axis` with kernel w (length 2r+1, symmetric or antisymmetric as Gaussian
 * derivatives are): out[i] = sum_k w[k + r] * in[i - k].
 */
function correlateAxis(
  src: Float32Array,
  dst: Float32Array,
  shape: Vec3,
  axis: 0 | 1 | 2,
  w: Float64Array,
  sym: 1 | -1,
  mode: BorderMode,
): void {
  const [sx, sy, sz] = shape;
  const r = (w.length - 1) >> 1;
  // Symmetry: w[r+k] = sym * w[r-k] (sym = +1 for even orders, -1 for odd).
  // Convolution weight for offset k (in[i-k]) is w[r+k]; rewrite as correlation c[j] = w[r - j] for in[i + j].
  // With symmetry: out[i] = w[r]*in[i] + sum_{k=1..r} w[r+k] * (in[i-k] + sym * in[i+k]).
  const wr = new Float64Array(r + 1);
  for (let k = 0; k <= r; k++) wr[k] = w[r + k];
  const len = shape[axis];
  const table = borderTable(len, r, mode);

  if (axis === 0) {
    // Lines along x are contiguous: copy each into a padded float64 buffer, then convolve.
    const line = new Float64Array(sx + 2 * r);
    const rows = sy * sz;
    // per-row functions: called sy * sz times, so V8 optimises them early and whole
    for (let row = 0; row < rows; row++) {
      const base = row * sx;
      loadLine(src, base, table, line);
      if (sym === 1) convolveLineEven(line, wr, r, sx, dst, base);
      else convolveLineOdd(line, wr, r, sx, dst, base);
    }
    return;
  }

  // Axis y or z: accumulate whole x-rows (vectorisable, cache friendly).
  // For axis y: per z-plane, the plane (sy rows of sx) is copied into scratch first (in-place safe).
  // For axis z: per y, the slab of sz rows of sx (one per z) is copied into scratch.
  const rowsAlong = axis === 1 ? sy : sz;
  const outer = axis === 1 ? sz : sy;
  const scratch = new Float32Array(rowsAlong * sx);
  const offs = new Int32Array(2 * r + 1);
  const ws = new Float64Array(2 * r + 1);
  for (let o = 0; o < outer; o++) {
    // Gather rows: row j along the axis -> scratch[j*sx .. j*sx+sx).
    for (let j = 0; j < rowsAlong; j++) {
      const off = axis === 1 ? sx * (j + sy * o) : sx * (o + sy * j);
      scratch.set(src.subarray(off, off + sx), j * sx);
    }
    for (let j = 0; j < rowsAlong; j++) {
      // the taps of output row j in summation order (centre, then -k and +k for k = 1..r; rows outside
      // a constant border skipped), summed per voxel in a register: the same operations in the same
      // order as accumulating whole rows, without storing and reloading the sums once per tap
      let nt = 0;
      offs[nt] = j * sx;
      ws[nt++] = wr[0];
      for (let k = 1; k <= r; k++) {
        const ta = table[j - k + r];
        const tb = table[j + k + r];
        if (ta >= 0) {
          offs[nt] = ta * sx;
          ws[nt++] = wr[k];
        }
        if (tb >= 0) {
          offs[nt] = tb * sx;
          ws[nt++] = sym * wr[k];
        }
      }
      sumTaps(scratch, offs, ws, nt, dst, axis === 1 ? sx * (j + sy * o) : sx * (o + sy * j), sx);
    }
  }
}

/** line[i] = src[base + table[i]] (table -1: zero). */
function loadLine(src: Float32Array, base: number, table: Int32Array, line: Float64Array): void {
  for (let i = 0; i < line.length; i++) {
    const t = table[i];
    line[i] = t < 0 ? 0 : src[base + t];
  }
}

/** dst[base + i] = wr[0] line[i + r] + sum_k wr[k] (line[i + r - k] + line[i + r + k]) (symmetric kernel). */
function convolveLineEven(line: Float64Array, wr: Float64Array, r: number, sx: number, dst: Float32Array, base: number): void {
  if (r >= 1 && r <= 4) return convolveLineEvenShort(line, wr, r, sx, dst, base);
  if (r === 8) return convolveLineEven8(line, wr, sx, dst, base);
  for (let i = 0; i < sx; i++) {
    const c = i + r;
    let acc = wr[0] * line[c];
    for (let k = 1; k <= r; k++) acc += wr[k] * (line[c - k] + line[c + k]);
    dst[base + i] = acc;
  }
}

/** convolveLineEven unrolled for r = 1..4 (the same sums in the same order; missing taps weigh 0 only in r's own branch). */
function convolveLineEvenShort(line: Float64Array, wr: Float64Array, r: number, sx: number, dst: Float32Array, base: number): void {
  const w0 = wr[0], w1 = wr[1];
  if (r === 1) {
    for (let i = 0, c = r; i < sx; i++, c++) dst[base + i] = w0 * line[c] + w1 * (line[c - 1] + line[c + 1]);
  } else if (r === 2) {
    const w2 = wr[2];
    for (let i = 0, c = r; i < sx; i++, c++) dst[base + i] = w0 * line[c] + w1 * (line[c - 1] + line[c + 1]) + w2 * (line[c - 2] + line[c + 2]);
  } else if (r === 3) {
    const w2 = wr[2], w3 = wr[3];
    for (let i = 0, c = r; i < sx; i++, c++) {
      dst[base + i] = w0 * line[c] + w1 * (line[c - 1] + line[c + 1]) + w2 * (line[c - 2] + line[c + 2]) + w3 * (line[c - 3] + line[c + 3]);
    }
  } else {
    const w2 = wr[2], w3 = wr[3], w4 = wr[4];
    for (let i = 0, c = r; i < sx; i++, c++) {
      dst[base + i] = w0 * line[c] + w1 * (line[c - 1] + line[c + 1]) + w2 * (line[c - 2] + line[c + 2]) + w3 * (line[c - 3] + line[c + 3]) + w4 * (line[c - 4] + line[c + 4]);
    }
  }
}

/** convolveLineEven unrolled for r = 8 (sigma 2 at the default truncation; the same sums in the same order). */
function convolveLineEven8(line: Float64Array, wr: Float64Array, sx: number, dst: Float32Array, base: number): void {
  const w0 = wr[0], w1 = wr[1], w2 = wr[2], w3 = wr[3], w4 = wr[4], w5 = wr[5], w6 = wr[6], w7 = wr[7], w8 = wr[8];
  for (let i = 0, c = 8; i < sx; i++, c++) {
    dst[base + i] =
      w0 * line[c] + w1 * (line[c - 1] + line[c + 1]) + w2 * (line[c - 2] + line[c + 2]) + w3 * (line[c - 3] + line[c + 3]) + w4 * (line[c - 4] + line[c + 4]) +
      w5 * (line[c - 5] + line[c + 5]) + w6 * (line[c - 6] + line[c + 6]) + w7 * (line[c - 7] + line[c + 7]) + w8 * (line[c - 8] + line[c + 8]);
  }
}

/** As convolveLineEven for an antisymmetric kernel (line[i + r - k] - line[i + r + k]). */
function convolveLineOdd(line: Float64Array, wr: Float64Array, r: number, sx: number, dst: Float32Array, base: number): void {
  for (let i = 0; i < sx; i++) {
    const c = i + r;
    let acc = wr[0] * line[c];
    for (let k = 1; k <= r; k++) acc += wr[k] * (line[c - k] - line[c + k]);
    dst[base + i] = acc;
  }
}

/** dst[off + x] = sum over taps t (in order) of ws[t] * scratch[offs[t] + x], summed in float64 (unrolled for 3-9 taps). */
function sumTaps(scratch: Float32Array, offs: Int32Array, ws: Float64Array, nt: number, dst: Float32Array, off: number, sx: number): void {
  switch (nt) {
    case 3: return sumTaps3(scratch, offs, ws, dst, off, sx);
    case 5: return sumTaps5(scratch, offs, ws, dst, off, sx);
    case 7: return sumTaps7(scratch, offs, ws, dst, off, sx);
    case 9: return sumTaps9(scratch, offs, ws, dst, off, sx);
    case 17: return sumTaps17(scratch, offs, ws, dst, off, sx);
  }
  const o0 = offs[0], w0 = ws[0];
  for (let x = 0; x < sx; x++) {
    let a = w0 * scratch[o0 + x];
    for (let t = 1; t < nt; t++) a += ws[t] * scratch[offs[t] + x];
    dst[off + x] = a;
  }
}

function sumTaps3(scratch: Float32Array, offs: Int32Array, ws: Float64Array, dst: Float32Array, off: number, sx: number): void {
  const o0 = offs[0], w0 = ws[0]; const o1 = offs[1], w1 = ws[1]; const o2 = offs[2], w2 = ws[2];
  for (let x = 0; x < sx; x++) dst[off + x] = w0 * scratch[o0 + x] + w1 * scratch[o1 + x] + w2 * scratch[o2 + x];
}

function sumTaps5(scratch: Float32Array, offs: Int32Array, ws: Float64Array, dst: Float32Array, off: number, sx: number): void {
  const o0 = offs[0], w0 = ws[0]; const o1 = offs[1], w1 = ws[1]; const o2 = offs[2], w2 = ws[2]; const o3 = offs[3], w3 = ws[3]; const o4 = offs[4], w4 = ws[4];
  for (let x = 0; x < sx; x++) dst[off + x] = w0 * scratch[o0 + x] + w1 * scratch[o1 + x] + w2 * scratch[o2 + x] + w3 * scratch[o3 + x] + w4 * scratch[o4 + x];
}

function sumTaps7(scratch: Float32Array, offs: Int32Array, ws: Float64Array, dst: Float32Array, off: number, sx: number): void {
  const o0 = offs[0], w0 = ws[0]; const o1 = offs[1], w1 = ws[1]; const o2 = offs[2], w2 = ws[2]; const o3 = offs[3], w3 = ws[3]; const o4 = offs[4], w4 = ws[4]; const o5 = offs[5], w5 = ws[5]; const o6 = offs[6], w6 = ws[6];
  for (let x = 0; x < sx; x++) dst[off + x] = w0 * scratch[o0 + x] + w1 * scratch[o1 + x] + w2 * scratch[o2 + x] + w3 * scratch[o3 + x] + w4 * scratch[o4 + x] + w5 * scratch[o5 + x] + w6 * scratch[o6 + x];
}

function sumTaps9(scratch: Float32Array, offs: Int32Array, ws: Float64Array, dst: Float32Array, off: number, sx: number): void {
  const o0 = offs[0], w0 = ws[0]; const o1 = offs[1], w1 = ws[1]; const o2 = offs[2], w2 = ws[2]; const o3 = offs[3], w3 = ws[3]; const o4 = offs[4], w4 = ws[4]; const o5 = offs[5], w5 = ws[5]; const o6 = offs[6], w6 = ws[6]; const o7 = offs[7], w7 = ws[7]; const o8 = offs[8], w8 = ws[8];
  for (let x = 0; x < sx; x++) dst[off + x] = w0 * scratch[o0 + x] + w1 * scratch[o1 + x] + w2 * scratch[o2 + x] + w3 * scratch[o3 + x] + w4 * scratch[o4 + x] + w5 * scratch[o5 + x] + w6 * scratch[o6 + x] + w7 * scratch[o7 + x] + w8 * scratch[o8 + x];
}

/** sumTaps unrolled for 17 taps (radius 8: sigma 2 at the default truncation). */
function sumTaps17(scratch: Float32Array, offs: Int32Array, ws: Float64Array, dst: Float32Array, off: number, sx: number): void {
  const o0 = offs[0], w0 = ws[0], o1 = offs[1], w1 = ws[1], o2 = offs[2], w2 = ws[2], o3 = offs[3], w3 = ws[3], o4 = offs[4], w4 = ws[4], o5 = offs[5], w5 = ws[5];
  const o6 = offs[6], w6 = ws[6], o7 = offs[7], w7 = ws[7], o8 = offs[8], w8 = ws[8], o9 = offs[9], w9 = ws[9], o10 = offs[10], w10 = ws[10], o11 = offs[11], w11 = ws[11];
  const o12 = offs[12], w12 = ws[12], o13 = offs[13], w13 = ws[13], o14 = offs[14], w14 = ws[14], o15 = offs[15], w15 = ws[15], o16 = offs[16], w16 = ws[16];
  for (let x = 0; x < sx; x++) {
    dst[off + x] =
      w0 * scratch[o0 + x] + w1 * scratch[o1 + x] + w2 * scratch[o2 + x] + w3 * scratch[o3 + x] + w4 * scratch[o4 + x] + w5 * scratch[o5 + x] +
      w6 * scratch[o6 + x] + w7 * scratch[o7 + x] + w8 * scratch[o8 + x] + w9 * scratch[o9 + x] + w10 * scratch[o10 + x] + w11 * scratch[o11 + x] +
      w12 * scratch[o12 + x] + w13 * scratch[o13 + x] + w14 * scratch[o14 + x] + w15 * scratch[o15 + x] + w16 * scratch[o16 + x];
  }
}

function storeRow(acc: Float64Array, dst: Float32Array, off: number, sx: number): void {
  for (let x = 0; x < sx; x++) dst[off + x] = acc[x];
}

/**
 * N-D Gaussian (derivative) filter, scipy.ndimage.gaussian_filter semantics with per-axis sigma
 * [x, y, z] in voxels and per-axis derivative order [x, y, z] (0, 1 or 2). Axes with sigma 0 are
 * left alone (order must be 0 there). `dst` defaults to a new array; it may be `src` (in place).
 */
export function gaussianFilter(
  src: Float32Array,
  shape: Vec3,
  sigma: number | Vec3,
  order: number | Vec3 = 0,
  opts: FilterOptions & { dst?: Float32Array } = {},
): Float32Array {
  const n = shape[0] * shape[1] * shape[2];
  const dst = opts.dst ?? new Float32Array(n);
  checkShape(src, dst, shape, 'gaussianFilter');
  const s: Vec3 = typeof sigma === 'number' ? [sigma, sigma, sigma] : sigma;
  const o: Vec3 = typeof order === 'number' ? [order, order, order] : order;
  let from = src;
  let done = false;
  for (let ax = 0 as 0 | 1 | 2; ax < 3; ax = (ax + 1) as 0 | 1 | 2) {
    if (!(s[ax] > 0)) {
      if (o[ax] !== 0) throw new UsageError(`gaussianFilter: derivative order ${o[ax]} on axis ${ax} needs sigma > 0`);
      continue;
    }
    gaussianFilter1d(from, dst, shape, ax, s[ax], o[ax], opts);
    from = dst;
    done = true;
  }
  if (!done && dst !== src) dst.set(src.subarray(0, n));
  return dst;
}

/** Context (voxels per side, [x, y, z]) a Gaussian of these sigmas needs so a cropped result is exact. */
export function gaussianMargin(sigma: number | Vec3, truncate = 4): Vec3 {
  const s: Vec3 = typeof sigma === 'number' ? [sigma, sigma, sigma] : sigma;
  return [kernelRadius(s[0], truncate), kernelRadius(s[1], truncate), kernelRadius(s[2], truncate)];
}

/**
 * Gaussian derivatives of orders 0, 1 and 2 along one axis in one sweep (each input value is read
 * once for all three): `outs[order]` receives that order (leave an entry undefined to skip it).
 * Same results as three gaussianFilter1d calls. `src` must not be one of the outputs.
 */
export function gaussianDerivatives1d(
  src: Float32Array,
  shape: Vec3,
  axis: 0 | 1 | 2,
  sigma: number,
  outs: [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined],
  opts: FilterOptions = {},
): void {
  const wanted = outs.filter((o) => o !== undefined).length;
  const mode = opts.mode ?? 'reflect';
  if (wanted <= 1 || !(sigma > 0) || mode === 'constant') {
    outs.forEach((o, order) => {
      if (o) gaussianFilter1d(src, o, shape, axis, sigma, order, opts);
    });
    return;
  }
  for (const o of outs) {
    if (o === src) throw new UsageError('gaussianDerivatives1d: an output cannot be the input');
    if (o) checkShape(src, o, shape, 'gaussianDerivatives1d');
  }
  const truncate = opts.truncate ?? 4;
  const w0 = gaussianKernel1d(sigma, 0, truncate);
  const w1 = gaussianKernel1d(sigma, 1, truncate);
  const w2 = gaussianKernel1d(sigma, 2, truncate);
  const r = (w0.length - 1) >> 1;
  // out_o[i] = w_o[r]*in[i] + sum_k w_o[r+k] * (in[i-k] + sym_o * in[i+k]); sym = +1, -1, +1
  const a0 = new Float64Array(r + 1), a1 = new Float64Array(r + 1), a2 = new Float64Array(r + 1);
  for (let k = 0; k <= r; k++) {
    a0[k] = w0[r + k];
    a1[k] = w1[r + k];
    a2[k] = w2[r + k];
  }
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (n === 0) return;
  const o0 = outs[0] ?? new Float32Array(0), o1 = outs[1] ?? new Float32Array(0), o2 = outs[2] ?? new Float32Array(0);
  const has0 = !!outs[0], has1 = !!outs[1], has2 = !!outs[2];
  const len = shape[axis];
  const table = borderTable(len, r, mode);
  if (axis === 0) {
    const line = new Float64Array(sx + 2 * r);
    for (let row = 0, rows = sy * sz; row < rows; row++) {
      const base = row * sx;
      loadLine(src, base, table, line); // no -1 entries: constant mode takes the per-order path above
      derivativesLine(line, a0, a1, a2, r, sx, o0, o1, o2, has0, has1, has2, base);
    }
    return;
  }
  const rowsAlong = axis === 1 ? sy : sz;
  const outer = axis === 1 ? sz : sy;
  const scratch = new Float32Array(rowsAlong * sx);
  const c0 = new Float64Array(sx), c1 = new Float64Array(sx), c2 = new Float64Array(sx);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < rowsAlong; j++) {
      const off = axis === 1 ? sx * (j + sy * o) : sx * (o + sy * j);
      scratch.set(src.subarray(off, off + sx), j * sx);
    }
    for (let j = 0; j < rowsAlong; j++) {
      derivativesRow(scratch, table, j, r, a0, a1, a2, c0, c1, c2, sx);
      const off = axis === 1 ? sx * (j + sy * o) : sx * (o + sy * j);
      if (has0) storeRow(c0, o0, off, sx);
      if (has1) storeRow(c1, o1, off, sx);
      if (has2) storeRow(c2, o2, off, sx);
    }
  }
}

/** Orders 0, 1, 2 of one padded x line (line[i + r] is sample i) into o0/o1/o2[base + i] (those flagged). */
function derivativesLine(
  line: Float64Array, a0: Float64Array, a1: Float64Array, a2: Float64Array, r: number, sx: number,
  o0: Float32Array, o1: Float32Array, o2: Float32Array, has0: boolean, has1: boolean, has2: boolean, base: number,
): void {
  for (let i = 0; i < sx; i++) {
    const c = i + r;
    const v = line[c];
    let s0 = a0[0] * v, s1 = 0, s2 = a2[0] * v;
    for (let k = 1; k <= r; k++) {
      const lo = line[c - k], hi = line[c + k];
      const s = lo + hi;
      s0 += a0[k] * s;
      s1 += a1[k] * (lo - hi);
      s2 += a2[k] * s;
    }
    if (has0) o0[base + i] = s0;
    if (has1) o1[base + i] = s1;
    if (has2) o2[base + i] = s2;
  }
}

/** Orders 0, 1, 2 of output row j along y/z into c0/c1/c2 from the gathered rows in scratch. */
function derivativesRow(
  scratch: Float32Array, table: Int32Array, j: number, r: number, a0: Float64Array, a1: Float64Array, a2: Float64Array,
  c0: Float64Array, c1: Float64Array, c2: Float64Array, sx: number,
): void {
  const cj = j * sx;
  const b0 = a0[0], b2 = a2[0];
  for (let x = 0; x < sx; x++) {
    const v = scratch[cj + x];
    c0[x] = b0 * v;
    c1[x] = 0;
    c2[x] = b2 * v;
  }
  // taps two at a time: half the accumulator loads and stores
  let k = 1;
  for (; k + 1 <= r; k += 2) {
    const lo = table[j - k + r] * sx, hi = table[j + k + r] * sx;
    const lo2 = table[j - k - 1 + r] * sx, hi2 = table[j + k + 1 + r] * sx;
    const k0 = a0[k], k1 = a1[k], k2 = a2[k];
    const m0 = a0[k + 1], m1 = a1[k + 1], m2 = a2[k + 1];
    for (let x = 0; x < sx; x++) {
      const l = scratch[lo + x], h = scratch[hi + x];
      const l2 = scratch[lo2 + x], h2 = scratch[hi2 + x];
      const s = l + h, s2 = l2 + h2;
      c0[x] += k0 * s + m0 * s2;
      c1[x] += k1 * (l - h) + m1 * (l2 - h2);
      c2[x] += k2 * s + m2 * s2;
    }
  }
  for (; k <= r; k++) {
    const lo = table[j - k + r] * sx;
    const hi = table[j + k + r] * sx;
    const k0 = a0[k], k1 = a1[k], k2 = a2[k];
    for (let x = 0; x < sx; x++) {
      const l = scratch[lo + x], h = scratch[hi + x];
      const s = l + h;
      c0[x] += k0 * s;
      c1[x] += k1 * (l - h);
      c2[x] += k2 * s;
    }
  }
}
