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
import { FEATURE_NAMES, type FeatureConfig, STE_OUTER, featureCount, featureNames } from './features.js';
import { Forest } from '../../ml/forest.js';
import { type ContextConfig, MAX_CONTEXT_ROUNDS, checkContextConfig, contextCount } from './context.js';
import { type Calibration, checkCalibration } from './calibration.js';
import { MAX_OUTPUT_SIGMA } from './output-smoothing.js';

/** Magic of a model file holding a pixel forest and its auto-context forest (see README.md). */
const CHAIN_MAGIC = 'WPC1';

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
   * Boundary models (`--gt`, or `--labels` with `--segment-choice`): the mean-agglomeration cut chosen
   * on the training volume by cross-fitting (`wiring train-pixels --calibrate-cut`); `wiring predict` writes it into the boundary layer's
   * info as `wiring.segment_threshold`, which `wiring segment` uses when no --threshold is given.
   */
  segmentThreshold?: number;
  /**
   * Boundary models: the supervoxel seeds chosen with the cut (src/cli/segment-calibration.ts), when not
   * `wiring segment`'s default: `wiring predict` writes them into the boundary layer's info as
   * `wiring.segment_seeds` ({seeds, seed_sigma, seed_connectivity, flood}), which `wiring segment`
   * uses when none of its seed options is given.
   */
  segmentSeeds?: SegmentSeeds;
  /**
   * Output smoothing (output-smoothing.ts): predict smooths every class probability with a
   * Gaussian of this scale (voxels of the finest axis, per-axis as the features: axisSigmas; none
   * along z for 2-D features). Absent or 0: none (models before it existed).
   */
  outputSigma?: number;
  /** How segmentThreshold was chosen: the cut grid, the mean VOI at each cut, the folds, the out-of-fold maps' histogram (informational, not read back). */
  cutCalibration?: Record<string, unknown>;
  /** Auto-context: how the second forest's context features are computed (context.ts); its forest is the file's second. */
  context?: ContextConfig;
  /** labels models: per class, the isotonic map fitted on out-of-fold maps (calibration.ts); predict applies it. */
  calibration?: { method: string; channels: Calibration[] };
  /**
   * labels models: per output name, the object rule (hysteresis high/low, min size in voxels)
   * chosen on the calibrated out-of-fold maps by pooled object F1 (`wiring train-pixels`);
   * `wiring predict` writes it into the map's info, `wiring synapses` uses it by default.
   */
  objectRules?: Record<string, {
    high: number; low: number; minSize: number; split?: number; splitMinSeed?: number; f1?: number;
    /** Why a class got no cleft filter / object filter (the filters themselves: src/cli/object-rules.ts ObjectRule). */
    filterSkipped?: string; objectFilterSkipped?: string;
  }>;
  /** How the model was trained and chosen (auto-context folds, held-out scores; free-form JSON). */
  training?: Record<string, unknown>;
}

/** Supervoxel seeds a boundary model carries (the segment stage's options of the same names). */
export interface SegmentSeeds {
  seeds: 'distance' | 'minima';
  seedSigma?: number;
  seedConnectivity?: 'face' | 'full';
  flood?: 'map' | 'smoothed';
}

