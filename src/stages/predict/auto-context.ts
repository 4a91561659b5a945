/**
 * Training the auto-context forest (context.ts) without fitting it to maps the first forest has
 * memorised: the training region is cut in two halves (along z for per-section features, else
 * along its longest axis); a first forest trained on the samples of one half predicts every voxel
 * of the other, so the map the second forest learns from is out-of-fold everywhere, as a map of a
 * new volume is. The second forest is trained on the same samples, on their pixel features plus
 * the context features of that out-of-fold map. (The first forest that ships is the one trained
 * on all samples.)
 *
 * Memory: the out-of-fold map of the whole training region (classes x voxels float32).
 */
import { type Box, type Vec3, box, boxIntersect, boxShape, boxToString, boxVoxels } from '../../core/box.js';
import { UsageError } from '../../core/errors.js';
import { type Progress, silentProgress } from '../../core/progress.js';
import { Volume } from '../../core/volume.js';
import type { VolumeSource } from '../../formats/source.js';
import type { Forest, ForestParams } from '../../ml/forest.js';
import { trainForest } from '../../ml/forest-parallel.js';
import { type ContextConfig, computeContext, contextConfig, contextCount, roundMargin } from './context.js';
import { type FeatureConfig, type FeatureName, computeFeatures, featureMargin } from './features.js';
import { PixelModel, type PixelModelMeta } from './model.js';
import { predictProbabilities } from './predict.js';
import { featuresAt, memorySource, toFloat32 } from './training.js';

export interface ContextTraining {
  forest: Forest;
  config: ContextConfig;
  /** The two halves and their sample counts (recorded in the model's meta.training). */
  folds: Array<{ fit: string; predicted: string; samples: number }>;
}

/** The two halves of `region` the cross-fitting uses (z halves for 2-D features on 2+ sections). */
export function contextHalves(region: Box, dims: 2 | 3): { axis: number; halves: [Box, Box] } {
  const s = boxShape(region);
  const axis = dims === 2 && s[2] >= 2 ? 2 : s.indexOf(Math.max(...s));
  if (s[axis] < 2) throw new UsageError(`auto-context: the training region ${boxToString(region)} is too small to halve`);
  const mid = region.min[axis] + Math.floor(s[axis] / 2);
  const lo = [...region.max], hi = [...region.min];
  lo[axis] = mid;
  hi[axis] = mid;
  return { axis, halves: [box(region.min, lo as unknown as Vec3), box(hi as unknown as Vec3, region.max)] };
}

export interface CrossFitInput {
  raw: VolumeSource;
  region: Box;
  /** sample voxels (linear in region), their pixel features (feature-major) and classes */
  index: Float64Array;
  x: Float32Array;
  y: Uint8Array;
  nClasses: number;
  featureConfig: FeatureConfig;
  meta: PixelModelMeta;
  forest: Partial<ForestParams>;
  /** features of the first forest's map for the context forests (default CONTEXT_FEATURES) */
  contextFeatures?: FeatureName[];
  threads?: number;
  progress?: Progress;
}

/** The blocks of `target` predicted in one piece (2-D: 256x256x4, 3-D: 96^3). */
function blocksOf(target: Box, dims: 2 | 3): Box[] {
  const step: Vec3 = dims === 2 ? [256, 256, 4] : [96, 96, 96];
  const out: Box[] = [];
  for (let z = target.min[2]; z < target.max[2]; z += step[2]) {
    for (let yy = target.min[1]; yy < target.max[1]; yy += step[1]) {
      for (let xx = target.min[0]; xx < target.max[0]; xx += step[0]) {
        out.push(boxIntersect(box([xx, yy, z], [xx + step[0], yy + step[1], z + step[2]]), target));
      }
    }
  }
  return out;
}

/** Write class-major probabilities `p` of box b (K classes) into the class-major region map. */
function place(p: Float32Array, b: Box, K: number, map: Float32Array, region: Box): void {
  const rs = boxShape(region);
  const nv = boxVoxels(region);
  const bs = boxShape(b);
  const bn = bs[0] * bs[1] * bs[2];
  for (let k = 0; k < K; k++) {
    for (let bz = 0, s = 0; bz < bs[2]; bz++) {
      for (let by = 0; by < bs[1]; by++, s += bs[0]) {
        const d = b.min[0] - region.min[0] + rs[0] * (b.min[1] - region.min[1] + by + rs[1] * (b.min[2] - region.min[2] + bz));
        map.set(p.subarray(k * bn + s, k * bn + s + bs[0]), k * nv + d);
      }
    }
  }
}

