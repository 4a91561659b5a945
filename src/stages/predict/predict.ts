/**
 * Prediction with a pixel classifier: whole-volume (`predictVolume`) and blockwise through the
 * scheduler (`predictPixelsBlock` + `predictPixelsTask`). Outputs float32 probabilities in [0, 1]
 * or uint8 (round(255 p)), one channel per class, or one channel P(boundary) for `--gt` models.
 */
import { promises as fs } from 'node:fs';
import { type Box, type Vec3, box, boxContains, boxIntersect, boxShape, boxToString } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { Volume } from '../../core/volume.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import { type FeatureConfig, computeFeatures, featureCount, featureMargin, releaseFeatures } from './features.js';
import { PixelModel } from './model.js';
import { computeContext, contextCount, contextMargin } from './context.js';
import { calibrateInPlace } from './calibration.js';
import { outputMargin, smoothOutputs } from './output-smoothing.js';
import { assertFinite, intensityMismatch, rawStats, toFloat32 } from './training.js';
import type { VolumeSource } from '../../formats/source.js';
import { type IntensityMap, NORMALIZE_MIN_SHIFT, applyIntensityMap, checkIntensityMap, matchQuantiles, quantileShift, quantilesOf, sampleIntensities } from './normalize.js';

export type OutputDtype = 'float32' | 'uint8';

/**
 * Predict the voxels of `target` (default raw.box) from `raw` (which should cover target plus the
 * model's feature margin wherever the data has it). Returns a Volume over `target`.
 */
export function predictVolume(model: PixelModel, raw: Volume, opts: { box?: Box; dtype?: OutputDtype; normalize?: IntensityMap; calibrated?: boolean; shared?: SharedFeatures } = {}): Volume {
  const target = opts.box ?? raw.box;
  if (!boxContains(raw.box, target)) throw new UsageError(`prediction box (${boxToString(target)}) is outside the raw block (${boxToString(raw.box)})`);
  if (raw.channels !== 1) throw new UsageError(`raw has ${raw.channels} channels; the pixel classifier needs one`);
  assertFinite(raw);
  const prob = predictProbabilities(model, raw, target, opts.normalize, opts.shared);
  const K = model.forest.nClasses;
  const C = model.outputChannels;
  const ts = boxShape(target);
  const n = ts[0] * ts[1] * ts[2];
  // gt models: the boundary class (index 1) only
  const first = model.meta.target === 'gt' ? 1 : 0;
  const dtype = opts.dtype ?? 'float32';
  const out = Volume.zeros(dtype, target, { channels: C, voxelSize: raw.voxelSize });
  if (first + C > K) throw new UsageError(`model has ${K} classes but ${C} outputs`);
  const src = prob.subarray(first * n, (first + C) * n);
  // on request: each class's isotonic map (fitted on out-of-fold maps of the training region)
  const cal = opts.calibrated ? model.meta.calibration?.channels : undefined;
  if (opts.calibrated && !cal) throw new UsageError('the model carries no calibration (train it with dense --labels and --cross-fit auto/on)');
  if (cal) for (let c = 0; c < C; c++) calibrateInPlace(cal[first + c], src.subarray(c * n, (c + 1) * n));
  if (dtype === 'float32') (out.data as Float32Array).set(src);
  else {
    const d = out.data as Uint8Array;
    for (let i = 0; i < src.length; i++) d[i] = Math.round(src[i] * 255);
  }
  return out;
}

/** Channels c0..c1-1 of a feature-major stack over `shape` gathered at the voxels of `sub` (offset `off` in it), feature-major. */
function gather(feats: Float32Array, shape: Vec3, c0: number, c1: number, off: Vec3, sub: Vec3, out: Float32Array, outC0: number): void {
  const nv = shape[0] * shape[1] * shape[2];
  const n = sub[0] * sub[1] * sub[2];
  for (let f = c0; f < c1; f++) {
    let o = (outC0 + f - c0) * n;
    for (let z = 0; z < sub[2]; z++) {
      for (let y = 0; y < sub[1]; y++) {
        const s = f * nv + off[0] + shape[0] * (off[1] + y + shape[1] * (off[2] + z));
        out.set(feats.subarray(s, s + sub[0]), o);
        o += sub[0];
      }
    }
  }
}

