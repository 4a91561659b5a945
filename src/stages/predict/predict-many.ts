/**
 * Several pixel models over one raw volume in one pass: each block reads the raw once, and models
 * with the same feature configuration (the pipeline's 5-class and boundary forests) share one
 * feature stack per block instead of computing it once per model. Each model predicts from the raw
 * cropped to its own margin, so every output is the same bits as a separate `predictPixelsTask`.
 */
import { type Box, type Vec3, boxEquals, boxGrow, boxIntersect, boxShape } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import type { BlockContext, BlockResult, BlockTask } from '../../scheduler/index.js';
import type { Volume } from '../../core/volume.js';
import { featureCount, releaseFeatures } from './features.js';
import { PixelModel } from './model.js';
import { contextCount } from './context.js';
import { type OutputDtype, type SharedFeatures, modelMargin, predictVolume } from './predict.js';
import { type IntensityMap, checkIntensityMap } from './normalize.js';

/** A store of feature stacks for one block: each key computed once (see SharedFeatures). */
export function sharedFeatures(): SharedFeatures & { computed: number; reused: number; release(): void } {
  const stacks = new Map<string, Float32Array>();
  const s = {
    computed: 0,
    reused: 0,
    /** hand every stack back to computeFeatures (releaseFeatures) and forget them: call when the block is done */
    release(): void {
      for (const f of stacks.values()) releaseFeatures(f);
      stacks.clear();
    },
    get(key: string, compute: () => Float32Array): Float32Array {
      const hit = stacks.get(key);
      if (hit) {
        s.reused++;
        return hit;
      }
      const f = compute();
      s.computed++;
      stacks.set(key, f);
      return f;
    },
  };
  return s;
}

/** One model of a several-model prediction, and the output it writes. */
export interface ModelOutput {
  model: PixelModel;
  /** the intensity map applied to the raw before this model's features, if any */
  normalize?: IntensityMap;
}

/**
 * Predict `target` with every model from one raw block (which covers target plus the largest of
 * the models' margins, clipped to the volume). Model i sees the raw cropped to target plus its own
 * margin, as its own task would read it, so its output is the same bits; models with equal
 * feature configurations, raw boxes and intensity maps share the feature stack.
 */
export function predictVolumes(models: ModelOutput[], raw: Volume, opts: { box?: Box; dtype?: OutputDtype; calibrated?: boolean; shared?: SharedFeatures } = {}): Volume[] {
  const target = opts.box ?? raw.box;
  const owned = opts.shared ? undefined : sharedFeatures();
  const shared = opts.shared ?? owned!;
  const outs = models.map(({ model, normalize }) => {
    const own = boxIntersect(boxGrow(target, modelMargin(model)), raw.box);
    const r = boxEquals(own, raw.box) ? raw : raw.crop(own);
    return predictVolume(model, r, { box: target, dtype: opts.dtype, normalize, calibrated: opts.calibrated, shared });
  });
  owned?.release(); // this block's stacks become the next block's outputs
  return outs;
}

export interface PredictManyParams {
  models: string[];
  dtype: OutputDtype;
  /** per model: the intensity map (quantile matching), or null */
  normalize?: Array<IntensityMap | null>;
  calibrated?: boolean;
}

const cache = new Map<string, PixelModel>();

/** Block function: inputs.raw covers ctx.readBox; writes outputs.out0, out1, ... over ctx.box. */
export async function predictManyBlock(ctx: BlockContext<PredictManyParams>): Promise<BlockResult> {
  const raw = ctx.inputs.raw;
  if (!raw) throw new UsageError('predict block: missing input "raw"');
  const models: ModelOutput[] = [];
  for (let i = 0; i < ctx.params.models.length; i++) {
    const file = ctx.params.models[i];
    let model = cache.get(file);
    if (!model) cache.set(file, (model = await PixelModel.load(file)));
    const n = ctx.params.normalize?.[i];
    models.push({ model, ...(n ? { normalize: checkIntensityMap(n, `predict block params.normalize[${i}]`) } : {}) });
  }
  const outs = predictVolumes(models, raw, { box: ctx.box, dtype: ctx.params.dtype, calibrated: ctx.params.calibrated });
  return { volumes: Object.fromEntries(outs.map((v, i) => [`out${i}`, v])) };
}

/** The scheduler task: one block reads the raw once and writes every model's layer. */
export function predictManyTask(o: {
  models: Array<{ model: PixelModel; modelPath: string; out: string; normalize?: IntensityMap }>;
  raw: string;
  bounds: Box;
  blockShape: Vec3;
  dtype: OutputDtype;
  name?: string;
  calibrated?: boolean;
}): BlockTask<PredictManyParams> {
  if (o.models.length === 0) throw new UsageError('predict: no model given');
  const margins = o.models.map((m) => modelMargin(m.model));
  const margin: Vec3 = [0, 1, 2].map((a) => Math.max(...margins.map((m) => m[a]))) as unknown as Vec3;
  const readVoxels = (o.blockShape[0] + 2 * margin[0]) * (o.blockShape[1] + 2 * margin[1]) * (o.blockShape[2] + 2 * margin[2]);
  // as predictPixelsTask: the largest model's features and temporaries over the read box, plus one
  // shared stack kept for the others (at most one per distinct configuration), plus the outputs
  const perModel = o.models.map(({ model }) => featureCount(model.meta.featureConfig) + 12 + (model.meta.context ? model.forest.nClasses + contextCount(model.meta.context) + featureCount(model.meta.context.features) : 0));
  const configs = new Set(o.models.map(({ model }) => JSON.stringify(model.meta.featureConfig)));
  const kept = [...configs].reduce((s, c) => s + featureCount(JSON.parse(c)), 0);
  const bs = boxShape({ min: [0, 0, 0], max: o.blockShape });
  const outVoxels = bs[0] * bs[1] * bs[2] * o.models.reduce((s, m) => s + m.model.outputChannels, 0);
  return {
    name: o.name ?? 'predict-pixels-many',
    module: import.meta.url,
    fn: 'predictManyBlock',
    params: {
      models: o.models.map((m) => m.modelPath),
      dtype: o.dtype,
      ...(o.models.some((m) => m.normalize) ? { normalize: o.models.map((m) => m.normalize ?? null) } : {}),
      ...(o.calibrated ? { calibrated: true } : {}),
    },
    inputs: { raw: o.raw },
    outputs: Object.fromEntries(o.models.map((m, i) => [`out${i}`, { layer: m.out }])),
    bounds: o.bounds,
    blockShape: o.blockShape,
    margin,
    memoryPerBlock: readVoxels * (Math.max(...perModel) + kept) * 4 + outVoxels * 4,
  };
}
