// Experiment (issue #17, docs/ACCURACY.md "The cut of --labels boundary models, chosen out of fold and
// carried across volumes"): `wiring train-pixels --labels ... --segment-choice cut` chooses the mean cut of
// a membrane model out of fold on its training stack (folds along z, each section segmented on its own,
// scored against the interior's 4-connected components per section). How the chosen cut is carried to a
// new map is measured here, with these rules fixed before any run:
//  - default: 0.55 (what a one-section map gets without a carried cut);
//  - absolute: the chosen cut as is;
//  - map-quantile: the chosen cut's level in the out-of-fold maps (fraction of map values <= cut, mean of
//    the folds) -> the value at that level of the new map (whole map);
//  - merged: the fraction of supervoxels merged away at the chosen cut (1 - segments / supervoxels, mean of
//    the folds) -> the cut of the new map's merge trees (all sections pooled) merging the same fraction;
//  - minmax: the cut whose worse fold is best (absolute);
//  - auto: `wiring segment --threshold auto` (Otsu on the contact values, per section; chooses nothing).
// Pairs (training stack -> test): isbi = ISBI 0-9 -> 10-19; vnc-isbi = vnc-sstem stack1 crop -> ISBI 10-19;
// isbi-vnc = ISBI 0-9 -> the vnc crop (sections 0-11; an extra held-out direction).
// Run after `SEGCHAIN_DIR=<dir> SEGCHAIN_PAIRS=isbi,vnc-isbi npm run bench seg-chain` (it reads that folder's
// inputs): SEGCHAIN_DIR=<dir> node --import tsx bench/seg-chain-exp-labels-cut.ts (needs dist/).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../src/core/box.js';
import { contingency } from '../src/metrics/segmentation.js';
import { cutTree } from '../src/stages/segment/agglomerate.js';
import { voiOfMap } from '../src/stages/segment/cross-fit.js';
import { seedParams, SEED_CANDIDATES } from '../src/stages/segment/choice.js';
import { computeAgglomeration, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { readAll } from './accuracy-data.js';
import { wiringJson } from './seg-chain-ref.js';

const DIR = process.env.SEGCHAIN_DIR;
if (!DIR) throw new Error('SEGCHAIN_DIR: the folder of a seg-chain bench run (isbi and vnc-isbi pairs)');
const TREES = Number(process.env.SEGCHAIN_TREES ?? 50);
const SAMPLES = Number(process.env.SEGCHAIN_SAMPLES ?? 100_000);
const CHOICE = process.env.LABELS_CUT_CHOICE ?? 'cut';
const PAIRS = (process.env.LABELS_CUT_PAIRS ?? 'isbi,vnc-isbi,isbi-vnc').split(',');
// LABELS_CUT_PREDICT_ARGS: extra `wiring predict` options (e.g. "--normalize auto"); LABELS_CUT_REUSE=1: reuse
// the models (and their choices) an earlier run of the same LABELS_CUT_CHOICE trained in SEGCHAIN_DIR
const PREDICT_ARGS = (process.env.LABELS_CUT_PREDICT_ARGS ?? '').split(' ').filter(Boolean);
const REUSE = process.env.LABELS_CUT_REUSE === '1';
const TAG = PREDICT_ARGS.length ? `-${PREDICT_ARGS.join('').replace(/[^a-z0-9]/gi, '')}` : '';
const FINE = Array.from({ length: 76 }, (_, i) => +(0.2 + 0.01 * i).toFixed(2));
const f = (n: string): string => path.join(DIR, n);
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

const wiring = (...args: string[]): { json: Record<string, any>; cpu: number } => wiringJson<Record<string, any>>(...args);

interface Section { labels: Uint32Array; tree: ReturnType<typeof computeAgglomeration>['tree']; count: number; auto: Uint32Array }

/** Per-section supervoxels and merge trees of a one-channel map (channel 0 of `vol`), seeds `seeds`. */
function prepare(map: Float32Array, shape: Vec3, vs: Vec3, seeds: string): Section[] {
  const [sx, sy, sz] = shape;
  const n = sx * sy;
  const out: Section[] = [];
  for (let z = 0; z < sz; z++) {
    const maps = { boundary: map.subarray(z * n, (z + 1) * n), shape: [sx, sy, 1] as Vec3 };
    const sv = computeSupervoxels(maps, seedParams(SEED_CANDIDATES[seeds], vs, true));
    const { tree } = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: true });
    const auto = computeAgglomeration(sv.labels, maps, { method: 'mean', anisotropic: true, threshold: 'auto' });
    out.push({ labels: sv.labels, tree, count: sv.count, auto: auto.map });
  }
  return out;
}

/** VOI of the sections cut at `cut` (a number, or 'auto' = each section's Otsu map). */
function voiAt(secs: Section[], truth: Uint32Array, n: number, cut: number | 'auto'): { voi: number; split: number; merge: number; segments: number } {
  const all = new Uint32Array(n * secs.length);
  let base = 0, segs = 0;
  const map: number[] = [0];
  secs.forEach((s, z) => {
    for (let i = 0; i < n; i++) all[z * n + i] = s.labels[i] ? s.labels[i] + base : 0;
    const m = cut === 'auto' ? s.auto : cutTree(s.tree, cut).map;
    let mx = 0;
    for (let k = 1; k <= s.count; k++) {
      map.push(m[k] + segs);
      mx = Math.max(mx, m[k]);
    }
    base += s.count;
    segs += mx;
  });
  const v = voiOfMap(contingency(all, truth), Uint32Array.from(map));
  return { voi: r4(v.split + v.merge), split: r4(v.split), merge: r4(v.merge), segments: segs };
}

