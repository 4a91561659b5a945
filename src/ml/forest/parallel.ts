/**
 * Random forest training and prediction on worker threads. Trees are split into contiguous ranges,
 * one per thread; each tree's randomness depends only on (seed, tree index), so the forest is
 * identical for any thread count. Prediction splits samples into contiguous ranges.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WiringError } from '../../core/errors.js';
import { type BinnedData, Forest, type ForestParams, type TrainingData, type TreeArrays, binData, concatTrees, resolveParams, trainTrees } from './index.js';

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

/** The sources the worker thread loads (relative to this file), for the staleness check of its compiled copy. */
const WORKER_SOURCES = ['worker', 'index', 'binning', 'forest', 'format', 'params', 'predict', 'random', 'train', 'wasm', '../wat', '../../core/errors'];

/**
 * The compiled worker (dist/ml/forest/worker.js) when running from TypeScript sources and the build
 * is at least as new as every source it was compiled from; starting it skips compiling TypeScript.
 */
function compiledWorker(): URL | undefined {
  const js = new URL('../../../dist/ml/forest/worker.js', import.meta.url);
  try {
    const built = Math.min(...WORKER_SOURCES.map((f) => statSync(new URL(`../../../dist/ml/forest/${f}.js`, import.meta.url)).mtimeMs));
    const src = Math.max(...WORKER_SOURCES.map((f) => statSync(new URL(`./${f}.ts`, import.meta.url)).mtimeMs));
    return built >= src ? js : undefined;
  } catch {
    return undefined;
  }
}

function newWorker(): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const js = compiledWorker();
    if (js) return new Worker(js);
    const entry = new URL('./worker.ts', import.meta.url).href;
    return new Worker(BOOT, { eval: true, workerData: { tsx: tsxApiUrl(), entry } });
  }
  return new Worker(new URL('./worker.js', import.meta.url));
}

/**
 * Persistent workers for prediction and training: started once, kept for the process (unreferenced
 * while idle, so they never keep it alive) and reused; each worker keeps the forests it has predicted with, so a forest is sent once.
 * Training on 2+ threads starts them, so a forest trained in this process predicts on warm workers.
 */
interface PoolWorker {
  w: Worker;
  forests: Set<number>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  pending?: { resolve: (m: any) => void; reject: (e: Error) => void };
}
const pool: PoolWorker[] = [];
const forestIds = new WeakMap<Forest, number>();
let nextForestId = 1;

function poolWorker(i: number): PoolWorker {
  if (pool[i]) return pool[i];
  const pw: PoolWorker = { w: newWorker(), forests: new Set() };
  pw.w.unref();
  const fail = (e: Error): void => {
    const p = pw.pending;
    pw.pending = undefined;
    const k = pool.indexOf(pw);
    if (k >= 0) pool.splice(k, 1);
    void pw.w.terminate();
    p?.reject(e);
  };
  pw.w.on('message', (m: { ok: boolean; error?: string; out: Float32Array }) => {
    const p = pw.pending;
    pw.pending = undefined;
    pw.w.unref();
    if (!p) return;
    if (m.ok) p.resolve(m);
    else p.reject(new WiringError(`random forest worker: ${m.error}`));
  });
  pw.w.on('error', fail);
  pw.w.on('exit', (code) => fail(new WiringError(`random forest worker exited (code ${code})`)));
  pool[i] = pw;
  return pw;
}

function poolRequest<T>(i: number, job: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
  const pw = poolWorker(i);
  if (pw.pending) throw new WiringError('random forest worker is busy');
  return new Promise((resolve, reject) => {
    pw.pending = { resolve, reject };
    pw.w.ref();
    pw.w.postMessage(job, transfer);
  });
}

function poolPredict(i: number, forest: Forest, x: Float32Array, n: number, layout: 'feature-major' | 'sample-major'): Promise<{ out: Float32Array }> {
  let id = forestIds.get(forest);
  if (id === undefined) forestIds.set(forest, (id = nextForestId++));
  const pw = poolWorker(i);
  const send = !pw.forests.has(id);
  pw.forests.add(id);
  return poolRequest(i, {
    kind: 'predict', forestId: id, x, n, layout,
    // a new forest goes with its prediction layout (built once here, not in every worker)
    ...(send ? { trees: forest.trees, nFeatures: forest.nFeatures, nClasses: forest.nClasses, params: forest.params, prediction: forest.predictionLayout() } : {}),
  }, [x.buffer as ArrayBuffer]);
}

let poolBusy: Promise<unknown> = Promise.resolve();

/** Run `f` with the pool to itself (calls queue behind each other). */
async function withPool<T>(f: () => Promise<T>): Promise<T> {
  const prev = poolBusy;
  let release!: () => void;
  poolBusy = new Promise<void>((r) => (release = r));
  await prev;
  try {
    return await f();
  } finally {
    release();
  }
}

/** Start `threads` prediction workers ahead of time (optional; the first prediction starts them otherwise). */
export function warmPredictionPool(threads = availableParallelism()): void {
  for (let i = 0; i < threads; i++) poolWorker(i);
}

/** All results, or the first error once every job has ended (so the pool is idle again). */
async function settleAll<T>(jobs: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(jobs);
  const bad = settled.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
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
  const done = await withPool(async () => {
    const parts: Promise<{ trees: TreeArrays }>[] = [];
    for (let w = 0; w < threads; w++) {
      const t0 = Math.floor((w * p.nTrees) / threads);
      const t1 = Math.floor(((w + 1) * p.nTrees) / threads);
      parts.push(poolRequest(w, { kind: 'train', data: shared, params: p, t0, t1 }));
    }
    return settleAll(parts);
  });
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
  const ranges: [number, number][] = [];
  const outs = await withPool(() => {
    const jobs: Promise<{ out: Float32Array }>[] = [];
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
      jobs.push(poolPredict(w, forest, xs, m, layout));
    }
    return settleAll(jobs);
  });
  const out = new Float32Array(n * K);
  outs.forEach(({ out: o }, w) => {
    const [a, b] = ranges[w];
    const m = b - a;
    for (let k = 0; k < K; k++) out.set(o.subarray(k * m, (k + 1) * m), k * n + a);
  });
  return out;
}
