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
import { rocAuc } from './metrics.js';

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

/** Scales `train-pixels --smooth-output auto` tries on the out-of-fold map (0: none). */
export const OUTPUT_SIGMA_CANDIDATES: readonly number[] = [0, 1, 1.5, 2];

/**
 * Smallest gain of the out-of-fold mean class AUC over no smoothing for a scale to be chosen:
 * below it the model carries none (gala-medulla's 3-D map gains 0.0005 at 1 and loses 0.009 at 1.5;
 * ISBI's 2-D map gains 0.002-0.007 at 1.5; docs/ACCURACY.md "Output smoothing chosen out of fold").
 */
export const OUTPUT_SIGMA_MIN_GAIN = 0.001;

/** Voxels scored per candidate at most (an even stride over the labelled voxels above it). */
export const OUTPUT_SIGMA_MAX_SCORED = 1 << 22;

export interface OutputSigmaChoice {
  /** the chosen scale (0: none) */
  sigma: number;
  candidates: number[];
  /** mean over classes of the one-vs-rest AUC of the out-of-fold map smoothed at each candidate */
  auc: number[];
  /** labelled voxels scored */
  voxels: number;
}

/**
 * Choose the output smoothing on an out-of-fold map (class-major `map` over `shape`, `K` channels;
 * `cls` the class of each voxel, -1 unlabelled): each candidate smooths the map as predict would
 * (per axis as the features, reflected at the region's faces) and is scored by the mean over
 * classes of the one-vs-rest ROC AUC over the labelled voxels (the first channel only for K = 2,
 * whose two channels rank alike). The best candidate is chosen when it beats no smoothing by
 * `minGain`, else 0; ties go to the smaller scale. `map` is left as it was.
 */
export function chooseOutputSigma(
  map: Float32Array, shape: Vec3, K: number, cls: Int16Array, cfg: FeatureConfig,
  opts: { candidates?: readonly number[]; minGain?: number; maxScored?: number } = {},
): OutputSigmaChoice {
  const candidates = [...(opts.candidates ?? OUTPUT_SIGMA_CANDIDATES)];
  const minGain = opts.minGain ?? OUTPUT_SIGMA_MIN_GAIN;
  const n = shape[0] * shape[1] * shape[2];
  if (cls.length !== n || map.length !== K * n) throw new Error(`internal: chooseOutputSigma got a map of ${map.length} values and ${cls.length} classes for ${K} x ${n} voxels`);
  let labelled = 0;
  for (let i = 0; i < n; i++) if (cls[i] >= 0) labelled++;
  const stride = Math.max(1, Math.ceil(labelled / (opts.maxScored ?? OUTPUT_SIGMA_MAX_SCORED)));
  const at: number[] = [];
  for (let i = 0, l = 0; i < n; i++) if (cls[i] >= 0 && l++ % stride === 0) at.push(i);
  const channels = K === 2 ? [0] : Array.from({ length: K }, (_, k) => k);
  const truth = channels.map((k) => Uint8Array.from(at, (i) => (cls[i] === k ? 1 : 0)));
  const score = new Float32Array(at.length);
  const auc = candidates.map((sigma) => {
    let sum = 0, m = 0;
    for (let c = 0; c < channels.length; c++) {
      const ch = map.subarray(channels[c] * n, (channels[c] + 1) * n);
      const p = sigma > 0 ? gaussianFilter(ch, shape, outputSigmas(cfg, sigma), 0, { mode: cfg.mode, truncate: cfg.truncate }) : ch;
      for (let j = 0; j < at.length; j++) score[j] = p[at[j]];
      const a = rocAuc(score, truth[c]);
      if (Number.isFinite(a)) { sum += a; m++; }
    }
    return m ? sum / m : NaN;
  });
  const base = auc[candidates.indexOf(0)] ?? -Infinity;
  let sigma = 0, best = Number.isFinite(base) ? base : -Infinity;
  candidates.forEach((s, i) => {
    if (s > 0 && Number.isFinite(auc[i]) && auc[i] >= base + minGain && auc[i] > best + 1e-12) { best = auc[i]; sigma = s; }
  });
  return { sigma, candidates, auc: auc.map((a) => +a.toFixed(5)), voxels: at.length };
}
