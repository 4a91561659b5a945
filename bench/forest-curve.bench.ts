// Pixel forest size vs held-out accuracy vs prediction speed: trees x maximum depth, each forest
// trained on the same balanced samples of the default feature stack (recursive filters from
// RECURSIVE_FROM) and scored on held-out voxels (pixel AUC), with its prediction CPU time (one
// thread, best of 2). The operating point (the fewest tree-levels whose AUC is within AUC_SLACK of
// the best) is chosen on ISBI 2012 (2-D features, train slices 0-9, test 10-14) and measured on
// gala-medulla (3-D features, --gt boundaries, train z 0-24, test z 25-49).
// Environment: CURVE_TREES (default 4,8,16,32,64), CURVE_DEPTHS (default 8,12,16,0; 0 = unlimited),
// CURVE_SAMPLES (default 50000), AUC_SLACK (default 0.002).
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Vec3, boxFromShape } from '../src/core/box.js';
import { openSource } from '../src/formats/open.js';
import { Forest, makeRng } from '../src/ml/forest.js';
import { computeFeatures, featureConfig, featureCount } from '../src/stages/predict/features.js';
import { binaryScores } from '../src/stages/predict/metrics.js';
import { classesFromSegmentation, toFloat32 } from '../src/stages/predict/training.js';
import { cpu } from './cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');
const list = (k: string, d: string): number[] => (process.env[k] ?? d).split(',').map(Number);
const round = (v: number, d = 4): number => +v.toPrecision(d);

interface Split { F: number; xtr: Float32Array; ytr: Uint8Array; n: number; xte: Float32Array; yte: Uint8Array; m: number }

/** Balanced training samples (labels 0/1; 255 = ignore) and the feature-major test set. */
function split(ftrain: Float32Array, ttrain: Uint8Array, ftest: Float32Array, ttest: Uint8Array, F: number, n: number): Split {
  const nv = ttrain.length;
  const rng = makeRng(1, 2);
  const byClass: number[][] = [[], []];
  for (let i = 0; i < nv; i++) if (ttrain[i] < 2) byClass[ttrain[i]].push(i);
  const idx: number[] = [];
  for (const c of byClass) for (let j = 0; j < n / 2; j++) idx.push(c[rng() % c.length]);
  const xtr = new Float32Array(F * n);
  const ytr = new Uint8Array(n);
  idx.forEach((v, j) => {
    ytr[j] = ttrain[v];
    for (let f = 0; f < F; f++) xtr[f * n + j] = ftrain[f * nv + v];
  });
  return { F, xtr, ytr, n, xte: ftest, yte: ttest, m: ttest.length };
}

