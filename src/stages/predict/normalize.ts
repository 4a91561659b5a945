/**
 * Intensity normalisation for domain shift: a pixel model records the intensity quantiles of its
 * training raw (`RawStats.quantiles` at `QUANTILE_LEVELS`); before predicting another volume, its
 * own quantiles are matched to them by a monotone piecewise-linear map (quantile / histogram
 * matching), so a volume with other brightness, contrast or gamma reaches the forest with the
 * training volume's intensity distribution. Values beyond the end quantiles extend the end slopes.
 */
import { type Box, type Vec3, box, boxShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { VolumeSource } from '../../formats/source.js';

/** Quantile levels recorded in a model and matched at prediction. */
export const QUANTILE_LEVELS = [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99];

/** The quantiles of `values` at QUANTILE_LEVELS (sorted copy; lower order statistic). */
export function quantilesOf(values: ArrayLike<number>): number[] {
  if (values.length === 0) throw new UsageError('cannot compute intensity quantiles of no values');
  const s = Float64Array.from(values).sort();
  return QUANTILE_LEVELS.map((q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

/**
 * Intensities sampled the same way in training and prediction: the central box of `region`
 * (default the whole source) of at most 512 x 512 x 8 voxels, every k-th voxel so that at most
 * 2^18 values are kept (non-finite values skipped).
 */
export async function sampleIntensities(raw: VolumeSource, region?: Box): Promise<number[]> {
  const r = region ?? box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const s = boxShape(r);
  const want: Vec3 = [Math.min(s[0], 512), Math.min(s[1], 512), Math.min(s[2], 8)];
  const min = [0, 1, 2].map((a) => r.min[a] + Math.floor((s[a] - want[a]) / 2)) as unknown as Vec3;
  const v = await raw.read(box(min, [min[0] + want[0], min[1] + want[1], min[2] + want[2]]));
  const d = v.data as ArrayLike<number>;
  const n = want[0] * want[1] * want[2];
  const step = Math.max(1, Math.floor(n / (1 << 18)));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) if (Number.isFinite(d[i])) out.push(Number(d[i]));
  return out;
}

/**
 * Largest move of a quantile between `now` and `train`, as a fraction of the training 1-99 span.
 * `wiring predict` normalises when it exceeds NORMALIZE_MIN_SHIFT.
 */
export function quantileShift(now: number[], train: number[]): number {
  const span = Math.max(train[train.length - 1] - train[0], 1e-12);
  let m = 0;
  for (let i = 0; i < now.length; i++) m = Math.max(m, Math.abs(now[i] - train[i]) / span);
  return m;
}

/**
 * Below this quantile shift (fraction of the training 1-99 span) a volume is predicted as is: the
 * central-box samples of other sections of one stack differ by less (measured in docs/ACCURACY.md),
 * so a volume like the training one is not perturbed.
 */
export const NORMALIZE_MIN_SHIFT = 0.05;

/** A monotone piecewise-linear intensity map: src knots (strictly increasing) -> dst knots. */
export interface IntensityMap {
  src: number[];
  dst: number[];
}

/**
 * The map that sends the quantiles `now` of a new volume to the quantiles `train` of the training
 * raw. Ties in `now` (e.g. a saturated background) are merged (the mean of their targets).
 */
export function matchQuantiles(now: number[], train: number[]): IntensityMap {
  if (now.length !== train.length || now.length < 2) throw new UsageError(`intensity quantiles: ${now.length} values for ${train.length} training quantiles`);
  const src: number[] = [], dst: number[] = [];
  for (let i = 0; i < now.length; ) {
    let j = i, sum = 0;
    while (j < now.length && now[j] === now[i]) sum += train[j++];
    src.push(now[i]);
    dst.push(sum / (j - i));
    i = j;
  }
  // dst must not decrease (train quantiles are sorted, merged means keep that)
  for (let k = 1; k < dst.length; k++) if (dst[k] < dst[k - 1]) dst[k] = dst[k - 1];
  return { src, dst };
}

/** Apply a map to every value (float32 out). A single-knot map shifts by dst - src. */
export function applyIntensityMap(values: ArrayLike<number>, m: IntensityMap, out = new Float32Array(values.length)): Float32Array {
  const { src, dst } = m;
  const K = src.length;
  if (K === 1) {
    for (let i = 0; i < values.length; i++) out[i] = values[i] + dst[0] - src[0];
    return out;
  }
  const loSlope = (dst[1] - dst[0]) / (src[1] - src[0]);
  const hiSlope = (dst[K - 1] - dst[K - 2]) / (src[K - 1] - src[K - 2]);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v <= src[0]) out[i] = dst[0] + (v - src[0]) * loSlope;
    else if (v >= src[K - 1]) out[i] = dst[K - 1] + (v - src[K - 1]) * hiSlope;
    else {
      let lo = 0, hi = K - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (src[mid] <= v) lo = mid;
        else hi = mid;
      }
      out[i] = dst[lo] + ((v - src[lo]) * (dst[hi] - dst[lo])) / (src[hi] - src[lo]);
    }
  }
  return out;
}

/** Checks a map read from JSON (task parameters). */
export function checkIntensityMap(m: unknown, where: string): IntensityMap {
  const x = m as IntensityMap;
  if (!x || !Array.isArray(x.src) || !Array.isArray(x.dst) || x.src.length !== x.dst.length || x.src.length < 1 || x.src.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= x.src[i - 1])) || x.dst.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${where}: an intensity map needs equal-length finite src (strictly increasing) and dst lists`);
  }
  return x;
}
