/**
 * ilastik-style pixel feature stack on float32 blocks [x, y, z] (x fastest).
 *
 * Features per scale s (channel order: for each sigma, for each feature in `features` order):
 *   G     Gaussian smoothing                                          1 channel
 *   GGM   Gaussian gradient magnitude sqrt(sum_i (d_i G)^2)             1
 *   LoG   Laplacian of Gaussian sum_i d_ii G                           1
 *   DoG   difference of Gaussians G(s) - G(0.66 s)                      1
 *   STE   structure-tensor eigenvalues (inner scale s, outer 0.5 s)    dims (descending)
 *   HoGE  Hessian-of-Gaussian eigenvalues [d_ij G]                      dims (descending)
 * Derivatives are analytic derivative-of-Gaussian filters (scipy.ndimage semantics, no sigma^k
 * normalisation), identical to ../shared/refs/ref_features.py --flavor plain for G/GGM/LoG/HoGE.
 *
 * Scales are in voxels of the finest axis; per-axis sigmas are s * anisotropy[a].
 * dims 2: every z section is filtered on its own (sigma_z = 0), eigenvalues of 2x2 tensors.
 * dims 3: per-axis sigma from the voxel size (anisotropy = min(voxelSize)/voxelSize[a]),
 * each clamped to at least MIN_AXIS_SIGMA so derivative kernels keep a support of >= 3 voxels.
 *
 * Filters: axis sigmas below `cfg.recursiveFrom` use the exact (FIR, truncated at `truncate` sigmas)
 * filters; axis sigmas at or above it use the recursive (IIR) filters of src/kernels/recursive.ts,
 * whose cost does not grow with sigma (within 1.5e-2 (G), 4e-2 (first) and 8e-2 (second
 * derivatives) of each channel's range of the exact ones; docs/PIPELINE.md). Configurations without
 * `recursiveFrom` (models trained before it existed) are exact throughout.
 *
 * Margin: a block computed on its box grown by `featureMargin(cfg)` (clipped at the volume
 * bounds) equals the whole-volume result bit for bit on the box with exact filters, so block seams
 * never show; with recursive filters, within the recursive filters' tolerance (their response is
 * infinite, though below 1e-3 of a step beyond the margin).
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { type BorderMode, gaussianDerivatives1d, gaussianFilter1d, kernelRadius } from '../../kernels/filters.js';
import { MIN_RECURSIVE_SIGMA, recursiveDerivatives1d, recursiveFilter1d } from '../../kernels/recursive.js';

type Triple = [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined];

export const FEATURE_NAMES = ['G', 'GGM', 'LoG', 'DoG', 'STE', 'HoGE'] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

export const MIN_AXIS_SIGMA = 0.3;
const DOG_RATIO = 0.66;
const STE_OUTER_RATIO = 0.5;

export interface FeatureConfig {
  sigmas: number[];
  features: FeatureName[];
  dims: 2 | 3;
  /** Per-axis factor applied to each sigma [x, y, z] (z is ignored in 2-D). */
  anisotropy: Vec3;
  mode: BorderMode;
  truncate: number;
  /** Axis sigmas (voxels) at or above this use recursive filters; absent: exact filters everywhere. */
  recursiveFrom?: number;
}

export const DEFAULT_SIGMAS = [0.7, 1.6, 3.5, 5.0];
/**
 * Default `recursiveFrom` of new configurations: recursive filters from an axis sigma of 1.5 voxels
 * (faster than the exact ones from there: docs/PIPELINE.md; chosen on gala-medulla, held-out AUC
 * measured on ISBI 2012).
 */
export const RECURSIVE_FROM = 1.5;
export const DEFAULT_FEATURES: FeatureName[] = ['G', 'GGM', 'LoG', 'DoG', 'STE', 'HoGE'];

/**
 * A feature configuration for data of this voxel size: 2-D per section when z is more than
 * twice as coarse as x/y (serial-section EM), else 3-D with per-axis sigmas.
 */
