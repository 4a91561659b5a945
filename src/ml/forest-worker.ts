// Worker thread body for forest-parallel.ts: trains a range of trees, or predicts a range of samples.
import { parentPort } from 'node:worker_threads';
import { type BinnedData, type ForestParams, Forest, type TreeArrays, trainTrees } from './forest.js';

type Job =
  | { kind: 'train'; data: BinnedData; params: ForestParams; t0: number; t1: number }
  | { kind: 'predict'; trees: TreeArrays; nFeatures: number; nClasses: number; params: ForestParams; x: Float32Array; n: number; layout: 'feature-major' | 'sample-major' };

parentPort!.on('message', (job: Job) => {
  try {
    if (job.kind === 'train') {
      const t = trainTrees(job.data, job.params, job.t0, job.t1);
      parentPort!.postMessage({ ok: true, trees: t }, [t.roots.buffer, t.feature.buffer, t.threshold.buffer, t.child.buffer, t.leafProb.buffer, t.importance.buffer] as ArrayBuffer[]);
    } else {
      const f = new Forest(job.nFeatures, job.nClasses, job.trees, job.params);
      const out = f.predictProba(job.x, job.n, job.layout);
      parentPort!.postMessage({ ok: true, out }, [out.buffer as ArrayBuffer]);
    }
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message });
  }
});
