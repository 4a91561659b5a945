// Experiment (issue #17, docs/ACCURACY.md "A cut that follows the map"): the cut a boundary model chose out
// of fold on its training volume, carried to a new map RELATIVE to a statistic of each map's histogram
// (src/kernels/map-histogram.ts followCut: absolute, otsu-offset, mode-position, peak-position,
// side-quantile, map-quantile), instead of as an absolute value. The training side's statistics come from
// the histogram of the out-of-fold maps the model recorded (`cutCalibration.histogram`), the new side's
// from the whole predicted test map.
//
// Run after seg-chain bench runs that kept their models and maps in one SEGCHAIN_DIR (SEGCHAIN_REF=0):
//   SEGCHAIN_PAIRS=gala-x,phantom / gala-z / phantom with SEGCHAIN_PHANTOM_SEEDS=3,4 and 5,6 (defaults:
//   `--gt` models), and SEGCHAIN_TRAIN_ARGS="--segment-choice cut" SEGCHAIN_PAIRS=isbi,vnc-isbi (`--labels`
//   models choosing their cut); then SEGCHAIN_DIR=<dir> node --import tsx bench/seg-chain-exp-cut-follow.ts
//   (needs dist/). CUTFOLLOW_PAIRS (default all): gala-x, phantom (1 -> 2), gala-z, phantom-3-4, phantom-5-6,
//   isbi, vnc-isbi, isbi-vnc (the ISBI model predicting the vnc crop, written here).
// `--gt` pairs: each rule's cut through `wiring segment --threshold <cut>` and `wiring evaluate`; per-slice
// (`--labels`) pairs: each section segmented on its own in process (choice.ts scoreCutsPerSection, what the
// bench's per-slice `wiring segment` runs give: its absolute row is printed beside the bench's). The test
// map's best cut (0.20-0.95 by 0.01, in process) is a test-set observation, not a choice.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import { CUT_FOLLOW_RULES, followCut, histogramModes, mapHistogram } from '../src/kernels/map-histogram.js';
import { PixelModel } from '../src/stages/predict/model.js';
import { SEED_CANDIDATES, scoreCuts, scoreCutsPerSection, seedParams } from '../src/stages/segment/choice.js';
import { DEFAULT_THRESHOLD_ANISOTROPIC } from '../src/stages/segment/pipeline.js';
import { anisotropic } from '../src/stages/segment/run.js';
import { readAll } from './accuracy-data.js';
import { wiringJson } from './seg-chain-ref.js';

const DIR = process.env.SEGCHAIN_DIR;
if (!DIR) throw new Error('SEGCHAIN_DIR: the folder of the seg-chain bench runs (see the header)');
const PAIRS = (process.env.CUTFOLLOW_PAIRS ?? 'gala-x,phantom,gala-z,phantom-3-4,phantom-5-6,isbi,vnc-isbi,isbi-vnc').split(',').filter(Boolean);
const FINE = Array.from({ length: 76 }, (_, i) => +(0.2 + 0.01 * i).toFixed(2));
const f = (n: string): string => path.join(DIR, n);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const wiring = (...args: string[]): { json: Record<string, any>; cpu: number } => wiringJson<Record<string, any>>(...args);

interface Pair { model: string; map: string; gt: string; vs: Vec3; perSlice: boolean; predict?: string[] }

function pairOf(name: string): Pair {
  if (name === 'gala-x' || name === 'gala-z') return { model: f(`${name}-ours-model.rf`), map: f(`${name}-ours-map`), gt: f(`${name}-eg.npy`), vs: [10, 10, 10], perSlice: false };
  if (name.startsWith('phantom')) {
    const tag = name === 'phantom' ? '' : name.slice('phantom'.length);
    return { model: f(`${name}-ours-model.rf`), map: f(`${name}-ours-map`), gt: f(`ph${tag}-eg.npy`), vs: [8, 8, 30], perSlice: false };
  }
  if (name === 'isbi' || name === 'vnc-isbi') return { model: f(`${name}-ours-variant-model.rf`), map: f(`${name}-ours-variant-map`), gt: f(`${name}-eg.npy`), vs: [4, 4, 50], perSlice: true };
  if (name === 'isbi-vnc') return { model: f('isbi-ours-variant-model.rf'), map: f('cf-isbi-vnc-map'), gt: f('vnc-isbi-tg.npy'), vs: [4.6, 4.6, 45], perSlice: true, predict: [f('vnc-isbi-tr.h5#stack')] };
  throw new Error(`CUTFOLLOW_PAIRS: unknown pair ${name}`);
}