export function featureConfig(
  voxelSize: Vec3,
  opts: { sigmas?: number[]; features?: FeatureName[]; dims?: 2 | 3; mode?: BorderMode; truncate?: number; recursiveFrom?: number | null } = {},
): FeatureConfig {
  const sigmas = opts.sigmas ?? DEFAULT_SIGMAS;
  const features = opts.features ?? DEFAULT_FEATURES;
  for (const s of sigmas) if (!(s > 0) || !Number.isFinite(s)) throw new UsageError(`feature sigmas: ${s} is not a positive number`);
  if (sigmas.length === 0) throw new UsageError('feature sigmas: need at least one scale');
  if (features.length === 0) throw new UsageError('features: need at least one feature');
  for (const f of features) {
    if (!(FEATURE_NAMES as readonly string[]).includes(f)) {
      throw new UsageError(`features: unknown feature ${JSON.stringify(f)}; expected some of ${FEATURE_NAMES.join(',')}`);
    }
  }
  for (const v of voxelSize) if (!(v > 0)) throw new UsageError(`voxel size [${voxelSize}] must be positive`);
  const xy = Math.min(voxelSize[0], voxelSize[1]);
  const dims = opts.dims ?? (voxelSize[2] > 2 * Math.max(voxelSize[0], voxelSize[1]) ? 2 : 3);
  const finest = dims === 2 ? xy : Math.min(xy, voxelSize[2]);
  const anisotropy: Vec3 = [finest / voxelSize[0], finest / voxelSize[1], dims === 2 ? 0 : finest / voxelSize[2]];
  const recursiveFrom = opts.recursiveFrom === undefined ? RECURSIVE_FROM : opts.recursiveFrom;
  if (recursiveFrom !== null && !(recursiveFrom >= MIN_RECURSIVE_SIGMA)) {
    throw new UsageError(`recursive filters: from sigma ${recursiveFrom} is below ${MIN_RECURSIVE_SIGMA} voxel (they are not accurate there)`);
  }
  const cfg: FeatureConfig = { sigmas: [...sigmas], features: [...features], dims, anisotropy, mode: opts.mode ?? 'reflect', truncate: opts.truncate ?? 4 };
  if (recursiveFrom !== null) cfg.recursiveFrom = recursiveFrom;
  return cfg;
}

/** Per-axis sigma of scale s under a configuration (z = 0 in 2-D). */
export function axisSigmas(cfg: FeatureConfig, s: number): Vec3 {
  const f = (a: number): number => (cfg.dims === 2 && a === 2 ? 0 : Math.max(MIN_AXIS_SIGMA, s * cfg.anisotropy[a]));
  return [f(0), f(1), f(2)];
}

function channelsOf(f: FeatureName, dims: number): number {
  return f === 'STE' || f === 'HoGE' ? dims : 1;
}

/** Channel names in output order, e.g. G_0.7, HoGE0_1.6. */
export function featureNames(cfg: FeatureConfig): string[] {
  const names: string[] = [];
  for (const s of cfg.sigmas) {
    for (const f of cfg.features) {
      const n = channelsOf(f, cfg.dims);
      if (n === 1) names.push(`${f}_${s}`);
      else for (let k = 0; k < n; k++) names.push(`${f}${k}_${s}`);
    }
  }
  return names;
}

export function featureCount(cfg: FeatureConfig): number {
  return featureNames(cfg).length;
}

/** Context [x, y, z] voxels needed on each side so blockwise features equal whole-volume ones. */
export function featureMargin(cfg: FeatureConfig): Vec3 {
  const m = [0, 0, 0];
  for (const s of cfg.sigmas) {
    const sg = axisSigmas(cfg, s);
    for (let a = 0; a < 3; a++) {
      if (!(sg[a] > 0)) continue;
      let r = kernelRadius(sg[a], cfg.truncate);
      if (cfg.features.includes('STE')) r += kernelRadius(sg[a] * STE_OUTER_RATIO, cfg.truncate);
      m[a] = Math.max(m[a], r);
    }
  }
  return [m[0], m[1], m[2]];
}

// Derivative codes: order per axis packed as ox + 3*oy + 9*oz.
const code = (ox: number, oy: number, oz: number): number => ox + 3 * oy + 9 * oz;

