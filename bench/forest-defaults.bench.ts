// `wiring train-pixels`'s forest size (PIXEL_TRAINING_DEFAULTS trees / maxDepth): today's defaults
// against a depth-limited candidate on the held-out splits of docs/ACCURACY.md, one run, same samples
// and seeds for both, each forest's held-out AUC, training and prediction CPU seconds side by side.
//  - ISBI 2012 slices 0-9 -> 10-14 (one forest; DEFAULTS_TUNED=1 adds the tuned model: auto-context,
//    sigmas + 10), vnc-sstem stack1 (central 512x512) -> ISBI 10-14: membrane AUC over all pixels;
//  - gala-medulla 3-D (--gt boundaries; train z 0-24, test z 25-49): boundary AUC over labelled voxels;
//    gala-x (DEFAULTS_PARTS): the same, train x 0-99, test x 100-199 (the seg-chain bench's gala-x split).
// Unsmoothed maps (the forests are what differ; output smoothing comes after). The reference
// (scikit-learn) is not run: both sides are ours, and the accuracy bench keeps the reference rows.
// Environment: DEFAULTS_CONFIGS (trees:depth list, depth 0 = unlimited; default "100:0,32:12"),
// DEFAULTS_SAMPLES (60000, the accuracy bench's boundary rows), DEFAULTS_PARTS (isbi,vnc,gala; also gala-x), DEFAULTS_TUNED.
import { loadavg } from 'node:os';
import { box } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { featureConfig } from '../src/stages/predict/features.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import type { PixelModel } from '../src/stages/predict/model.js';
import { predictVolume } from '../src/stages/predict/predict.js';
import { classesFromSegmentation, memorySource, trainPixelClassifier } from '../src/stages/predict/training.js';
import { hasData, mapLabels, predictSections, readAll, sections, DATA } from './accuracy-data.js';
import { cpu, cpuAsync } from './cpu.js';

const CONFIGS = (process.env.DEFAULTS_CONFIGS ?? '100:0,32:12').split(',').map((s) => s.split(':').map(Number) as [number, number]);
const SAMPLES = Number(process.env.DEFAULTS_SAMPLES ?? 60000);
const PARTS = (process.env.DEFAULTS_PARTS ?? 'isbi,vnc,gala').split(',');
const TUNED = process.env.DEFAULTS_TUNED === '1';
const round = (v: number, d = 4): number => +v.toPrecision(d);

async function train(raw: Volume, labels: Volume, trees: number, depth: number, o: { gt?: boolean; autoContext?: boolean; sigmas?: number[]; bounds?: ReturnType<typeof box> } = {}): Promise<[PixelModel, number]> {
  const [r, s] = await cpuAsync(() => trainPixelClassifier(memorySource(raw, 'raw'), memorySource(labels, 'labels'), {
    target: o.gt ? 'gt' : 'labels',
    ...(o.gt ? {} : { classes: ['1', '2'] }),
    ...(o.bounds ? { bounds: o.bounds } : {}),
    maxSamples: SAMPLES,
    forest: { nTrees: trees, seed: 0, ...(depth > 0 ? { maxDepth: depth } : {}) },
    seed: 0,
    threads: 2,
    autoContext: o.autoContext,
    outputSigma: 0,
    crossFit: false,
    featureConfig: featureConfig(raw.voxelSize, { dims: o.gt ? 3 : 2, ...(o.sigmas ? { sigmas: o.sigmas } : {}) }),
  }));
  return [r.model, s];
}

