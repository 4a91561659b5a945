// Recursive (IIR) Gaussian features vs the exact (FIR) ones, in one run on the same inputs:
//  - speed: the default 3-D feature stack (40 channels, sigmas 0.7, 1.6, 3.5, 5) and the default 2-D
//    stack, exact vs recursive from sigma RECURSIVE_FROM, Mvox per CPU second (best of RUNS);
//  - agreement: the largest difference per channel relative to the channel's range (exact = truth);
//  - held-out accuracy: a pixel forest trained on exact features and one trained on recursive
//    features, same samples and seeds, scored (pixel AUC) on held-out voxels. RECURSIVE_FROM was chosen
//    on gala-medulla (train z 0-24, test z 25-49, --gt boundaries, 3-D); ISBI 2012 (train slices 0-9,
//    test 10-19, 2-D) is the volume it is measured on.
//  - simd: the default recursive stacks (3-D and 2-D) with the WebAssembly SIMD kernels (the recursive
//    passes, eig3) against the same code with the JavaScript loops they replaced, alternating, best of
//    RUNS, outputs checked to be the same bits, the ratio printed.
// Environment: ACC_TREES (default 30), ACC_SAMPLES (default 50000), RUNS (default 2), BENCH_PARTS
// (speed,simd,gala,isbi).
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Vec3, boxFromShape } from '../src/core/box.js';
import type { Volume } from '../src/core/volume.js';
import { openSource } from '../src/formats/open.js';
import { RECURSIVE_FROM, computeFeatures, featureConfig, featureNames } from '../src/stages/predict/features.js';
import { binaryScores } from '../src/stages/predict/metrics.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { classesFromSegmentation, memorySource, toFloat32, trainPixelClassifier } from '../src/stages/predict/training.js';
import { _useJsRecursion } from '../src/kernels/recursive-wasm.js';
import { _useJsEigen } from '../src/stages/predict/eigen.js';
import { cpu } from './cpu.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');
const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const parts = (process.env.BENCH_PARTS ?? 'speed,simd,gala,isbi').split(',');
const round = (v: number, d = 4): number => +v.toPrecision(d);

