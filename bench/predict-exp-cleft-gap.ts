// Experiment (not a benchmark): why scikit-learn's forest on vigra features gives a better cleft map than
// ours (pipeline bench: cleft AUC 0.9473 vs 0.9621, phantom seed 101 -> 7), by controlled swaps on one
// split in one run. A training phantom (seed TRAIN_SEED, default 101, 192x192x48) and a test phantom
// (TEST_SEED 7, TEST_SIZE 256,256,64) with `wiring classes`; the training samples drawn once (the same
// number per class as train-pixels: SAMPLES / 5, or all of a class's voxels) and shared by every variant;
// feature stacks of the same families, sigmas and channel order (ours: computeFeatures of the default
// 2-D configuration, recursive filters from sigma 1.5; exact: the same with exact FIR filters at every
// sigma; vigra's: bench/refs/ref_cleft_gap.py; steswap: ours with vigra's structure-tensor channels; wide:
// ours with `steOuter: 'sigma'`, the structure tensor at vigra's scales);
// then 5-class forests of TREES trees on each stack, ours (`ours:<stack>:<bootstrap>:<seed>`, bootstrap
// `balanced` = the default, every tree round(n / K) samples per class with replacement, or `plain` = a
// bootstrap of n samples, as scikit-learn draws) and scikit-learn's (`sk:<stack>:<scheme>:<seed>`: plain,
// binned = on our 256-bin indices, balanced = our bootstrap under scikit-learn trees, weighted = plain with
// class_weight balanced_subsample); the cleft
// channel of each on the test phantom scored by one function (pixel AUC among labelled voxels, float and
// uint8). VARIANTS (comma list) picks the variants; SEEDS (default 0) the forest seeds.
// Files in OUT (default /work/scratch/cleft-gap/exp-<TRAIN_SEED>-<TEST_SEED>); a rerun reuses the
// phantoms, stacks and maps there (delete OUT/maps/<variant>.f32 to redo one).
// Usage: nice -n 10 npx tsx bench/predict-exp-cleft-gap.ts (after `npm run build`: the phantoms come from the CLI)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vec3 } from '../src/core/box.js';
import { openNpy } from '../src/formats/npy.js';
import { Forest, binData } from '../src/ml/forest/index.js';
import { computeFeatures, featureConfig, featureCount, featureNames } from '../src/stages/predict/features.js';
import { sampleVoxels, toFloat32 } from '../src/stages/predict/training.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'bin', 'wiring.js');
const TRAIN_SEED = process.env.TRAIN_SEED ?? '101';
const TEST_SEED = process.env.TEST_SEED ?? '7';
const TRAIN_SIZE = process.env.TRAIN_SIZE ?? '192,192,48';
const TEST_SIZE = process.env.TEST_SIZE ?? '256,256,64';
const TREES = Number(process.env.TREES ?? 32);
const SAMPLES = Number(process.env.SAMPLES ?? 60000);
const SEEDS = (process.env.SEEDS ?? '0').split(',').map(Number);
const OUT = process.env.OUT ?? `/work/scratch/cleft-gap/exp-${TRAIN_SEED}-${TEST_SEED}`;
const VARIANTS = (process.env.VARIANTS ?? 'ours:ours:balanced,ours:vigra:balanced,ours:ours:plain,ours:vigra:plain,sk:vigra:plain,sk:ours:plain,sk:vigra:binned,sk:vigra:balanced').split(',');
const VOXEL: Vec3 = [8, 8, 30];
const K = 5;
const CLEFT = 2; // class value 3 (`wiring classes`' cleft) -> forest class 2
const PY = path.join(here, 'refs', 'ref_cleft_gap.py');

const f = (...s: string[]): string => path.join(OUT, ...s);
const wiring = (...args: string[]): void => void execFileSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });

