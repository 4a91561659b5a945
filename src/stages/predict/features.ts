/**
 * ilastik-style pixel feature stack on float32 blocks [x, y, z] (x fastest).
 *
 * Features per scale s (channel order: for each sigma, for each feature in `features` order):
 *   G     Gaussian smoothing                                          1 channel
 *   GGM   Gaussian gradient magnitude sqrt(sum_i (d_i G)^2)             1
 *   LoG   Laplacian of Gaussian sum_i d_ii G                           1
 *   DoG   difference of Gaussians G(s) - G(0.66 s)                      1
 *   STE   structure-tensor eigenvalues (inner scale s, outer 0.5 s)    dims (descending)
 *         (cfg.steOuter 'sigma': inner 0.5 s, outer s, as vigra's structureTensorEigenvalues(img, 0.5 s, s))
 *   HoGE  Hessian-of-Gaussian eigenvalues [d_ij G]                      dims (descending)
 *   LINE  oriented line filters (opt-in, 2-D only: line-features.ts)    3 (max, min, max - min over orientations)
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
import { eig2, eig3 } from './eigen.js';
import { hessianShape } from './hessian-shape.js';
import { LINE_CHANNELS, checkLineConfig, lineFeatures, lineMargin } from './line-features.js';

export { cosThirdAcos, eig2, eig3, eig3Trig, sinThirdAcos } from './eigen.js';

type Triple = [Float32Array | undefined, Float32Array | undefined, Float32Array | undefined];

// HoGR (hessian-shape.ts) and LINE (line-features.ts, 2-D only) are opt-in: not in DEFAULT_FEATURES
export const FEATURE_NAMES = ['G', 'GGM', 'LoG', 'DoG', 'STE', 'HoGE', 'HoGR', 'LINE'] as const;
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
  /**
   * The structure tensor's scales at sigma s: absent or 'half' = gradients at s, smoothed at 0.5 s (the
   * default); 'sigma' = gradients at 0.5 s (at least MIN_AXIS_SIGMA), smoothed at s, as the pipeline
   * bench's vigra reference computes it (docs/ACCURACY.md "The cleft AUC gap").
   */
  steOuter?: SteOuter;
}

export const STE_OUTER = ['half', 'sigma'] as const;
export type SteOuter = (typeof STE_OUTER)[number];

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
  opts: { sigmas?: number[]; features?: FeatureName[]; dims?: 2 | 3; mode?: BorderMode; truncate?: number; recursiveFrom?: number | null; steOuter?: SteOuter } = {},
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
  if (features.includes('LINE')) checkLineConfig(dims, anisotropy);
  const cfg: FeatureConfig = { sigmas: [...sigmas], features: [...features], dims, anisotropy, mode: opts.mode ?? 'reflect', truncate: opts.truncate ?? 4 };
  if (recursiveFrom !== null) cfg.recursiveFrom = recursiveFrom;
  if (opts.steOuter !== undefined && !(STE_OUTER as readonly string[]).includes(opts.steOuter)) {
    throw new UsageError(`structure tensor outer scale: expected ${STE_OUTER.join(' or ')}, got ${JSON.stringify(opts.steOuter)}`);
  }
  if (opts.steOuter === 'sigma') cfg.steOuter = 'sigma';
  return cfg;
}

/** Per-axis sigma of scale s under a configuration (z = 0 in 2-D). */
export function axisSigmas(cfg: FeatureConfig, s: number): Vec3 {
  const f = (a: number): number => (cfg.dims === 2 && a === 2 ? 0 : Math.max(MIN_AXIS_SIGMA, s * cfg.anisotropy[a]));
  return [f(0), f(1), f(2)];
}

function channelsOf(f: FeatureName, dims: number): number {
  return f === 'STE' || f === 'HoGE' ? dims : f === 'HoGR' ? 2 : f === 'LINE' ? LINE_CHANNELS : 1;
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
      if (cfg.features.includes('STE')) {
        const [inner, outer] = steSigmas(cfg, sg[a]);
        r = Math.max(r, kernelRadius(inner, cfg.truncate) + kernelRadius(outer, cfg.truncate));
      }
      m[a] = Math.max(m[a], r);
    }
    if (cfg.features.includes('LINE')) {
      const l = lineMargin(sg, cfg.truncate);
      for (let a = 0; a < 2; a++) m[a] = Math.max(m[a], l[a]);
    }
  }
  return [m[0], m[1], m[2]];
}

