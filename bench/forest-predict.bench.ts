// The predict stage's phases (issue #22): where a pixel model's prediction time goes, and the
// held-out accuracy beside it, in one run.
//  - gala-medulla (3-D stack, 40 channels, --gt boundaries; train z 0-24, test z 25-49) and ISBI 2012
//    (2-D stack, 32 channels; train slices 0-9, test 10-19), the splits of recursive.bench.ts: a
//    forest of ACC_TREES trees (default 30) on ACC_SAMPLES samples (default 50000) of the default
//    feature stack, then its held-out AUC and the prediction of the test part split into phases
//    (features, forest) in process CPU seconds;
//  - the forest twice on the same features: the compact WebAssembly walk (what such forests take now)
//    and the packed JS walk (what forests whose features use all 255 thresholds fell back to before);
//    outputs checked to be the same bits;
//  - features first pass (a fresh process's first blocks, JIT warm-up included) and steady state;
//    3-D: the whole volume's features (as before) and the test box's alone (predictVolume now), same bits.
//  - two models with one feature configuration (ISBI: the forest above and one of another seed, as the
//    pipeline's class and boundary forests): each predicted on its own (predictVolume twice) against
//    both in one pass with one feature stack (predictVolumes), outputs checked to be the same bits.
//  - walk (BENCH_PARTS=walk): depth-limited forests (ACC_TREES trees, each depth of WALK_DEPTHS,
//    default 10,12,14, and unlimited) on ISBI and gala, predicted over the same test features with the
//    walk before (the lockstep walk of every tree) and after (complete trees where they fit),
//    alternating, WALK_ROUNDS rounds (default 3), best of them, same bits checked; CPU seconds of the
//    forest alone (ranking included); and `search`: the forest as it walked before the rank tables and
//    the specialised walks (binary-search ranking, the generic module; its own Forest object, as the
//    module is chosen when a forest's walker is built); and `subtract`: the default walks with the lockstep
//    step of the fifth pass (ranks read in place, child + ((bin - rank) >>> 31); _useSubtractStep and
//    _useRanksInPlace), against the sixth pass's carry step over rank rows copied to address 0.
// Environment: ACC_TREES, ACC_SAMPLES, BENCH_PARTS (gala,isbi,shared; shared needs isbi; walk), WALK_DEPTHS, WALK_GALA_DEPTHS (default WALK_DEPTHS), WALK_ROUNDS.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Box, type Vec3, boxFromShape, boxShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { openSource } from '../src/formats/open.js';
import { _useLockstepWalk, _usePackedWalk, Forest, treeDepths } from '../src/ml/forest.js';
import { _useGenericWalk, _useRankSearch, _useRanksInPlace, _useSubtractStep } from '../src/ml/forest/wasm.js';
import { computeFeatures, featureConfig, featureCount } from '../src/stages/predict/features.js';
import { binaryScores } from '../src/stages/predict/metrics.js';
import type { PixelModel } from '../src/stages/predict/model.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { predictVolumes } from '../src/stages/predict/predict-many.js';
import { classesFromSegmentation, memorySource, toFloat32, trainPixelClassifier } from '../src/stages/predict/training.js';
import { cpu } from './cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');
const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const parts = (process.env.BENCH_PARTS ?? 'gala,isbi,shared').split(',');
const round = (v: number, d = 4): number => +v.toPrecision(d);