/** Samples j of half h (their coordinate along the cut axis). */
function sidesOf(o: CrossFitInput, axis: number, halves: [Box, Box]): Uint8Array {
  const rs = boxShape(o.region);
  const mid = halves[1].min[axis] - o.region.min[axis];
  const coord = (i: number): number => (axis === 0 ? i % rs[0] : axis === 1 ? Math.floor(i / rs[0]) % rs[1] : Math.floor(i / (rs[0] * rs[1])));
  const side = new Uint8Array(o.index.length);
  for (let j = 0; j < side.length; j++) side[j] = coord(o.index[j]) < mid ? 0 : 1;
  return side;
}

/** Rows `pick` of a feature-major matrix with n rows. */
function rows(x: Float32Array, n: number, pick: number[]): Float32Array {
  const F = x.length / n, m = pick.length;
  const out = new Float32Array(m * F);
  for (let f = 0; f < F; f++) for (let k = 0; k < m; k++) out[f * m + k] = x[f * n + pick[k]];
  return out;
}

export interface OutOfFold {
  /** class-major probabilities over the region (K x voxels) */
  map: Float32Array;
  halves: [Box, Box];
  folds: Array<{ fit: string; predicted: string; samples: number }>;
}

/**
 * Out-of-fold map of the training region: a forest trained (on `x`, or on `x` with the context of
 * `context`'s map when given) on the samples of one half predicts every voxel of the other half.
 */
export async function outOfFoldMap(o: CrossFitInput, context?: { x2: Float32Array; first: Float32Array; config: ContextConfig }): Promise<OutOfFold> {
  const { raw, region, index, y, nClasses: K, featureConfig: cfg } = o;
  const n = index.length;
  const { axis, halves } = contextHalves(region, cfg.dims);
  const side = sidesOf(o, axis, halves);
  const map = new Float32Array(K * boxVoxels(region));
  const folds: OutOfFold['folds'] = [];
  const progress = o.progress ?? silentProgress;
  const rawBox = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const margin = featureMargin(cfg);
  const xs = context ? context.x2 : o.x;
  const F = xs.length / n;
  for (let h = 0; h < 2; h++) {
    const pick: number[] = [];
    for (let j = 0; j < n; j++) if (side[j] === h) pick.push(j);
    const m = pick.length;
    const classes = new Set(pick.map((j) => y[j]));
    if (classes.size < 2) throw new UsageError(`cross-fitting: half ${boxToString(halves[h])} of the training region holds samples of ${classes.size} class(es); it needs two (label both halves, or train without cross-fitting)`);
    const ys = Uint8Array.from(pick, (j) => y[j]);
    const fold = await trainForest({ x: rows(xs, n, pick), nSamples: m, nFeatures: F, layout: 'feature-major', y: ys, nClasses: K }, { ...o.forest, seed: (o.forest.seed ?? 0) + (context ? 201 : 101) + h }, {}, { threads: o.threads });
    const target = halves[1 - h];
    const blocks = blocksOf(target, cfg.dims);
    progress.start(blocks.length, `cross-fitting: ${context ? 'context ' : ''}map ${h + 1} of 2`);
    for (const b of blocks) {
      const rb = boxIntersect(box(
        [b.min[0] - margin[0], b.min[1] - margin[1], b.min[2] - margin[2]],
        [b.max[0] + margin[0], b.max[1] + margin[1], b.max[2] + margin[2]],
      ), rawBox);
      let p: Float32Array;
      if (!context) p = predictProbabilities(new PixelModel(fold, o.meta), await raw.read(rb), b);
      else p = predictWithContextMap(fold, o.meta, await raw.read(rb), b, context.first, region, context.config, K);
      place(p, b, K, map, region);
      progress.increment();
    }
    progress.stop();
    folds.push({ fit: boxToString(halves[h]), predicted: boxToString(target), samples: m });
  }
  return { map, halves, folds };
}