/**
 * Class probabilities (class-major, all classes) of the voxels of `target` from `raw` (which
 * covers target plus the model's margin where the data has it). With auto-context the first
 * forest predicts every voxel of the raw block, its map's context features (context.ts) are
 * computed on that block, and the second forest predicts the target from features + context.
 */
export function predictProbabilities(model: PixelModel, raw: Volume, target: Box, normalize?: IntensityMap, shared?: SharedFeatures): Float32Array {
  const sigma = model.meta.outputSigma;
  if (!(sigma && sigma > 0)) return forestProbabilities(model, raw, target, normalize, shared);
  // output smoothing: the probabilities of the target grown by the smoothing margin (clipped to the
  // raw block, i.e. to the volume where the block reaches it), smoothed, cropped to the target
  const cfg = model.meta.featureConfig;
  const m = outputMargin(cfg, sigma);
  const grown = boxIntersect(box([target.min[0] - m[0], target.min[1] - m[1], target.min[2] - m[2]], [target.max[0] + m[0], target.max[1] + m[1], target.max[2] + m[2]]), raw.box);
  const K = model.forest.nClasses;
  const p = forestProbabilities(model, raw, grown, normalize, shared);
  const gs = boxShape(grown);
  smoothOutputs(p, gs, K, cfg, sigma);
  const ts = boxShape(target);
  const n = ts[0] * ts[1] * ts[2];
  const out = new Float32Array(K * n);
  gather(p, gs, 0, K, [target.min[0] - grown.min[0], target.min[1] - grown.min[1], target.min[2] - grown.min[2]], ts, out, 0);
  return out;
}

/**
 * Feature stacks shared by several models predicting one raw block (`sharedFeatures` in predict-many.ts): `get(key,
 * compute)` returns the stack stored under key, computing it on first use. The key names everything
 * the stack depends on (configuration, raw box, intensity map, region), so a hit is the same bits.
 */
export interface SharedFeatures {
  get(key: string, compute: () => Float32Array): Float32Array;
}

/** The feature stack of `raw` (as `computeFeatures`), through `shared` when given. */
function featuresOf(shared: SharedFeatures | undefined, raw: Volume, normalize: IntensityMap | undefined, cfg: FeatureConfig, region?: { min: Vec3; max: Vec3 }): Float32Array {
  const compute = () => computeFeatures(normalize ? applyIntensityMap(raw.data as ArrayLike<number>, normalize) : toFloat32(raw), raw.shape, cfg, undefined, region);
  if (!shared) return compute();
  return shared.get(JSON.stringify([cfg, boxToString(raw.box), normalize ?? null, region ?? null]), compute);
}

/** predictProbabilities without output smoothing. */
function forestProbabilities(model: PixelModel, raw: Volume, target: Box, normalize?: IntensityMap, shared?: SharedFeatures): Float32Array {
  const cfg = model.meta.featureConfig;
  const F = featureCount(cfg);
  const rs = raw.shape;
  const nv = rs[0] * rs[1] * rs[2];
  const ts = boxShape(target);
  const n = ts[0] * ts[1] * ts[2];
  const off: Vec3 = [target.min[0] - raw.box.min[0], target.min[1] - raw.box.min[1], target.min[2] - raw.box.min[2]];
  const ctx = model.meta.context;
  const rounds = model.contextForests;
  if (!ctx || rounds.length === 0) {
    // the features of the target only (the margin is their context): the same bits as the whole
    // block's cropped, without filtering the margin along y and x where nothing needs it
    const x = featuresOf(shared, raw, normalize, cfg, { min: off, max: [off[0] + ts[0], off[1] + ts[1], off[2] + ts[2]] });
    const p = model.forest.predictProba(x, n, 'feature-major');
    if (!shared) releaseFeatures(x); // the next block's stack fills it (a shared one is released by its owner)
    return p;
  }
  const feats = featuresOf(shared, raw, normalize, cfg);
  const K = model.forest.nClasses;
  const C = contextCount(ctx);
  // every round but the last predicts the whole block (the next round's context reads its map
  // there: the raw block carries one context margin per round); the last predicts the target
  let p = model.forest.predictProba(feats, nv, 'feature-major');
  for (let r = 0; r < rounds.length - 1; r++) {
    const cf = computeContext(p, rs, K, ctx);
    const xa = new Float32Array(nv * (F + C));
    xa.set(feats, 0);
    xa.set(cf, F * nv);
    p = rounds[r].predictProba(xa, nv, 'feature-major');
  }
  const cf = computeContext(p, rs, K, ctx);
  const x = new Float32Array(n * (F + C));
  gather(feats, rs, 0, F, off, ts, x, 0);
  gather(cf, rs, 0, C, off, ts, x, F);
  if (!shared) releaseFeatures(feats);
  return rounds[rounds.length - 1].predictProba(x, n, 'feature-major');
}

