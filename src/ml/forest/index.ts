/**
 * A random forest classifier written for pixel and edge classification.
 *
 * - Multi-class (classes 0..K-1), Gini impurity, sqrt(F) candidate features per split (drawing more
 *   only when none of them can split), bootstrap samples, optional class-balanced bootstrap
 *   (each tree draws the same number of samples from every class), max depth / min samples per leaf.
 * - Split search on pre-binned features: each feature is cut into <= 256 bins at midpoints between
 *   distinct training values (exact, like scikit-learn, when a feature has <= 256 distinct values;
 *   quantile midpoints otherwise). Large nodes build class histograms over bins; small nodes sort
 *   their (bin, class) keys. Thresholds are stored as float values: x <= threshold goes left.
 * - Deterministic: tree t draws from a PRNG seeded by (seed, t); the result does not depend on how
 *   many worker threads trained it (see parallel.ts).
 * - Flat typed-array storage of all trees (feature, threshold, left child or leaf, leaf class
 *   distributions) for fast prediction; feature importances = normalised total Gini decrease.
 *
 *
 * Files: params.ts, random.ts, binning.ts, train.ts (training), forest.ts (the `Forest`), predict.ts
 * and wasm.ts (prediction), format.ts (the WRF1 file, README.md), parallel.ts + worker.ts (threads).
 */
export { binData, checkTrainingData } from './binning.js';
export { Forest } from './forest.js';
export { decodeForest, encodeForest, type ForestParts } from './format.js';
export { type BinnedData, DEFAULT_FOREST_PARAMS, type ForestParams, resolveParams, type TrainingData, type TreeArrays } from './params.js';
export { COMPLETE_MAX_DEPTH, type CompleteLayout, treeDepths } from './complete.js';
export { _useJsWalk, _useLockstepWalk, _usePackedWalk, type Compact } from './predict.js';
export { _useGenericWalk, _useRanksInPlace, _useSubtractStep } from './wasm.js';
export { makeRng } from './random.js';
export { concatTrees, trainTrees } from './train.js';
