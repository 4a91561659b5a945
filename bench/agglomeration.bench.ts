// `npm run bench agglomeration`: agglomeration methods chosen on one volume, measured on another
// (issue #17). Every learned model, cut and bias is chosen on the training volume only (cross-fitting
// on its halves); the test volume is only scored. docs/ACCURACY.md has the table.
//
// Pairs (training -> test):
//  - gala-medulla (the only public volume of it here: train-*.h5), its x halves both ways and z halves
//    both ways, gala's own p1 boundary map and ws supervoxels (as gala's example does) and our
//    supervoxels of p1 (`wiring segment` defaults);
//  - phantoms: seed 1 -> seed 2 (160x160x32 at 8x8x30 nm), boundary maps from a forest trained on a
//    third phantom (seed 3), 2-D supervoxels (`wiring supervoxels --2d`); built with the CLI (dist/,
//    run `npx tsc -p tsconfig.json` first), cached in AGGLO_PHANTOMS (default $TMPDIR/wiring-agglo-phantoms).
// Methods: mean (default cut, no training); the learned model as it was before issue #17 (18 basic
// features, mean-policy episode only, cut 0.5) and the same with its cut cross-fitted; the model on
// the initial graph only (rich features); trajectory-trained with 1 and 2 active-learning rounds
// (rich features); mutex watershed and multicut (GAEC) on the 2-round model's initial-edge
// probabilities (bias cross-fitted) and on the mean boundary (default bias).
// AGGLO_PARTS=gala,chain,phantom (default all; chain: see chain() below), AGGLO_TREES (default 100).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactLabels } from '../src/kernels/components.js';
import { cutTree, agglomerate, meanScorer, mutexWatershed } from '../src/stages/segment/agglomerate.js';
import { type PreparedVolume, type TrainingVolume, edgeProbabilities, prepareVolume, splitHalves, trainWithCrossFitCuts, voiOfMap } from '../src/stages/segment/cross-fit.js';
import { readWhole } from '../src/stages/segment/io.js';
import { type AgglomerationTrainOptions, forestScorer, trainAgglomeration } from '../src/stages/segment/learned.js';
import { multicutGaec } from '../src/stages/segment/multicut.js';
import { DEFAULT_SUPERVOXELS, DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_ANISOTROPIC, boundaryMaps, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { Volume } from '../src/core/volume.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');
const GALA = path.join(DATA, 'gala-medulla');
const PARTS = (process.env.AGGLO_PARTS ?? 'gala,chain,phantom').split(',');
const TREES = Number(process.env.AGGLO_TREES ?? 100);
const PH = process.env.AGGLO_PHANTOMS ?? path.join(os.tmpdir(), 'wiring-agglo-phantoms');
const log = (s: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const r4 = (x: number) => +x.toFixed(4);

type Score = { voi: number; split: number; merge: number; cut: number };
const sc = (pv: PreparedVolume, map: Uint32Array, cut: number): Score => {
  const v = voiOfMap(pv.table, map);
  return { voi: r4(v.split + v.merge), split: r4(v.split), merge: r4(v.merge), cut };
};

/** Every method trained/chosen on `train`, scored on `test`. */
function compare(train: TrainingVolume, test: TrainingVolume, anisotropic: boolean): Record<string, Score> {
  const te = prepareVolume(test);
  const out: Record<string, Score> = {};
  const dflt = anisotropic ? DEFAULT_THRESHOLD_ANISOTROPIC : DEFAULT_THRESHOLD;
  const meanTree = agglomerate(te.rag, meanScorer);
  out.no_agglomeration = sc(te, cutTree(meanTree, -1).map, 0);
  out.mean_default = sc(te, cutTree(meanTree, dflt.mean).map, dflt.mean);
  const pMean = edgeProbabilities(te.rag);
  out.mutex_mean_default = sc(te, mutexWatershed(te.rag, (_s, e) => pMean[e], dflt.mutex).map, dflt.mutex);
  out.multicut_mean_default = sc(te, multicutGaec(te.rag, pMean, { bias: dflt.multicut }).map, dflt.multicut);
  const params = { nTrees: TREES };
  const recipes: Array<[string, AgglomerationTrainOptions]> = [
    ['learned_before', { features: 'basic', rounds: 0, initialEdges: false }],
    ['initial_graph_only', { initialOnly: true }],
    ['trajectory_round1', { rounds: 1 }],
    ['trajectory_round2', { rounds: 2 }],
    ['trajectory_round2_loose', { rounds: 2, mode: 'loose' }],
  ];
  for (const [name, opts] of recipes) {
    const t0 = performance.now();
    const res = trainWithCrossFitCuts(train, params, {}, opts);
    const tree = agglomerate(te.rag, forestScorer(res.forest), { rescoreNeighbourhood: true });
    if (name === 'learned_before') out.learned_before_cut05 = sc(te, cutTree(tree, 0.5).map, 0.5);
    out[name] = sc(te, cutTree(tree, res.cuts.learned.threshold).map, res.cuts.learned.threshold);
    if (name === 'trajectory_round2') {
      const p = edgeProbabilities(te.rag, res.forest);
      out.mutex_round2 = sc(te, mutexWatershed(te.rag, (_s, e) => p[e], res.cuts.mutex.threshold).map, res.cuts.mutex.threshold);
      out.multicut_round2 = sc(te, multicutGaec(te.rag, p, { bias: res.cuts.multicut.threshold }).map, res.cuts.multicut.threshold);
    }
    log(`  ${name}: ${res.samples} samples, rounds ${JSON.stringify(res.rounds)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return out;
}

async function gala(): Promise<unknown> {
  const [{ vol: pv }, { vol: wv }, { vol: gv }] = await Promise.all(['p1', 'ws', 'gt'].map((k) => readWhole(path.join(GALA, `train-${k}.h5#stack`))));
  const shape = pv.shape;
  const p1 = boundaryMaps(pv).boundary;
  const gt = compactLabels(gv.data as Int32Array).labels;
  const ws = compactLabels(wv.data as Int32Array).labels;
  const ours = computeSupervoxels(boundaryMaps(Volume.from('float32', shape, p1)), { ...DEFAULT_SUPERVOXELS, sampling: [1, 1, 1] }).labels;
  const rows: unknown[] = [];
  for (const [svName, sv] of [['gala ws', ws], ['wiring supervoxels', ours]] as const) {
    const whole: TrainingVolume = { sv, boundary: p1, gt, shape };
    const [x0, x1] = splitHalves(whole); // longest axis = x (200)
    // z halves: the same split along z
    const zSplit = splitHalves(whole, 2);
    const pairs: Array<[string, string, TrainingVolume, TrainingVolume]> = [
      ['x 0:100', 'x 100:200', x0, x1], ['x 100:200', 'x 0:100', x1, x0],
      ['z 0:25', 'z 25:50', zSplit[0], zSplit[1]], ['z 25:50', 'z 0:25', zSplit[1], zSplit[0]],
    ];
    for (const [a, b, tr, te] of pairs) {
      log(`gala ${svName}: ${a} -> ${b}`);
      const res = compare(tr, te, false);
      const row = { volume: 'gala-medulla train', supervoxels: svName, chosen_on: a, measured_on: b, ...res };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  return rows;
}

/** crop [x0, x1) of a [x, y, z] volume */
function cropX<T extends Float32Array | Uint32Array>(a: T, shape: readonly number[], x0: number, x1: number): T {
  const [sx, sy, sz] = shape;
  const w = x1 - x0;
  const out = new (a.constructor as new (n: number) => T)(w * sy * sz);
  for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) out.set(a.subarray((z * sy + y) * sx + x0, (z * sy + y) * sx + x1) as never, (z * sy + y) * w);
  return out;
}

/**
 * The chain a user runs (issue #17): a pixel forest trained on gala x 0:100 (`train-pixels --gt`
 * defaults) predicts the whole volume; the agglomeration is trained on x 0:100 and measured on
 * x 100:200, each with supervoxels of its own map. On x 0:100 the map is in-sample (the forest saw
 * those voxels: crisper than on any new volume); the alternative trains the agglomeration on an
 * out-of-fold map of x 0:100 (forests on x 0:50 and x 50:100, each predicting the other).
 */
async function chain(): Promise<unknown> {
  mkdirSync(PH, { recursive: true });
  const p = (n: string) => path.join(PH, n);
  const g = (f: string) => `${path.join(GALA, f)}#stack`;
  // AGGLO_OOF=0 leaves out the out-of-fold variant (two more forests)
  const oofToo = process.env.AGGLO_OOF !== '0';
  const folds: Array<[string, string]> = oofToo ? [['all', '0:100'], ['a', '0:50'], ['b', '50:100']] : [['all', '0:100']];
  for (const [name, xr] of folds) {
    if (!existsSync(p(`gala-${name}.rf`))) wiring('train-pixels', '--raw', g('train-image.h5'), '--gt', g('train-gt.h5'), '--bounds', `${xr},0:100,0:50`, '-o', p(`gala-${name}.rf`));
    if (!existsSync(p(`gala-map-${name}`))) wiring('predict', '--raw', g('train-image.h5'), '--model', p(`gala-${name}.rf`), p(`gala-map-${name}`), '--overwrite');
  }
  const maps = await Promise.all(folds.map(([name]) => readWhole(p(`gala-map-${name}`)).then((r) => boundaryMaps(r.vol).boundary)));
  const { vol: gv } = await readWhole(g('train-gt.h5'));
  const shape = gv.shape;
  const gt = compactLabels(gv.data as Int32Array).labels;
  const volumeOf = (map: Float32Array, x0: number, x1: number): TrainingVolume => {
    const b = cropX(map, shape, x0, x1);
    const sh = [x1 - x0, shape[1], shape[2]] as [number, number, number];
    const sv = computeSupervoxels(boundaryMaps(Volume.from('float32', sh, b)), { ...DEFAULT_SUPERVOXELS, sampling: [1, 1, 1] }).labels;
    return { sv, boundary: b, gt: cropX(gt, shape, x0, x1), shape: sh };
  };
  // out-of-fold map of x 0:100: x < 50 from the forest on 50:100, x >= 50 from the forest on 0:50
  const oof = Float32Array.from(maps[0]);
  for (let i = 0; oofToo && i < oof.length; i++) {
    const x = i % shape[0];
    if (x < 50) oof[i] = maps[2][i];
    else if (x < 100) oof[i] = maps[1][i];
  }
  const test = volumeOf(maps[0], 100, 200);
  const rows: unknown[] = [];
  for (const [name, map] of (oofToo ? [['in-sample map', maps[0]], ['out-of-fold map', oof]] : [['in-sample map', maps[0]]]) as Array<[string, Float32Array]>) {
    log(`gala chain: agglomeration trained on x 0:100 (${name}) -> x 100:200`);
    const row = { volume: 'gala-medulla train, pixel forest trained on x 0:100', supervoxels: 'wiring (of each map)', chosen_on: `x 0:100, ${name}`, measured_on: 'x 100:200 (forest prediction)', ...compare(volumeOf(map, 0, 100), test, false) };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

function wiring(...args: string[]): void {
  execFileSync(process.execPath, [path.resolve(here, '../bin/wiring.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function phantom(): Promise<unknown> {
  mkdirSync(PH, { recursive: true });
  const p = (n: string) => path.join(PH, n);
  for (const s of [1, 2, 3]) if (!existsSync(p(`ph${s}/neurons`))) wiring('phantom', p(`ph${s}`), '--size', '160,160,32', '--seed', String(s), '--overwrite');
  if (!existsSync(p('b3.rf'))) wiring('train-pixels', '--raw', p('ph3/raw'), '--gt', p('ph3/neurons'), '-o', p('b3.rf'), '--trees', '50', '--samples', '100000');
  for (const s of [1, 2]) {
    if (!existsSync(p(`p${s}`))) wiring('predict', '--raw', p(`ph${s}/raw`), '--model', p('b3.rf'), p(`p${s}`), '--dtype', 'uint8', '--overwrite');
    if (!existsSync(p(`sv${s}`))) wiring('supervoxels', '--boundaries', p(`p${s}`), p(`sv${s}`), '--2d', '--overwrite');
  }
  const load = async (s: number): Promise<TrainingVolume> => {
    const [{ vol: b }, { vol: sv }, { vol: g }] = await Promise.all([readWhole(p(`p${s}`)), readWhole(p(`sv${s}`)), readWhole(p(`ph${s}/neurons`))]);
    return { sv: compactLabels(sv.data as BigUint64Array).labels, boundary: boundaryMaps(b).boundary, gt: compactLabels(g.data as BigUint64Array).labels, shape: b.shape };
  };
  const [a, b] = [await load(1), await load(2)];
  log('phantom seed 1 -> seed 2');
  const res = compare(a, b, true);
  const row = { volume: 'phantom 160x160x32, 8x8x30 nm; boundaries: forest trained on seed 3', supervoxels: 'wiring 2-D', chosen_on: 'seed 1', measured_on: 'seed 2', ...res };
  console.log(JSON.stringify(row));
  return [row];
}

export default async function run(): Promise<unknown> {
  const result: Record<string, unknown> = { trees: TREES };
  if (PARTS.includes('gala')) {
    if (existsSync(GALA)) result.gala = await gala();
    else console.log(`[skip] gala: ${GALA} not found`);
  }
  if (PARTS.includes('chain')) {
    if (existsSync(GALA)) result.chain = await chain();
    else console.log(`[skip] chain: ${GALA} not found`);
  }
  if (PARTS.includes('phantom')) result.phantom = await phantom();
  return result;
}
