/** The trained forest: its trees and parameters, training on one thread, importances, prediction (predict.ts) and its file (format.ts). */
import { UsageError } from '../../core/errors.js';
import { binData } from './binning.js';
import { decodeForest, encodeForest } from './format.js';
import { type ForestParams, resolveParams, type TrainingData, type TreeArrays } from './params.js';
import { type Compact, compactLayout, packedLayout, packedWalkForced, predictCompact, predictPacked, TILE } from './predict.js';
import { trainTrees } from './train.js';
import { type WasmWalker, wasmWalker } from './wasm.js';

export class Forest {
  constructor(
    readonly nFeatures: number,
    readonly nClasses: number,
    readonly trees: TreeArrays,
    readonly params: ForestParams,
    /** Caller's metadata saved with the model (feature configuration, class names, ...). */
    readonly meta: Record<string, unknown> = {},
  ) {}

  /** Train on one thread. See trainForest in parallel.ts for worker threads. */
  static train(data: TrainingData, params: Partial<ForestParams> = {}, meta: Record<string, unknown> = {}): Forest {
    const p = resolveParams(params);
    const binned = binData(data);
    const trees = trainTrees(binned, p, 0, p.nTrees);
    return new Forest(data.nFeatures, data.nClasses, trees, p, meta);
  }

  get nTrees(): number {
    return this.trees.roots.length;
  }

  get nNodes(): number {
    return this.trees.feature.length;
  }

  /** Normalised feature importances (mean decrease in Gini impurity), summing to 1. */
  importances(): Float64Array {
    const F = this.nFeatures;
    const imp = new Float64Array(F);
    const per = this.trees.importance;
    for (let i = 0; i < per.length; i++) imp[i % F] += per[i];
    let s = 0;
    for (const v of imp) s += v;
    if (s > 0) for (let i = 0; i < imp.length; i++) imp[i] /= s;
    return imp;
  }

  /**
   * Class probabilities (mean of the trees' leaf distributions) for n samples.
   * Input layout 'feature-major' (x[f*n + i], a feature stack's channels) or 'sample-major' (x[i*F + f]).
   * Output is class-major: out[k * n + i].
   */
  predictProba(
    x: Float32Array,
    n: number,
    layout: 'feature-major' | 'sample-major' = 'feature-major',
    out = new Float32Array(n * this.nClasses),
  ): Float32Array {
    const F = this.nFeatures;
    const K = this.nClasses;
    if (x.length !== n * F) throw new UsageError(`random forest: ${x.length} feature values for ${n} samples x ${F} features`);
    if (out.length !== n * K) throw new UsageError(`random forest: output has ${out.length} values, expected ${n * K}`);
    const compact = packedWalkForced() ? null : this.compact();
    if (compact) return predictCompact(this.trees, F, K, compact, () => this.walker(compact), x, n, layout, out);
    return predictPacked(this.trees, F, K, this.packed(), x, n, layout, out);
  }

  private compactNodes?: Compact | null;

  /** The compact prediction layout (built on first use; null when the forest does not fit it), e.g. to send to a worker thread. */
  predictionLayout(): Compact | null {
    return this.compact();
  }

  /** Use the layout that predictionLayout() of this same forest returned (on another thread), instead of building it again. */
  usePredictionLayout(c: Compact | null): void {
    this.compactNodes = c;
  }

  /** The compact layout (predict.ts `compactLayout`), built on first use. */
  private compact(): Compact | null {
    if (this.compactNodes === undefined) this.compactNodes = compactLayout(this.trees, this.nFeatures);
    return this.compactNodes;
  }

  private wasmWalk?: WasmWalker | null;

  /** The WebAssembly walk over this forest's compact layout (built once per thread; null without WebAssembly). */
  private walker(c: Compact): WasmWalker | null {
    if (this.wasmWalk === undefined) this.wasmWalk = wasmWalker(c.words, this.trees.roots, this.trees.child, this.trees.leafProb, this.nFeatures + 1, this.nClasses, TILE, c.padded, c.complete);
    return this.wasmWalk;
  }

  private packedNodes?: { nodes: Int32Array; thr: Float32Array };

  /** The packed layout (predict.ts `packedLayout`), built on first use. */
  private packed(): { nodes: Int32Array; thr: Float32Array } {
    if (!this.packedNodes) this.packedNodes = packedLayout(this.trees, this.nFeatures);
    return this.packedNodes;
  }

  /** The forest file (format.ts, README.md). */
  toBytes(): Uint8Array {
    return encodeForest(this);
  }

  static fromBytes(bytes: Uint8Array, where = 'random forest model'): Forest {
    const p = decodeForest(bytes, where);
    return new Forest(p.nFeatures, p.nClasses, p.trees, p.params, p.meta);
  }
}
