/** The forest's parameters (defaults, validation) and the shapes of its training data and trees. */
import { UsageError } from '../../core/errors.js';

export interface ForestParams {
  nTrees: number;
  /** Maximum tree depth (root = 0); default unlimited. */
  maxDepth: number;
  minSamplesLeaf: number;
  /** Candidate features per split; default floor(sqrt(F)). */
  mtry?: number;
  /** Draw the same number of samples from every class for every tree. */
  balanced: boolean;
  /** Bootstrap size as a fraction of the training set size. */
  sampleFraction: number;
  seed: number;
}

export const DEFAULT_FOREST_PARAMS: ForestParams = {
  nTrees: 100,
  maxDepth: 1000,
  minSamplesLeaf: 1,
  balanced: true,
  sampleFraction: 1,
  seed: 0,
};

/** Training data: n samples x F features, float32. Layout 'feature-major': x[f * n + i]; 'sample-major': x[i * F + f]. */
export interface TrainingData {
  x: Float32Array;
  nSamples: number;
  nFeatures: number;
  layout: 'feature-major' | 'sample-major';
  /** Class of each sample, 0..nClasses-1. */
  y: Uint8Array | Uint16Array | Int32Array;
  nClasses: number;
}

/** Binned training data shared by all trees (and by worker threads). */
export interface BinnedData {
  n: number;
  nFeatures: number;
  nClasses: number;
  /** bins[f * n + i] */
  bins: Uint8Array;
  y: Uint8Array;
  /** thresholds[f][b]: upper edge of bin b (x <= edge <=> bin <= b). */
  edges: Float32Array[];
}

/** One or more trained trees in flat arrays. */
export interface TreeArrays {
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float32Array;
  child: Int32Array;
  leafProb: Float32Array;
  /** Gini decrease per tree and feature (unnormalised): importance[t * nFeatures + f]. */
  importance: Float64Array;
}

export function resolveParams(p: Partial<ForestParams>): ForestParams {
  const defined = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Partial<ForestParams>;
  const r = { ...DEFAULT_FOREST_PARAMS, ...defined };
  if (!Number.isInteger(r.nTrees) || r.nTrees < 1) throw new UsageError(`random forest: trees must be a positive integer, got ${r.nTrees}`);
  if (!Number.isInteger(r.maxDepth) || r.maxDepth < 0) throw new UsageError(`random forest: max depth must be >= 0, got ${r.maxDepth}`);
  if (!Number.isInteger(r.minSamplesLeaf) || r.minSamplesLeaf < 1) throw new UsageError(`random forest: min samples per leaf must be >= 1, got ${r.minSamplesLeaf}`);
  if (!(r.sampleFraction > 0)) throw new UsageError(`random forest: sample fraction must be > 0, got ${r.sampleFraction}`);
  return r;
}
