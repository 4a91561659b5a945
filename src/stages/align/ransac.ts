/**
 * RANSAC over point pairs for an affine model: seeded minimal samples, the hypothesis with the
 * most pairs within `threshold` wins (ties: the smaller summed residual), refitted by least
 * squares on its inliers until the inlier set stops changing.
 */
import { mulberry32 } from '../../core/random.js';
import { type Affine, type AffineModel, type Pairs, fitAffine, minPairs, residual } from './affine.js';

export interface RansacOptions {
  model: AffineModel;
  /** Inlier distance, px. */
  threshold: number;
  iterations: number;
  seed: number;
}

export interface RansacResult {
  affine: Affine;
  inliers: boolean[];
  count: number;
  /** RMS residual of the inliers, px. */
  rms: number;
}

function score(m: Affine, p: Pairs, t: number): { inliers: boolean[]; count: number; sum: number } {
  const n = p.x.length;
  const inliers = new Array<boolean>(n);
  let count = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const r = residual(m, p, i);
    inliers[i] = r <= t;
    if (inliers[i]) {
      count++;
      sum += r * r;
    }
  }
  return { inliers, count, sum };
}

/** Null when there are too few pairs or no hypothesis explains at least minPairs of them. */
export function ransacAffine(p: Pairs, o: RansacOptions): RansacResult | null {
  const n = p.x.length;
  const k = minPairs(o.model);
  if (n < k) return null;
  const rand = mulberry32(o.seed);
  let best: { m: Affine; count: number; sum: number } | null = null;
  const tries = n <= k ? 1 : o.iterations;
  for (let it = 0; it < tries; it++) {
    const pick: number[] = [];
    while (pick.length < k) {
      const i = Math.floor(rand() * n);
      if (!pick.includes(i)) pick.push(i);
    }
    const m = fitAffine(p, o.model, pick);
    if (!m) continue;
    const s = score(m, p, o.threshold);
    if (!best || s.count > best.count || (s.count === best.count && s.sum < best.sum)) best = { m, count: s.count, sum: s.sum };
  }
  if (!best || best.count < k) return null;
  let m = best.m;
  let s = score(m, p, o.threshold);
  for (let round = 0; round < 10; round++) {
    const idx = s.inliers.flatMap((b, i) => (b ? [i] : []));
    const refit = fitAffine(p, o.model, idx);
    if (!refit) break;
    const s2 = score(refit, p, o.threshold);
    if (s2.count < s.count) break;
    const same = s2.inliers.every((b, i) => b === s.inliers[i]);
    m = refit;
    s = s2;
    if (same) break;
  }
  return { affine: m, inliers: s.inliers, count: s.count, rms: s.count ? Math.sqrt(s.sum / s.count) : 0 };
}
