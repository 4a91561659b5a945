import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/data.js';
import { type Box, boxFromShape } from '../../core/box.js';
import { openSource } from '../../formats/open.js';
import { classLabels } from '../classes/classes.js';
import { generatePhantom } from '../phantom/generate.js';
import { checkStroke, predictBox, sparseLabels, strokeVoxels, trainFromStrokes } from './interactive.js';
import { scriptedStrokes } from './interactive-testing.js';
import { rocAuc } from './metrics.js';

const B: Box = boxFromShape([100, 100, 10]);

describe('strokes', () => {
  it('paints discs along segments, clipped to the volume; later strokes paint over earlier ones', () => {
    const v = strokeVoxels({ points: [[5, 5, 2], [9, 5, 2]], radius: 0, plane: 'xy' }, B);
    expect(v.map((p) => p.join(',')).sort()).toEqual(['5,5,2', '6,5,2', '7,5,2', '8,5,2', '9,5,2']);
    expect(strokeVoxels({ points: [[0, 0, 0]], radius: 1, plane: 'xy' }, B).length).toBe(3); // the disc's in-volume part
    expect(strokeVoxels({ points: [[5, 5, 5]], radius: 1, plane: 'xz' }, B).map((p) => p[1])).toEqual([5, 5, 5, 5, 5]);
    const t = new Date(0).toISOString();
    const s = sparseLabels([{ id: 1, cls: 1, points: [[1, 1, 1], [3, 1, 1]], radius: 0, plane: 'xy', user: 'a', time: t }, { id: 2, cls: 2, points: [[2, 1, 1]], radius: 0, plane: 'xy', user: 'a', time: t }], B);
    expect(s.counts).toEqual({ 1: 2, 2: 1 });
    expect(s.box).toEqual({ min: [1, 1, 1], max: [4, 2, 2] });
  });

  it('refuses bad strokes naming the field', () => {
    expect(() => checkStroke({ cls: 0, points: [[1, 1, 1]] }, B)).toThrow(/stroke.cls 0/);
    expect(() => checkStroke({ cls: 1, points: [] }, B)).toThrow(/stroke.points/);
    expect(() => checkStroke({ cls: 1, points: [[1, 1, 100]] }, B)).toThrow(/outside the volume/);
    expect(() => checkStroke({ cls: 1, points: [[1, 1, 1]], radius: 99 }, B)).toThrow(/stroke.radius/);
    expect(() => checkStroke({ cls: 1, points: [[1, 1, 1]], plane: 'zz' }, B)).toThrow(/stroke.plane/);
    expect(checkStroke({ cls: 3, points: [[1, 2, 3]] }, B)).toEqual({ cls: 3, points: [[1, 2, 3]], radius: 1, plane: 'xy' });
  });
});

describe('interactive training on the phantom', () => {
  it('40 strokes of membrane and cytoplasm train a forest that separates them in a box it never saw labelled (AUC > 0.8; chance 0.5)', async () => {
    const dir = path.join(await tempDir('wiring-interactive-'), 'ph');
    await generatePhantom(dir, { seed: 21, size: [128, 128, 16], voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [64, 64, 16], run: { workers: 1 } });
    const raw = await openSource(path.join(dir, 'raw'));
    const neurons = await openSource(path.join(dir, 'neurons'));
    const all = boxFromShape(raw.shape);
    const truth = classLabels({ neurons: await neurons.read(all) }, all);
    // strokes only in the left half; scored on the right half
    const left: Box = { min: [0, 0, 0], max: [64, 128, 16] };
    const strokes = scriptedStrokes(truth.crop(left), [1, 2], 40, 3);
    expect(strokes.length).toBe(40);
    const t0 = performance.now();
    const { model, labels, report } = await trainFromStrokes(raw, strokes, { trees: 16 });
    console.log(`train ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(report.classes).toEqual(['1', '2']);
    expect(labels.box.max[0]).toBeLessThanOrEqual(64);
    const right: Box = { min: [64, 0, 0], max: [128, 128, 16] };
    const { probabilities, uncertainty } = await predictBox(model, raw, right);
    expect(probabilities.channels).toBe(2);
    expect(uncertainty.channels).toBe(1);
    const t = truth.crop(right).data as Uint8Array;
    const n = t.length;
    const score = new Float32Array(n);
    const isBoundary = new Uint8Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (t[i] !== 1 && t[i] !== 2) continue;
      score[m] = (probabilities.data as Uint8Array)[i]; // channel 0 = class 1 (boundary)
      isBoundary[m++] = t[i] === 1 ? 1 : 0;
    }
    const auc = rocAuc(score.subarray(0, m), isBoundary.subarray(0, m));
    console.log(`interactive: 40 strokes (${labels.voxels.size} voxels) -> boundary AUC ${auc.toFixed(3)} on the unlabelled half`);
    expect(auc).toBeGreaterThan(0.8);
    await raw.close();
    await neurons.close();
    await expect(trainFromStrokes(raw, strokes.filter((s) => s.cls === 1))).rejects.toThrow(/at least two classes/);
  });
});
