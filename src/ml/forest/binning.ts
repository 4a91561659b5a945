/** Training data checks and feature binning (<= 256 bins per feature at midpoints between distinct values). */
import { UsageError } from '../../core/errors.js';
import type { BinnedData, TrainingData } from './params.js';

export function checkTrainingData(d: TrainingData): void {
  const { nSamples: n, nFeatures: F, nClasses: K } = d;
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`random forest: no training samples (got ${n})`);
  if (!Number.isInteger(F) || F < 1) throw new UsageError(`random forest: need at least one feature (got ${F})`);
  if (!Number.isInteger(K) || K < 2 || K > 255) throw new UsageError(`random forest: number of classes must be 2..255, got ${K}`);
  if (d.x.length !== n * F) throw new UsageError(`random forest: feature array has ${d.x.length} values, expected ${n} x ${F}`);
  if (d.y.length !== n) throw new UsageError(`random forest: ${d.y.length} labels for ${n} samples`);
  for (let i = 0; i < n; i++) {
    const c = d.y[i];
    if (!(c >= 0 && c < K)) throw new UsageError(`random forest: sample ${i} has class ${c}, expected 0..${K - 1}`);
  }
  for (let i = 0; i < d.x.length; i++) {
    if (!Number.isFinite(d.x[i])) {
      const [s, f] = d.layout === 'feature-major' ? [i % n, Math.floor(i / n)] : [Math.floor(i / F), i % F];
      throw new UsageError(`random forest: feature ${f} of sample ${s} is ${d.x[i]}; features must be finite`);
    }
  }
}

/** Bin the features (<= 256 bins each) for training. */
export function binData(d: TrainingData, maxBins = 256): BinnedData {
  checkTrainingData(d);
  const { nSamples: n, nFeatures: F } = d;
  const bins = new Uint8Array(n * F);
  const edges: Float32Array[] = [];
  const col = new Float32Array(n);
  for (let f = 0; f < F; f++) {
    if (d.layout === 'feature-major') col.set(d.x.subarray(f * n, (f + 1) * n));
    else for (let i = 0; i < n; i++) col[i] = d.x[i * F + f];
    const sorted = col.slice().sort();
    // distinct values
    const uniq: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) uniq.push(sorted[i]);
    let e: number[];
    if (uniq.length <= maxBins) {
      e = [];
      for (let i = 0; i + 1 < uniq.length; i++) e.push(midpoint(uniq[i], uniq[i + 1]));
    } else {
      // quantile cut points on the sorted values, midpoints between neighbours, deduplicated
      e = [];
      for (let b = 1; b < maxBins; b++) {
        const q = Math.floor((b * n) / maxBins);
        const lo = sorted[q - 1];
        const hi = sorted[q];
        if (hi > lo) {
          const m = midpoint(lo, hi);
          if (e.length === 0 || m > e[e.length - 1]) e.push(m);
        }
      }
    }
    const ef = Float32Array.from(e);
    edges.push(ef);
    const base = f * n;
    for (let i = 0; i < n; i++) bins[base + i] = binOf(ef, col[i]);
  }
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) y[i] = d.y[i];
  return { n, nFeatures: F, nClasses: d.nClasses, bins, y, edges };
}

/** A float32 value strictly between a < b (so x <= m puts a left and b right after float32 rounding). */
export function midpoint(a: number, b: number): number {
  const m = Math.fround(a + (b - a) / 2);
  if (m >= a && m < b) return m;
  return a; // a and b adjacent floats: split at a (x <= a goes left)
}

/** Smallest b with x <= edges[b] (edges.length if none). */
export function binOf(edges: Float32Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
