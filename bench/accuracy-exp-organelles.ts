// Experiment (not a benchmark): vnc-sstem organelle maps for object-rule experiments. `train`
// trains our model on sections 0-5 as the organelles part of bench/accuracy.bench.ts does
// (cross-fitted 0-2 <-> 3-5), predicts 6-11 and writes the cross-fitted maps, their classes and the
// held-out maps and labels to OUT (default /tmp/wiring-organelles-<TAG>); `score` reads them back
// and scores the carried rule on 6-11 (and the split variants of src/stages/predict/object-split.ts).
// Usage: TREES=30 SAMPLES=60000 AUTO=1 TAG=ac npx tsx bench/accuracy-exp-organelles.ts train|score
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Vec3 } from '../src/core/box.js';
import { OBJECT_RULE_GRID, chooseObjectFilter, chooseObjectRules } from '../src/cli/object-rules.js';
import { connectedComponents } from '../src/kernels/components.js';
import { matchObjects } from '../src/metrics/objects.js';
import { applyObjectFilter } from '../src/stages/synapses/object-filter.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { hysteresisObjects } from '../src/stages/synapses/objects.js';
import type { CrossFitResult } from '../src/stages/predict/training.js';
import { DATA, binXY, mapLabels, maskOf, predictSections, readAll, round, sections, trainOurs } from './accuracy-data.js';