/** The structure tensor's [inner, outer] sigma of an axis sigma under a configuration (steOuter). */
function steSigmas(cfg: FeatureConfig, axisSigma: number): [number, number] {
  if (cfg.steOuter === 'sigma') return [Math.max(MIN_AXIS_SIGMA, axisSigma * STE_OUTER_RATIO), axisSigma];
  return [axisSigma, axisSigma * STE_OUTER_RATIO];
}

// Derivative codes: order per axis packed as ox + 3*oy + 9*oz.
const code = (ox: number, oy: number, oz: number): number => ox + 3 * oy + 9 * oz;

/** A box inside a block, voxel coordinates [min, max) per axis [x, y, z]. */
export interface FeatureRegion {
  min: Vec3;
  max: Vec3;
}

/**
 * Compute the feature stack of a float32 block of `shape` [x, y, z]. Returns (or fills `out`)
 * channels x voxels float32, channel slowest (index = voxel + n * channel).
 *
 * `region`: compute only the voxels of this box of the block (n = its voxels; the block around it
 * is the filters' context), bit for bit the whole-block result cropped. Each sigma's filters run
 * along z on the whole block, then along y only on the z sections needed, then along x only on the
 * rows needed: a crop never runs along a later pass's axis, so FIR and recursive filters give the
 * same bits. The structure tensor needs its gradients on the region grown by its outer smoothing's
 * radius (or the whole extent, along axes where that smoothing is recursive).
 */
