/**
 * Exact Euclidean distance transforms on [x, y, z] volumes (x fastest: index = x + sx*(y + sy*z)),
 * with anisotropic voxel sizes (`sampling`, nm per voxel [x, y, z]).
 *
 * Algorithm: separable, one pass per axis (Felzenszwalb & Huttenlocher 2012, "Distance transforms of
 * sampled functions"; the same decomposition as Meijster et al. / Maurer et al. used by scipy). Pass 1
 * (x) is a two-sided scan; passes 2 and 3 take the lower envelope of parabolas w^2 (q - p)^2 + f(p).
 *
 * Per-label transforms use the run decomposition (as in seung-lab's `edt`): along every axis a line is
 * cut into runs of equal label, and each run is transformed on its own with zero-valued "boundary"
 * sources just outside the run. This is exact: for a voxel of label L, any source beyond the first
 * voxel of another label on that line is farther than that voxel itself, so nothing is lost by cutting.
 *
 * Definitions (distances are between voxel centres, in the units of `sampling`):
 *  - binary (`edt`, `edtSquared`): foreground = value != 0; out = distance to the nearest voxel with
 *    value 0; 0 on background. With `borderIsBoundary: false` (default, scipy's behaviour) the
 *    outside of the volume is foreground; with `true` the voxels just outside the volume count as
 *    background. A volume with no background voxel and no boundary border gives +Infinity.
 *  - per label (`edtLabels`, `edtLabelsSquared`): label 0 is background (out 0); for a voxel of label
 *    L != 0, out = distance to the nearest voxel whose label differs from L (including 0).
 *
 * Axes of extent 1 are treated as absent (a 2-D image [sx, sy, 1] is a 2-D transform even with
 * `borderIsBoundary`). Output is float32; line scratch is float64; inner loops allocate nothing.
 */
import type { Vec3 } from '../core/box.js';
import { UsageError } from '../core/errors.js';

/** Arrays the transforms accept: any numeric typed array, or uint64 ids. */
export type LabelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array;

export interface EdtOptions {
  /** Voxel size [x, y, z] (e.g. nm); default [1, 1, 1]. */
  sampling?: Vec3;
  /** Treat the voxels just outside the volume as boundary (background / another label). Default false. */
  borderIsBoundary?: boolean;
  /** Output array to fill (length = voxel count); a new one is allocated otherwise. */
  out?: Float32Array;
  /**
   * Only the voxels of this box (voxel coordinates of the array, half-open) are needed: the y and
   * z passes run only on the lines that lead to it, and the values outside it are left partial
   * (unspecified). Inside, the same values as without it. Default: the whole volume.
   */
  region?: { min: Vec3; max: Vec3 };
}

function checkShape(what: string, length: number, shape: Vec3, sampling: Vec3): void {
  for (let i = 0; i < 3; i++) {
    if (!Number.isInteger(shape[i]) || shape[i] < 0) throw new UsageError(`${what}: shape [${shape}] must be non-negative integers`);
    if (!(sampling[i] > 0) || !Number.isFinite(sampling[i])) {
      throw new UsageError(`${what}: sampling [${sampling}] must be positive finite numbers`);
    }
  }
  const n = shape[0] * shape[1] * shape[2];
  if (length !== n) throw new UsageError(`${what}: array has ${length} elements, expected ${n} for shape [${shape}]`);
}

/** The 0/1 indicator of `mask != 0`, one byte per voxel (any label array type, bigint included). */
export function foregroundMask(mask: LabelArray): Uint8Array {
  const n = mask.length;
  const bin = new Uint8Array(n);
  if (mask instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) bin[i] = mask[i] !== 0n ? 1 : 0;
  } else {
    const m = mask as Exclude<LabelArray, BigUint64Array>;
    for (let i = 0; i < n; i++) bin[i] = m[i] !== 0 ? 1 : 0;
  }
  return bin;
}

/** Squared Euclidean distance of every foreground (!= 0) voxel to the nearest background (0) voxel. */
export function edtSquared(mask: LabelArray, shape: Vec3, opts: EdtOptions = {}): Float32Array {
  const sampling = opts.sampling ?? [1, 1, 1];
  checkShape('edt', mask.length, shape, sampling);
  // Binary = per-label on the 0/1 indicator.
  const bin = foregroundMask(mask);
  return transform(bin, shape, sampling, opts.borderIsBoundary ?? false, opts.out, opts.region);
}

/** Euclidean distance of every foreground (!= 0) voxel to the nearest background (0) voxel. */
export function edt(mask: LabelArray, shape: Vec3, opts: EdtOptions = {}): Float32Array {
  return sqrtInPlace(edtSquared(mask, shape, opts));
}

/** Squared distance of every labelled voxel to the nearest voxel of another label (0 counts as another label). */
export function edtLabelsSquared(labels: LabelArray, shape: Vec3, opts: EdtOptions = {}): Float32Array {
  const sampling = opts.sampling ?? [1, 1, 1];
  checkShape('edtLabels', labels.length, shape, sampling);
  return transform(labels, shape, sampling, opts.borderIsBoundary ?? false, opts.out, opts.region);
}

/** Distance of every labelled voxel to the nearest voxel of another label (0 counts as another label). */
export function edtLabels(labels: LabelArray, shape: Vec3, opts: EdtOptions = {}): Float32Array {
  return sqrtInPlace(edtLabelsSquared(labels, shape, opts));
}

function sqrtInPlace(a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.sqrt(a[i]);
  return a;
}