/** Features of the test box (2-D stacks: its sections alone; 3-D: the whole volume as context, as predictVolume does), then the forest; AUC of class `cls` against truth (1 = that class, > 1 unlabelled). */
function phases(model: PixelModel, raw: Volume, test: Box, truth: Uint8Array, cls: number): Record<string, unknown> {
  const cfg = model.meta.featureConfig;
  const F = featureCount(cfg);
  const f32 = toFloat32(raw);
  const rs = raw.shape;
  const ts = boxShape(test);
  const n = ts[0] * ts[1] * ts[2];
  // 2-D: the test sections alone; 3-D: the whole volume (the test part's context), cropped after
  const shape: Vec3 = cfg.dims === 2 ? ts : rs;
  const src = cfg.dims === 2 ? f32.subarray(rs[0] * rs[1] * test.min[2], rs[0] * rs[1] * test.max[2]) : f32;
  const [featsCold, coldCpu] = cpu(() => computeFeatures(src, shape, cfg));
  const [featsWarm, warmCpu] = cpu(() => computeFeatures(src, shape, cfg));
  if (!Buffer.from(featsCold.buffer).equals(Buffer.from(featsWarm.buffer))) throw new Error('features differ between two calls');
  let x = featsWarm;
  let regionCpu: number | undefined;
  if (cfg.dims === 3) {
    const nv = rs[0] * rs[1] * rs[2];
    x = new Float32Array(n * F);
    const off = rs[0] * rs[1] * test.min[2];
    for (let c = 0; c < F; c++) x.set(featsWarm.subarray(c * nv + off, c * nv + off + n), c * n);
    // what predictVolume does now: the features of the test box only, the rest of the volume as context
    const [xr, t] = cpu(() => computeFeatures(src, shape, cfg, undefined, test));
    if (!Buffer.from(xr.buffer).equals(Buffer.from(x.buffer))) throw new Error('region features differ from the whole volume\'s cropped');
    regionCpu = t;
  }
  const fv = shape[0] * shape[1] * shape[2];
  model.forest.predictProba(x.subarray(0, F * 64), 64); // builds the prediction layouts
  const [pc, compactCpu] = cpu(() => model.forest.predictProba(x, n));
  _usePackedWalk(true);
  let pp: Float32Array, packedCpu: number;
  try {
    model.forest.predictProba(x.subarray(0, F * 64), 64);
    [pp, packedCpu] = cpu(() => model.forest.predictProba(x, n));
  } finally {
    _usePackedWalk(false);
  }
  if (!Buffer.from(pc.buffer).equals(Buffer.from(pp.buffer))) throw new Error('the compact and packed walks disagree');
  const layout = model.forest.predictionLayout();
  const s = binaryScores(pc.subarray(cls * n, (cls + 1) * n), truth);
  const mv = n / 1e6;
  return {
    auc: round(s.auc),
    pixel_error: round(s.pixelError),
    voxels: n,
    feature_voxels: fv,
    channels: F,
    trees: model.forest.nTrees,
    nodes: model.forest.nNodes,
    compact_layout: layout !== null,
    max_thresholds_per_feature: layout ? Math.max(...layout.edges.map((e) => e.length)) : null,
    features_first_call_cpu_s: round(coldCpu),
    features_cpu_s: round(warmCpu),
    features_mvox_per_cpu_s: round(fv / 1e6 / warmCpu),
    forest_compact_cpu_s: round(compactCpu),
    forest_packed_cpu_s: round(packedCpu),
    forest_compact_mvox_per_cpu_s: round(mv / compactCpu),
    forest_packed_mvox_per_cpu_s: round(mv / packedCpu),
    forest_speedup: round(packedCpu / compactCpu, 3),
    features_region_cpu_s: regionCpu === undefined ? null : round(regionCpu),
    // test voxels per CPU second of the features (whole volume before; the test box with the rest as
    // context after) and the forest
    predict_mvox_per_cpu_s: round(mv / ((regionCpu ?? warmCpu) + compactCpu)),
    predict_mvox_per_cpu_s_before: round(mv / (warmCpu + packedCpu)),
    same_bits: true,
  };
}

/** Two models over the same raw: separately (two feature stacks) and in one pass (one), best of three, same bits checked. */
function shared(models: PixelModel[], raw: Volume): Record<string, unknown> {
  const sep: number[] = [];
  const one: number[] = [];
  for (let r = 0; r < 3; r++) {
    const [a, ta] = cpu(() => models.map((m) => predictVolume(m, raw)));
    const [b, tb] = cpu(() => predictVolumes(models.map((model) => ({ model })), raw));
    for (let i = 0; i < models.length; i++) {
      if (!Buffer.from(a[i].data.buffer).equals(Buffer.from(b[i].data.buffer))) throw new Error(`model ${i}: one pass differs from its own prediction`);
    }
    sep.push(ta);
    one.push(tb);
  }
  const mv = raw.voxels / 1e6;
  const s = Math.min(...sep), o = Math.min(...one);
  return {
    models: models.length, voxels: raw.voxels, separate_cpu_s: round(s), one_pass_cpu_s: round(o), separate_cpu_s_runs: sep.map((v) => round(v)), one_pass_cpu_s_runs: one.map((v) => round(v)),
    separate_mvox_per_cpu_s: round(mv / s), one_pass_mvox_per_cpu_s: round(mv / o), speedup: round(s / o, 3), same_bits: true,
  };
}