export function computeFeatures(raw: Float32Array, shape: Vec3, cfg: FeatureConfig, out?: Float32Array, region?: FeatureRegion): Float32Array {
  const nFull = shape[0] * shape[1] * shape[2];
  if (raw.length !== nFull) throw new UsageError(`computeFeatures: raw has ${raw.length} voxels, shape [${shape}] needs ${nFull}`);
  const R = region ?? { min: [0, 0, 0] as Vec3, max: [...shape] as Vec3 };
  for (let a = 0; a < 3; a++) {
    if (!(Number.isInteger(R.min[a]) && Number.isInteger(R.max[a]) && R.min[a] >= 0 && R.min[a] <= R.max[a] && R.max[a] <= shape[a])) {
      throw new UsageError(`computeFeatures: region [${R.min}]-[${R.max}] is not inside the block [${shape}]`);
    }
  }
  const rShape: Vec3 = [R.max[0] - R.min[0], R.max[1] - R.min[1], R.max[2] - R.min[2]];
  const n = rShape[0] * rShape[1] * rShape[2];
  const nch = featureCount(cfg);
  const res = out ?? spareStack(n * nch) ?? new Float32Array(n * nch);
  if (res.length !== n * nch) throw new UsageError(`computeFeatures: output has ${res.length} elements, expected ${n * nch}`);
  if (n === 0) return res;
  for (let i = 0; i < nFull; i++) {
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
  // the structure tensor of steOuter 'sigma' takes its own gradients (at 0.5 s): structureTensorWide
  const wideSte = cfg.steOuter === 'sigma';
  const steHere = feats.has('STE') && !wideSte;
  if (feats.has('G') || feats.has('DoG')) want.add(code(0, 0, 0));
  if (feats.has('GGM') || steHere) for (const a of axes) want.add(code(a === 0 ? 1 : 0, a === 1 ? 1 : 0, a === 2 ? 1 : 0));
  const hessian = feats.has('HoGE') || feats.has('HoGR');
  if (feats.has('LoG') || hessian) {
    for (const a of axes) {
      for (const b of axes) {
        if (b < a) continue;
        const o = [0, 0, 0];
        o[a]++;
        o[b]++;
        if (hessian || a === b) want.add(code(o[0], o[1], o[2]));
      }
    }
  }
  const pool = new Pool(keptScratch);
  keptScratch = undefined;
  const f = new Filters(cfg);
  const from = cfg.recursiveFrom ?? Infinity;
  let ch = 0;
  const channel = (c: number): Float32Array => res.subarray(c * n, (c + 1) * n);
  const XY = shape[0] * shape[1];

  for (const s of cfg.sigmas) {
    const sg = axisSigmas(cfg, s);
    const outer: Vec3 = [sg[0] * STE_OUTER_RATIO, sg[1] * STE_OUTER_RATIO, sg[2] * STE_OUTER_RATIO];
    // E: where the derivatives are needed (the region, grown for the structure tensor's smoothing)
    const eMin: number[] = [...R.min];
    const eMax: number[] = [...R.max];
    if (steHere) {
      for (const a of axes) {
        const full = outer[a] >= from;
        const r = full ? shape[a] : kernelRadius(outer[a], cfg.truncate);
        eMin[a] = Math.max(0, R.min[a] - r);
        eMax[a] = Math.min(shape[a], R.max[a] + r);
      }
    }
    const E: FeatureRegion = { min: [eMin[0], eMin[1], eMin[2]], max: [eMax[0], eMax[1], eMax[2]] };
    // x stays whole until the end (the last pass runs along x)
    const eShape: Vec3 = [shape[0], E.max[1] - E.min[1], E.max[2] - E.min[2]];
    const slabShape: Vec3 = [shape[0], shape[1], eShape[2]];
    const deriv = new Map<number, Float32Array>();
    // Derivative tree: z pass (whole block), crop to E's z sections, y pass, crop to E's rows, x pass.
    const zOrders = new Set<number>();
    for (const c of want) zOrders.add(Math.floor(c / 9));
    const zb: Triple = [undefined, undefined, undefined];
    if (dims === 2) zb[0] = raw.subarray(XY * E.min[2], XY * E.max[2]);
    else {
      for (const oz of zOrders) zb[oz] = pool.take(nFull);
      f.derivatives(raw, shape, 2, sg[2], zb);
    }
    for (const oz of zOrders) {
      const zs = dims === 2 ? zb[oz]! : zb[oz]!.subarray(XY * E.min[2], XY * E.max[2]);
      const yb: Triple = [undefined, undefined, undefined];
      for (const c of want) if (Math.floor(c / 9) === oz) yb[Math.floor(c / 3) % 3] ??= pool.take(zs.length);
      f.derivatives(zs, slabShape, 1, sg[1], yb);
      for (let oy = 0; oy < 3; oy++) {
        const y = yb[oy];
        if (!y) continue;
        const ye = cropRows(y, slabShape, E.min[1], eShape[1], pool);
        const xb: Triple = [undefined, undefined, undefined];
        for (const c of want) if (Math.floor(c / 9) === oz && Math.floor(c / 3) % 3 === oy) xb[c % 3] = pool.take(ye.length);
        f.derivatives(ye, eShape, 0, sg[0], xb);
        for (let ox = 0; ox < 3; ox++) {
          const b = xb[ox];
          if (b) deriv.set(code(ox, oy, oz), b);
        }
        if (ye !== y) pool.give(ye);
        pool.give(y);
      }
      if (dims === 3) pool.give(zb[oz]!);
    }
    // the derivatives on the region itself (views when E is the region)
    const off: Vec3 = [R.min[0], R.min[1] - E.min[1], R.min[2] - E.min[2]];
    const onRegion = new Map<number, Float32Array>();
    const atR = (c: number): Float32Array => {
      let v = onRegion.get(c);
      if (!v) onRegion.set(c, (v = crop(deriv.get(c)!, eShape, off, rShape, pool)));
      return v;
    };
    const firstCode = (a: number): number => code(a === 0 ? 1 : 0, a === 1 ? 1 : 0, a === 2 ? 1 : 0);
    const second = (a: number, b: number): Float32Array => {
      const o = [0, 0, 0];
      o[a]++;
      o[b]++;
      return atR(code(o[0], o[1], o[2]));
    };
    for (const name of cfg.features) {
      switch (name) {
        case 'G':
          channel(ch++).set(atR(0));
          break;
        case 'GGM':
          if (dims === 2) magnitude2(atR(firstCode(0)), atR(firstCode(1)), channel(ch++));
          else magnitude3(atR(firstCode(0)), atR(firstCode(1)), atR(firstCode(2)), channel(ch++));
          break;
        case 'LoG':
          if (dims === 2) sum2(second(0, 0), second(1, 1), channel(ch++));
          else sum3(second(0, 0), second(1, 1), second(2, 2), channel(ch++));
          break;
        case 'DoG': {
          const sg2: Vec3 = [sg[0] * DOG_RATIO, sg[1] * DOG_RATIO, sg[2] * DOG_RATIO];
          const u = f.smoothCropped(raw, shape, sg2, R, pool);
          difference(atR(0), u, channel(ch++));
          pool.give(u);
          break;
        }
        case 'STE': {
          if (wideSte) {
            structureTensorWide(raw, shape, dims, sg, R, rShape, f, pool, Array.from({ length: dims }, (_, k) => channel(ch + k)));
            ch += dims;
            break;
          }
          const first = axes.map((a) => deriv.get(firstCode(a))!);
          tensorEigenvalues(first, eShape, outer, off, rShape, f, pool, Array.from({ length: dims }, (_, k) => channel(ch + k)));
          ch += dims;
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
        case 'HoGR': {
          const e = Array.from({ length: dims }, () => pool.take(n));
          if (dims === 2) eig2(second(0, 0), second(0, 1), second(1, 1), e[0], e[1]);
          else eig3(second(0, 0), second(0, 1), second(0, 2), second(1, 1), second(1, 2), second(2, 2), e[0], e[1], e[2]);
          hessianShape(e, channel(ch), channel(ch + 1));
          ch += 2;
          for (const t of e) pool.give(t);
          break;
        }
        case 'LINE': {
          if (dims !== 2) throw new UsageError('features: LINE (oriented line filters) is 2-D only');
          lineFeatures(raw, shape, sg[0], cfg.truncate, cfg.mode, R.min, R.max, [channel(ch), channel(ch + 1), channel(ch + 2)]);
          ch += LINE_CHANNELS;
          break;
        }
      }
    }
    for (const [c, v] of onRegion) if (v !== deriv.get(c)) pool.give(v);
    for (const d of deriv.values()) pool.give(d);
  }
  keptScratch = pool.keep();
  return res;
}

/**
 * Structure-tensor eigenvalues with gradients at 0.5 s and the tensor smoothed at s (steOuter 'sigma'), on
 * region R of the block: the gradients and the tensor on the whole block (2-D: on R's sections only),
 * then cropped, so a region is the whole block's result cropped, bit for bit.
 */
function structureTensorWide(raw: Float32Array, shape: Vec3, dims: 2 | 3, sg: Vec3, R: FeatureRegion, rShape: Vec3, f: Filters, pool: Pool, outs: Float32Array[]): void {
  const half = (a: number): number => (a < dims ? Math.max(MIN_AXIS_SIGMA, sg[a] * STE_OUTER_RATIO) : 0);
  const inner: Vec3 = [half(0), half(1), half(2)];
  const XY = shape[0] * shape[1];
  const z0 = dims === 2 ? R.min[2] : 0;
  const z1 = dims === 2 ? R.max[2] : shape[2];
  const bs: Vec3 = [shape[0], shape[1], z1 - z0];
  const src = raw.subarray(XY * z0, XY * z1);
  const N = src.length;
  const grads: Float32Array[] = [];
  if (dims === 2) {
    const y0 = pool.take(N), y1 = pool.take(N);
    f.derivatives(src, bs, 1, inner[1], [y0, y1, undefined]);
    const gx = pool.take(N), gy = pool.take(N);
    f.derivatives(y0, bs, 0, inner[0], [undefined, gx, undefined]);
    f.derivatives(y1, bs, 0, inner[0], [gy, undefined, undefined]);
    pool.give(y0); pool.give(y1);
    grads.push(gx, gy);
  } else {
    const zs0 = pool.take(N), zs1 = pool.take(N);
    f.derivatives(src, bs, 2, inner[2], [zs0, zs1, undefined]);
    const y00 = pool.take(N), y01 = pool.take(N), y10 = pool.take(N);
    f.derivatives(zs0, bs, 1, inner[1], [y00, y01, undefined]);
    f.derivatives(zs1, bs, 1, inner[1], [y10, undefined, undefined]);
    pool.give(zs0); pool.give(zs1);
    const gx = pool.take(N), gy = pool.take(N), gz = pool.take(N);
    f.derivatives(y00, bs, 0, inner[0], [undefined, gx, undefined]);
    f.derivatives(y01, bs, 0, inner[0], [gy, undefined, undefined]);
    f.derivatives(y10, bs, 0, inner[0], [gz, undefined, undefined]);
    pool.give(y00); pool.give(y01); pool.give(y10);
    grads.push(gx, gy, gz);
  }
  tensorEigenvalues(grads, bs, sg, [R.min[0], R.min[1], R.min[2] - z0], rShape, f, pool, outs);
  for (const g of grads) pool.give(g);
}

/**
 * Eigenvalues (descending) of the structure tensor of gradients `grads` (one per axis, over `shape`):
 * each product g_a g_b smoothed at `sigma`, cropped to the box at `off` of size `rShape`, into `outs`.
 */
function tensorEigenvalues(grads: Float32Array[], shape: Vec3, sigma: Vec3, off: Vec3, rShape: Vec3, f: Filters, pool: Pool, outs: Float32Array[]): void {
  const dims = grads.length;
  const n = shape[0] * shape[1] * shape[2];
  const tensor: Float32Array[] = [];
  for (let a = 0; a < dims; a++) {
    for (let b = a; b < dims; b++) {
      const p = pool.take(n);
      product(grads[a], grads[b], p);
      const t = pool.take(n);
      const q = pool.take(n);
      f.smoothInto(p, shape, sigma, t, q);
      pool.give(t);
      pool.give(p);
      const qr = crop(q, shape, off, rShape, pool);
      if (qr !== q) pool.give(q);
      tensor.push(qr);
    }
  }
  if (dims === 2) eig2(tensor[0], tensor[1], tensor[2], outs[0], outs[1]);
  else eig3(tensor[0], tensor[1], tensor[2], tensor[3], tensor[4], tensor[5], outs[0], outs[1], outs[2]);
  for (const t of tensor) pool.give(t);
}

/** Rows y0..y0+ny-1 of every z section of a [sx, sy, sz] volume as a [sx, ny, sz] volume (the input itself when that is all of it). */
function cropRows(v: Float32Array, shape: Vec3, y0: number, ny: number, pool: Pool): Float32Array {
  if (y0 === 0 && ny === shape[1]) return v;
  return crop(v, shape, [0, y0, 0], [shape[0], ny, shape[2]], pool);
}

/** The box at `off` of size `size` of a volume of `shape` (the input itself when that is all of it). */
function crop(v: Float32Array, shape: Vec3, off: Vec3, size: Vec3, pool: Pool): Float32Array {
  if (off[0] === 0 && off[1] === 0 && off[2] === 0 && size[0] === shape[0] && size[1] === shape[1] && size[2] === shape[2]) return v;
  const o = pool.take(size[0] * size[1] * size[2]);
  copyBox(v, shape, off, size, o);
  return o;
}

function copyBox(v: Float32Array, shape: Vec3, off: Vec3, size: Vec3, o: Float32Array): void {
  let k = 0;
  for (let z = 0; z < size[2]; z++) {
    for (let y = 0; y < size[1]; y++) {
      const s = off[0] + shape[0] * (off[1] + y + shape[1] * (off[2] + z));
      o.set(v.subarray(s, s + size[0]), k);
      k += size[0];
    }
  }
}

/** Scratch volumes, reused within one computeFeatures call (by length). */
class Pool {
  private free = new Map<number, Float32Array[]>();
  /** `old`: the previous call's scratch, taken from when this call has none of a length free */
  constructor(private readonly old = new Map<number, Float32Array[]>()) {}
  take(n: number): Float32Array {
    return this.free.get(n)?.pop() ?? this.old.get(n)?.pop() ?? new Float32Array(n);
  }
  give(a: Float32Array): void {
    const l = this.free.get(a.length);
    if (l) l.push(a);
    else this.free.set(a.length, [a]);
  }
  /** This call's scratch for the next call, if it fits FEATURE_KEEP_BYTES (the previous call's unused arrays are dropped). */
  keep(): Map<number, Float32Array[]> | undefined {
    let bytes = 0;
    for (const l of this.free.values()) for (const a of l) bytes += a.byteLength;
    return bytes <= FEATURE_KEEP_BYTES ? this.free : undefined;
  }
}

/**
 * Bytes of scratch volumes (and released feature stacks, each) kept from one computeFeatures call for
 * the next, so blocks of one shape reuse their arrays instead of faulting in fresh pages (about 15% of
 * the 2-D stack: docs/THROUGHPUT.md). Larger calls keep nothing.
 */
export const FEATURE_KEEP_BYTES = 256 * 2 ** 20;
/** the last computeFeatures call's scratch (see Pool.keep) */
let keptScratch: Map<number, Float32Array[]> | undefined;
/** feature stacks handed back by releaseFeatures, newest last */
const spareStacks: Float32Array[] = [];

/**
 * Hand back a feature stack computeFeatures returned, once nothing reads it any more: the next call
 * needing an output of its length fills it instead of a fresh array (at most two are kept, each up to
 * FEATURE_KEEP_BYTES). Views into a larger buffer are not taken.
 */
export function releaseFeatures(stack: Float32Array): void {
  if (stack.byteOffset !== 0 || stack.byteLength !== stack.buffer.byteLength || stack.byteLength > FEATURE_KEEP_BYTES) return;
  if (spareStacks.includes(stack)) return;
  spareStacks.push(stack);
  if (spareStacks.length > 2) spareStacks.shift();
}

function spareStack(len: number): Float32Array | undefined {
  const i = spareStacks.findIndex((a) => a.length === len);
  return i < 0 ? undefined : spareStacks.splice(i, 1)[0];
}

/**
 * The 1-D filters of one configuration: exact (FIR) below cfg.recursiveFrom, recursive (IIR) from it;
 * never in place. Module-level methods (not closures made per call) keep V8's call feedback
 * monomorphic from one block to the next.
 */
class Filters {
  private readonly opts: { mode: BorderMode; truncate: number };
  private readonly from: number;
  private readonly dims2: boolean;
  constructor(cfg: FeatureConfig) {
    this.opts = { mode: cfg.mode, truncate: cfg.truncate };
    this.from = cfg.recursiveFrom ?? Infinity;
    this.dims2 = cfg.dims === 2;
  }

  derivatives(src: Float32Array, shape: Vec3, axis: 0 | 1 | 2, sigma: number, outs: Triple): void {
    if (sigma >= this.from) recursiveDerivatives1d(src, shape, axis, sigma, outs, this.opts);
    else gaussianDerivatives1d(src, shape, axis, sigma, outs, this.opts);
  }

  filter(src: Float32Array, dst: Float32Array, shape: Vec3, axis: 0 | 1 | 2, sigma: number): void {
    if (sigma >= this.from && src !== dst) recursiveFilter1d(src, dst, shape, axis, sigma, 0, this.opts);
    else gaussianFilter1d(src, dst, shape, axis, sigma, 0, this.opts);
  }

  /**
   * Gaussian of per-axis sigmas sg of src (whole block of `shape`) on region R, as a new pooled volume
   * of R's shape: z on the block, y on R's sections, x on R's rows (the DoG's order of passes).
   */
  smoothCropped(src: Float32Array, shape: Vec3, sg: Vec3, R: FeatureRegion, pool: Pool): Float32Array {
    const XY = shape[0] * shape[1];
    const slab: Vec3 = [shape[0], shape[1], R.max[2] - R.min[2]];
    const ns = XY * slab[2];
    let zs: Float32Array;
    let zTaken: Float32Array | undefined;
    if (this.dims2) zs = src.subarray(XY * R.min[2], XY * R.max[2]);
    else {
      zTaken = pool.take(XY * shape[2]);
      this.filter(src, zTaken, shape, 2, sg[2]);
      zs = zTaken.subarray(XY * R.min[2], XY * R.max[2]);
    }
    const t = pool.take(ns);
    this.filter(zs, t, slab, 1, sg[1]);
    if (zTaken) pool.give(zTaken);
    const rows: Vec3 = [shape[0], R.max[1] - R.min[1], slab[2]];
    const ty = cropRows(t, slab, R.min[1], rows[1], pool);
    const u = pool.take(ty.length);
    this.filter(ty, u, rows, 0, sg[0]);
    if (ty !== t) pool.give(ty);
    pool.give(t);
    const size: Vec3 = [R.max[0] - R.min[0], rows[1], rows[2]];
    const ur = crop(u, rows, [R.min[0], 0, 0], size, pool);
    if (ur !== u) pool.give(u);
    return ur;
  }

  /** Gaussian of per-axis sigmas sg of src into dst (the structure tensor's order of passes: z into dst, y into t, x into dst). */
  smoothInto(src: Float32Array, shape: Vec3, sg: Vec3, t: Float32Array, dst: Float32Array): void {
    if (this.dims2) {
      this.filter(src, t, shape, 1, sg[1]);
      this.filter(t, dst, shape, 0, sg[0]);
    } else {
      this.filter(src, dst, shape, 2, sg[2]);
      this.filter(dst, t, shape, 1, sg[1]);
      this.filter(t, dst, shape, 0, sg[0]);
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