/**
 * Compute the feature stack of a float32 block of `shape` [x, y, z]. Returns (or fills `out`)
 * channels x voxels float32, channel slowest (index = voxel + n * channel).
 */
export function computeFeatures(raw: Float32Array, shape: Vec3, cfg: FeatureConfig, out?: Float32Array): Float32Array {
  const n = shape[0] * shape[1] * shape[2];
  const nch = featureCount(cfg);
  if (raw.length !== n) throw new UsageError(`computeFeatures: raw has ${raw.length} voxels, shape [${shape}] needs ${n}`);
  const res = out ?? new Float32Array(n * nch);
  if (res.length !== n * nch) throw new UsageError(`computeFeatures: output has ${res.length} elements, expected ${n * nch}`);
  if (n === 0) return res;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(raw[i])) {
      const x = i % shape[0];
      const y = Math.floor(i / shape[0]) % shape[1];
      const z = Math.floor(i / (shape[0] * shape[1]));
      throw new UsageError(`raw intensities: voxel (${x},${y},${z}) of the block is ${raw[i]}; features need finite values`);
    }
  }
  const dims = cfg.dims;
  const axes = dims === 2 ? [0, 1] : [0, 1, 2];
  const want = new Set<number>();
  const feats = new Set(cfg.features);
  if (feats.has('G') || feats.has('DoG')) want.add(code(0, 0, 0));
  if (feats.has('GGM') || feats.has('STE')) for (const a of axes) want.add(code(a === 0 ? 1 : 0, a === 1 ? 1 : 0, a === 2 ? 1 : 0));
  if (feats.has('LoG') || feats.has('HoGE')) {
    for (const a of axes) {
      for (const b of axes) {
        if (b < a) continue;
        const o = [0, 0, 0];
        o[a]++;
        o[b]++;
        if (feats.has('HoGE') || a === b) want.add(code(o[0], o[1], o[2]));
      }
    }
  }
  const pool = new Pool(n);
  const f = new Filters(shape, cfg);
  let ch = 0;
  const channel = (c: number): Float32Array => res.subarray(c * n, (c + 1) * n);

  const deriv = new Map<number, Float32Array>();
  for (const s of cfg.sigmas) {
    const sg = axisSigmas(cfg, s);
    // Derivative tree: z pass, then y, then x; shared intermediates.
    for (const d of deriv.values()) pool.give(d);
    deriv.clear();
    // Each sweep computes all needed derivative orders along its axis at once (gaussianDerivatives1d).
    const zOrders = new Set<number>();
    for (const c of want) zOrders.add(Math.floor(c / 9));
    const zb: Triple = [undefined, undefined, undefined];
    if (dims === 2) zb[0] = raw;
    else {
      for (const oz of zOrders) zb[oz] = pool.take();
      f.derivatives(raw, 2, sg[2], zb);
    }
    for (const oz of zOrders) {
      const yb: Triple = [undefined, undefined, undefined];
      for (const c of want) if (Math.floor(c / 9) === oz) yb[Math.floor(c / 3) % 3] ??= pool.take();
      f.derivatives(zb[oz]!, 1, sg[1], yb);
      for (let oy = 0; oy < 3; oy++) {
        const y = yb[oy];
        if (!y) continue;
        const xb: Triple = [undefined, undefined, undefined];
        for (const c of want) if (Math.floor(c / 9) === oz && Math.floor(c / 3) % 3 === oy) xb[c % 3] = pool.take();
        f.derivatives(y, 0, sg[0], xb);
        for (let ox = 0; ox < 3; ox++) {
          const b = xb[ox];
          if (b) deriv.set(code(ox, oy, oz), b);
        }
        pool.give(y);
      }
      if (zb[oz] !== raw) pool.give(zb[oz]!);
    }
    const first = axes.map((a) => deriv.get(code(a === 0 ? 1 : 0, a === 1 ? 1 : 0, a === 2 ? 1 : 0))!);
    const second = (a: number, b: number): Float32Array => {
      const o = [0, 0, 0];
      o[a]++;
      o[b]++;
      return deriv.get(code(o[0], o[1], o[2]))!;
    };
    for (const name of cfg.features) {
      switch (name) {
        case 'G':
          channel(ch++).set(deriv.get(0)!);
          break;
        case 'GGM':
          if (dims === 2) magnitude2(first[0], first[1], channel(ch++));
          else magnitude3(first[0], first[1], first[2], channel(ch++));
          break;
        case 'LoG':
          if (dims === 2) sum2(second(0, 0), second(1, 1), channel(ch++));
          else sum3(second(0, 0), second(1, 1), second(2, 2), channel(ch++));
          break;
        case 'DoG': {
          const o = channel(ch++);
          const sg2: Vec3 = [sg[0] * DOG_RATIO, sg[1] * DOG_RATIO, sg[2] * DOG_RATIO];
          const t = pool.take();
          const u = pool.take();
          f.smooth(raw, sg2, t, u);
          difference(deriv.get(0)!, u, o);
          pool.give(t);
          pool.give(u);
          break;
        }
        case 'STE': {
          const outer: Vec3 = [sg[0] * STE_OUTER_RATIO, sg[1] * STE_OUTER_RATIO, sg[2] * STE_OUTER_RATIO];
          const tensor: Float32Array[] = [];
          for (let a = 0; a < dims; a++) {
            for (let b = a; b < dims; b++) {
              const p = pool.take();
              product(first[a], first[b], p);
              const t = pool.take();
              const q = pool.take();
              f.smoothInto(p, outer, t, q);
              pool.give(t);
              pool.give(p);
              tensor.push(q);
            }
          }
          if (dims === 2) eig2(tensor[0], tensor[1], tensor[2], channel(ch), channel(ch + 1));
          else eig3(tensor[0], tensor[1], tensor[2], tensor[3], tensor[4], tensor[5], channel(ch), channel(ch + 1), channel(ch + 2));
          ch += dims;
          for (const t of tensor) pool.give(t);
          break;
        }
        case 'HoGE': {
          if (dims === 2) eig2(second(0, 0), second(0, 1), second(1, 1), channel(ch), channel(ch + 1));
          else {
            eig3(second(0, 0), second(0, 1), second(0, 2), second(1, 1), second(1, 2), second(2, 2),
              channel(ch), channel(ch + 1), channel(ch + 2));
          }
          ch += dims;
          break;
        }
      }
    }
  }
  return res;
}