async function gala(): Promise<{ raw: Volume; seg: Volume; truth: Uint8Array }> {
  const raw = await (await openSource(path.join(DATA, 'gala-medulla/train-image.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
  const seg = await (await openSource(path.join(DATA, 'gala-medulla/train-gt.h5#stack'), { voxelSize: [10, 10, 10] })).read(boxFromShape([200, 100, 50]));
  const cls = classesFromSegmentation(seg, 3);
  return { raw, seg, truth: Uint8Array.from(cls, (c) => (c < 0 ? 255 : c)) };
}

async function isbi(): Promise<{ raw: Volume; labels: Volume; truth: Uint8Array }> {
  const raw = await (await openSource(path.join(DATA, 'isbi2012/train/image'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
  const labels = await (await openSource(path.join(DATA, 'isbi2012/train/label'), { voxelSize: [4, 4, 50] })).read(boxFromShape([512, 512, 20]));
  return { raw, labels, truth: Uint8Array.from(labels.data as Uint8Array, (v) => (v === 0 ? 1 : 0)) };
}

/** Speed of one stack exact vs recursive, and the per-channel agreement. */
function stack(raw: Float32Array, shape: Vec3, voxelSize: Vec3, runs: number): Record<string, unknown> {
  const exact = featureConfig(voxelSize, { recursiveFrom: null });
  const rec = featureConfig(voxelSize);
  const n = shape[0] * shape[1] * shape[2];
  computeFeatures(raw.subarray(0, shape[0] * shape[1] * 8), [shape[0], shape[1], 8], exact); // JIT warm-up
  computeFeatures(raw.subarray(0, shape[0] * shape[1] * 8), [shape[0], shape[1], 8], rec);
  let fe: Float32Array = new Float32Array(0);
  let fr: Float32Array = new Float32Array(0);
  let te = Infinity;
  let tr = Infinity;
  for (let r = 0; r < runs; r++) {
    const [a, ta] = cpu(() => computeFeatures(raw, shape, exact));
    const [b, tb] = cpu(() => computeFeatures(raw, shape, rec));
    fe = a;
    fr = b;
    te = Math.min(te, ta);
    tr = Math.min(tr, tb);
  }
  const names = featureNames(exact);
  const errors: Record<string, number> = {};
  let worst = 0;
  let worstName = '';
  for (let c = 0; c < names.length; c++) {
    let lo = Infinity, hi = -Infinity, err = 0;
    for (let i = c * n; i < (c + 1) * n; i++) {
      lo = Math.min(lo, fe[i]);
      hi = Math.max(hi, fe[i]);
      err = Math.max(err, Math.abs(fe[i] - fr[i]));
    }
    const rel = err / (hi - lo || 1);
    errors[names[c]] = round(rel, 3);
    if (rel > worst) {
      worst = rel;
      worstName = names[c];
    }
  }
  return {
    dims: exact.dims, channels: names.length, exact_cpu_s: round(te), recursive_cpu_s: round(tr),
    exact_mvox_per_cpu_s: round(n / 1e6 / te), recursive_mvox_per_cpu_s: round(n / 1e6 / tr), speedup: round(te / tr, 3),
    max_relative_error: round(worst, 3), worst_channel: worstName, relative_error_per_channel: errors,
  };
}

/** The default recursive stack with the WebAssembly SIMD kernels against the JavaScript loops, same bits checked. */
function simd(raw: Float32Array, shape: Vec3, voxelSize: Vec3, runs: number): Record<string, unknown> {
  const cfg = featureConfig(voxelSize);
  const n = shape[0] * shape[1] * shape[2];
  const use = (js: boolean): void => {
    _useJsRecursion(js);
    _useJsEigen(js);
  };
  const best = { js: Infinity, wasm: Infinity };
  let same = true;
  try {
    for (const js of [true, false]) {
      use(js);
      computeFeatures(raw.subarray(0, shape[0] * shape[1] * 8), [shape[0], shape[1], 8], cfg); // JIT warm-up
    }
    for (let r = 0; r < Math.max(runs, 2); r++) {
      use(true);
      const [a, ta] = cpu(() => computeFeatures(raw, shape, cfg));
      use(false);
      const [b, tb] = cpu(() => computeFeatures(raw, shape, cfg));
      same &&= Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
      best.js = Math.min(best.js, ta);
      best.wasm = Math.min(best.wasm, tb);
    }
  } finally {
    use(false);
  }
  if (!same) throw new Error(`recursive bench: the WebAssembly and JavaScript ${cfg.dims}-D stacks differ`);
  return {
    dims: cfg.dims, channels: featureNames(cfg).length, javascript_cpu_s: round(best.js), wasm_simd_cpu_s: round(best.wasm),
    javascript_mvox_per_cpu_s: round(n / 1e6 / best.js), wasm_simd_mvox_per_cpu_s: round(n / 1e6 / best.wasm), speedup: round(best.js / best.wasm, 3), same_bits: same,
  };
}

/** Held-out pixel AUC of forests trained on exact and on recursive features (same samples, seeds). */
async function heldOut(name: string, raw: Volume, labels: Volume, truth: Uint8Array, zTrain: number, target: 'labels' | 'gt'): Promise<Record<string, unknown>> {
  const T = env('ACC_TREES', 30), nsamp = env('ACC_SAMPLES', 50000);
  const [sx, sy, sz] = raw.shape;
  const trainBox = boxFromShape([sx, sy, zTrain]);
  const testBox = boxFromShape([sx, sy, sz - zTrain], [0, 0, zTrain]);
  const tt = truth.subarray(sx * sy * zTrain);
  const out: Record<string, unknown> = { dataset: name, trees: T, samples: nsamp, train: `z 0-${zTrain - 1}`, test: `z ${zTrain}-${sz - 1}` };
  for (const [key, recursiveFrom] of [['exact', null], ['recursive', RECURSIVE_FROM]] as const) {
    const cfg = featureConfig(raw.voxelSize, { recursiveFrom, dims: target === 'gt' ? 3 : 2 });
    const { model } = await trainPixelClassifier(memorySource(raw), memorySource(labels), {
      target, dense: target === 'labels', bounds: trainBox, maxSamples: nsamp, forest: { nTrees: T }, threads: 2, featureConfig: cfg,
    });
    const [pred, t] = cpu(() => predictVolume(model, raw, { box: testBox }));
    const pb = (pred.data as Float32Array).subarray(0, sx * sy * (sz - zTrain));
    const s = binaryScores(pb, tt);
    out[key] = { auc: round(s.auc), pixel_error: round(s.pixelError), predict_cpu_s: round(t), channels: featureNames(cfg).length, dims: cfg.dims };
  }
  const e = out.exact as { auc: number };
  const r = out.recursive as { auc: number };
  out.auc_change = round(r.auc - e.auc, 3);
  console.log(JSON.stringify(out));
  return out;
}

export default async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { recursive_from: RECURSIVE_FROM, load_average: loadavg() };
  const runs = env('RUNS', 2);
  const haveGala = existsSync(path.join(DATA, 'gala-medulla'));
  const haveIsbi = existsSync(path.join(DATA, 'isbi2012'));
  if (!haveGala) console.log(`[skip] ${DATA}/gala-medulla not found: no speed or held-out accuracy on it`);
  if (!haveIsbi) console.log(`[skip] ${DATA}/isbi2012 not found: no held-out accuracy on it`);
  if (parts.includes('speed') && haveGala) {
    const { raw } = await gala();
    const f = toFloat32(raw).slice();
    out.speed_3d = { input: 'gala-medulla 200x100x50, 3-D stack', ...stack(f, raw.shape, [10, 10, 10], runs) };
    console.log(JSON.stringify(out.speed_3d));
    out.speed_2d = { input: 'gala-medulla 200x100x50 read as 4,4,50 nm, 2-D stack', ...stack(f, raw.shape, [4, 4, 50], runs) };
    console.log(JSON.stringify(out.speed_2d));
  }
  if (parts.includes('simd') && haveGala) {
    const { raw } = await gala();
    const f = toFloat32(raw).slice();
    out.simd_3d = { input: 'gala-medulla 200x100x50, 3-D stack', ...simd(f, raw.shape, [10, 10, 10], runs) };
    console.log(JSON.stringify(out.simd_3d));
    out.simd_2d = { input: 'gala-medulla 200x100x50 read as 4,4,50 nm, 2-D stack', ...simd(f, raw.shape, [4, 4, 50], runs) };
    console.log(JSON.stringify(out.simd_2d));
  }
  if (parts.includes('gala') && haveGala) {
    const g = await gala();
    out.gala = await heldOut('gala-medulla (chosen on)', g.raw, g.seg, g.truth, 25, 'gt');
  }
  if (parts.includes('isbi') && haveIsbi) {
    const v = await isbi();
    out.isbi = await heldOut('ISBI 2012 (measured on)', v.raw, v.labels, v.truth, 10, 'labels');
  }
  out.load_average_end = loadavg();
  return out;
}