async function volume(name: string, seed: string, size: string): Promise<{ raw: Float32Array; cls: Uint8Array; shape: Vec3 }> {
  const d = f(name);
  if (!existsSync(f(`${name}-classes.npy`))) {
    wiring('phantom', d, '--size', size, '--seed', seed);
    wiring('classes', path.join(d, 'classes'), '--neurons', path.join(d, 'neurons'), '--clefts', path.join(d, 'clefts'), '--vesicles', path.join(d, 'vesicles'), '--mitochondria', path.join(d, 'mitochondria'));
    wiring('export', path.join(d, 'raw'), f(`${name}-raw.npy`));
    wiring('export', path.join(d, 'classes'), f(`${name}-classes.npy`));
  }
  const rs = await openNpy(f(`${name}-raw.npy`), { voxelSize: VOXEL });
  const cs = await openNpy(f(`${name}-classes.npy`), { voxelSize: VOXEL });
  const all = { min: [0, 0, 0] as Vec3, max: rs.shape };
  const raw = toFloat32(await rs.read(all));
  const cls = Uint8Array.from((await cs.read(all)).data as ArrayLike<number>);
  return { raw, cls, shape: rs.shape };
}

function f32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

mkdirSync(f('maps'), { recursive: true });
const train = await volume('train', TRAIN_SEED, TRAIN_SIZE);
const test = await volume('test', TEST_SEED, TEST_SIZE);
const cfg = featureConfig(VOXEL); // the default 2-D stack of train-pixels on 8x8x30 nm
const C = featureCount(cfg);
const nTr = train.raw.length, nTe = test.raw.length;
const stacks: Record<string, { tr: Float32Array; te: Float32Array }> = {};
const cpu = (): number => process.cpuUsage().user / 1e6;
// the stacks the variants name: ours (the default configuration), exact (ours with exact FIR filters at every sigma), vigra
const exact = featureConfig(VOXEL, { recursiveFrom: null });
const wide = featureConfig(VOXEL, { steOuter: 'sigma' });
// steswap: ours with the structure-tensor channels (STE0, STE1 of every sigma) taken from vigra's stack
const wantStacks = [...new Set(VARIANTS.map((v) => v.split(':')[1]))];
if (wantStacks.includes('steswap')) wantStacks.unshift('ours', 'vigra');
for (const s of [...new Set(wantStacks)]) {
  if (!['ours', 'exact', 'vigra', 'steswap', 'wide'].includes(s)) throw new Error(`VARIANTS: unknown feature stack ${s} (ours, exact, vigra, steswap, wide)`);
  if (s === 'steswap') {
    const ste = new Set(featureNames(cfg).map((n, c) => (n.startsWith('STE') ? c : -1)).filter((c) => c >= 0));
    const mix = (a: Float32Array, b: Float32Array, n: number): Float32Array => {
      const o = a.slice();
      for (const c of ste) o.set(b.subarray(c * n, (c + 1) * n), c * n);
      return o;
    };
    stacks[s] = { tr: mix(stacks.ours.tr, stacks.vigra.tr, nTr), te: mix(stacks.ours.te, stacks.vigra.te, nTe) };
    for (const [part, st] of [['train', stacks[s].tr], ['test', stacks[s].te]] as const) if (!existsSync(f(`${part}-${s}.f32`))) writeFileSync(f(`${part}-${s}.f32`), st);
    continue;
  }
  for (const [part, v] of [['train', train], ['test', test]] as const) {
    const file = f(`${part}-${s}.f32`);
    if (!existsSync(file)) {
      const c0 = cpu();
      if (s !== 'vigra') writeFileSync(file, computeFeatures(v.raw, v.shape, s === 'exact' ? exact : s === 'wide' ? wide : cfg));
      else execFileSync('/usr/bin/python3', [PY, 'features', '--raw', f(`${part}-raw.npy`), '--out', file, '--sigmas', cfg.sigmas.join(',')], { stdio: ['ignore', 'inherit', 'inherit'] });
      console.log(`${part} features ${s}: ${(cpu() - c0).toFixed(2)} CPU s (this process)`);
    }
  }
  stacks[s] = { tr: f32(f(`train-${s}.f32`)), te: f32(f(`test-${s}.f32`)) };
  if (stacks[s].tr.length !== C * nTr || stacks[s].te.length !== C * nTe) throw new Error(`${s} stack: ${stacks[s].tr.length} / ${stacks[s].te.length} values, expected ${C} x ${nTr} / ${nTe}`);
}