function transform(labels: LabelArray, shape: Vec3, sampling: Vec3, border: boolean, out?: Float32Array, region?: { min: Vec3; max: Vec3 }): Float32Array {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (out && out.length !== n) throw new UsageError(`edt: output has ${out.length} elements, expected ${n}`);
  const r = region ?? { min: [0, 0, 0], max: shape };
  for (let i = 0; i < 3; i++) {
    if (!(Number.isInteger(r.min[i]) && Number.isInteger(r.max[i]) && r.min[i] >= 0 && r.min[i] <= r.max[i] && r.max[i] <= shape[i])) {
      throw new UsageError(`edt: region [${r.min}]..[${r.max}] is not a box inside the shape [${shape}]`);
    }
  }
  const [x0, y0] = r.min;
  const [x1, y1] = r.max;
  const d = out ?? new Float32Array(n);
  if (n === 0) return d;
  const lab = labels as unknown as ArrayLike<number>; // equality/zero tests work for bigint too
  const zero = (labels instanceof BigUint64Array ? 0n : 0) as unknown as number;
  // Pass 1 along x: two-sided scan within runs.
  passX(lab, zero, d, sx, sy * sz, sampling[0], border && sx > 1);
  const maxLen = Math.max(sx, sy, sz);
  const f = new Float64Array(maxLen);
  const zs = new Float64Array(maxLen + 1);
  const v = new Int32Array(maxLen);
  const res = new Float64Array(maxLen);
  if (sy > 1) {
    // lines along y: for each z, for each x; stride sx
    // (every z: the z lines of the region read them)
    for (let z = 0; z < sz; z++) {
      const base = z * sx * sy;
      for (let x = x0; x < x1; x++) passLine(lab, zero, d, base + x, sx, sy, sampling[1], border, f, zs, v, res);
    }
  }
  if (sz > 1) {
    const plane = sx * sy;
    for (let y = y0; y < y1; y++) for (let p = x0 + sx * y, e = x1 + sx * y; p < e; p++) passLine(lab, zero, d, p, plane, sz, sampling[2], border, f, zs, v, res);
  }
  return d;
}

function passX(lab: ArrayLike<number>, zero: number, d: Float32Array, sx: number, rows: number, w: number, border: boolean): void {
  const w2 = w * w;
  for (let r = 0; r < rows; r++) {
    const base = r * sx;
    let k0 = 0;
    while (k0 < sx) {
      const L = lab[base + k0];
      let k1 = k0 + 1;
      while (k1 < sx && lab[base + k1] === L) k1++;
      if (L === zero) {
        for (let k = k0; k < k1; k++) d[base + k] = 0;
      } else {
        const left = k0 > 0 || border;
        const right = k1 < sx || border;
        for (let k = k0; k < k1; k++) {
          let best = Infinity;
          if (left) {
            const a = k - k0 + 1;
            best = w2 * a * a;
          }
          if (right) {
            const b = k1 - k;
            const vb = w2 * b * b;
            if (vb < best) best = vb;
          }
          d[base + k] = best;
        }
      }
      k0 = k1;
    }
  }
}

/**
 * One line of length `len` starting at `start` with `stride`: cut into runs of equal label and take the
 * lower envelope of parabolas inside each run (plus zero sources just outside the run when bounded).
 */
function passLine(
  lab: ArrayLike<number>,
  zero: number,
  d: Float32Array,
  start: number,
  stride: number,
  len: number,
  w: number,
  border: boolean,
  f: Float64Array,
  zs: Float64Array,
  v: Int32Array,
  res: Float64Array,
): void {
  const w2 = w * w;
  let k0 = 0;
  while (k0 < len) {
    const L = lab[start + k0 * stride];
    let k1 = k0 + 1;
    while (k1 < len && lab[start + k1 * stride] === L) k1++;
    if (L !== zero) {
      const m = k1 - k0;
      const left = k0 > 0 || border;
      const right = k1 < len || border;
      // Gather and build the lower envelope of the finite parabolas.
      let kk = -1; // index of the rightmost parabola in the envelope
      for (let q = 0; q < m; q++) {
        const fq = d[start + (k0 + q) * stride];
        f[q] = fq;
        if (fq === Infinity) continue;
        if (kk < 0) {
          kk = 0;
          v[0] = q;
          zs[0] = -Infinity;
          zs[1] = Infinity;
          continue;
        }
        const fqq = fq + w2 * q * q;
        let s = 0;
        for (;;) {
          const p = v[kk];
          s = (fqq - (f[p] + w2 * p * p)) / (2 * w2 * (q - p));
          if (s <= zs[kk] && kk > 0) kk--;
          else break;
        }
        kk++;
        v[kk] = q;
        zs[kk] = s;
        zs[kk + 1] = Infinity;
      }
      if (kk < 0) {
        for (let q = 0; q < m; q++) res[q] = Infinity;
      } else {
        let j = 0;
        for (let q = 0; q < m; q++) {
          while (zs[j + 1] < q) j++;
          const p = v[j];
          const dq = q - p;
          res[q] = w2 * dq * dq + f[p];
        }
      }
      for (let q = 0; q < m; q++) {
        let best = res[q];
        if (left) {
          const a = q + 1;
          const va = w2 * a * a;
          if (va < best) best = va;
        }
        if (right) {
          const b = m - q;
          const vb = w2 * b * b;
          if (vb < best) best = vb;
        }
        d[start + (k0 + q) * stride] = best;
      }
    }
    k0 = k1;
  }
}
