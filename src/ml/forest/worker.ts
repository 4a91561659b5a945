// Worker thread body for parallel.ts: trains a range of trees, or predicts a range of samples.
import { parentPort } from 'node:worker_threads';
import { type BinnedData, type Compact, type ForestParams, Forest, type TreeArrays, trainTrees } from './index.js';

type Job =
  | { kind: 'train'; data: BinnedData; params: ForestParams; t0: number; t1: number }
  | { kind: 'predict'; forestId: number; trees?: TreeArrays; nFeatures?: number; nClasses?: number; params?: ForestParams; prediction?: Compact | null; x: Float32Array; n: number; layout: 'feature-major' | 'sample-major' };

// forests this (persistent) worker has been sent, by id; the last few are kept
const forests = new Map<number, Forest>();

parentPort!.on('message', (job: Job) => {
  try {
    if (job.kind === 'train') {
      const t = trainTrees(job.data, job.params, job.t0, job.t1);
      parentPort!.postMessage({ ok: true, trees: t }, [t.roots.buffer, t.feature.buffer, t.threshold.buffer, t.child.buffer, t.leafProb.buffer, t.importance.buffer] as ArrayBuffer[]);
    } else {
      let f = forests.get(job.forestId);
      if (!f) {
        if (!job.trees) throw new Error(`forest ${job.forestId} was not sent to this worker`);
        f = new Forest(job.nFeatures!, job.nClasses!, job.trees, job.params!);
        if (job.prediction !== undefined) f.usePredictionLayout(job.prediction);
        forests.set(job.forestId, f);
        if (forests.size > 4) forests.delete(forests.keys().next().value as number);
      }
      const out = f.predictProba(job.x, job.n, job.layout);
      parentPort!.postMessage({ ok: true, out }, [out.buffer as ArrayBuffer]);
    }
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
