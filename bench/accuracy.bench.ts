// `npm run bench accuracy`: accuracy on volumes (or sections) never used for choosing anything.
// Every row says what it was chosen on and what it was measured on; docs/ACCURACY.md has the table.
// Parts (ACCURACY_PARTS=organelles,boundaries; default all):
//  - organelles: vnc-sstem stack1, synapses (label 223) and mitochondria (191). Wiring's forest (one
//    forest, and auto-context) and the scikit-learn reference (bench/refs/ref_pixel_forest.py)
//    trained on sections 0-5, scored on 6-11 (the same stack: other sections, same staining). Each
//    of our models cross-fits itself on sections 0-5 as `wiring train-pixels` does by default
//    (0-2 -> 3-5 and back): isotonic calibration and the object rule (hysteresis + size) it carries.
//  - boundaries: membrane vs rest, trained on vnc-sstem stack1 (another ssTEM volume) or ISBI 2012
//    slices 0-9, scored on ISBI slices 10-14 as they are and with another contrast/gamma: pixel AUC
//    of ours (with and without quantile matching) and of the reference; plus the "tuned" model
//    (auto-context with sigma 10 added, ACCURACY_ROUNDS rounds; chosen on ISBI 0-4 -> 5-9) and the
//    reference with the same sigmas (ACCURACY_TUNED_SIGMAS).
// ACCURACY_EDGE_WEIGHT: an extra one-forest boundary model with --edge-weight (below).
// ACCURACY_TREES (default 50) and ACCURACY_SAMPLES (default 100000) are the same for both forests.
import { type Vec3, box, boxShape } from '../src/core/box.js';
import { smoothOutputs } from '../src/stages/predict/output-smoothing.js';
import { Volume } from '../src/core/volume.js';
import { matchObjects } from '../src/metrics/objects.js';
import { connectedComponents } from '../src/kernels/components.js';
import { applyObjectFilter } from '../src/stages/synapses/object-filter.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { PixelModel } from '../src/stages/predict/model.js';
import type { FeatureName } from '../src/stages/predict/features.js';
import { edgeBandOf } from '../src/stages/predict/edge-band.js';
import { PIXEL_TRAINING_DEFAULTS } from '../src/stages/predict/training.js';
import { type ObjectParams, hysteresisObjects } from '../src/stages/synapses/objects.js';
import { OBJECT_RULE_GRID, chooseObjectRules } from '../src/cli/object-rules.js';
import { DATA, binXY, hasData, matchTo, recontrast, mapLabels, maskOf, predictSections, readAll, referenceForest, round, sections, trainOurs } from './accuracy-data.js';