/** Scratch volumes of n voxels, reused within one computeFeatures call. */
class Pool {
  private free: Float32Array[] = [];
  constructor(private readonly n: number) {}
  take(): Float32Array {
    return this.free.pop() ?? new Float32Array(this.n);
  }
  give(a: Float32Array): void {
    this.free.push(a);
  }
}

/**
 * The 1-D filters of one configuration on one block shape: exact (FIR) below cfg.recursiveFrom,
 * recursive (IIR) from it; never in place. Module-level methods (not closures made per call) keep
 * V8's call feedback monomorphic from one block to the next.
 */
class Filters {
  private readonly opts: { mode: BorderMode; truncate: number };
  private readonly from: number;
  private readonly dims2: boolean;
  constructor(private readonly shape: Vec3, cfg: FeatureConfig) {
    this.opts = { mode: cfg.mode, truncate: cfg.truncate };
    this.from = cfg.recursiveFrom ?? Infinity;
    this.dims2 = cfg.dims === 2;
  }

  derivatives(src: Float32Array, axis: 0 | 1 | 2, sigma: number, outs: Triple): void {
    if (sigma >= this.from) recursiveDerivatives1d(src, this.shape, axis, sigma, outs, this.opts);
    else gaussianDerivatives1d(src, this.shape, axis, sigma, outs, this.opts);
  }

  filter(src: Float32Array, dst: Float32Array, axis: 0 | 1 | 2, sigma: number): void {
    if (sigma >= this.from && src !== dst) recursiveFilter1d(src, dst, this.shape, axis, sigma, 0, this.opts);
    else gaussianFilter1d(src, dst, this.shape, axis, sigma, 0, this.opts);
  }