for (const name of PAIRS) {
  const p = pairOf(name);
  if (!existsSync(p.model)) {
    log(`${name}: no model ${p.model}: skipped`);
    continue;
  }
  const model = await PixelModel.load(p.model);
  const cal = model.meta.cutCalibration as { threshold: number; seeds: string; histogram?: number[] } | undefined;
  if (!cal?.histogram) throw new Error(`${p.model}: meta.cutCalibration.histogram is missing (a model trained before it was recorded)`);
  let predictCpu: number | undefined;
  if (p.predict && !existsSync(path.join(p.map, 'info'))) predictCpu = wiring('predict', '--raw', p.predict[0], '--model', p.model, p.map, '--overwrite', '--allow-voxel-size').cpu;
  const vol = await readAll(p.map, p.vs);
  const shape = vol.shape;
  const nv = shape[0] * shape[1] * shape[2];
  const map = Float32Array.from((vol.data as Float32Array).subarray(0, nv));
  const truth = (await readAll(p.gt, p.vs)).data as Uint32Array;
  const hNew = mapHistogram(map);
  const modes = { train: histogramModes(cal.histogram), test: histogramModes(hNew) };
  const cuts = Object.fromEntries(CUT_FOLLOW_RULES.map((r) => [r, r4(followCut(r, cal.threshold, cal.histogram!, hNew))]));
  const twoD = p.perSlice || anisotropic(p.vs);
  const params = seedParams(SEED_CANDIDATES[cal.seeds], p.vs, twoD);
  const grid = [...new Set([...Object.values(cuts), ...FINE])].sort((a, b) => a - b);
  const s = p.perSlice ? scoreCutsPerSection(map, shape, truth, params, grid) : scoreCuts(map, shape, truth, params, grid);
  const at = (t: number): { voi: number; split: number; merge: number; segments: number } => {
    const i = grid.indexOf(t);
    return { voi: r4(s.split[i] + s.merge[i]), split: r4(s.split[i]), merge: r4(s.merge[i]), segments: s.segments[i] };
  };
  const rows: Record<string, unknown> = {};
  let segCpu = 0;
  for (const [rule, cut] of Object.entries(cuts)) {
    const inProcess = at(cut);
    if (p.perSlice) {
      rows[rule] = { cut, ...inProcess };
    } else {
      const seg = wiring('segment', '--boundaries', p.map, f(`cf-${name}-seg`), '--overwrite', '--threshold', String(cut));
      const e = wiring('evaluate', f(`cf-${name}-seg`), p.gt);
      segCpu += seg.cpu + e.cpu;
      const split = Number(e.json.voi_split), merge = Number(e.json.voi_merge);
      rows[rule] = { cut, voi: r4(split + merge), split: r4(split), merge: r4(merge), arand: r4(Number(e.json.arand)), segments: seg.json.segments, in_process_voi: inProcess.voi };
    }
    const r = rows[rule] as { voi: number; split: number; merge: number };
    log(`${name}: ${rule.padEnd(14)} cut ${cut.toFixed(4)} VOI ${r.voi} (${r.split} / ${r.merge})`);
  }
  // per-slice pairs: the cut a one-section map gets when its model carries none (--labels without --segment-choice)
  if (p.perSlice) {
    rows.default = { cut: DEFAULT_THRESHOLD_ANISOTROPIC.mean, ...at(DEFAULT_THRESHOLD_ANISOTROPIC.mean) };
    const r = rows.default as { voi: number; split: number; merge: number };
    log(`${name}: ${'default'.padEnd(14)} cut ${DEFAULT_THRESHOLD_ANISOTROPIC.mean.toFixed(4)} VOI ${r.voi} (${r.split} / ${r.merge})`);
  }
  const best = FINE.map((t) => ({ cut: t, ...at(t) })).reduce((a, b) => (b.voi < a.voi ? b : a));
  log(`${name}: (test map's best cut 0.20-0.95, not a choice: ${best.cut} VOI ${best.voi})`);
  console.log(JSON.stringify({ pair: name, carried: cal.threshold, seeds: cal.seeds, modes, rules: rows, test_best_not_a_choice: best, cpu: { predict: predictCpu, segment_evaluate: r4(segCpu) } }));
}
