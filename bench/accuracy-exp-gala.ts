// Experiment (not a benchmark): output smoothing on a 3-D volume. A --gt boundary forest (3-D
// features, train-pixels' feature defaults) trained on gala-medulla z 0-24 predicts the whole
// 200x100x50 volume; the map is scored on z 25-49 (boundary AUC over labelled voxels) as is and
// smoothed at SMOOTH sigmas (3-D, what --smooth-output does on isotropic voxels).
// SIGMA=auto: the forest chooses its output smoothing out of fold (train-pixels --smooth-output auto) and
// `auc` is its own (smoothed) map's; `chosen` says what it chose on (the candidates' out-of-fold AUC).
// EDGE='{"width":1,"keep":1,"outside":0.5}': edge-band sampling (TrainOptions.edgeBand, src/stages/predict/edge-band.ts).
// Usage: TREES=30 SAMPLES=60000 SMOOTH=1,1.5 npx tsx bench/accuracy-exp-gala.ts
import * as path from 'node:path';
import { type Vec3, box, boxFromShape } from '../src/core/box.js';
import { openSource } from '../src/formats/open.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { classesFromSegmentation, memorySource, trainPixelClassifier } from '../src/stages/predict/training.js';
import { DATA, round } from './accuracy-data.js';

const shape: Vec3 = [200, 100, 50];
const raw = await (await openSource(path.join(DATA, 'gala-medulla/train-image.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape(shape));
const seg = await (await openSource(path.join(DATA, 'gala-medulla/train-gt.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape(shape));
const t0 = performance.now();
const { model } = await trainPixelClassifier(memorySource(raw), memorySource(seg), {
  target: 'gt', bounds: box([0, 0, 0], [200, 100, 25]), outputSigma: process.env.SIGMA === 'auto' ? 'auto' : Number(process.env.SIGMA ?? 0), maxSamples: Number(process.env.SAMPLES ?? 60000), forest: { nTrees: Number(process.env.TREES ?? 30), seed: 0 }, seed: 0, threads: 2,
  ...(process.env.EDGE ? { edgeBand: JSON.parse(process.env.EDGE) } : {}),
});
const trainS = (performance.now() - t0) / 1000;
const p = predictVolume(model, raw).data as Float32Array;
const cls = classesFromSegmentation(seg, 3);
const slab = shape[0] * shape[1];
const score = (m: Float32Array): number => {
  const s: number[] = [], t: number[] = [];
  for (let i = 25 * slab; i < 50 * slab; i++) if (cls[i] >= 0) { s.push(m[i]); t.push(cls[i] === 1 ? 1 : 0); }
  return round(rocAuc(Float32Array.from(s), Uint8Array.from(t)));
};
const row: Record<string, unknown> = { ...(process.env.EDGE ? { edge_band: JSON.parse(process.env.EDGE) } : {}), chosen_on: 'gala-medulla z 0-24', measured_on: 'gala-medulla z 25-49 (same volume)', trees: model.forest.nTrees, dims: model.meta.featureConfig.dims, auc: score(p), output_sigma: model.meta.outputSigma ?? 0, ...(model.meta.training?.outputSigma ? { chosen: model.meta.training.outputSigma } : {}), train_s: round(trainS, 1) };
for (const sg of (process.env.SMOOTH ?? '1,1.5').split(',').map(Number)) row[`smoothed_${sg}`] = score(gaussianFilter(p, shape, sg, 0, { mode: model.meta.featureConfig.mode, truncate: model.meta.featureConfig.truncate }));
console.log(JSON.stringify(row));