const VNC: Vec3 = [4.6, 4.6, 45];
const VNC_BIN: Vec3 = [9.2, 9.2, 45];
const VNC_CLASSES: Record<number, number> = { 0: 1, 32: 1, 64: 1, 96: 1, 128: 1, 159: 2, 191: 3, 223: 4, 255: 5 };
const TARGETS = [{ name: 'synapses', value: 223, cls: 4 }, { name: 'mitochondria', value: 191, cls: 3 }];
const TAG = process.env.TAG ?? 'ac';
const OUT = process.env.OUT ?? `/tmp/wiring-organelles-${TAG}`;
const f32 = (name: string): Float32Array => { const b = readFileSync(`${OUT}/${name}`); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

if (process.argv[2] === 'train') {
  const dir = `${DATA}/vnc-sstem/stack1`;
  const raw = binXY(await readAll(`${dir}/raw`, VNC), 2);
  const lab = binXY(await readAll(`${dir}/labels`, VNC), 2, { labels: true, prefer: [223, 191] });
  const cls = mapLabels(lab, VNC_CLASSES);
  const f = await trainOurs(sections(raw, 0, 6), sections(cls, 0, 6), ['1', '2', '3', '4', '5'], {
    trees: Number(process.env.TREES ?? 30), samples: Number(process.env.SAMPLES ?? 60000), autoContext: process.env.AUTO !== '0',
  });
  // every class of the held-out sections and the raw (object filters read the other class maps)
  const all = predictSections(f.model, sections(raw, 6, 12), [0, 1, 2, 3, 4]);
  const maps = TARGETS.map((t) => all[t.cls - 1]);
  mkdirSync(OUT, { recursive: true });
  all.forEach((m, k) => writeFileSync(`${OUT}/test${k}.f32`, m));
  writeFileSync(`${OUT}/raw.bin`, raw.data as Uint8Array);
  const cf = f.crossFit!;
  cf.maps.forEach((m, k) => writeFileSync(`${OUT}/cf${k}.f32`, m));
  writeFileSync(`${OUT}/cfcls.i16`, cf.classes);
  TARGETS.forEach((t, k) => writeFileSync(`${OUT}/test-${t.name}.f32`, maps[k]));
  writeFileSync(`${OUT}/test-labels.bin`, sections(lab, 6, 12).data as Uint8Array);
  writeFileSync(`${OUT}/meta.json`, JSON.stringify({ region: cf.region, halves: cf.halves, outputs: f.model.meta.outputs, shape: [raw.shape[0], raw.shape[1], 6], trainSeconds: f.trainSeconds }));
  console.log(JSON.stringify({ wrote: OUT, trainSeconds: round(f.trainSeconds, 1) }));
} else if (process.argv[2] === 'filter') {
  // the object filter of each target class (src/stages/synapses/object-filter.ts), trained on the
  // cross-fitted maps (four folds) with the other class maps as context, applied to the held-out maps
  const meta = JSON.parse(readFileSync(`${OUT}/meta.json`, 'utf8'));
  const b = readFileSync(`${OUT}/cfcls.i16`);
  const cf: CrossFitResult = { region: meta.region, halves: meta.halves, classes: new Int16Array(b.buffer, b.byteOffset, b.length / 2), maps: meta.outputs.map((_: string, k: number) => f32(`cf${k}.f32`)) };
  const shape = meta.shape as Vec3;
  const lab = new Uint8Array(readFileSync(`${OUT}/test-labels.bin`));
  const test = meta.outputs.map((_: string, k: number) => f32(`test${k}.f32`));
  const opts = process.env.FILTER_OPTS ? JSON.parse(process.env.FILTER_OPTS) : {};
  // RAWCTX=1: raw-intensity context maps too (x-y smoothed intensity and local standard deviation at RAW_SIGMA px)
  const rawAll = new Uint8Array(readFileSync(`${OUT}/raw.bin`));
  const RS = Number(process.env.RAW_SIGMA ?? 2);
  const rawCtx = (z0: number, z1: number): { names: string[]; maps: Float32Array[] } => {
    if (process.env.RAWCTX !== '1') return { names: [], maps: [] };
    const n = shape[0] * shape[1];
    const r = Float32Array.from(rawAll.subarray(z0 * n, z1 * n), (v) => v / 255);
    const sh: Vec3 = [shape[0], shape[1], z1 - z0];
    const m = gaussianFilter(r.slice(), sh, [RS, RS, 0]);
    const m2 = gaussianFilter(Float32Array.from(r, (v) => v * v), sh, [RS, RS, 0]);
    const sd = Float32Array.from(m, (v, i) => Math.sqrt(Math.max(0, m2[i] - v * v)));
    return { names: ['raw_mean', 'raw_sd'], maps: [m, sd] };
  };
  for (const t of TARGETS) {
    const k = t.cls - 1, name = meta.outputs[k];
    const one: CrossFitResult = { ...cf, maps: [cf.maps[k]], classes: Int16Array.from(cf.classes, (c) => (c < 0 ? -1 : c === k ? 0 : 1)) };
    const rule = chooseObjectRules(one, ['x'], OBJECT_RULE_GRID).x;
    const t0 = performance.now();
    const ch = chooseObjectFilter(cf, meta.outputs, name, VNC_BIN, rule, opts, rawCtx(0, 6));
    const seconds = (performance.now() - t0) / 1000;
    const truth = connectedComponents(Uint8Array.from(lab, (v) => (v === t.value ? 1 : 0)), shape, { connectivity: 26 });
    const score = (l: Uint32Array, n: number) => {
      const s = matchObjects(l, n, truth.labels, truth.count), s50 = matchObjects(l, n, truth.labels, truth.count, 0.5);
      return { found: n, truth: truth.count, p: round(s.precision), r: round(s.recall), f1: round(s.f1), dice: round(s.dice), f1_iou50: round(s50.f1) };
    };
    const plain = hysteresisObjects(test[k], shape, rule);
    const row: Record<string, unknown> = { target: t.name, rule, plain: score(plain.labels, plain.count), filter_seconds: round(seconds, 1), baselineF1: ch.baselineF1, bestF1: ch.bestF1, skipped: ch.skipped };
    if (ch.filter) {
      const ctx = [...meta.outputs.map((_: string, j: number) => j).filter((j: number) => j !== k).map((j: number) => test[j]), ...rawCtx(6, 12).maps];
      const a = applyObjectFilter(ch.filter, test[k], ctx, shape, VNC_BIN);
      row.filter = { candidates: ch.filter.candidates, cut: ch.filter.cut, oof: ch.filter.oof };
      row.filtered = score(a.labels, a.count);
    }
    console.log(JSON.stringify(row));
  }
} else {
  const meta = JSON.parse(readFileSync(`${OUT}/meta.json`, 'utf8'));
  const b = readFileSync(`${OUT}/cfcls.i16`);
  const cf: CrossFitResult = { region: meta.region, halves: meta.halves, classes: new Int16Array(b.buffer, b.byteOffset, b.length / 2), maps: meta.outputs.map((_: string, k: number) => f32(`cf${k}.f32`)) };
  // SMOOTH=s: output smoothing at s (x-y, per section) of the cross-fitted and the held-out maps, as --smooth-output does
  const SM = Number(process.env.SMOOTH ?? 0);
  const sm = (m: Float32Array, sh: Vec3): Float32Array => (SM > 0 ? gaussianFilter(m, sh, [SM, SM, 0]) : m);
  const rs: Vec3 = [meta.region.max[0] - meta.region.min[0], meta.region.max[1] - meta.region.min[1], meta.region.max[2] - meta.region.min[2]];
  cf.maps = cf.maps.map((m) => sm(m, rs));
  const grids: Record<string, Parameters<typeof chooseObjectRules>[2]> = {
    plain: OBJECT_RULE_GRID,
    split: { ...OBJECT_RULE_GRID, split: JSON.parse(process.env.SPLIT ?? '[0.6,0.7,0.8,0.9,0.95,0.98]'), splitMinSeed: JSON.parse(process.env.SEEDS ?? '[5,20,80]') },
  };
  const labB = readFileSync(`${OUT}/test-labels.bin`);
  const shape = meta.shape as Vec3;
  for (const [g, grid] of Object.entries(grids)) for (const t of TARGETS) {
    const t0 = performance.now();
    // this class only: its map, its voxels as class 0
    const k = t.cls - 1;
    const one: CrossFitResult = { ...cf, maps: [cf.maps[k]], classes: Int16Array.from(cf.classes, (c) => (c < 0 ? -1 : c === k ? 0 : 1)) };
    const rules = { [`class_${t.cls}`]: chooseObjectRules(one, [`class_${t.cls}`], grid)[`class_${t.cls}`] };
    const chooseSeconds = (performance.now() - t0) / 1000;
    const truth = maskOf({ data: labB } as never, [t.value]);
    const prob = sm(f32(`test-${t.name}.f32`), shape);
    const rule = rules[`class_${t.cls}`];
    const o = hysteresisObjects(prob, shape, rule);
    // found objects as labelled (split parts that touch stay two objects), true objects as 26-components
    const tc = connectedComponents(truth, shape, { connectivity: 26 });
    const s = matchObjects(o.labels, o.count, tc.labels, tc.count);
    console.log(JSON.stringify({ smooth: SM, grid: g, chooseSeconds: round(chooseSeconds, 1), target: t.name, auc: round(rocAuc(prob, truth)), rule, found: s.foundObjects, truth: s.trueObjects, p: round(s.precision), r: round(s.recall), f1: round(s.f1), dice: round(s.dice) }));
  }
}