function curve(s: Split, trees: number[], depths: number[]): Array<Record<string, number>> {
  const rows: Array<Record<string, number>> = [];
  const data = { x: s.xtr, nSamples: s.n, nFeatures: s.F, layout: 'feature-major' as const, y: s.ytr, nClasses: 2 };
  Forest.train(data, { nTrees: 2, seed: 5 }).predictProba(s.xte.subarray(0, 1000 * s.F), 1000); // JIT warm-up
  for (const depth of depths) {
    for (const T of trees) {
      const [rf, fit] = cpu(() => Forest.train(data, { nTrees: T, seed: 0, ...(depth > 0 ? { maxDepth: depth } : {}) }));
      rf.predictProba(s.xte.subarray(0, 1000 * s.F), 1000);
      let p: Float32Array = new Float32Array(0);
      let t = Infinity;
      for (let r = 0; r < 2; r++) {
        const [q, c] = cpu(() => rf.predictProba(s.xte, s.m));
        p = q;
        t = Math.min(t, c);
      }
      const sc = binaryScores(p.subarray(s.m, 2 * s.m), s.yte); // class-major: class 1 (boundary) second
      rows.push({ trees: T, max_depth: depth, auc: round(sc.auc), mean_nodes: round(rf.nNodes / T, 3), fit_cpu_s: round(fit, 3), predict_cpu_s: round(t, 3), predict_mvox_per_cpu_s: round(s.m / 1e6 / t, 3) });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  return rows;
}

/** The operating point: the cheapest forest (prediction CPU) whose AUC is within slack of the best. */
function choose(rows: Array<Record<string, number>>, slack: number): Record<string, number> {
  const best = Math.max(...rows.map((r) => r.auc));
  return rows.filter((r) => r.auc >= best - slack).reduce((a, b) => (b.predict_cpu_s < a.predict_cpu_s ? b : a));
}

async function isbi(): Promise<{ f: Float32Array; t: Uint8Array; shape: Vec3 }> {
  const raw = await (await openSource(path.join(DATA, 'isbi2012/train/image'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 15]));
  const lab = await (await openSource(path.join(DATA, 'isbi2012/train/label'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 15]));
  const shape: Vec3 = [512, 512, 15];
  return { f: computeFeatures(toFloat32(raw).slice(), shape, featureConfig([4, 4, 50])), t: Uint8Array.from(lab.data as Uint8Array, (v) => (v === 0 ? 1 : 0)), shape };
}

async function gala(): Promise<{ f: Float32Array; t: Uint8Array; shape: Vec3 }> {
  const raw = await (await openSource(path.join(DATA, 'gala-medulla/train-image.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
  const seg = await (await openSource(path.join(DATA, 'gala-medulla/train-gt.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
  const cls = classesFromSegmentation(seg, 3);
  const shape: Vec3 = [200, 100, 50];
  return { f: computeFeatures(toFloat32(raw).slice(), shape, featureConfig([10, 10, 10])), t: Uint8Array.from(cls, (c) => (c < 0 ? 255 : c)), shape };
}

/** Split a [x,y,z] feature stack at section z0: train = z < z0, test = z0 <= z < z1. */
function bySections(f: Float32Array, t: Uint8Array, shape: Vec3, F: number, z0: number, z1: number, n: number): Split {
  const slab = shape[0] * shape[1];
  const nv = slab * shape[2];
  const ntr = slab * z0;
  const nte = slab * (z1 - z0);
  const ftr = new Float32Array(F * ntr);
  const fte = new Float32Array(F * nte);
  for (let c = 0; c < F; c++) {
    ftr.set(f.subarray(c * nv, c * nv + ntr), c * ntr);
    fte.set(f.subarray(c * nv + ntr, c * nv + ntr + nte), c * nte);
  }
  return split(ftr, t.subarray(0, ntr), fte, t.subarray(ntr, ntr + nte), F, n);
}

export default async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { load_average: loadavg() };
  if (!existsSync(path.join(DATA, 'isbi2012')) || !existsSync(path.join(DATA, 'gala-medulla'))) {
    console.log(`[skip] ${DATA}/isbi2012 or gala-medulla not found`);
    return out;
  }
  const trees = list('CURVE_TREES', '4,8,16,32,64');
  const depths = list('CURVE_DEPTHS', '8,12,16,0');
  const n = list('CURVE_SAMPLES', '50000')[0];
  const slack = Number(process.env.AUC_SLACK ?? 0.002);
  const a = await isbi();
  const Fa = featureCount(featureConfig([4, 4, 50]));
  const isbiRows = curve(bySections(a.f, a.t, a.shape, Fa, 10, 15, n), trees, depths);
  const chosen = choose(isbiRows, slack);
  const g = await gala();
  const Fg = featureCount(featureConfig([10, 10, 10]));
  const galaRows = curve(bySections(g.f, g.t, g.shape, Fg, 25, 50, n), trees, depths);
  const measured = galaRows.find((r) => r.trees === chosen.trees && r.max_depth === chosen.max_depth);
  out.isbi = { role: 'chosen on', features: Fa, train: 'slices 0-9', test: 'slices 10-14', samples: n, rows: isbiRows };
  out.gala = { role: 'measured on', features: Fg, train: 'z 0-24', test: 'z 25-49', samples: n, rows: galaRows };
  out.operating_point = {
    rule: `fewest prediction CPU seconds with ISBI AUC within ${slack} of the best`,
    trees: chosen.trees, max_depth: chosen.max_depth, isbi_auc: chosen.auc, isbi_best_auc: Math.max(...isbiRows.map((r) => r.auc)),
    gala_auc: measured?.auc, gala_best_auc: Math.max(...galaRows.map((r) => r.auc)),
    gala_predict_speedup_vs_64_unlimited: measured ? round((galaRows.find((r) => r.trees === 64 && r.max_depth === 0)?.predict_cpu_s ?? NaN) / measured.predict_cpu_s, 3) : undefined,
  };
  console.log(JSON.stringify(out.operating_point));
  out.load_average_end = loadavg();
  return out;
}