/** A context forest's probabilities over b: pixel features from the raw block, context from the (out-of-fold) first map of the region (reflected at its faces). */
function predictWithContextMap(forest: Forest, meta: PixelModelMeta, raw: Volume, b: Box, first: Float32Array, region: Box, config: ContextConfig, K: number): Float32Array {
  const cm = roundMargin(config);
  const cb = boxIntersect(box([b.min[0] - cm[0], b.min[1] - cm[1], b.min[2] - cm[2]], [b.max[0] + cm[0], b.max[1] + cm[1], b.max[2] + cm[2]]), region);
  const cs = boxShape(cb);
  const cn = cs[0] * cs[1] * cs[2];
  const nv = boxVoxels(region);
  const crop = new Float32Array(K * cn);
  const rs = boxShape(region);
  for (let k = 0; k < K; k++) {
    for (let z = 0, s = 0; z < cs[2]; z++) {
      for (let yy = 0; yy < cs[1]; yy++, s += cs[0]) {
        const d = cb.min[0] - region.min[0] + rs[0] * (cb.min[1] - region.min[1] + yy + rs[1] * (cb.min[2] - region.min[2] + z));
        crop.set(first.subarray(k * nv + d, k * nv + d + cs[0]), k * cn + s);
      }
    }
  }
  const ctx = computeContext(crop, cs, K, config);
  const feats = computeFeatures(toFloat32(raw), raw.shape, meta.featureConfig);
  const bs = boxShape(b);
  const bn = bs[0] * bs[1] * bs[2];
  const F = feats.length / raw.voxels;
  const C = contextCount(config);
  const x = new Float32Array(bn * (F + C));
  gatherBox(feats, raw.shape, F, [b.min[0] - raw.box.min[0], b.min[1] - raw.box.min[1], b.min[2] - raw.box.min[2]], bs, x, 0);
  gatherBox(ctx, cs, C, [b.min[0] - cb.min[0], b.min[1] - cb.min[1], b.min[2] - cb.min[2]], bs, x, F * bn);
  return forest.predictProba(x, bn, 'feature-major');
}

/** Channels of a feature-major stack over `shape` at the voxels of sub-box `sub` (offset `off`), written feature-major from out[o0]. */
function gatherBox(src: Float32Array, shape: Vec3, channels: number, off: Vec3, sub: Vec3, out: Float32Array, o0: number): void {
  const nv = shape[0] * shape[1] * shape[2];
  let o = o0;
  for (let f = 0; f < channels; f++) {
    for (let z = 0; z < sub[2]; z++) {
      for (let yy = 0; yy < sub[1]; yy++) {
        const s = f * nv + off[0] + shape[0] * (off[1] + yy + shape[1] * (off[2] + z));
        out.set(src.subarray(s, s + sub[0]), o);
        o += sub[0];
      }
    }
  }
}

/**
 * The context forest: trained on the samples' pixel features plus the context features of the
 * first forest's out-of-fold map `oof` (outOfFoldMap). Returns its features too (`x2`), for a
 * cross-fitted map of the context forest itself.
 */
export async function trainContextForest(o: CrossFitInput, oof: OutOfFold): Promise<ContextTraining & { x2: Float32Array }> {
  const { raw, region, index, x, y, nClasses: K, featureConfig: cfg } = o;
  const n = index.length;
  const F = x.length / n;
  const nv = boxVoxels(region);
  const config = contextConfig(cfg, K, o.contextFeatures);
  const C = contextCount(config);
  const per = C / config.channels.length;
  const x2 = new Float32Array(n * (F + C));
  x2.set(x, 0);
  for (let j = 0; j < config.channels.length; j++) {
    const ch = config.channels[j];
    const map = new Volume('float32', region, oof.map.subarray(ch * nv, (ch + 1) * nv), 1, raw.voxelSize);
    const pAt = new Float32Array(n);
    const cf = await featuresAt(memorySource(map, 'out-of-fold map'), region, index, config.features, { rawOut: pAt });
    const base = (F + j * per) * n;
    x2.set(pAt, base);
    x2.set(cf, base + n);
  }
  const forest = await trainForest(
    { x: x2, nSamples: n, nFeatures: F + C, layout: 'feature-major', y, nClasses: K },
    { ...o.forest, seed: (o.forest.seed ?? 0) + 7 },
    { kind: 'wiring-pixel-context' },
    { threads: o.threads },
  );
  return { forest, config, folds: oof.folds, x2 };
}

/**
 * The context forests of `rounds` auto-context rounds: round r learns from the out-of-fold map of
 * round r-1 (round 0: the pixel forest's, `first`). Returns the forests in order, the last round's
 * training (its context config and features) and the out-of-fold map it learned from.
 */
export async function trainContextRounds(o: CrossFitInput, first: OutOfFold, rounds: number): Promise<{ forests: Forest[]; last: ContextTraining & { x2: Float32Array }; prev: OutOfFold }> {
  let prev = first;
  let c = await trainContextForest(o, prev);
  const forests = [c.forest];
  for (let r = 1; r < rounds; r++) {
    prev = await outOfFoldMap(o, { x2: c.x2, first: prev.map, config: c.config });
    c = await trainContextForest(o, prev);
    forests.push(c.forest);
  }
  return { forests, last: c, prev };
}