const TREES = Number(process.env.ACCURACY_TREES ?? 50);
// vnc sections binned 2x2 in x-y (9.2 nm pixels) by default: the shared 2-core machine cannot run
// 3 forests + the reference over 12 Mpx in a bench's time; ACCURACY_BIN=1 for full resolution.
const BIN = Number(process.env.ACCURACY_BIN ?? 2);
const SAMPLES = Number(process.env.ACCURACY_SAMPLES ?? 100_000);
const PARTS = (process.env.ACCURACY_PARTS ?? 'organelles,boundaries').split(',');
// auto-context rows (a second forest on the first one's out-of-fold map): ACCURACY_AUTOCONTEXT=0 to skip
const AUTO = process.env.ACCURACY_AUTOCONTEXT !== '0';
// boundaries: the tuned auto-context model (chosen on ISBI slices 0-4 -> 5-9, docs/ACCURACY.md):
// pixel sigmas with 10 added, ACCURACY_ROUNDS auto-context rounds; the reference also runs with these sigmas
const TUNED_SIGMAS = (process.env.ACCURACY_TUNED_SIGMAS ?? '0.7,1.6,3.5,5,10').split(',').map(Number);
const ROUNDS = Number(process.env.ACCURACY_ROUNDS ?? 1);
// ACCURACY_TUNED_FEATURES (e.g. G,GGM,LoG,DoG,STE,HoGE,LINE) / ACCURACY_TUNED_CONTEXT_FEATURES (e.g. G,GGM,HoGE,LINE): the tuned
// model's pixel features and the features of its first map its context forest sees (default: the defaults; the reference keeps its own)
const TUNED_FEATURES = process.env.ACCURACY_TUNED_FEATURES ? (process.env.ACCURACY_TUNED_FEATURES.split(',') as FeatureName[]) : undefined;
const TUNED_CONTEXT_FEATURES = process.env.ACCURACY_TUNED_CONTEXT_FEATURES ? (process.env.ACCURACY_TUNED_CONTEXT_FEATURES.split(',') as FeatureName[]) : undefined;
// ACCURACY_PLAIN_AUTOCONTEXT=0 leaves out plain auto-context (default sigmas) in the boundaries part;
// ACCURACY_BOUNDARY_RUNS (vnc,isbi) picks the training volumes
const PLAIN_AUTO = process.env.ACCURACY_PLAIN_AUTOCONTEXT !== '0';
// output smoothing of the boundary maps (--smooth-output): 'auto' (default; what train-pixels does for
// boundary models): the one-forest and tuned models choose their scale out of fold (cross-fitted on
// their training region); the smoothed columns are their maps as predicted with it, the other
// columns the same forests unsmoothed; the reference's maps are smoothed at the scale our model of
// the same sigmas chose. A number: every map also scored smoothed at that sigma (1.5 was chosen on
// ISBI 0-4 -> 5-9 by hand); 0: not.
const OUTPUT_SIGMA_ENV = process.env.ACCURACY_OUTPUT_SIGMA ?? 'auto';
const OUTPUT_AUTO = OUTPUT_SIGMA_ENV === 'auto';
const OUTPUT_SIGMA = OUTPUT_AUTO ? 0 : Number(OUTPUT_SIGMA_ENV);
// organelles: split levels and seed sizes searched (out of fold) for split object rules (empty: none)
const SPLIT = (process.env.ACCURACY_SPLIT ?? '0.8,0.9,0.95').split(',').filter(Boolean).map(Number);
const SPLIT_SEEDS = (process.env.ACCURACY_SPLIT_SEEDS ?? '20,80').split(',').filter(Boolean).map(Number);
// organelles: output smoothing scales tried for the class maps (chosen per class out of fold; empty: none)
const ORGANELLE_SIGMAS = (process.env.ACCURACY_ORGANELLE_SIGMAS ?? '1,1.5,2.5').split(',').filter(Boolean).map(Number);
const BOUNDARY_RUNS = (process.env.ACCURACY_BOUNDARY_RUNS ?? 'vnc,isbi').split(',');
// ACCURACY_EDGE_WEIGHT=w (not 1): one more one-forest boundary model trained with `--edge-weight w`
// (label-edge voxels sampled w times as often; docs/ACCURACY.md "Label width at membrane edges")
const EDGE_WEIGHT = Number(process.env.ACCURACY_EDGE_WEIGHT ?? PIXEL_TRAINING_DEFAULTS.edgeWeight);
const VNC: Vec3 = [4.6, 4.6, 45];
const VNC_BIN: Vec3 = [4.6 * BIN, 4.6 * BIN, 45];
const ISBI: Vec3 = [4, 4, 50];
// vnc label values -> classes: 1 membrane (0..128: orientations + junction), 2 glia, 3 mitochondria, 4 synapse, 5 intracellular
const VNC_CLASSES: Record<number, number> = { 0: 1, 32: 1, 64: 1, 96: 1, 128: 1, 159: 2, 191: 3, 223: 4, 255: 5 };
const TARGETS = [
  { name: 'synapses', value: 223, cls: 4, refMinSize: 200 },
  { name: 'mitochondria', value: 191, cls: 3, refMinSize: 400 },
];
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

function scoreMap(prob: Float32Array, truth: Uint8Array, shape: Vec3, p: ObjectParams) {
  return scoreObjects(hysteresisObjects(prob, shape, p), truth, shape, p);
}

/**
 * Found objects as labelled (the parts of a split stay two objects even where they touch; until
 * 2026-12-07 they were re-joined as 26-components here), true objects as 26-components of the mask.
 */
function scoreObjects(o: { labels: Uint32Array; count: number }, truth: Uint8Array, shape: Vec3, p: unknown) {
  const t = connectedComponents(truth, shape, { connectivity: 26 });
  const s = matchObjects(o.labels, o.count, t.labels, t.count);
  const s50 = matchObjects(o.labels, o.count, t.labels, t.count, 0.5);
  return {
    params: p,
    true_objects: s.trueObjects,
    found_objects: s.foundObjects,
    precision: round(s.precision),
    recall: round(s.recall),
    f1: round(s.f1),
    dice: round(s.dice),
    f1_iou50: round(s50.f1),
  };
}

