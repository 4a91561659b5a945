import { UsageError } from '../../core/errors.js';
import { type DetectedSynapse, type SynapseBlockInputs, type SynapseParams, detectSynapses } from './detect.js';

/**
 * Choose the cleft threshold and the size filter on a volume with ground truth (a training or
 * validation volume, never the one being scored): detect synapses on the whole volume(s) at every
 * threshold, filter by every minimum size, score each setting with `score` (e.g. the CREMI-like
 * partner F-score) and keep the best. One detection per threshold (the size filter is applied
 * to its rows), so the grid costs |thresholds| detections.
 */

export interface SweepRow {
  threshold: number;
  minSize: number;
  detected: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  fscore: number;
}

export interface SweepResult {
  rows: SweepRow[];
  /** The best row (highest F-score; ties: higher precision, then the higher threshold, then the larger size), or null when no setting finds a true synapse. */
  best: SweepRow | null;
}

export type SynapseScorer = (synapses: DetectedSynapse[]) => { tp: number; fp: number; fn: number; precision: number; recall: number; fscore: number };

/** Parse a comma-separated list of numbers (option text), each checked against [min, max]. */
export function parseNumberList(text: string, what: string, min: number, max: number): number[] {
  const v = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (v.length === 0 || v.some((x) => !Number.isFinite(x) || x < min || x > max)) {
    throw new UsageError(`${what} ${JSON.stringify(text)}: expected a comma-separated list of numbers in [${min}, ${max}]`);
  }
  return [...new Set(v)].sort((a, b) => a - b);
}

function better(a: SweepRow, b: SweepRow | null): boolean {
  if (!b) return true;
  if (a.fscore !== b.fscore) return a.fscore > b.fscore;
  if (a.precision !== b.precision) return a.precision > b.precision;
  if (a.threshold !== b.threshold) return a.threshold > b.threshold;
  return a.minSize > b.minSize;
}

/** One volume of a sweep: whole-volume inputs, the detection parameters (`bounds` = the inputs' box) and its scorer. */
export interface SweepVolume {
  inputs: SynapseBlockInputs;
  params: SynapseParams;
  score: SynapseScorer;
}

/**
 * Sweep thresholds x minimum sizes over one or more volumes, pooling their counts (tp, fp, fn
 * summed, then precision, recall and F-score of the sums). `params.threshold`,
 * `params.lowThreshold` and `params.minSize` are ignored (the grid's plain thresholds replace them).
 */
export function sweepSynapseParams(volumes: SweepVolume[], grid: { thresholds: number[]; minSizes: number[] }): SweepResult {
  if (grid.thresholds.length === 0 || grid.minSizes.length === 0) throw new UsageError('the synapse sweep needs at least one threshold and one minimum size');
  if (volumes.length === 0) throw new UsageError('the synapse sweep needs at least one volume');
  const minSizes = [...grid.minSizes].sort((a, b) => a - b);
  const rows: SweepRow[] = [];
  let best: SweepRow | null = null;
  for (const threshold of grid.thresholds) {
    const found = volumes.map((v) => detectSynapses(v.inputs, v.inputs.clefts.box, { ...v.params, threshold, lowThreshold: undefined, minSize: minSizes[0] }).synapses);
    for (const minSize of minSizes) {
      let detected = 0;
      let tp = 0;
      let fp = 0;
      let fn = 0;
      volumes.forEach((v, k) => {
        const kept = found[k].filter((s) => s.size >= minSize);
        const sc = v.score(kept);
        detected += kept.length;
        tp += sc.tp;
        fp += sc.fp;
        fn += sc.fn;
      });
      const precision = tp + fp ? tp / (tp + fp) : 1;
      const recall = tp + fn ? tp / (tp + fn) : 1;
      const fscore = tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
      const row: SweepRow = { threshold, minSize, detected, tp, fp, fn, precision, recall, fscore };
      rows.push(row);
      if (row.tp > 0 && better(row, best)) best = row;
    }
  }
  return { rows, best };
}
