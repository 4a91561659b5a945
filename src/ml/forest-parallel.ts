/**
 * Random forest training and prediction on worker threads. Trees are split into contiguous ranges,
 * one per thread; each tree's randomness depends only on (seed, tree index), so the forest is
 * identical for any thread count. Prediction splits samples into contiguous ranges.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WiringError } from '../core/errors.js';
import { type BinnedData, Forest, type ForestParams, type TrainingData, type TreeArrays, binData, concatTrees, resolveParams, trainTrees } from './forest.js';

// Under TypeScript sources (tests, tsx) a worker cannot load .ts through execArgv on Node 20,
// so a tiny CommonJS bootstrap registers tsx's ESM loader and then imports the worker module.
const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((m) => { m.register(); return import(workerData.entry); })
  .catch((e) => { setImmediate(() => { throw e; }); });
`;

function tsxApiUrl(): string {
  const req = createRequire(import.meta.url);
  const pkgFile = req.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports?: Record<string, { import?: { default?: string } | string }> };
  const e = pkg.exports?.['./esm/api'];
  const rel = typeof e?.import === 'string' ? e.import : (e?.import?.default ?? './dist/esm/api/index.mjs');
  return pathToFileURL(path.join(path.dirname(pkgFile), rel)).href;
}

function newWorker(): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const entry = new URL('./forest-worker.ts', import.meta.url).href;
    return new Worker(BOOT, { eval: true, workerData: { tsx: tsxApiUrl(), entry } });
  }
  return new Worker(new URL('./forest-worker.js', import.meta.url));
}

function runWorker<T>(job: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = newWorker();
    w.once('message', (m: { ok: boolean; error?: string } & T) => {
      void w.terminate();
      if (m.ok) resolve(m);
      else reject(new WiringError(`random forest worker: ${m.error}`));
    });
    w.once('error', (e) => {
      void w.terminate();
      reject(e);
    });
    w.postMessage(job, transfer);
  });
}

function toShared<A extends Uint8Array | Float32Array>(a: A): A {
  const sab = new SharedArrayBuffer(a.byteLength);
  const c = new (a.constructor as new (b: SharedArrayBuffer) => A)(sab);
  c.set(a as never);
  return c;
}

/** Train a forest with `threads` worker threads (default: all cores; 1 = this thread). */
export async function trainForest(
  data: TrainingData,
  params: Partial<ForestParams> = {},
  meta: Record<string, unknown> = {},
  opts: { threads?: number } = {},
): Promise<Forest> {
  const p = resolveParams(params);
  const binned = binData(data);
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), p.nTrees));
  if (threads === 1) return new Forest(data.nFeatures, data.nClasses, trainTrees(binned, p, 0, p.nTrees), p, meta);
  const shared: BinnedData = { ...binned, bins: toShared(binned.bins), y: toShared(binned.y) };
  const parts: Promise<{ trees: TreeArrays }>[] = [];
  for (let w = 0; w < threads; w++) {
    const t0 = Math.floor((w * p.nTrees) / threads);
    const t1 = Math.floor(((w + 1) * p.nTrees) / threads);
    parts.push(runWorker({ kind: 'train', data: shared, params: p, t0, t1 }));
  }
  const done = await Promise.all(parts);
  return new Forest(data.nFeatures, data.nClasses, concatTrees(done.map((d) => d.trees), data.nClasses, data.nFeatures), p, meta);
}

/** Predict with `threads` worker threads (sample ranges); output class-major out[k*n + i]. */
export async function predictProbaParallel(
  forest: Forest,
  x: Float32Array,
  n: number,
  layout: 'feature-major' | 'sample-major' = 'feature-major',
  threads = availableParallelism(),
): Promise<Float32Array> {
  const F = forest.nFeatures;
  const K = forest.nClasses;
  threads = Math.max(1, Math.min(threads, Math.ceil(n / 4096)));
  if (threads === 1) return forest.predictProba(x, n, layout);
  const jobs: Promise<{ out: Float32Array }>[] = [];
  const ranges: [number, number][] = [];
  for (let w = 0; w < threads; w++) {
    const a = Math.floor((w * n) / threads);
    const b = Math.floor(((w + 1) * n) / threads);
    ranges.push([a, b]);
    const m = b - a;
    let xs: Float32Array;
    if (layout === 'sample-major') xs = x.slice(a * F, b * F);
    else {
      xs = new Float32Array(m * F);
      for (let f = 0; f < F; f++) xs.set(x.subarray(f * n + a, f * n + b), f * m);
    }
    jobs.push(runWorker({ kind: 'predict', trees: forest.trees, nFeatures: F, nClasses: K, params: forest.params, x: xs, n: m, layout }, [xs.buffer as ArrayBuffer]));
  }
  const outs = await Promise.all(jobs);
  const out = new Float32Array(n * K);
  outs.forEach(({ out: o }, w) => {
    const [a, b] = ranges[w];
    const m = b - a;
    for (let k = 0; k < K; k++) out.set(o.subarray(k * m, (k + 1) * m), k * n + a);
  });
  return out;
}