// the training samples: train-pixels' rule (SAMPLES / K per class, all of a smaller class), seeded
const cls16 = Int16Array.from(train.cls, (c) => c - 1);
const s = sampleVoxels(cls16, K, Math.floor(SAMPLES / K), 0);
writeFileSync(f('samples.i32'), s.index);
writeFileSync(f('samples.u8'), Uint8Array.from(s.cls, (c) => c + 1));
writeFileSync(f('test-classes.u8'), test.cls);
console.log(`samples per class ${s.counts.join(' ')} (labelled ${s.labelled.join(' ')}); test cleft voxels ${test.cls.filter((c) => c === 3).length}`);
const ns = s.index.length;
const X: Record<string, Float32Array> = {};
for (const [name, st] of Object.entries(stacks)) {
  const x = new Float32Array(ns * C);
  for (let c = 0; c < C; c++) for (let j = 0; j < ns; j++) x[c * ns + j] = st.tr[c * nTr + s.index[j]];
  X[name] = x;
  const edges = binData({ x, nSamples: ns, nFeatures: C, layout: 'feature-major', y: s.cls, nClasses: K }).edges;
  edges.forEach((e, c) => writeFileSync(f(`edges-${name}-${c}.f32`), e));
}

const info: Record<string, unknown> = {};
const sk: string[] = [];
for (const seed of SEEDS) {
  for (const v of VARIANTS) {
    const [who, stack, scheme] = v.split(':');
    const name = `${v}:${seed}`;
    if (who === 'sk') { sk.push(name); continue; }
    const file = f('maps', `${name.replaceAll(':', '_')}.f32`);
    if (existsSync(file)) continue;
    const c0 = cpu();
    const forest = Forest.train({ x: X[stack], nSamples: ns, nFeatures: C, layout: 'feature-major', y: s.cls, nClasses: K }, { nTrees: TREES, seed, balanced: scheme === 'balanced' });
    const c1 = cpu();
    const p = forest.predictProba(stacks[stack].te, nTe);
    writeFileSync(file, p.subarray(CLEFT * nTe, (CLEFT + 1) * nTe));
    info[name] = { fit_cpu_s: +(c1 - c0).toFixed(2), predict_cpu_s: +(cpu() - c1).toFixed(2), nodes: forest.nNodes };
  }
}
writeFileSync(f('exp.json'), JSON.stringify({ channels: C, train_voxels: nTr, test_voxels: nTe, trees: TREES, sklearn: sk }));
const r = JSON.parse(execFileSync('/usr/bin/python3', [PY, 'forests', '--dir', OUT], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] }));
const all = { ...info, ...r.variants };
console.log(`train seed ${TRAIN_SEED} (${TRAIN_SIZE}) -> test seed ${TEST_SEED} (${TEST_SIZE}); ${TREES} trees, ${ns} samples`);
console.log('| variant | cleft AUC | cleft AUC (uint8) | fit CPU s | predict CPU s | nodes |\n|---|---|---|---|---|---|');
for (const [k, v] of Object.entries(r.scores as Record<string, { auc: number; auc_uint8: number }>)) {
  const m = (all[k.replaceAll('_', ':')] ?? all[k]) as { fit_cpu_s?: number; predict_cpu_s?: number; nodes?: number } | undefined;
  console.log(`| ${k.replaceAll('_', ':')} | ${v.auc} | ${v.auc_uint8} | ${m?.fit_cpu_s ?? '-'} | ${m?.predict_cpu_s ?? '-'} | ${m?.nodes ?? '-'} |`);
}
