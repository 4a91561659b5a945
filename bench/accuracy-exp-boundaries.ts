// Experiment (not a benchmark): boundary-map variants on an inner split of the ISBI training slices
// (train TR0-TR1, score TE0-TE1; default 0-4 -> 5-9), membrane pixel AUC of each, beside the
// scikit-learn reference on the same split when REF=1. Variants: VARIANTS='[{"name":..,"autoContext":..,
// "sigmas":[..],"outputSigma":..,"contextRounds":..}, ...]'. Usage (docs/ACCURACY.md "Boundary maps toward 0.96"):
// TREES=30 SAMPLES=60000 VARIANTS='[...]' npx tsx bench/accuracy-exp-boundaries.ts
import type { Vec3 } from '../src/core/box.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { DATA, mapLabels, maskOf, predictSections, readAll, referenceForest, round, sections, trainOurs } from './accuracy-data.js';

const ISBI: Vec3 = [4, 4, 50];
const TREES = Number(process.env.TREES ?? 30);
const SAMPLES = Number(process.env.SAMPLES ?? 60000);
const [TR0, TR1, TE0, TE1] = (process.env.SPLIT ?? '0,5,5,10').split(',').map(Number);
const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"tuned","autoContext":true,"sigmas":[0.7,1.6,3.5,5,10]}]') as Array<{ name: string; autoContext?: boolean; sigmas?: number[]; hardExamples?: number; contextRounds?: number }>;
const iraw = await readAll(`${DATA}/isbi2012/train/image`, ISBI);
const ilab = await readAll(`${DATA}/isbi2012/train/label`, ISBI);
const icls = mapLabels(ilab, { 0: 1, 255: 2 });
const trR = sections(iraw, TR0, TR1), trL = sections(icls, TR0, TR1), te = sections(iraw, TE0, TE1);
const truth = maskOf(sections(ilab, TE0, TE1), [0]);
for (const v of variants) {
  const f = await trainOurs(trR, trL, ['1', '2'], { trees: TREES, samples: SAMPLES, crossFit: false, ...v });
  const t0 = performance.now();
  const [p] = predictSections(f.model, te, [0]);
  // post-processing: the map smoothed in x-y at SMOOTH sigmas (per section)
  const smooth: Record<string, number> = {};
  for (const sg of (process.env.SMOOTH ?? '').split(',').filter(Boolean).map(Number)) smooth[`smoothed_${sg}`] = round(rocAuc(gaussianFilter(p, te.shape, [sg, sg, 0]), truth));
  console.log(JSON.stringify({ variant: v, split: `ISBI ${TR0}-${TR1 - 1} -> ${TE0}-${TE1 - 1}`, trees: TREES, samples: SAMPLES, auc: round(rocAuc(p, truth)), ...smooth, train_s: round(f.trainSeconds, 1), predict_s: round((performance.now() - t0) / 1000, 1) }));
}
if (process.env.REF === '1') {
  const ref = await referenceForest(trR, trL, te, { classes: [1, 2], outputs: [1], trees: TREES, samples: SAMPLES, sigmas: [0.7, 1.6, 3.5, 5, 10] });
  console.log(JSON.stringify({ variant: 'scikit-learn, sigmas + 10', auc: round(rocAuc(ref.maps[0], truth)) }));
}
