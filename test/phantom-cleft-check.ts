/**
 * Can a pixel classifier see the phantom's synaptic clefts? Patches around the synapse contacts of
 * a training phantom and a test phantom (one section each, the phantom block function at the
 * patch), class labels from the ground truth, the predict stage's 2-D features and a small random
 * forest trained on sampled voxels of the training patches; returns the summed cleft probability
 * and voxel count per true class on the test patches. Used by src/stages/phantom/raster.test.ts
 * and bench/phantom-raster.bench.ts (no test-framework imports).
 */
import type { Box, Vec3 } from '../src/core/box.js';
import { type ForestParams, Forest } from '../src/ml/forest.js';
import { CLASS, classLabels } from '../src/stages/classes/classes.js';
import { buildModel } from '../src/stages/phantom/model.js';
import { phantomBlock } from '../src/stages/phantom/tasks.js';
import { computeFeatures, featureConfig, featureCount } from '../src/stages/predict/features.js';

export interface CleftCheckOptions {
  size: Vec3;
  voxelSize: Vec3;
  /** Half the patch side in voxels (patches are 2*half square, one section). */
  half: number;
  /** Most patches per phantom. */
  maxPatches: number;
  trainSeed: number;
  testSeed: number;
  /** Keep every step-th voxel of class c (1..5) for training; `counts` = voxels per class in the training patches. */
  step: (c: number, counts: number[]) => number;
  forest: Partial<ForestParams>;
}

export interface CleftCheck {
  trainPatches: number;
  testPatches: number;
  samples: number;
  /** Indexed by class (0 = none, CLASS.*): summed cleft probability and voxel counts on the test patches. */
  sum: Float64Array;
  count: Float64Array;
}

export function cleftCheck(o: CleftCheckOptions): CleftCheck {
  const { size, voxelSize: vs, half: H } = o;
  const W = 2 * H;
  const cfg = featureConfig(vs);
  const F = featureCount(cfg);
  const patches = (seed: number) => {
    const params = { seed, size, voxelSize: vs };
    const m = buildModel(params);
    const out: Array<{ feat: Float32Array; cls: Uint8Array }> = [];
    for (const s of m.synapses) {
      const c = s.contact.map((v, a) => Math.floor(v / vs[a]));
      if (c[0] < H || c[1] < H || c[0] >= size[0] - H || c[1] >= size[1] - H || c[2] < 0 || c[2] >= size[2]) continue;
      const box: Box = { min: [c[0] - H, c[1] - H, c[2]], max: [c[0] + H, c[1] + H, c[2] + 1] };
      const v = phantomBlock({ box, readBox: box, inputs: {}, params, blockIndex: [0, 0, 0] } as never).volumes!;
      const cls = classLabels({ neurons: v.neurons, clefts: v.clefts, vesicles: v.vesicles, mitochondria: v.mitochondria }, box).data as Uint8Array;
      if (!cls.includes(CLASS.cleft)) continue;
      out.push({ feat: computeFeatures(Float32Array.from(v.raw.data as Uint8Array), [W, W, 1], cfg), cls });
      if (out.length >= o.maxPatches) break;
    }
    return out;
  };
  const train = patches(o.trainSeed);
  const test = patches(o.testSeed);
  const counts = [0, 0, 0, 0, 0, 0];
  for (const p of train) for (const c of p.cls) counts[c]++;
  // every k-th voxel of each class (classes 1..5 -> forest classes 0..4)
  const picks: Array<[number, number]> = [];
  const ys: number[] = [];
  const seen = [0, 0, 0, 0, 0, 0];
  train.forEach((p, k) =>
    p.cls.forEach((c, i) => {
      if (c < 1) return;
      if (seen[c]++ % o.step(c, counts) === 0) {
        picks.push([k, i]);
        ys.push(c - 1);
      }
    }),
  );
  const n = picks.length;
  const x = new Float32Array(n * F);
  picks.forEach(([k, i], s) => {
    for (let f = 0; f < F; f++) x[f * n + s] = train[k].feat[f * W * W + i];
  });
  const forest = Forest.train({ x, nSamples: n, nFeatures: F, layout: 'feature-major', y: Uint8Array.from(ys), nClasses: 5 }, o.forest);
  const sum = new Float64Array(6);
  const count = new Float64Array(6);
  for (const t of test) {
    const pr = forest.predictProba(t.feat, W * W);
    t.cls.forEach((c, i) => {
      sum[c] += pr[(CLASS.cleft - 1) * W * W + i];
      count[c]++;
    });
  }
  return { trainPatches: train.length, testPatches: test.length, samples: n, sum, count };
}