async function organelles(): Promise<unknown> {
  const dir = `${DATA}/vnc-sstem/stack1`;
  const raw = binXY(await readAll(`${dir}/raw`, VNC), BIN);
  const lab = binXY(await readAll(`${dir}/labels`, VNC), BIN, { labels: true, prefer: [223, 191] });
  const cls = mapLabels(lab, VNC_CLASSES);
  const classes = ['1', '2', '3', '4', '5'];
  const opts = { trees: TREES, samples: SAMPLES };
  const channels = TARGETS.map((t) => t.cls - 1);
  // each model cross-fits itself on sections 0-5 (0-2 <-> 3-5: calibration and object rules, as
  // `wiring train-pixels` does by default on dense labels) and is scored on 6-11
  const models: Array<{ name: string; f: Awaited<ReturnType<typeof trainOurs>>; maps: Float32Array[]; predictSeconds: number }> = [];
  for (const auto of AUTO ? [false, true] : [false]) {
    const name = auto ? 'auto_context' : 'single_forest';
    log(`${name}: train on sections 0-5 (cross-fitted 0-2 <-> 3-5), predict 6-11`);
    const f = await trainOurs(sections(raw, 0, 6), sections(cls, 0, 6), classes, { ...opts, autoContext: auto });
    const t0 = performance.now();
    const maps = predictSections(f.model, sections(raw, 6, 12), channels);
    models.push({ name, f, maps, predictSeconds: (performance.now() - t0) / 1000 });
  }
  log('scikit-learn reference on the same split');
  const ref = await referenceForest(sections(raw, 0, 6), sections(cls, 0, 6), sections(raw, 6, 12), {
    classes: [1, 2, 3, 4, 5], outputs: TARGETS.map((t) => t.cls), ...opts,
  });
  const testLab = sections(lab, 6, 12);
  const shape: Vec3 = [raw.shape[0], raw.shape[1], 6];
  const rows: Record<string, unknown>[] = [];
  const out: Record<string, unknown> = { bin: BIN, shape: raw.shape, trees: TREES, samples: SAMPLES, reference: ref.info, rows };
  // object rules chosen on the whole cross-fitted region; object filters (the other class maps as
  // context) for the two target classes, kept only with enough true objects and an out-of-fold gain
  const targetNames = TARGETS.map((t) => `class_${t.cls}`);
  const rules = models.map((m) => chooseObjectRules(m.f.crossFit!, m.f.model.meta.outputs, OBJECT_RULE_GRID, VNC_BIN, targetNames));
  // every class map of the held-out sections, for the filters' context
  const allMaps = models.map((m) => (rules.some((r) => targetNames.some((n) => r[n]?.objectFilter)) ? predictSections(m.f.model, sections(raw, 6, 12), [0, 1, 2, 3, 4]) : undefined));
  // split rules: the same out-of-fold choice with split levels added to the grid (synapse and mitochondria channels only)
  const splitGrid = { ...OBJECT_RULE_GRID, split: SPLIT, splitMinSeed: SPLIT_SEEDS };
  const splitRules = SPLIT.length ? models.map((m) => {
    log(`${m.name}: choosing split object rules out of fold`);
    const cf = m.f.crossFit!;
    const out: Record<string, ReturnType<typeof chooseObjectRules>[string]> = {};
    for (const t of TARGETS) {
      const k = t.cls - 1;
      const one = { ...cf, maps: [cf.maps[k]], classes: Int16Array.from(cf.classes, (c) => (c < 0 ? -1 : c === k ? 0 : 1)) };
      out[`class_${t.cls}`] = chooseObjectRules(one, ['x'], splitGrid).x;
    }
    return out;
  }) : undefined;
  // output smoothing of the class maps (what `train-pixels --smooth-output s` does: the cross-fitted
  // maps smoothed before the rules are chosen, predict's maps smoothed the same way), per scale;
  // the scale of each class is then chosen by the out-of-fold F1 of its rule (0 = none)
  const smoothedRules = models.map((m) => ORGANELLE_SIGMAS.map((sigma) => {
    const cf = m.f.crossFit!;
    const rs = boxShape(cf.region) as Vec3;
    const maps = cf.maps.map((x) => { const c = x.slice(); smoothOutputs(c, rs, 1, m.f.model.meta.featureConfig, sigma); return c; });
    return { sigma, rules: chooseObjectRules({ ...cf, maps }, m.f.model.meta.outputs, OBJECT_RULE_GRID) };
  }));
  TARGETS.forEach((t, k) => {
    const truth = maskOf(testLab, [t.value]);
    const plain: ObjectParams = { high: 0.5, low: 0.5, minSize: Math.round(t.refMinSize / (BIN * BIN)) };
    const r: Record<string, unknown> = {
      target: t.name,
      chosen_on: 'vnc-sstem stack1 sections 0-5 (out-of-fold: 0-2 <-> 3-5)',
      measured_on: 'vnc-sstem stack1 sections 6-11 (same stack)',
      sklearn: { auc: round(rocAuc(ref.maps[k], truth)), plain: scoreMap(ref.maps[k], truth, shape, plain) },
    };
    models.forEach((m, j) => {
      const rule = rules[j][`class_${t.cls}`];
      const p: ObjectParams = { high: rule.high, low: rule.low, minSize: rule.minSize };
      const sr = splitRules?.[j][`class_${t.cls}`];
      const of = rule.objectFilter;
      const maps = allMaps[j];
      const filtered = of && maps ? scoreObjects(applyObjectFilter(of, maps[t.cls - 1], of.context.map((c) => maps[m.f.model.meta.outputs.indexOf(c)]), shape, VNC_BIN), truth, shape, { candidates: of.candidates, cut: of.cut }) : undefined;
      const { objectFilter: _f, ...ruleOnly } = rule;
      r[m.name] = {
        auc: round(rocAuc(m.maps[k], truth)),
        carried_rule: ruleOnly,
        chosen: scoreMap(m.maps[k], truth, shape, p),
        object_filter: of ? { oof: of.oof, candidates: of.candidates, cut: of.cut, held_out: filtered } : { skipped: rule.objectFilterSkipped },
        ...(sr ? { split_rule: sr, split_chosen: scoreMap(m.maps[k], truth, shape, sr) } : {}),
        smoothed: (() => {
          const per = smoothedRules[j].map(({ sigma, rules: rr }) => {
            const sr2 = rr[`class_${t.cls}`];
            const held = m.maps[k].slice();
            smoothOutputs(held, shape, 1, m.f.model.meta.featureConfig, sigma);
            return { sigma, rule: sr2, auc: round(rocAuc(held, truth)), chosen: scoreMap(held, truth, shape, { high: sr2.high, low: sr2.low, minSize: sr2.minSize }) };
          });
          // the scale chosen out of fold: the best rule F1 on the cross-fitted maps (none = the carried rule above)
          const none = { sigma: 0, oof: rule.f1 };
          const best = per.reduce((b, x) => (x.rule.f1 > b.oof + 1e-12 ? { sigma: x.sigma, oof: x.rule.f1 } : b), none);
          return { per_sigma: per, chosen_out_of_fold: best };
        })(),
        seconds: { train: round(m.f.trainSeconds, 1), predict: round(m.predictSeconds, 1) },
      };
    });
    rows.push(r);
    console.log(JSON.stringify(r));
  });
  return out;
}