/** Raw context needed on each side of a block: the features', plus the context features' for an auto-context model. */
export function modelMargin(model: PixelModel): Vec3 {
  const f = featureMargin(model.meta.featureConfig);
  const o = outputMargin(model.meta.featureConfig, model.meta.outputSigma);
  const m: Vec3 = [f[0] + o[0], f[1] + o[1], f[2] + o[2]];
  if (!model.meta.context) return m;
  const c = contextMargin(model.meta.context);
  return [m[0] + c[0], m[1] + c[1], m[2] + c[2]];
}

export interface PredictParams {
  model: string;
  dtype: OutputDtype;
  /** intensity map applied to the raw before the features (quantile matching), if any */
  normalize?: IntensityMap;
  /** apply the model's calibration */
  calibrated?: boolean;
}

const cache = new Map<string, { mtime: number; model: PixelModel }>();

async function loadCached(file: string): Promise<PixelModel> {
  const st = await fs.stat(file).catch(() => undefined);
  const hit = cache.get(file);
  if (hit && st && hit.mtime === st.mtimeMs) return hit.model;
  const model = await PixelModel.load(file);
  cache.set(file, { mtime: st?.mtimeMs ?? 0, model });
  return model;
}

/** Block function: inputs.raw covers ctx.readBox; writes outputs.out over ctx.box. */
export async function predictPixelsBlock(ctx: BlockContext<PredictParams>): Promise<BlockResult> {
  const model = await loadCached(ctx.params.model);
  const raw = ctx.inputs.raw;
  if (!raw) throw new UsageError('predict block: missing input "raw"');
  const normalize = ctx.params.normalize ? checkIntensityMap(ctx.params.normalize, 'predict block params.normalize') : undefined;
  return { volumes: { out: predictVolume(model, raw, { box: ctx.box, dtype: ctx.params.dtype, normalize, calibrated: ctx.params.calibrated }) } };
}

/** The scheduler task for blockwise prediction. */
export function predictPixelsTask(o: {
  model: PixelModel;
  modelPath: string;
  raw: string;
  out: string;
  bounds: Box;
  blockShape: Vec3;
  dtype: OutputDtype;
  name?: string;
  normalize?: IntensityMap;
  calibrated?: boolean;
}): BlockTask<PredictParams> {
  const cfg = o.model.meta.featureConfig;
  const margin = modelMargin(o.model);
  const readVoxels = (o.blockShape[0] + 2 * margin[0]) * (o.blockShape[1] + 2 * margin[1]) * (o.blockShape[2] + 2 * margin[2]);
  const ctx = o.model.meta.context;
  const perVoxel = featureCount(cfg) + 12 + (ctx ? o.model.forest.nClasses + contextCount(ctx) + featureCount(ctx.features) : 0);
  return {
    name: o.name ?? 'predict-pixels',
    module: import.meta.url,
    fn: 'predictPixelsBlock',
    params: { model: o.modelPath, dtype: o.dtype, ...(o.normalize ? { normalize: o.normalize } : {}), ...(o.calibrated ? { calibrated: true } : {}) },
    inputs: { raw: o.raw },
    outputs: { out: { layer: o.out } },
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin,
    // features dominate: all channels over the read box, plus ~12 float32 temporaries (and the
    // first forest's map, its context features and one channel's filter temporaries)
    memoryPerBlock: readVoxels * perVoxel * 4,
  };
}