/** Forests of each depth over the same test features: the complete-tree walk against the lockstep walk, alternating, same bits. */
async function walks(raw: Volume, labels: Volume, zTrain: number, target: 'labels' | 'gt', test: Box, truth: Uint8Array, cls: number, depthList?: string): Promise<Record<string, unknown>[]> {
  const depths = (depthList ?? process.env.WALK_DEPTHS ?? '10,12,14,0').split(',').map(Number);
  const rounds = env('WALK_ROUNDS', 3);
  const rows: Record<string, unknown>[] = [];
  let x: Float32Array | undefined;
  for (const depth of depths) {
    const model = await trained(raw, labels, zTrain, target, 0, depth || undefined);
    const cfg = model.meta.featureConfig;
    const F = featureCount(cfg);
    const ts = boxShape(test);
    const n = ts[0] * ts[1] * ts[2];
    if (!x) {
      const rs = raw.shape;
      const f32 = toFloat32(raw);
      x = cfg.dims === 2
        ? computeFeatures(f32.subarray(rs[0] * rs[1] * test.min[2], rs[0] * rs[1] * test.max[2]), ts, cfg).slice()
        : computeFeatures(f32, rs, cfg, undefined, test).slice();
    }
    const f = model.forest;
    const layout = f.predictionLayout();
    const d = treeDepths(f.trees);
    const complete = layout?.complete ? layout.complete.depth.filter((v) => v > 0).length : 0;
    f.predictProba(x.subarray(0, F * 64), 64); // builds the walker
    // the same trees with a walker built while these switches are on (each walker keeps what it was built with)
    const builtWith = (switches: Array<(on: boolean) => void>): Forest => {
      const g = new Forest(f.nFeatures, f.nClasses, f.trees, f.params);
      for (const sw of switches) sw(true);
      try {
        g.predictProba(x!.subarray(0, F * 64), 64);
      } finally {
        for (const sw of switches) sw(false);
      }
      return g;
    };
    // the binary-search ranking and the generic walk module
    const old = builtWith([_useRankSearch, _useGenericWalk, _useSubtractStep]);
    // the lockstep step of the fifth pass (ranks read in place, child + ((bin - rank) >>> 31))
    const fifth = builtWith([_useSubtractStep, _useRanksInPlace]);
    // before: the lockstep walk of every tree; after: the default (complete trees where they fit);
    // search: the default walks of the generic module over binary-search ranks (before the rank tables);
    // subtract: the default walks with the fifth pass's lockstep step (before the carry step and the copied rows)
    const variants: Record<string, [Forest, () => void]> = {
      before: [f, () => _useLockstepWalk(true)],
      after: [f, () => _useLockstepWalk(false)],
      search: [old, () => _useLockstepWalk(false)],
      subtract: [fifth, () => _useLockstepWalk(false)],
    };
    const runs: Record<string, number[]> = {};
    let first: Float32Array | undefined;
    for (let r = 0; r < rounds; r++) {
      for (const [name, [forest, set]] of Object.entries(variants)) {
        set();
        try {
          const [p, t] = cpu(() => forest.predictProba(x!, n));
          if (!first) first = p;
          else if (!Buffer.from(p.buffer).equals(Buffer.from(first.buffer))) throw new Error(`depth ${depth}: walk ${name} disagrees`);
          (runs[name] ??= []).push(t);
        } finally {
          _useLockstepWalk(false);
        }
      }
    }
    const s = binaryScores(first!.subarray(cls * n, (cls + 1) * n), truth);
    const best = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Math.min(...v)]));
    const row = {
      max_depth: depth || 'unlimited', trees: f.nTrees, nodes: f.nNodes, deepest_tree: Math.max(...d), complete_trees: complete, auc: round(s.auc), voxels: n,
      cpu_s: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, round(v)])),
      cpu_s_runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((u) => round(u))])),
      mvox_per_cpu_s: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, round(n / 1e6 / v)])),
      speedup_after_vs_before: round(best.before / best.after, 3), speedup_after_vs_search: round(best.search / best.after, 3), speedup_after_vs_subtract: round(best.subtract / best.after, 3), same_bits: true,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

async function trained(raw: Volume, labels: Volume, zTrain: number, target: 'labels' | 'gt', seed = 0, maxDepth?: number): Promise<PixelModel> {
  const [sx, sy] = raw.shape;
  const cfg = featureConfig(raw.voxelSize, { dims: target === 'gt' ? 3 : 2 });
  const { model } = await trainPixelClassifier(memorySource(raw), memorySource(labels), {
    target, dense: target === 'labels', bounds: boxFromShape([sx, sy, zTrain]), maxSamples: env('ACC_SAMPLES', 50000),
    forest: { nTrees: env('ACC_TREES', 30), seed, ...(maxDepth ? { maxDepth } : {}) }, threads: 2, featureConfig: cfg,
  });
  return model;
}