async function boundaries(): Promise<unknown> {
  // membranes at full resolution (4.6 nm, close to ISBI's 4 nm), the central 512x512 of each section
  const crop = (v: Volume): Volume => {
    const c = v.crop(box([256, 256, 0], [768, 768, v.shape[2]]));
    return new Volume(c.dtype, box([0, 0, 0], c.shape), c.data, 1, v.voxelSize);
  };
  const vraw = crop(await readAll(`${DATA}/vnc-sstem/stack1/raw`, VNC));
  const vlab = crop(await readAll(`${DATA}/vnc-sstem/stack1/labels`, VNC));
  const iraw = await readAll(`${DATA}/isbi2012/train/image`, ISBI);
  const ilab = await readAll(`${DATA}/isbi2012/train/label`, ISBI);
  // 1 = membrane, 2 = anything else
  const vcls = mapLabels(vlab, { 0: 1, 32: 1, 64: 1, 96: 1, 128: 1, 159: 2, 191: 2, 223: 2, 255: 2 });
  const icls = mapLabels(ilab, { 0: 1, 255: 2 });
  // measured on ISBI slices TEST0..TEST1-1, as they are and with another contrast and gamma
  const TEST0 = Number(process.env.ACCURACY_ISBI_TEST0 ?? 10), TEST1 = Number(process.env.ACCURACY_ISBI_TEST1 ?? 15);
  const test = sections(iraw, TEST0, TEST1);
  const shifted = recontrast(test, 0.1, 0.6, 1.7);
  const truth = maskOf(sections(ilab, TEST0, TEST1), [0]);
  const n = truth.length;
  // both test volumes in one reference run: stacked along z
  const both = new Volume('uint8', box([0, 0, 0], [test.shape[0], test.shape[1], 2 * test.shape[2]]), new Uint8Array(2 * n), 1, test.voxelSize);
  both.data.set(test.data as Uint8Array, 0);
  both.data.set(shifted.data as Uint8Array, n);
  const rows: Record<string, unknown>[] = [];
  const runs = [
    { key: 'vnc', chosen: 'vnc-sstem stack1 (12 sections, central 512x512)', trR: vraw, trL: vcls },
    { key: 'isbi', chosen: 'ISBI 2012 slices 0-9', trR: sections(iraw, 0, 10), trL: sections(icls, 0, 10) },
  ].filter((r) => BOUNDARY_RUNS.includes(r.key));
  for (const r of runs) {
    log(`boundaries: ${r.chosen} -> ISBI ${TEST0}-${TEST1 - 1}`);
    // no cross-fitting (calibration, object rules): the forests and so the AUCs are the same without it
    // no cross-fitting unless the smoothing is chosen out of fold (the forests are the same either way)
    const sm0 = OUTPUT_AUTO ? { outputSigma: 'auto' as const, crossFit: true } : { crossFit: false };
    const f = await trainOurs(r.trR, r.trL, ['1', '2'], { trees: TREES, samples: SAMPLES, ...sm0 });
    const fe = EDGE_WEIGHT !== 1 ? await trainOurs(r.trR, r.trL, ['1', '2'], { trees: TREES, samples: SAMPLES, ...sm0, edgeBand: edgeBandOf(EDGE_WEIGHT, PIXEL_TRAINING_DEFAULTS.edgeWidth) }) : undefined;
    const sigE = fe ? (OUTPUT_AUTO ? (fe.model.meta.outputSigma ?? 0) : OUTPUT_SIGMA) : 0;
    const fa = AUTO && PLAIN_AUTO ? await trainOurs(r.trR, r.trL, ['1', '2'], { trees: TREES, samples: SAMPLES, autoContext: true, crossFit: false }) : undefined;
    const ft = AUTO ? await trainOurs(r.trR, r.trL, ['1', '2'], { trees: TREES, samples: SAMPLES, autoContext: true, contextRounds: ROUNDS, sigmas: TUNED_SIGMAS, ...(TUNED_FEATURES ? { features: TUNED_FEATURES } : {}), ...(TUNED_CONTEXT_FEATURES ? { contextFeatures: TUNED_CONTEXT_FEATURES } : {}), ...sm0 }) : undefined;
    // the scale each model smooths at (chosen out of fold, or ACCURACY_OUTPUT_SIGMA); the unsmoothed columns use the forests without it
    const sigF = OUTPUT_AUTO ? (f.model.meta.outputSigma ?? 0) : OUTPUT_SIGMA;
    const sigT = ft ? (OUTPUT_AUTO ? (ft.model.meta.outputSigma ?? 0) : OUTPUT_SIGMA) : 0;
    const chosen = OUTPUT_AUTO ? { one_forest: f.model.meta.training?.outputSigma, ...(ft ? { tuned: ft.model.meta.training?.outputSigma } : {}) } : undefined;
    const unsmoothed = (m: PixelModel): PixelModel => new PixelModel(m.forest, { ...m.meta, outputSigma: undefined }, m.contextForest, m.laterRounds);
    f.model = unsmoothed(f.model);
    if (ft) ft.model = unsmoothed(ft.model);
    const ref = await referenceForest(r.trR, r.trL, both, { classes: [1, 2], outputs: [1], trees: TREES, samples: SAMPLES });
    const refT = await referenceForest(r.trR, r.trL, both, { classes: [1, 2], outputs: [1], trees: TREES, samples: SAMPLES, sigmas: TUNED_SIGMAS });
    // the same forests with output smoothing (what `train-pixels --smooth-output` carries; the
    // boundary models are trained without cross-fitting, so only predict differs)
    const smoothed = (m: PixelModel, sg: number): PixelModel => new PixelModel(m.forest, { ...m.meta, outputSigma: sg > 0 ? sg : undefined }, m.contextForest, m.laterRounds);
    const smoothRef = (p: Float32Array, sg: number): Float32Array => (sg > 0 ? gaussianFilter(p.slice(), test.shape, [sg, sg, 0]) : p);
    for (const [name, vol, off] of [['as is', test, 0], ['contrast 0.1 + 0.6 v^1.7', shifted, n]] as const) {
      const [ours] = predictSections(f.model, vol, [0]);
      const sm = OUTPUT_AUTO || OUTPUT_SIGMA > 0 ? {
        output_sigma: OUTPUT_AUTO ? { chosen_out_of_fold: true, one_forest: sigF, tuned: sigT } : OUTPUT_SIGMA,
        ours_smoothed: round(rocAuc(predictSections(smoothed(f.model, sigF), vol, [0])[0], truth)),
        ...(ft ? {
          ours_tuned_smoothed: round(rocAuc(predictSections(smoothed(ft.model, sigT), vol, [0])[0], truth)),
          ours_tuned_smoothed_quantile_matched: round(rocAuc(predictSections(smoothed(ft.model, sigT), vol, [0], (await matchTo(ft.model, vol)).map)[0], truth)),
          sklearn_tuned_sigmas_smoothed: round(rocAuc(smoothRef(refT.maps[0].subarray(off, off + n), sigT), truth)),
        } : {}),
        sklearn_smoothed: round(rocAuc(smoothRef(ref.maps[0].subarray(off, off + n), sigF), truth)),
        ...(fe ? { edge_weight: EDGE_WEIGHT, ours_edge_weighted_smoothed: round(rocAuc(predictSections(fe.model, vol, [0])[0], truth)), edge_output_sigma: sigE, sklearn_smoothed_as_edge_weighted: round(rocAuc(smoothRef(ref.maps[0].subarray(off, off + n), sigE), truth)), train_edge_weighted_s: round(fe.trainSeconds, 1) } : {}),
        ...(chosen ? { output_sigma_choice: chosen } : {}),
      } : {};
      const m = await matchTo(f.model, vol);
      const [normed] = predictSections(f.model, vol, [0], m.map);
      const auto = fa ? { ours_auto_context: round(rocAuc(predictSections(fa.model, vol, [0])[0], truth)), ours_auto_context_quantile_matched: round(rocAuc(predictSections(fa.model, vol, [0], (await matchTo(fa.model, vol)).map)[0], truth)) } : {};
      const tuned = ft ? {
        tuned: `auto-context, ${ROUNDS} round(s), sigmas ${TUNED_SIGMAS.join(',')}${TUNED_FEATURES ? `, features ${TUNED_FEATURES.join(',')}` : ''}${TUNED_CONTEXT_FEATURES ? `, context features ${TUNED_CONTEXT_FEATURES.join(',')}` : ''}`,
        ours_tuned: round(rocAuc(predictSections(ft.model, vol, [0])[0], truth)),
        ours_tuned_quantile_matched: round(rocAuc(predictSections(ft.model, vol, [0], (await matchTo(ft.model, vol)).map)[0], truth)),
        sklearn_tuned_sigmas: round(rocAuc(refT.maps[0].subarray(off, off + n), truth)),
        seconds: { train_one_forest: round(f.trainSeconds, 1), train_auto_context: fa ? round(fa.trainSeconds, 1) : null, train_tuned: round(ft.trainSeconds, 1) },
      } : {};
      const row = {
        score: 'membrane pixel AUC', chosen_on: r.chosen, measured_on: `ISBI 2012 slices ${TEST0}-${TEST1 - 1}, ${name}`,
        ours: round(rocAuc(ours, truth)), ours_quantile_matched: round(rocAuc(normed, truth)), quantile_shift: round(m.shift, 3),
        sklearn: round(rocAuc(ref.maps[0].subarray(off, off + n), truth)),
        ...auto,
        ...tuned,
        ...sm,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  return { trees: TREES, samples: SAMPLES, tuned_sigmas: TUNED_SIGMAS, rounds: ROUNDS, output_sigma: OUTPUT_AUTO ? 'auto (chosen out of fold per model)' : OUTPUT_SIGMA, rows };
}

export default async function run(): Promise<unknown> {
  const result: Record<string, unknown> = {};
  if (PARTS.includes('organelles')) {
    if (hasData('vnc-sstem/stack1')) result.organelles = await organelles();
    else console.log(`[skip] organelles: ${DATA}/vnc-sstem not found`);
  }
  if (PARTS.includes('boundaries')) {
    if (hasData('vnc-sstem/stack1') && hasData('isbi2012/train')) result.boundaries = await boundaries();
    else console.log('[skip] boundaries: vnc-sstem or isbi2012 not found');
  }
  return result;
}
