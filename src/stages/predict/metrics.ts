/**
 * Pixel-classification scores for boundary maps: ROC AUC, pixel error and boundary F1 at a threshold.
 * `truth` is 1 for boundary voxels, 0 for interior, anything else (e.g. 255) = ignore.
 */

/** Exact ROC AUC = P(score_pos > score_neg) + 0.5 P(equal), by sorting both classes. */
export function rocAuc(score: Float32Array, truth: Uint8Array): number {
  let np = 0, nn = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === 1) np++;
    else if (truth[i] === 0) nn++;
  }
  if (np === 0 || nn === 0) return NaN;
  const pos = new Float32Array(np);
  const neg = new Float32Array(nn);
  for (let i = 0, a = 0, b = 0; i < truth.length; i++) {
    if (truth[i] === 1) pos[a++] = score[i];
    else if (truth[i] === 0) neg[b++] = score[i];
  }
  pos.sort();
  neg.sort();
  // for each positive: negatives below it + half the ties
  let below = 0, upto = 0, sum = 0;
  for (let i = 0; i < np; i++) {
    const s = pos[i];
    while (below < nn && neg[below] < s) below++;
    if (upto < below) upto = below;
    while (upto < nn && neg[upto] <= s) upto++;
    sum += below + 0.5 * (upto - below);
  }
  return sum / (np * nn);
}

export interface BinaryScores {
  /** Fraction of (non-ignored) voxels classified wrongly at the threshold. */
  pixelError: number;
  precision: number;
  recall: number;
  /** F1 of the boundary class. */
  f1: number;
  auc: number;
  voxels: number;
}

export function binaryScores(score: Float32Array, truth: Uint8Array, threshold = 0.5): BinaryScores {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    if (t > 1) continue;
    const p = score[i] > threshold ? 1 : 0;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  const n = tp + fp + fn + tn;
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, tp + fn);
  return {
    pixelError: (fp + fn) / Math.max(1, n),
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    auc: rocAuc(score, truth),
    voxels: n,
  };
}