/**
 * Checks before predicting `raw` with `model`: an error for a voxel size the model was not trained
 * on (unless `allowVoxelSize`), warnings for another dtype, intensities unlike the training raw's
 * (sampled from a central box), and a 3-D model on a single section.
 */
export async function checkRawForModel(model: PixelModel, raw: VolumeSource, opts: { allowVoxelSize?: boolean } = {}): Promise<string[]> {
  const warnings: string[] = [];
  if (raw.channels !== 1) throw new UsageError(`raw has ${raw.channels} channels; a pixel classifier needs one (pick one with ?channel=N)`, raw.url);
  if (raw.dtype === 'uint64') throw new UsageError('raw is uint64; expected an image (uint8, uint16, float32...)', raw.url);
  const mv = model.meta.voxelSize;
  if (mv && mv.some((v, a) => Math.abs(v - raw.voxelSize[a]) > 0.01 * v)) {
    if (mv.every((v) => v === 1)) {
      // The training raw recorded no voxel size ([1,1,1] is what such a source reads as): there is
      // no scale to compare with, and the features are defined in voxels, so predict as trained.
      warnings.push(`the model's training raw recorded no voxel size (read as 1,1,1 nm), so its scale cannot be checked against this raw's [${raw.voxelSize}] nm; the features are measured in voxels as in training (train with --voxel-size to record it)`);
    } else {
      // A raw without a voxel size stays an error: the map would say 1,1,1 nm, and `segment` picks
      // per-section or 3-D supervoxels from it.
      const text = `the model was trained on voxels of [${mv}] nm but the raw volume has [${raw.voxelSize}] nm: features are measured in voxels, so the model sees structures at another scale`;
      if (!opts.allowVoxelSize) throw new UsageError(`${text}; pass --voxel-size ${mv.join(',')} if it is the same kind of data with a missing/wrong voxel size, or --allow-voxel-size to predict anyway`, raw.url);
      warnings.push(text);
    }
  }
  if (model.meta.featureConfig.dims === 3 && raw.shape[2] === 1) {
    warnings.push('the model uses 3-D features but the raw is a single section: train a 2-D model (--dims 2) for 2-D images');
  }
  if (model.meta.rawDtype && model.meta.rawDtype !== raw.dtype) {
    warnings.push(`the model was trained on ${model.meta.rawDtype} raw, this raw is ${raw.dtype}`);
  }
  if (model.meta.rawStats) {
    const s = raw.shape;
    const want: Vec3 = [Math.min(s[0], 256), Math.min(s[1], 256), Math.min(s[2], 4)];
    const min: Vec3 = [0, 1, 2].map((a) => raw.offset[a] + Math.floor((s[a] - want[a]) / 2)) as unknown as Vec3;
    const v = await raw.read(box(min, [min[0] + want[0], min[1] + want[1], min[2] + want[2]]));
    const d = v.data as ArrayLike<number>;
    const step = Math.max(1, Math.floor(d.length / 65536));
    const vals: number[] = [];
    for (let i = 0; i < d.length; i += step) if (Number.isFinite(d[i])) vals.push(d[i]);
    const now = rawStats(vals);
    const w = now && intensityMismatch(model.meta.rawStats, now);
    if (w) warnings.push(w);
  }
  return warnings;
}

/**
 * The intensity normalisation for predicting `raw` with `model`: the map from the raw's quantiles
 * to the training raw's (both sampled by `sampleIntensities`), or undefined when the model records
 * no quantiles (older models) or the quantiles moved by less than NORMALIZE_MIN_SHIFT of the
 * training span. `shift` is that move either way.
 */
export async function normalizationFor(model: PixelModel, raw: VolumeSource, region?: Box): Promise<{ map?: IntensityMap; shift?: number }> {
  const train = model.meta.rawStats?.quantiles;
  if (!train) return {};
  const now = quantilesOf(await sampleIntensities(raw, region));
  const shift = quantileShift(now, train);
  return shift < NORMALIZE_MIN_SHIFT ? { shift } : { map: matchQuantiles(now, train), shift };
}
