// Learned agglomeration trained along its own trajectory (issue #17) against a model trained on the
// initial region graph only: trained on one phantom, measured on a phantom of another seed.
// Boundary map = the inverted, smoothed raw (no pixel classifier, to keep the test in seconds): dark
// membranes but also dark organelles, so single contact values are ambiguous and the merge order
// and grown regions matter. 2-D supervoxels (30 nm sections), contacts across sections.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { compactLabels } from '../src/kernels/components.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { agglomerate, cutTree } from '../src/stages/segment/agglomerate.js';
import { type PreparedVolume, prepareVolume, voiOfMap } from '../src/stages/segment/cross-fit.js';
import { readWhole } from '../src/stages/segment/io.js';
import { type AgglomerationTrainOptions, forestScorer, trainAgglomeration } from '../src/stages/segment/learned.js';
import { DEFAULT_SUPERVOXELS, boundaryMaps, computeSupervoxels } from '../src/stages/segment/pipeline.js';
import { tempDir } from './data.js';

const SIZE: Vec3 = [96, 96, 24];

async function phantomVolume(seed: number): Promise<PreparedVolume> {
  const dir = path.join(await tempDir('wiring-agglo-'), `ph${seed}`);
  await generatePhantom(dir, { seed, size: SIZE, voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [96, 96, 24], run: { workers: 1 } });
  const [{ vol: raw }, { vol: neurons }] = await Promise.all([readWhole(path.join(dir, 'raw')), readWhole(path.join(dir, 'neurons'))]);
  const inv = Float32Array.from(raw.data as Uint8Array, (v) => 1 - v / 255);
  const b = gaussianFilter(inv, SIZE, [1, 1, 0]);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of b) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  for (let i = 0; i < b.length; i++) b[i] = (b[i] - lo) / (hi - lo);
  const sv = computeSupervoxels(boundaryMaps(Volume.from('float32', SIZE, b)), { ...DEFAULT_SUPERVOXELS, twoD: true });
  return prepareVolume({ sv: sv.labels, boundary: b, gt: compactLabels(neurons.data as BigUint64Array).labels, shape: SIZE });
}

describe('learned agglomeration on a held-out phantom', () => {
  it('trained along its own trajectory it beats the model trained on the initial graph only', async () => {
    const train = await phantomVolume(1);
    const test = await phantomVolume(2);
    expect(test.rag.nNodes).toBeGreaterThan(200);
    const cuts = [0.4, 0.5, 0.6];
    const score = (o: AgglomerationTrainOptions): number[] => {
      const { forest } = trainAgglomeration([train], { nTrees: 20 }, {}, o);
      const tree = agglomerate(test.rag, forestScorer(forest), { rescoreNeighbourhood: true });
      return cuts.map((t) => {
        const v = voiOfMap(test.table, cutTree(tree, t).map);
        return v.split + v.merge;
      });
    };
    const initial = score({ initialOnly: true });
    const trajectory = score({ rounds: 2 });
    console.log(`VOI at cuts ${cuts}: initial graph only ${initial.map((v) => v.toFixed(3))}, trajectory (2 rounds) ${trajectory.map((v) => v.toFixed(3))}`);
    // at the uncalibrated cut 0.5 and at the best of the three cuts
    expect(trajectory[1]).toBeLessThan(initial[1] - 0.1);
    expect(Math.min(...trajectory)).toBeLessThan(Math.min(...initial) - 0.05);
  }, 180_000);
});
