/**
 * Output smoothing: a Gaussian of the forest's class probabilities, in x-y (and z for 3-D
 * features, per axis as the features scale: `axisSigmas`). A forest's per-voxel probabilities are
 * votes of trees that each saw other samples; neighbouring voxels of one membrane get noisy,
 * independent votes, and averaging them over about a voxel raises the membrane AUC on ISBI by
 * 0.007 (docs/ACCURACY.md "Boundary maps toward 0.96", where the scale was chosen and measured).
 *
 * Blockwise exactness: smoothing a block needs the probabilities `outputMargin` voxels around it,
 * which the predictor computes from raw covering that box plus the model's feature margin; at the
 * volume's faces the filter reflects (the same as the whole volume's prediction).
 */
import type { Vec3 } from '../../core/box.js';
import { gaussianFilter, gaussianMargin } from '../../kernels/filters.js';
import { type FeatureConfig, axisSigmas } from './features.js';

/** Largest output smoothing scale a model may carry (voxels). */
export const MAX_OUTPUT_SIGMA = 8;

/** Per-axis smoothing sigmas of a model's outputs. */
export function outputSigmas(cfg: FeatureConfig, sigma: number): Vec3 {
  return sigma > 0 ? axisSigmas(cfg, sigma) : [0, 0, 0];
}

/** Probabilities needed on each side of a block for exact smoothing. */
export function outputMargin(cfg: FeatureConfig, sigma: number | undefined): Vec3 {
  if (!(sigma && sigma > 0)) return [0, 0, 0];
  return gaussianMargin(outputSigmas(cfg, sigma), cfg.truncate);
}

/** Smooth each of the `K` class-major channels of `prob` over `shape` (in place). */
export function smoothOutputs(prob: Float32Array, shape: Vec3, K: number, cfg: FeatureConfig, sigma: number): void {
  const s = outputSigmas(cfg, sigma);
  const n = shape[0] * shape[1] * shape[2];
  for (let k = 0; k < K; k++) {
    const ch = prob.subarray(k * n, (k + 1) * n);
    gaussianFilter(ch, shape, s, 0, { mode: cfg.mode, truncate: cfg.truncate, dst: ch });
  }
}
