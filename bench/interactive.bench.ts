// How useful are a few strokes? Boundary-vs-cytoplasm AUC of a forest trained from N scripted
// strokes (10, 50, 200; INTERACTIVE_STROKES) against one trained on dense labels, on held-out
// sections: the phantom (seed 21, strokes in z 0-7, scored on z 8-15) and real ssTEM
// (../shared/data/vnc-sstem stack1: membranes 0-128 vs intracellular 255, a 512x512 crop;
// strokes in sections 0-5, scored on 6-11). Also the time from strokes to a predicted
// 512x512 view (training + one section), the number #23 asks to keep under 5 s on 2 cores.
// Writes bench/out/interactive.json and docs/TRAINING-USEFULNESS.md (generated).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Box, boxFromShape } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { openSource } from '../src/formats/open.js';
import type { VolumeSource } from '../src/formats/source.js';
import { classLabels } from '../src/stages/classes/classes.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { predictBox, trainFromStrokes } from '../src/stages/predict/interactive.js';
import { scriptedStrokes } from '../src/stages/predict/interactive-testing.js';
import { rocAuc } from '../src/stages/predict/metrics.js';
import { memorySource, trainPixelClassifier } from '../src/stages/predict/training.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.WIRING_DATA ?? path.resolve(here, '../../shared/data');

interface Case {
  name: string;
  raw: VolumeSource;
  /** 1 = boundary, 2 = cytoplasm, 0 = neither */
  truth: Volume;
  train: Box;
  test: Box;
}

function auc(prob: Volume, truth: Volume): number {
  const t = truth.crop(prob.box).data as Uint8Array;
  const p = prob.data as Uint8Array;
  const n = t.length;
  const s = new Float32Array(n), y = new Uint8Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) if (t[i] === 1 || t[i] === 2) (s[m] = p[i], (y[m++] = t[i] === 1 ? 1 : 0));
  return rocAuc(s.subarray(0, m), y.subarray(0, m));
}

async function phantomCase(tmp: string): Promise<Case> {
  const dir = path.join(tmp, 'ph');
  await generatePhantom(dir, { seed: 21, size: [256, 256, 16], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [64, 64, 16], run: { workers: 1 } });
  const raw = await openSource(path.join(dir, 'raw'));
  const all = boxFromShape(raw.shape);
  const truth = classLabels({ neurons: await (await openSource(path.join(dir, 'neurons'))).read(all) }, all);
  return { name: 'phantom (seed 21, 256x256x16, 8x8x30 nm)', raw, truth, train: { min: [0, 0, 0], max: [256, 256, 8] }, test: { min: [0, 0, 8], max: [256, 256, 16] } };
}

async function vncCase(): Promise<Case | undefined> {
  const dir = path.join(DATA, 'vnc-sstem', 'stack1');
  if (!existsSync(dir)) return undefined;
  const full = await openSource(path.join(dir, 'raw'), { voxelSize: [4.6, 4.6, 45] });
  const labels = await openSource(path.join(dir, 'labels'), { voxelSize: [4.6, 4.6, 45] });
  const crop: Box = { min: [0, 0, 0], max: [512, 512, 12] };
  const rawVol = await full.read(crop);
  const lab = (await labels.read(crop)).data as Uint8Array;
  const truth = Volume.zeros('uint8', crop);
  const t = truth.data as Uint8Array;
  for (let i = 0; i < lab.length; i++) t[i] = lab[i] <= 128 ? 1 : lab[i] === 255 ? 2 : 0;
  return { name: 'vnc-sstem stack1 (real ssTEM, 512x512 crop, 4.6x4.6x45 nm)', raw: memorySource(rawVol, 'vnc-sstem'), truth, train: { min: [0, 0, 0], max: [512, 512, 6] }, test: { min: [0, 0, 6], max: [512, 512, 12] } };
}