export default async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { trees: env('ACC_TREES', 30), samples: env('ACC_SAMPLES', 50000), load_average: loadavg() };
  if (parts.includes('walk')) {
    if (existsSync(path.join(DATA, 'isbi2012'))) {
      const raw = await (await openSource(path.join(DATA, 'isbi2012/train/image'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
      const labels = await (await openSource(path.join(DATA, 'isbi2012/train/label'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
      const truth = Uint8Array.from((labels.data as Uint8Array).subarray(512 * 512 * 10), (v) => (v === 0 ? 1 : 0));
      out.walk_isbi = { dataset: 'ISBI 2012 (2-D; train slices 0-9, test 10-19), chosen on', rows: await walks(raw, labels, 10, 'labels', boxFromShape([512, 512, 10], [0, 0, 10]), truth, 0) };
    } else console.log(`[skip] ${DATA}/isbi2012 not found`);
    if (existsSync(path.join(DATA, 'gala-medulla'))) {
      const raw = await (await openSource(path.join(DATA, 'gala-medulla/train-image.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
      const seg = await (await openSource(path.join(DATA, 'gala-medulla/train-gt.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
      const truth = Uint8Array.from(classesFromSegmentation(seg, 3).subarray(200 * 100 * 25), (c) => (c < 0 ? 255 : c));
      out.walk_gala = { dataset: 'gala-medulla (3-D, --gt boundaries; train z 0-24, test z 25-49), measured on', rows: await walks(raw, seg, 25, 'gt', boxFromShape([200, 100, 25], [0, 0, 25]), truth, 1, process.env.WALK_GALA_DEPTHS) };
    } else console.log(`[skip] ${DATA}/gala-medulla not found`);
  }
  if (parts.includes('isbi')) {
    if (!existsSync(path.join(DATA, 'isbi2012'))) console.log(`[skip] ${DATA}/isbi2012 not found`);
    else {
      // first in the run: its feature stack's first call is a fresh process's (JIT warm-up included)
      const raw = await (await openSource(path.join(DATA, 'isbi2012/train/image'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
      const labels = await (await openSource(path.join(DATA, 'isbi2012/train/label'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
      const truth = Uint8Array.from((labels.data as Uint8Array).subarray(512 * 512 * 10), (v) => (v === 0 ? 1 : 0));
      const test = boxFromShape([512, 512, 10], [0, 0, 10]);
      // features before training, so this call is the process's first
      const cfg = featureConfig(raw.voxelSize, { dims: 2 });
      const [, firstCpu] = cpu(() => computeFeatures(toFloat32(raw).subarray(512 * 512 * 10), [512, 512, 10], cfg));
      const model = await trained(raw, labels, 10, 'labels');
      out.isbi = { dataset: 'ISBI 2012 (2-D; train slices 0-9, test 10-19), measured on', process_first_features_cpu_s: round(firstCpu), ...phases(model, raw, test, truth, 0) };
      console.log(JSON.stringify(out.isbi));
      if (parts.includes('shared')) {
        const other = await trained(raw, labels, 10, 'labels', 1);
        out.isbi_two_models = { dataset: 'ISBI 2012 test slices 10-19, two forests (seeds 0 and 1) of one feature configuration', ...shared([model, other], raw.crop(test)) };
        console.log(JSON.stringify(out.isbi_two_models));
      }
    }
  }
  if (parts.includes('gala')) {
    if (!existsSync(path.join(DATA, 'gala-medulla'))) console.log(`[skip] ${DATA}/gala-medulla not found`);
    else {
      const raw = await (await openSource(path.join(DATA, 'gala-medulla/train-image.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
      const seg = await (await openSource(path.join(DATA, 'gala-medulla/train-gt.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
      const cls = classesFromSegmentation(seg, 3);
      const truth = Uint8Array.from(cls.subarray(200 * 100 * 25), (c) => (c < 0 ? 255 : c));
      const model = await trained(raw, seg, 25, 'gt');
      out.gala = { dataset: 'gala-medulla (3-D, --gt boundaries; train z 0-24, test z 25-49), chosen on', ...phases(model, raw, boxFromShape([200, 100, 25], [0, 0, 25]), truth, 1) };
      console.log(JSON.stringify(out.gala));
    }
  }
  return out;
}
