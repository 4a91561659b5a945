/**
 * A pixel classifier model: a random forest (src/ml/forest.ts, WRF1 file) whose metadata records
 * how its features are computed and what its outputs mean.
 *
 * meta = { kind: 'wiring-pixel-classifier', version: 1, featureConfig, featureNames, target,
 *          labelValues, outputs, rawDtype, voxelSize }
 *  - target 'labels': class k is label value labelValues[k]; prediction writes one channel per class.
 *  - target 'gt': classes [interior, boundary]; prediction writes one channel, P(boundary).
 */
import { promises as fs } from 'node:fs';
import type { Vec3 } from '../../core/box.js';
import { FormatError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { MIN_RECURSIVE_SIGMA } from '../../kernels/recursive.js';
import { FEATURE_NAMES, type FeatureConfig, featureCount, featureNames } from './features.js';
import { Forest } from '../../ml/forest.js';

export interface PixelModelMeta {
  kind: 'wiring-pixel-classifier';
  version: 1;
  featureConfig: FeatureConfig;
  featureNames: string[];
  target: 'labels' | 'gt';
  /** Label value of each class (decimal strings; for target 'gt': ['interior', 'boundary']). */
  labelValues: string[];
  /** Names of the output channels. */
  outputs: string[];
  rawDtype: string;
  voxelSize: Vec3;
  /** Intensity percentiles of the training raw at the sampled voxels (absent in older models). */
  rawStats?: RawStats;
  /**
   * gt models: the mean-agglomeration cut chosen on the training volume by cross-fitting
   * (`wiring train-pixels --calibrate-cut`); `wiring predict` writes it into the boundary layer's
   * info as `wiring.segment_threshold`, which `wiring segment` uses when no --threshold is given.
   */
  segmentThreshold?: number;
  /** How segmentThreshold was chosen: the cut grid, the mean VOI at each cut, the folds. */
  cutCalibration?: Record<string, unknown>;
}

/** Intensity percentiles (1st, 50th, 99th). */
export interface RawStats {
  p1: number;
  p50: number;
  p99: number;
  /**
   * Intensity quantiles of the training raw at normalize.ts QUANTILE_LEVELS (central-box sample of
   * the training region, `sampleIntensities`); `wiring predict` matches a new volume's to them.
   */
  quantiles?: number[];
}

export class PixelModel {
  constructor(
    readonly forest: Forest,
    readonly meta: PixelModelMeta,
  ) {}

  get outputChannels(): number {
    return this.meta.outputs.length;
  }

  async save(file: string): Promise<void> {
    await writeFileAtomic(file, this.forest.toBytes());
  }

  static async load(file: string): Promise<PixelModel> {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      throw new FormatError(`cannot read model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
    }
    return PixelModel.fromForest(Forest.fromBytes(bytes, file), file);
  }

  static fromForest(forest: Forest, where: string): PixelModel {
    const m = forest.meta as Partial<PixelModelMeta>;
    if (m.kind !== 'wiring-pixel-classifier') {
      throw new FormatError(`meta.kind is ${JSON.stringify(m.kind)}: this forest is not a pixel classifier (train one with wiring train-pixels)`, where);
    }
    if (m.version !== 1) throw new FormatError(`meta.version ${JSON.stringify(m.version)} is not supported (expected 1)`, where);
    const cfg = m.featureConfig;
    if (!cfg || !Array.isArray(cfg.sigmas) || !Array.isArray(cfg.features) || (cfg.dims !== 2 && cfg.dims !== 3)) {
      throw new FormatError('meta.featureConfig is missing or malformed', where);
    }
    for (const f of cfg.features) {
      if (!(FEATURE_NAMES as readonly string[]).includes(f)) throw new FormatError(`meta.featureConfig names unknown feature ${JSON.stringify(f)}`, where);
    }
    if (cfg.recursiveFrom !== undefined && !(typeof cfg.recursiveFrom === 'number' && cfg.recursiveFrom >= MIN_RECURSIVE_SIGMA)) {
      throw new FormatError(`meta.featureConfig.recursiveFrom ${JSON.stringify(cfg.recursiveFrom)}: expected a sigma of at least ${MIN_RECURSIVE_SIGMA} voxel`, where);
    }
    const n = featureCount(cfg);
    if (n !== forest.nFeatures) {
      throw new FormatError(`the feature configuration gives ${n} features but the forest was trained on ${forest.nFeatures}`, where);
    }
    const names = featureNames(cfg);
    if (Array.isArray(m.featureNames) && m.featureNames.join(',') !== names.join(',')) {
      throw new FormatError(`meta.featureNames [${m.featureNames.slice(0, 4).join(',')}...] do not match this build's feature stack [${names.slice(0, 4).join(',')}...]`, where);
    }
    if (m.target !== 'labels' && m.target !== 'gt') throw new FormatError(`meta.target ${JSON.stringify(m.target)}: expected "labels" or "gt"`, where);
    if (!Array.isArray(m.outputs) || m.outputs.length < 1) throw new FormatError('meta.outputs is missing', where);
    if (!Array.isArray(m.labelValues) || m.labelValues.length !== forest.nClasses) {
      throw new FormatError(`meta.labelValues has ${m.labelValues?.length} entries for ${forest.nClasses} classes`, where);
    }
    if (m.segmentThreshold !== undefined && !(typeof m.segmentThreshold === 'number' && m.segmentThreshold > 0 && m.segmentThreshold < 1)) {
      throw new FormatError(`meta.segmentThreshold must be a number between 0 and 1, got ${JSON.stringify(m.segmentThreshold)}`, where);
    }
    return new PixelModel(forest, m as PixelModelMeta);
  }
}
