// Experiment (not a benchmark): boundary-map variants on an inner split of the ISBI training slices
// (train TR0-TR1, score TE0-TE1; default 0-4 -> 5-9), membrane pixel AUC of each, beside the
// scikit-learn reference on the same split when REF=1. Variants: VARIANTS='[{"name":..,"autoContext":..,
// "sigmas":[..],"features":[..],"outputSigma":..,"contextRounds":..,"edgeBand":{"width":1,"keep":0},"contextEdgeBand":false,"contextFeatures":["G","GGM","HoGE","LINE"]}, ...]'. Usage (docs/ACCURACY.md "Boundary maps toward 0.96"):
// TREES=30 SAMPLES=60000 VARIANTS='[...]' npx tsx bench/accuracy-exp-boundaries.ts
import { type Vec3, box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import type { FeatureName } from '../src/stages/predict/features.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { DATA, mapLabels, maskOf, predictSections, readAll, referenceForest, round, sections, trainOurs } from './accuracy-data.js';

const ISBI: Vec3 = [4, 4, 50];
const TREES = Number(process.env.TREES ?? 30);
const SAMPLES = Number(process.env.SAMPLES ?? 60000);
const [TR0, TR1, TE0, TE1] = (process.env.SPLIT ?? '0,5,5,10').split(',').map(Number);
// a variant with "outputSigma":"auto" (and "crossFit": true or absent) chooses its smoothing out of fold, as train-pixels' default does
const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"tuned","autoContext":true,"sigmas":[0.7,1.6,3.5,5,10]}]') as Array<{ name: string; autoContext?: boolean; sigmas?: number[]; features?: FeatureName[]; contextRounds?: number; outputSigma?: number | 'auto'; crossFit?: boolean; minLeaf?: number; edgeBand?: { width: number; keep: number; outside?: number }; contextEdgeBand?: boolean; contextFeatures?: FeatureName[] }>;
const iraw = await readAll(`${DATA}/isbi2012/train/image`, ISBI);
const ilab = await readAll(`${DATA}/isbi2012/train/label`, ISBI);
const icls = mapLabels(ilab, { 0: 1, 255: 2 });
// TRAIN=vnc: train on vnc-sstem stack1 (central 512x512 of its 12 sections, as the bench) instead of ISBI TR0-TR1
const VNC: Vec3 = [4.6, 4.6, 45];
const crop = (v: Volume): Volume => {
  const c = v.crop(box([256, 256, 0], [768, 768, v.shape[2]]));
  return new Volume(c.dtype, box([0, 0, 0], c.shape), c.data, 1, v.voxelSize);
};
const vnc = process.env.TRAIN === 'vnc';
const trR = vnc ? crop(await readAll(`${DATA}/vnc-sstem/stack1/raw`, VNC)) : sections(iraw, TR0, TR1);
const trL = vnc ? mapLabels(crop(await readAll(`${DATA}/vnc-sstem/stack1/labels`, VNC)), { 0: 1, 32: 1, 64: 1, 96: 1, 128: 1, 159: 2, 191: 2, 223: 2, 255: 2 }) : sections(icls, TR0, TR1);
const te = sections(iraw, TE0, TE1);
const truth = maskOf(sections(ilab, TE0, TE1), [0]);
for (const v of variants) {
  const f = await trainOurs(trR, trL, ['1', '2'], { trees: TREES, samples: SAMPLES, crossFit: false, ...v });
  const t0 = performance.now();
  const [p] = predictSections(f.model, te, [0]);
  // post-processing: the map smoothed in x-y at SMOOTH sigmas (per section)
  const smooth: Record<string, number> = {};
  for (const sg of (process.env.SMOOTH ?? '').split(',').filter(Boolean).map(Number)) smooth[`smoothed_${sg}`] = round(rocAuc(gaussianFilter(p, te.shape, [sg, sg, 0]), truth));
  // the model's own map (smoothed at its carried outputSigma, if any); chosen_sigma: what --smooth-output auto chose out of fold
  const chosen = f.model.meta.training?.outputSigma as { sigma?: number; auc?: number[] } | undefined;
  console.log(JSON.stringify({ variant: v, split: `${vnc ? 'vnc-sstem stack1' : `ISBI ${TR0}-${TR1 - 1}`} -> ISBI ${TE0}-${TE1 - 1}`, trees: TREES, samples: SAMPLES, auc: round(rocAuc(p, truth)), output_sigma: f.model.meta.outputSigma ?? 0, ...(chosen ? { chosen_sigma: chosen.sigma, oof_auc: chosen.auc } : {}), ...smooth, train_s: round(f.trainSeconds, 1), predict_s: round((performance.now() - t0) / 1000, 1) }));
}
if (process.env.REF === '1') {
  const ref = await referenceForest(trR, trL, te, { classes: [1, 2], outputs: [1], trees: TREES, samples: SAMPLES, sigmas: [0.7, 1.6, 3.5, 5, 10] });
  const smooth: Record<string, number> = {};
  for (const sg of (process.env.SMOOTH ?? '').split(',').filter(Boolean).map(Number)) smooth[`smoothed_${sg}`] = round(rocAuc(gaussianFilter(ref.maps[0], te.shape, [sg, sg, 0]), truth));
  console.log(JSON.stringify({ variant: 'scikit-learn, sigmas + 10', split: `${vnc ? 'vnc-sstem stack1' : `ISBI ${TR0}-${TR1 - 1}`} -> ISBI ${TE0}-${TE1 - 1}`, trees: TREES, samples: SAMPLES, auc: round(rocAuc(ref.maps[0], truth)), ...smooth }));
}