/** The cut at which `frac` of the supervoxels are merged away (merges with score <= cut, all sections pooled). */
function cutForMerged(secs: Section[], frac: number): number {
  const total = secs.reduce((a, s) => a + s.count, 0);
  const scores: number[] = [];
  for (const s of secs) {
    // merges that join two segments (the tree's merges are of distinct regions)
    for (let m = 0; m < s.tree.count; m++) scores.push(s.tree.score[m]);
  }
  scores.sort((a, b) => a - b);
  const k = Math.min(scores.length, Math.max(0, Math.round(frac * total)));
  return k === 0 ? 0 : scores[k - 1];
}

/** The value at level q of the map (fraction of values <= it). */
function quantile(map: Float32Array, q: number): number {
  const s = Float32Array.from(map).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const VS_ISBI: Vec3 = [4, 4, 50];
const VS_VNC: Vec3 = [4.6, 4.6, 45];
const models: Record<string, { model: string; cal: Record<string, any>; trainCpu: number }> = {};
async function train(stack: 'isbi' | 'vnc-isbi'): Promise<(typeof models)[string]> {
  if (models[stack]) return models[stack];
  if (REUSE && existsSync(f(`lc-${stack}-${CHOICE}.json`))) return (models[stack] = JSON.parse(readFileSync(f(`lc-${stack}-${CHOICE}.json`), 'utf8')));
  log(`${stack}: train-pixels --labels --segment-choice ${CHOICE}`);
  const t = wiring('train-pixels', '--raw', `${f(`${stack}-tr.h5`)}#stack`, '--labels', `${f(`${stack}-tl.h5`)}#stack`, '-o', f(`lc-${stack}-${CHOICE}.rf`), '--trees', String(TREES), '--samples', String(SAMPLES), '--segment-choice', CHOICE);
  const cal = t.json.cut_calibration;
  log(`${stack}: chosen ${cal.seeds} cut ${cal.threshold} (oof VOI ${cal.meanVoi[cal.grid.indexOf(cal.threshold)]}; default ${cal.default}: ${cal.defaultMeanVoi[cal.grid.indexOf(cal.default)]}), train ${t.cpu} CPU s`);
  console.log(JSON.stringify({ stack, choice: CHOICE, cut_calibration: { ...cal, candidates: undefined } }));
  models[stack] = { model: f(`lc-${stack}-${CHOICE}.rf`), cal, trainCpu: t.cpu };
  writeFileSync(f(`lc-${stack}-${CHOICE}.json`), JSON.stringify(models[stack]));
  return models[stack];
}

for (const pair of PAIRS) {
  const stack = pair === 'vnc-isbi' ? 'vnc-isbi' : 'isbi';
  const m = await train(stack);
  const [testRaw, testGt, vs] = pair === 'isbi-vnc' ? [f('vnc-isbi-tr.h5#stack'), f('vnc-isbi-tg.npy'), VS_VNC] : [f(`${pair}-te.h5#stack`), f(`${pair}-eg.npy`), VS_ISBI];
  const p = wiring('predict', '--raw', testRaw, '--model', m.model, f(`lc-${pair}-${CHOICE}${TAG}-map`), '--overwrite', ...(pair === 'isbi' ? [] : ['--allow-voxel-size']), ...PREDICT_ARGS);
  const vol = await readAll(f(`lc-${pair}-${CHOICE}${TAG}-map`), vs);
  const shape = vol.shape;
  const n = shape[0] * shape[1];
  const map = Float32Array.from((vol.data as Float32Array).subarray(0, n * shape[2]));
  const truth = Uint32Array.from((await readAll(testGt, vs)).data as ArrayLike<number>);
  const secs = prepare(map, shape, vs, m.cal.seeds);
  const cal = m.cal;
  const i = cal.grid.indexOf(cal.threshold);
  const worst = cal.grid.map((_: number, k: number) => Math.max(...cal.foldVoi.map((fv: number[]) => fv[k])));
  const minmax = cal.grid[worst.indexOf(Math.min(...worst))];
  const rules: Record<string, number | 'auto'> = {
    default: 0.55,
    absolute: cal.threshold,
    'map-quantile': r4(quantile(map, cal.levels.map[i])),
    merged: r4(cutForMerged(secs, cal.levels.merged[i])),
    minmax,
    auto: 'auto',
  };
  const out: Record<string, unknown> = {};
  for (const [name, cut] of Object.entries(rules)) out[name] = { cut, ...voiAt(secs, truth, n, cut) };
  const grid = FINE.map((t) => ({ cut: t, ...voiAt(secs, truth, n, t) }));
  const best = grid.reduce((a, b) => (b.voi < a.voi ? b : a));
  console.log(JSON.stringify({ pair, choice: CHOICE, predict_args: PREDICT_ARGS.join(' '), normalized: p.json.normalized, quantile_shift: p.json.quantile_shift, seeds: cal.seeds, chosen: cal.threshold, levels: { map: cal.levels.map[i], merged: cal.levels.merged[i] }, rules: out, test_best_not_a_choice: best, cpu: { train: m.trainCpu, predict: p.cpu } }));
  for (const [name, r] of Object.entries(out) as Array<[string, { cut: number; voi: number; split: number; merge: number }]>) log(`${pair}: ${name.padEnd(12)} cut ${r.cut} VOI ${r.voi} (${r.split} / ${r.merge})`);
  log(`${pair}: (test-set best over 0.20-0.95, not a choice: ${best.cut} VOI ${best.voi})`);
}