/** Check carried seeds (`where` names the field); returns them or throws a message. */
export function checkSegmentSeeds(v: unknown, where: string): SegmentSeeds {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') throw new Error(`${where} must be an object {seeds, seedSigma, seedConnectivity, flood}, got ${JSON.stringify(v)}`);
  if (o.seeds !== 'distance' && o.seeds !== 'minima') throw new Error(`${where}.seeds must be distance or minima, got ${JSON.stringify(o.seeds)}`);
  if (o.seedSigma !== undefined && !(typeof o.seedSigma === 'number' && o.seedSigma >= 0 && o.seedSigma <= 8)) throw new Error(`${where}.seedSigma must be a number in 0..8, got ${JSON.stringify(o.seedSigma)}`);
  if (o.seedConnectivity !== undefined && o.seedConnectivity !== 'face' && o.seedConnectivity !== 'full') throw new Error(`${where}.seedConnectivity must be face or full, got ${JSON.stringify(o.seedConnectivity)}`);
  if (o.flood !== undefined && o.flood !== 'map' && o.flood !== 'smoothed') throw new Error(`${where}.flood must be map or smoothed, got ${JSON.stringify(o.flood)}`);
  if (o.seeds === 'distance' && (o.seedSigma !== undefined || o.seedConnectivity !== undefined || o.flood !== undefined)) throw new Error(`${where}: seedSigma, seedConnectivity and flood are for minima seeds`);
  if (o.flood === 'smoothed' && !((o.seedSigma as number) > 0)) throw new Error(`${where}: flood smoothed needs seedSigma > 0`);
  return o as unknown as SegmentSeeds;
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
    /** The pixel forest (features -> classes). */
    readonly forest: Forest,
    readonly meta: PixelModelMeta,
    /** Auto-context: the second forest (features + context of the first forest's map -> classes); meta.context says how. */
    readonly contextForest?: Forest,
    /** Auto-context rounds 2.. (meta.context.rounds > 1): each on the features + context of the previous round's map. */
    readonly laterRounds: Forest[] = [],
  ) {}

  /** The context forests in the order they run (empty without auto-context). */
  get contextForests(): Forest[] {
    return this.contextForest ? [this.contextForest, ...this.laterRounds] : [];
  }

  get outputChannels(): number {
    return this.meta.outputs.length;
  }

  /** The forest whose probabilities are the model's output. */
  get outputForest(): Forest {
    const c = this.contextForests;
    return c.length ? c[c.length - 1] : this.forest;
  }

  toBytes(): Uint8Array {
    const a = this.forest.toBytes();
    if (!this.contextForest) return a;
    const parts = [a, ...this.contextForests.map((f) => f.toBytes())];
    const head = 8 + 4 * parts.length;
    const out = new Uint8Array(head + parts.reduce((t, p) => t + p.length, 0));
    out.set(new TextEncoder().encode(CHAIN_MAGIC), 0);
    const dv = new DataView(out.buffer);
    dv.setUint32(4, parts.length, true);
    let o = head;
    parts.forEach((p, i) => {
      dv.setUint32(8 + 4 * i, p.length, true);
      out.set(p, o);
      o += p.length;
    });
    return out;
  }

  async save(file: string): Promise<void> {
    await writeFileAtomic(file, this.toBytes());
  }

  static fromBytes(bytes: Uint8Array, where: string): PixelModel {
    if (bytes.length >= 4 && new TextDecoder().decode(bytes.subarray(0, 4)) === CHAIN_MAGIC) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const count = bytes.length >= 8 ? dv.getUint32(4, true) : 0;
      if (count < 2 || count > 1 + MAX_CONTEXT_ROUNDS || bytes.length < 8 + 4 * count) {
        throw new FormatError(`${CHAIN_MAGIC} model: expected 2..${1 + MAX_CONTEXT_ROUNDS} forests in the header, got ${count}`, where);
      }
      const lens = Array.from({ length: count }, (_, i) => dv.getUint32(8 + 4 * i, true));
      const total = 8 + 4 * count + lens.reduce((t, l) => t + l, 0);
      if (total !== bytes.length) throw new FormatError(`${CHAIN_MAGIC} model: file has ${bytes.length} bytes, the header describes ${total}`, where);
      const forests: Forest[] = [];
      let o = 8 + 4 * count;
      lens.forEach((l, i) => {
        forests.push(Forest.fromBytes(bytes.subarray(o, o + l), `${where} (${i === 0 ? 'pixel forest' : `context forest ${i}`})`));
        o += l;
      });
      return PixelModel.fromForest(forests[0], where, forests[1], forests.slice(2));
    }
    return PixelModel.fromForest(Forest.fromBytes(bytes, where), where);
  }

  static async load(file: string): Promise<PixelModel> {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      throw new FormatError(`cannot read model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
    }
    return PixelModel.fromBytes(bytes, file);
  }

  static fromForest(forest: Forest, where: string, contextForest?: Forest, laterRounds: Forest[] = []): PixelModel {
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
    if (cfg.steOuter !== undefined && !(STE_OUTER as readonly string[]).includes(cfg.steOuter)) {
      throw new FormatError(`meta.featureConfig.steOuter ${JSON.stringify(cfg.steOuter)}: expected ${STE_OUTER.join(' or ')}`, where);
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
    if (m.segmentSeeds !== undefined) {
      try {
        checkSegmentSeeds(m.segmentSeeds, 'meta.segmentSeeds');
      } catch (e) {
        throw new FormatError((e as Error).message, where);
      }
    }
    if (m.outputSigma !== undefined && !(typeof m.outputSigma === 'number' && m.outputSigma >= 0 && m.outputSigma <= MAX_OUTPUT_SIGMA)) {
      throw new FormatError(`meta.outputSigma must be a number in 0..${MAX_OUTPUT_SIGMA}, got ${JSON.stringify(m.outputSigma)}`, where);
    }
    if (m.calibration !== undefined) {
      const c = m.calibration as { channels?: unknown };
      if (!c || !Array.isArray(c.channels) || c.channels.length !== forest.nClasses) throw new FormatError(`meta.calibration.channels must hold one calibration per class (${forest.nClasses})`, where);
      try {
        c.channels.forEach((k, i) => checkCalibration(k, `meta.calibration.channels[${i}]`));
      } catch (e) {
        throw new FormatError((e as Error).message, where);
      }
    }
    if ((m.context === undefined) !== (contextForest === undefined)) {
      throw new FormatError(m.context === undefined ? 'the file holds a context forest but meta.context is missing' : 'meta.context is set but the file holds no context forest', where);
    }
    if (m.context !== undefined && contextForest) {
      let c: ContextConfig;
      try {
        c = checkContextConfig(m.context, forest.nClasses);
      } catch (e) {
        throw new FormatError(`meta.${(e as Error).message}`, where);
      }
      const want = n + contextCount(c);
      const rounds = c.rounds ?? 1;
      if (rounds !== 1 + laterRounds.length) throw new FormatError(`meta.context.rounds is ${rounds} but the file holds ${1 + laterRounds.length} context forest(s)`, where);
      [contextForest, ...laterRounds].forEach((cf, i) => {
        if (cf.nFeatures !== want) throw new FormatError(`context forest ${i + 1} has ${cf.nFeatures} features, its configuration gives ${want}`, where);
        if (cf.nClasses !== forest.nClasses) throw new FormatError(`context forest ${i + 1} has ${cf.nClasses} classes, the pixel forest ${forest.nClasses}`, where);
      });
    } else if (laterRounds.length) throw new FormatError('the file holds later auto-context rounds but no context', where);
    return new PixelModel(forest, m as PixelModelMeta, contextForest, laterRounds);
  }
}