export default async function bench(): Promise<Record<string, unknown>> {
  const counts = (process.env.INTERACTIVE_STROKES ?? '10,50,200').split(',').map(Number);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'wiring-interactive-bench-'));
  const rows: Array<Record<string, unknown>> = [];
  try {
    const cases = [await phantomCase(tmp), await vncCase()].filter((c): c is Case => c !== undefined);
    for (const c of cases) {
      const trainTruth = c.truth.crop(c.train);
      for (const n of counts) {
        const strokes = scriptedStrokes(trainTruth, [1, 2], n, 7, 1);
        const t0 = performance.now();
        const { model, labels } = await trainFromStrokes(c.raw, strokes, { trees: 32 });
        const tTrain = (performance.now() - t0) / 1000;
        const view: Box = { min: [c.test.min[0], c.test.min[1], c.test.min[2]], max: [Math.min(c.test.max[0], c.test.min[0] + 512), Math.min(c.test.max[1], c.test.min[1] + 512), c.test.min[2] + 1] };
        const t1 = performance.now();
        await predictBox(model, c.raw, view);
        const tView = (performance.now() - t1) / 1000;
        const { probabilities } = await predictBox(model, c.raw, c.test);
        const a = auc(probabilities, c.truth);
        rows.push({ case: c.name, strokes: n, labelled_voxels: labels.voxels.size, auc: +a.toFixed(4), train_s: +tTrain.toFixed(2), view_s: +tView.toFixed(2), strokes_to_view_s: +(tTrain + tView).toFixed(2) });
        console.log(`${c.name}: ${n} strokes (${labels.voxels.size} voxels) -> AUC ${a.toFixed(3)}; train ${tTrain.toFixed(2)} s + 512x512 view ${tView.toFixed(2)} s`);
      }
      // dense labels over the same training sections
      const dense = Volume.zeros('uint8', c.train);
      (dense.data as Uint8Array).set(trainTruth.data as Uint8Array);
      const t0 = performance.now();
      const { model } = await trainPixelClassifier(c.raw, memorySource(dense, 'dense'), { target: 'labels', bounds: c.train, classes: ['1', '2'], maxSamples: 60_000, forest: { nTrees: 32 }, seed: 1 });
      const tTrain = (performance.now() - t0) / 1000;
      const { probabilities } = await predictBox(model, c.raw, c.test);
      const a = auc(probabilities, c.truth);
      rows.push({ case: c.name, strokes: 'dense', labelled_voxels: (trainTruth.data as Uint8Array).filter((v) => v === 1 || v === 2).length, auc: +a.toFixed(4), train_s: +tTrain.toFixed(2) });
      console.log(`${c.name}: dense labels -> AUC ${a.toFixed(3)}`);
      await c.raw.close();
    }
    const out = { rows, machine: `${os.cpus().length} cores`, loadavg_start: os.loadavg().map((x) => +x.toFixed(2)) };
    const lines = [
      '# How useful are a few strokes?',
      '',
      `Generated by \`npm run bench interactive\` on ${new Date().toISOString().slice(0, 10)} (do not edit by hand); ${out.machine}, load average ${out.loadavg_start.join(', ')} at the start (other jobs inflate the times).`,
      'A scripted labeller (src/stages/predict/interactive-testing.ts) draws N strokes of 1-voxel-radius brush, half on membranes and half inside cells, in the training sections only; the forest (32 trees) is scored on the other sections (boundary probability vs membrane/cytoplasm truth, ROC AUC). "dense" = every voxel of the training sections labelled, 60,000 samples.',
      'Chosen on: nothing was tuned on these numbers (default features and forest); measured on: the held-out sections named in each row.',
      '',
      '| volume | strokes | labelled voxels | AUC (held-out sections) | train s | 512x512 view s | strokes to view s |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.case} | ${r.strokes} | ${r.labelled_voxels} | ${r.auc} | ${r.train_s} | ${r.view_s ?? ''} | ${r.strokes_to_view_s ?? ''} |`),
      '',
    ];
    writeFileSync(path.join(here, '..', 'docs', 'TRAINING-USEFULNESS.md'), lines.join('\n'));
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
