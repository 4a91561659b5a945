// The compact greedy merge (typed arrays: edge lists, an edge index, a heap with lazy deletion and
// compaction, in place) against the old merge with a Map per region (test/agglomerate-maps.ts,
// the code before the change): the same merge trees, score for score, and the same merge_tree.json
// bytes, on a phantom's region graph and on gala-medulla's own supervoxels; the same edges offered
// to an oracle in the same states (training episodes); the same graph when merged in place.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../src/core/box.js';
import { Volume } from '../src/core/volume.js';
import { compactLabels } from '../src/kernels/components.js';
import { gaussianFilter } from '../src/kernels/filters.js';
import { Forest } from '../src/ml/forest.js';
import { generatePhantom } from '../src/stages/phantom/generate.js';
import { type EdgeState, type MergeTree, type Scorer, agglomerate, meanScorer, quantileScorer } from '../src/stages/segment/agglomerate.js';
import { computeEdgeFeatures } from '../src/stages/segment/edge-features.js';
import { readWhole } from '../src/stages/segment/io.js';
import { forestScorer, supervoxelBodies, trainAgglomeration } from '../src/stages/segment/learned.js';
import { DEFAULT_SUPERVOXELS, boundaryMaps, computeSupervoxels, mergeTreeJson } from '../src/stages/segment/pipeline.js';
import { type Rag, buildRag } from '../src/stages/segment/rag.js';
import { agglomerateWithMaps } from './agglomerate-maps.js';
import { dataPath, describeData, tempDir } from './data.js';

function treeHash(t: MergeTree): string {
  return createHash('sha256').update(JSON.stringify(mergeTreeJson(t, null, { method: 'x' }))).digest('hex');
}

function cloneRag(r: Rag): Rag {
  return { ...r, nodeSize: r.nodeSize.slice(), nodeSum: r.nodeSum.slice(), u: r.u.slice(), v: r.v.slice(), area: r.area.slice(), sum: r.sum.slice(), sumSq: r.sumSq.slice(), min: r.min.slice(), max: r.max.slice(), hist: r.hist.slice() };
}