  /** Gaussian of per-axis sigmas sg of src into u (z, y, then x; 2-D: y, x), t a scratch volume (the DoG's order of passes). */
  smooth(src: Float32Array, sg: Vec3, t: Float32Array, u: Float32Array): void {
    if (this.dims2) this.filter(src, t, 1, sg[1]);
    else {
      this.filter(src, u, 2, sg[2]);
      this.filter(u, t, 1, sg[1]);
    }
    this.filter(t, u, 0, sg[0]);
  }

  /** Gaussian of per-axis sigmas sg of src into dst (the structure tensor's order of passes: z into dst, y into t, x into dst). */
  smoothInto(src: Float32Array, sg: Vec3, t: Float32Array, dst: Float32Array): void {
    if (this.dims2) {
      this.filter(src, t, 1, sg[1]);
      this.filter(t, dst, 0, sg[0]);
    } else {
      this.filter(src, dst, 2, sg[2]);
      this.filter(dst, t, 1, sg[1]);
      this.filter(t, dst, 0, sg[0]);
    }
  }
}

function magnitude2(gx: Float32Array, gy: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(gx[i] * gx[i] + gy[i] * gy[i]);
}

function magnitude3(gx: Float32Array, gy: Float32Array, gz: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(gx[i] * gx[i] + gy[i] * gy[i] + gz[i] * gz[i]);
}

function sum2(a: Float32Array, b: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = a[i] + b[i];
}

function sum3(a: Float32Array, b: Float32Array, c: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = a[i] + b[i] + c[i];
}

function difference(a: Float32Array, b: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = a[i] - b[i];
}

function product(a: Float32Array, b: Float32Array, o: Float32Array): void {
  for (let i = 0; i < o.length; i++) o[i] = a[i] * b[i];
}

/** Eigenvalues (descending) of symmetric 2x2 [[a, b], [b, c]] per voxel. */
export function eig2(a: Float32Array, b: Float32Array, c: Float32Array, e0: Float32Array, e1: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    const m = 0.5 * (a[i] + c[i]);
    const d = 0.5 * (a[i] - c[i]);
    const r = Math.sqrt(d * d + b[i] * b[i]);
    e0[i] = m + r;
    e1[i] = m - r;
  }
}

/**
 * Eigenvalues (descending) of symmetric 3x3 [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]] per voxel,
 * closed form (trigonometric solution of the characteristic cubic), float64 internally.
 */
export function eig3(
  xx: Float32Array, xy: Float32Array, xz: Float32Array, yy: Float32Array, yz: Float32Array, zz: Float32Array,
  e0: Float32Array, e1: Float32Array, e2: Float32Array,
): void {
  const TWO_PI_3 = (2 * Math.PI) / 3;
  for (let i = 0; i < xx.length; i++) {
    const a00 = xx[i], a01 = xy[i], a02 = xz[i], a11 = yy[i], a12 = yz[i], a22 = zz[i];
    const p1 = a01 * a01 + a02 * a02 + a12 * a12;
    const q = (a00 + a11 + a22) / 3;
    const b00 = a00 - q, b11 = a11 - q, b22 = a22 - q;
    const p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2 * p1;
    if (p2 <= 1e-30 * (q * q + 1e-30)) {
      e0[i] = q;
      e1[i] = q;
      e2[i] = q;
      continue;
    }
    const p = Math.sqrt(p2 / 6);
    const ip = 1 / p;
    const c00 = b00 * ip, c11 = b11 * ip, c22 = b22 * ip, c01 = a01 * ip, c02 = a02 * ip, c12 = a12 * ip;
    const det = c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02) + c02 * (c01 * c12 - c11 * c02);
    let r = det / 2;
    if (r < -1) r = -1;
    else if (r > 1) r = 1;
    const phi = Math.acos(r) / 3;
    const l0 = q + 2 * p * Math.cos(phi);
    const l2 = q + 2 * p * Math.cos(phi + TWO_PI_3);
    e0[i] = l0;
    e1[i] = 3 * q - l0 - l2;
    e2[i] = l2;
  }
}
