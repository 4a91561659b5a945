/**
 * Auto-context (as ilastik's): a second forest sees, beside the pixel features, the first forest's
 * probabilities and those probabilities smoothed at a few scales, so it can learn shapes of the
 * first map (a membrane is a thin continuous ridge; a cleft lies along a membrane beside vesicles).
 *
 * Context features of one voxel, per used channel c of the first forest (all its outputs, or the
 * second class only for a two-class model since p0 = 1 - p1): p_c itself, then `computeFeatures`
 * of the p_c map with CONTEXT_FEATURES at CONTEXT_SIGMAS (same dims, anisotropy, border mode and
 * truncation as the pixel features). Names: `p<c>`, `p<c>:G_1`, ...
 *
 * Blockwise exactness: the first forest's map is exact on a box grown by the context margin when
 * the raw covers that box grown by the feature margin, so a block read with
 * `featureMargin + contextMargin` (clipped at the volume) gives the whole-volume result.
 */
import type { Vec3 } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { type FeatureConfig, type FeatureName, computeFeatures, featureCount, featureMargin, featureNames } from './features.js';

/** Scales (voxels) at which the first forest's probabilities are smoothed. */
export const CONTEXT_SIGMAS = [1, 2.5, 5, 10];
/** Features of the probability maps at each scale. */
export const CONTEXT_FEATURES: FeatureName[] = ['G', 'GGM', 'HoGE'];

export interface ContextConfig {
  /** Feature configuration applied to each probability channel. */
  features: FeatureConfig;
  /** First-forest class channels used. */
  channels: number[];
  /**
   * Auto-context rounds (absent: 1, models before rounds existed): round r's forest sees the pixel
   * features plus the context of round r-1's map (round 0: the pixel forest).
   */
  rounds?: number;
}

/** Most auto-context rounds a model may hold. */
export const MAX_CONTEXT_ROUNDS = 4;

/** The context configuration for a first forest of `nClasses` classes on pixel features `cfg` (the features of the maps: CONTEXT_FEATURES unless given). */
export function contextConfig(cfg: FeatureConfig, nClasses: number, features: FeatureName[] = CONTEXT_FEATURES): ContextConfig {
  const channels = nClasses === 2 ? [1] : Array.from({ length: nClasses }, (_, k) => k);
  return { features: { ...cfg, sigmas: [...CONTEXT_SIGMAS], features: [...features] }, channels };
}

/** Context features per voxel (the probability itself plus its filters, for every used channel). */
export function contextCount(c: ContextConfig): number {
  return c.channels.length * (1 + featureCount(c.features));
}

export function contextNames(c: ContextConfig): string[] {
  const f = featureNames(c.features);
  return c.channels.flatMap((ch) => [`p${ch}`, ...f.map((n) => `p${ch}:${n}`)]);
}

/** Voxels of first-forest map needed around a block for exact context features (all rounds: each round's context reads this much of the previous round's map). */
export function contextMargin(c: ContextConfig): Vec3 {
  const m = featureMargin(c.features);
  const r = c.rounds ?? 1;
  return [m[0] * r, m[1] * r, m[2] * r];
}

/** Margin of one round's context features. */
export function roundMargin(c: ContextConfig): Vec3 {
  return featureMargin(c.features);
}

/**
 * Context features (feature-major, channel slowest) of every voxel of a block whose first-forest
 * probabilities `prob` (class-major: prob[k * n + i], nClasses classes) have `shape`.
 */
export function computeContext(prob: Float32Array, shape: Vec3, nClasses: number, c: ContextConfig): Float32Array {
  const n = shape[0] * shape[1] * shape[2];
  if (prob.length !== n * nClasses) throw new UsageError(`context: ${prob.length} probabilities for ${n} voxels x ${nClasses} classes`);
  const per = 1 + featureCount(c.features);
  const out = new Float32Array(n * per * c.channels.length);
  c.channels.forEach((ch, j) => {
    if (ch < 0 || ch >= nClasses) throw new UsageError(`context: channel ${ch} of a ${nClasses}-class forest`);
    const p = prob.subarray(ch * n, (ch + 1) * n);
    const base = j * per * n;
    out.set(p, base);
    computeFeatures(p, shape, c.features, out.subarray(base + n, base + per * n));
  });
  return out;
}

/** Check a context configuration read from a model file (throws a message; the caller adds the file). */
export function checkContextConfig(c: unknown, nClasses: number): ContextConfig {
  const o = c as Partial<ContextConfig> | undefined;
  const f = o?.features;
  if (!o || !f || !Array.isArray(f.sigmas) || !Array.isArray(f.features) || (f.dims !== 2 && f.dims !== 3) || !Array.isArray(f.anisotropy)) {
    throw new Error('context.features is missing or malformed');
  }
  if (!Array.isArray(o.channels) || o.channels.length === 0 || o.channels.some((ch) => !Number.isInteger(ch) || ch < 0 || ch >= nClasses)) {
    throw new Error(`context.channels must list class indices below ${nClasses}, got ${JSON.stringify(o.channels)}`);
  }
  if (o.rounds !== undefined && !(Number.isInteger(o.rounds) && o.rounds >= 1 && o.rounds <= MAX_CONTEXT_ROUNDS)) {
    throw new Error(`context.rounds must be an integer 1..${MAX_CONTEXT_ROUNDS}, got ${JSON.stringify(o.rounds)}`);
  }
  return o as ContextConfig;
}