/** The same bytes (a fast check for long typed arrays). */
function sameBytes(x: ArrayBufferView, y: ArrayBufferView): boolean {
  return x.byteLength === y.byteLength && Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

function expectSameTree(a: MergeTree, b: MergeTree): void {
  expect(a.count).toBe(b.count);
  expect(sameBytes(a.a, b.a)).toBe(true);
  expect(sameBytes(a.b, b.b)).toBe(true);
  expect(sameBytes(a.score, b.score)).toBe(true);
  expect(treeHash(a)).toBe(treeHash(b));
}

/** Both merges under one scorer (and options): the same tree; in place too, leaving the graph it merged. */
function compare(rag: Rag, scorer: Scorer, rescore: boolean, until = Infinity): MergeTree {
  const old = agglomerateWithMaps(rag, scorer, { rescoreNeighbourhood: rescore, until });
  const now = agglomerate(rag, scorer, { rescoreNeighbourhood: rescore, until });
  expectSameTree(now, old);
  const spent = cloneRag(rag);
  expectSameTree(agglomerate(spent, scorer, { rescoreNeighbourhood: rescore, until, inPlace: true }), old);
  return now;
}

/** An oracle-guided episode (accept = same body) in both merges: the same edges offered, with the same features, in the same order. */
function compareEpisode(rag: Rag, body: Uint32Array, scorer: Scorer, rescore: boolean): number {
  const run = (merge: typeof agglomerate): { log: number[]; feats: number[] } => {
    const log: number[] = [];
    const feats: number[] = [];
    const x = new Float32Array(34);
    merge(rag, scorer, {
      rescoreNeighbourhood: rescore,
      accept: (s: EdgeState, e: number, a: number, b: number, score: number) => {
        log.push(e, a, b, score);
        computeEdgeFeatures('rich', s, e, x);
        feats.push(...x);
        return body[a] !== 0 && body[a] === body[b];
      },
    });
    return { log, feats };
  };
  const old = run(agglomerateWithMaps);
  const now = run(agglomerate);
  expect(sameBytes(Float64Array.from(now.log), Float64Array.from(old.log))).toBe(true);
  expect(sameBytes(Float64Array.from(now.feats), Float64Array.from(old.feats))).toBe(true);
  return now.log.length / 4;
}

function smallForest(rag: Rag, body: Uint32Array): Forest {
  return trainAgglomeration([{ rag, body }], { nTrees: 4, maxDepth: 6 }, {}, { rounds: 0 }).forest;
}

describe('compact greedy merge = the merge with a Map per region', () => {
  it('on a phantom region graph (seed 11, 96x96x24, inverted raw as the boundary map)', async () => {
    const size: Vec3 = [96, 96, 24];
    const dir = path.join(await tempDir('wiring-merge-'), 'ph');
    await generatePhantom(dir, { seed: 11, size, voxelSize: [8, 8, 30], shiftedSections: 0, missingSections: 0, maxShift: 8, noise: 30 }, { chunkSize: [96, 96, 24], run: { workers: 1 } });
    const [{ vol: raw }, { vol: neurons }] = await Promise.all([readWhole(path.join(dir, 'raw')), readWhole(path.join(dir, 'neurons'))]);
    const b = gaussianFilter(Float32Array.from(raw.data as Uint8Array, (v) => 1 - v / 255), size, [1, 1, 0]);
    const sv = computeSupervoxels(boundaryMaps(Volume.from('float32', size, b)), { ...DEFAULT_SUPERVOXELS, twoD: true });
    const rag = buildRag(sv.labels, b, size);
    expect(rag.nEdges).toBeGreaterThan(1000);
    const mean = compare(rag, meanScorer, false);
    expect(mean.count).toBe(rag.nNodes - 1);
    compare(rag, quantileScorer(0.5), false, 0.6);
    const body = supervoxelBodies(sv.labels, compactLabels(neurons.data as BigUint64Array).labels, rag.nNodes);
    const forest = smallForest(rag, body);
    compare(rag, forestScorer(forest), true);
    expect(compareEpisode(rag, body, meanScorer, false)).toBeGreaterThan(rag.nNodes / 2);
    compareEpisode(rag, body, forestScorer(forest), true);
  }, 120_000);

  it('keeps the first edge of equal scores and refuses a graph with two edges between one pair', () => {
    // a 4-cycle with equal scores: ties go to the smaller edge id in both merges
    const rag: Rag = {
      nNodes: 4, nodeSize: new Float64Array([0, 1, 1, 1, 1]), nodeSum: new Float64Array(5), nEdges: 4,
      u: Uint32Array.of(1, 1, 2, 3), v: Uint32Array.of(2, 3, 4, 4),
      area: Float64Array.of(1, 1, 1, 1), sum: Float64Array.of(0.5, 0.5, 0.5, 0.5), sumSq: new Float64Array(4),
      min: new Float32Array(4), max: new Float32Array(4), bins: 2, hist: new Float32Array(8),
    };
    compare(rag, meanScorer, false);
    compare(rag, meanScorer, true);
    expect(() => agglomerate({ ...rag, v: Uint32Array.of(2, 2, 4, 4) })).toThrow(/two edges/);
    expect(() => agglomerate({ ...rag, v: Uint32Array.of(2, 3, 4, 3) })).toThrow(/two different nodes/);
  });
});

describeData('gala-medulla', 'compact greedy merge on gala-medulla (train-ws supervoxels, p1 boundaries)', () => {
  it('gives the old merge trees (mean, quantile, learned) and the same merge_tree.json', async () => {
    const [{ vol: ws }, { vol: p1 }, { vol: gt }] = await Promise.all([
      readWhole(`${dataPath('gala-medulla', 'train-ws.h5')}#stack`),
      readWhole(`${dataPath('gala-medulla', 'train-p1.h5')}#stack`),
      readWhole(`${dataPath('gala-medulla', 'train-gt.h5')}#stack`),
    ]);
    const maps = boundaryMaps(p1);
    const gtl = compactLabels(gt.data as Int32Array).labels;
    // gala's own watershed (203 supervoxels) and an over-segmentation of ours on p1 (minima seeds: thousands)
    const ours = computeSupervoxels(maps, { seeds: 'minima', seedSigma: 1, minSize: 4 });
    for (const sv of [compactLabels(ws.data as Int32Array), { ...ours, ids: null }]) {
      const rag = buildRag(sv.labels, maps.boundary, maps.shape);
      expect(rag.nNodes).toBeGreaterThan(200);
      const mean = compare(rag, meanScorer, false);
      // the merge_tree.json text (original ids) is the same too
      const old = agglomerateWithMaps(rag, meanScorer);
      expect(JSON.stringify(mergeTreeJson(mean, sv.ids, { method: 'mean' }))).toBe(JSON.stringify(mergeTreeJson(old, sv.ids, { method: 'mean' })));
      compare(rag, quantileScorer(0.5), false);
      // learned (a forest call per rescored edge: the smaller graph only, to stay in seconds)
      if (rag.nNodes < 1000) compare(rag, forestScorer(smallForest(rag, supervoxelBodies(sv.labels, gtl, rag.nNodes))), true);
    }
    expect(ours.count).toBeGreaterThan(4000);
  }, 120_000);
});