export default async function run(): Promise<Record<string, unknown>> {
  const rows: Record<string, unknown>[] = [];
  const push = (r: Record<string, unknown>): void => {
    rows.push(r);
    console.log(JSON.stringify(r));
  };
  const isbiOk = hasData('isbi2012');
  const iraw = isbiOk ? await readAll(`${DATA}/isbi2012/train/image`, [4, 4, 50]) : undefined;
  const ilab = isbiOk ? await readAll(`${DATA}/isbi2012/train/label`, [4, 4, 50]) : undefined;
  const icls = ilab ? mapLabels(ilab, { 0: 1, 255: 2 }) : undefined;
  const test = iraw ? sections(iraw, 10, 15) : undefined;
  const truth = ilab ? Uint8Array.from(sections(ilab, 10, 15).data as Uint8Array, (v) => (v === 0 ? 1 : 0)) : undefined;
  const scoreIsbi = (m: PixelModel): [number, number] => {
    const [p, s] = cpu(() => predictSections(m, test!, [0])[0]);
    return [rocAuc(p, truth!), s];
  };
  for (const [trees, depth] of CONFIGS) {
    const cfg = { trees, max_depth: depth || 'unlimited', samples: SAMPLES };
    if (!isbiOk) console.log(`[skip] ${DATA}/isbi2012 not found`);
    else {
      if (PARTS.includes('isbi')) {
        const [m, ts] = await train(sections(iraw!, 0, 10), sections(icls!, 0, 10), trees, depth);
        const [auc, ps] = scoreIsbi(m);
        push({ ...cfg, model: 'one forest', chosen_on: 'ISBI 2012 slices 0-9', measured_on: 'ISBI 2012 slices 10-14 (same stack)', membrane_auc: round(auc), nodes: m.forest.nNodes, train_cpu_s: round(ts, 3), predict_cpu_s: round(ps, 3) });
        if (TUNED) {
          const [mt, tt] = await train(sections(iraw!, 0, 10), sections(icls!, 0, 10), trees, depth, { autoContext: true, sigmas: [0.7, 1.6, 3.5, 5, 10] });
          const [a2, p2] = scoreIsbi(mt);
          push({ ...cfg, model: 'tuned (auto-context, sigmas + 10)', chosen_on: 'ISBI 2012 slices 0-9', measured_on: 'ISBI 2012 slices 10-14 (same stack)', membrane_auc: round(a2), train_cpu_s: round(tt, 3), predict_cpu_s: round(p2, 3) });
        }
      }
      if (PARTS.includes('vnc') && hasData('vnc-sstem')) {
        const crop = async (spec: string): Promise<Volume> => {
          const v = await readAll(spec, [4.6, 4.6, 50]);
          const c = v.crop(box([256, 256, 0], [768, 768, v.shape[2]]));
          return new Volume(c.dtype, box([0, 0, 0], c.shape), c.data, 1, v.voxelSize);
        };
        const vraw = await crop(`${DATA}/vnc-sstem/stack1/raw`);
        const vcls = mapLabels(await crop(`${DATA}/vnc-sstem/stack1/labels`), { 0: 1, 32: 1, 64: 1, 96: 1, 128: 1, 159: 2, 191: 2, 223: 2, 255: 2 });
        const [m, ts] = await train(vraw, vcls, trees, depth);
        const [auc, ps] = scoreIsbi(m);
        push({ ...cfg, model: 'one forest', chosen_on: 'vnc-sstem stack1 (central 512x512)', measured_on: 'ISBI 2012 slices 10-14 (another volume)', membrane_auc: round(auc), nodes: m.forest.nNodes, train_cpu_s: round(ts, 3), predict_cpu_s: round(ps, 3) });
      }
    }
    if (PARTS.includes('gala-x') && hasData('gala-medulla')) {
      // the seg-chain bench's gala-x split: train x 0-99, test x 100-199 (boundary AUC over labelled voxels)
      const raw = await readAll(`${DATA}/gala-medulla/train-image.h5#stack`, [10, 10, 10]);
      const seg = await readAll(`${DATA}/gala-medulla/train-gt.h5#stack`, [10, 10, 10]);
      const [sx, sy, sz] = raw.shape;
      const [m, ts] = await train(raw, seg, trees, depth, { gt: true, bounds: box([0, 0, 0], [100, sy, sz]) });
      const testBox = box([100, 0, 0], [Math.min(200, sx), sy, sz]);
      const [p, ps] = cpu(() => predictVolume(m, raw, { box: testBox }));
      const cls = classesFromSegmentation(seg, 3);
      const tx = testBox.max[0] - testBox.min[0];
      const truthG = new Uint8Array(tx * sy * sz);
      for (let z = 0, i = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 100; x < 100 + tx; x++, i++) {
        const c = cls[x + sx * (y + sy * z)];
        truthG[i] = c < 0 ? 255 : c === 1 ? 1 : 0;
      }
      const map = (p.data as Float32Array).subarray(0, tx * sy * sz);
      push({ ...cfg, model: 'one forest, 3-D features', chosen_on: 'gala-medulla x 0-99', measured_on: `gala-medulla x 100-${99 + tx} (same volume)`, boundary_auc: round(rocAuc(map, truthG)), nodes: m.forest.nNodes, train_cpu_s: round(ts, 3), predict_cpu_s: round(ps, 3) });
    }
    if (PARTS.includes('gala') && hasData('gala-medulla')) {
      const raw = await readAll(`${DATA}/gala-medulla/train-image.h5#stack`, [10, 10, 10]);
      const seg = await readAll(`${DATA}/gala-medulla/train-gt.h5#stack`, [10, 10, 10]);
      const [sx, sy, sz] = raw.shape;
      const half = Math.floor(sz / 2);
      const [m, ts] = await train(raw, seg, trees, depth, { gt: true, bounds: box([0, 0, 0], [sx, sy, half]) });
      const testBox = box([0, 0, half], [sx, sy, sz]);
      const [p, ps] = cpu(() => predictVolume(m, raw, { box: testBox }));
      const cls = classesFromSegmentation(seg, 3).subarray(sx * sy * half);
      const truthG = Uint8Array.from(cls, (c) => (c < 0 ? 255 : c === 1 ? 1 : 0));
      const map = (p.data as Float32Array).subarray(0, sx * sy * (sz - half));
      push({ ...cfg, model: 'one forest, 3-D features', chosen_on: `gala-medulla z 0-${half - 1}`, measured_on: `gala-medulla z ${half}-${sz - 1} (same volume)`, boundary_auc: round(rocAuc(map, truthG)), nodes: m.forest.nNodes, train_cpu_s: round(ts, 3), predict_cpu_s: round(ps, 3) });
    }
  }
  return { samples: SAMPLES, configs: CONFIGS, load_average: loadavg(), rows };
}
