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
import { type Forest, type ForestParams } from '../../ml/forest.js';
import { trainForest } from '../../ml/forest-parallel.js';
import { type ContextConfig, contextConfig, contextCount } from './context.js';
import { type FeatureConfig, featureMargin } from './features.js';
import { PixelModel, type PixelModelMeta } from './model.js';
import { predictProbabilities } from './predict.js';
import { featuresAt, memorySource } from './training.js';

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

export async function trainContextForest(o: {
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
  threads?: number;
  progress?: Progress;
}): Promise<ContextTraining> {
  const { raw, region, index, x, y, nClasses: K, featureConfig: cfg } = o;
  const n = index.length;
  const F = x.length / n;
  const rs = boxShape(region);
  const { axis, halves } = contextHalves(region, cfg.dims);
  const mid = halves[1].min[axis] - region.min[axis];
  const coord = (i: number): number => (axis === 0 ? i % rs[0] : axis === 1 ? Math.floor(i / rs[0]) % rs[1] : Math.floor(i / (rs[0] * rs[1])));
  const side = new Uint8Array(n);
  for (let j = 0; j < n; j++) side[j] = coord(index[j]) < mid ? 0 : 1;
  const nv = boxVoxels(region);
  const oof = new Float32Array(K * nv);
  const folds: ContextTraining['folds'] = [];
  const progress = o.progress ?? silentProgress;
  const rawBox = box(raw.offset, [raw.offset[0] + raw.shape[0], raw.offset[1] + raw.shape[1], raw.offset[2] + raw.shape[2]]);
  const margin = featureMargin(cfg);
  for (let h = 0; h < 2; h++) {
    // first forest on the samples of half h, predicting the other half
    const pick: number[] = [];
    for (let j = 0; j < n; j++) if (side[j] === h) pick.push(j);
    const m = pick.length;
    const classes = new Set(pick.map((j) => y[j]));
    if (classes.size < 2) throw new UsageError(`auto-context: half ${boxToString(halves[h])} of the training region holds samples of ${classes.size} class(es); it needs two to cross-fit (label both halves, or train without --auto-context)`);
    const xs = new Float32Array(m * F);
    const ys = new Uint8Array(m);
    for (let f = 0; f < F; f++) for (let k = 0; k < m; k++) xs[f * m + k] = x[f * n + pick[k]];
    for (let k = 0; k < m; k++) ys[k] = y[pick[k]];
    const fold = await trainForest({ x: xs, nSamples: m, nFeatures: F, layout: 'feature-major', y: ys, nClasses: K }, { ...o.forest, seed: (o.forest.seed ?? 0) + 101 + h }, {}, { threads: o.threads });
    const model = new PixelModel(fold, o.meta);
    const target = halves[1 - h];
    const step: Vec3 = cfg.dims === 2 ? [256, 256, 4] : [96, 96, 96];
    const ts = boxShape(target);
    const blocks = Math.ceil(ts[0] / step[0]) * Math.ceil(ts[1] / step[1]) * Math.ceil(ts[2] / step[2]);
    progress.start(blocks, `auto-context: out-of-fold map ${h + 1} of 2`);
    for (let z = target.min[2]; z < target.max[2]; z += step[2]) {
      for (let yy = target.min[1]; yy < target.max[1]; yy += step[1]) {
        for (let xx = target.min[0]; xx < target.max[0]; xx += step[0]) {
          const b = boxIntersect(box([xx, yy, z], [xx + step[0], yy + step[1], z + step[2]]), target);
          const rb = boxIntersect(box(
            [b.min[0] - margin[0], b.min[1] - margin[1], b.min[2] - margin[2]],
            [b.max[0] + margin[0], b.max[1] + margin[1], b.max[2] + margin[2]],
          ), rawBox);
          const p = predictProbabilities(model, await raw.read(rb), b);
          const bs = boxShape(b);
          const bn = bs[0] * bs[1] * bs[2];
          for (let k = 0; k < K; k++) {
            for (let bz = 0, s = 0; bz < bs[2]; bz++) {
              for (let by = 0; by < bs[1]; by++, s += bs[0]) {
                const d = b.min[0] - region.min[0] + rs[0] * (b.min[1] - region.min[1] + by + rs[1] * (b.min[2] - region.min[2] + bz));
                oof.set(p.subarray(k * bn + s, k * bn + s + bs[0]), k * nv + d);
              }
            }
          }
          progress.increment();
        }
      }
    }
    progress.stop();
    folds.push({ fit: boxToString(halves[h]), predicted: boxToString(target), samples: m });
  }
  // context features of the out-of-fold map at the samples (the map reflected at the region's faces)
  const config = contextConfig(cfg, K);
  const C = contextCount(config);
  const per = C / config.channels.length;
  const x2 = new Float32Array(n * (F + C));
  x2.set(x, 0);
  for (let j = 0; j < config.channels.length; j++) {
    const ch = config.channels[j];
    const map = new Volume('float32', region, oof.subarray(ch * nv, (ch + 1) * nv), 1, raw.voxelSize);
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
  return { forest, config, folds };
}
