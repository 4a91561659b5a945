import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { compactLabels } from '../../kernels/components.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { iterateBlockData, readBlockData, runTasks } from '../../scheduler/index.js';
import { tempDir } from '../../../test/data.js';
import { relabel } from './agglomerate.js';
import { mergeBlockRagStream, mergeBlockRags, ragTask, relabelTask, writeSegmentMap } from './blockwise.js';
import { agglomerateRag, boundaryMaps, computeAgglomeration, computeSupervoxels, contactOf } from './pipeline.js';
import { buildRag } from './rag.js';
import { ragRecordColumns } from './rag-record.js';
import { chunkForBlock } from './tasks.js';
import { voronoiBoundaryMap } from './testing.js';

/** Voronoi cells, membranes 0.7-0.95, interiors 0-0.3 (all values distinct: no ties in the merge order). */
function cellMap(shape: Vec3, n: number, seed: number): Float32Array {
  return voronoiBoundaryMap(shape, n, seed, (r) => 0.7 + 0.25 * r());
}

describe('blockwise RAG and relabelling through the scheduler', () => {
  it('gives the whole-volume graph and segmentation, for block sizes that do and do not divide the volume', async () => {
    const shape: Vec3 = [40, 36, 14];
    const b = cellMap(shape, 12, 5);
    const dir = await tempDir();
    const vs: Vec3 = [8, 8, 8];
    const bLayer = path.join(dir, 'boundaries');
    const bl = await PrecomputedLayer.create(bLayer, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: vs, chunkSize: [8, 8, 7] }));
    await bl.writeBox(Volume.from('float32', shape, b, { voxelSize: vs }));
    const maps = boundaryMaps(Volume.from('float32', shape, b));
    const sv = computeSupervoxels(maps, { seeds: 'minima', seedSigma: 1, minSize: 4 });
    expect(sv.count).toBeGreaterThan(20);
    // supervoxel ids beyond 2^32 (as blockwise supervoxels have), written as a layer
    const big = new BigUint64Array(sv.labels.length);
    for (let i = 0; i < big.length; i++) big[i] = (BigInt(sv.labels[i] % 3) << 33n) + BigInt(sv.labels[i]);
    const svLayer = path.join(dir, 'sv');
    const sl = await PrecomputedLayer.create(svLayer, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: vs, chunkSize: [8, 8, 7] }));
    await sl.writeBox(new Volume('uint64', boxFromShape(shape), big, 1, vs));

    const whole = computeAgglomeration(sv.labels, maps);
    const wholeSeg = relabel(sv.labels, whole.map, new Uint32Array(sv.labels.length));
    // the contact value the mean agglomeration uses (blockwiseAgglomeration passes contactOf(params) to its rag task)
    const contact = contactOf({});
    const wholeRag = buildRag(sv.labels, maps.boundary, shape, { contact });
    let statsSum = 0;
    for (let e = 0; e < wholeRag.nEdges; e++) statsSum += wholeRag.area[e];

    for (const block of [[16, 16, 7], [24, 36, 14]] as Vec3[]) {
      const tag = block.join('x');
      const stateDir = path.join(dir, `state-${tag}`);
      const bounds = boxFromShape(shape);
      await runTasks([ragTask({ supervoxels: svLayer, boundaries: bLayer, bounds, blockShape: block, params: { contact } })], { stateDir, workers: 1 });
      const { rag, ids } = mergeBlockRags((await readBlockData(stateDir, 'rag')).map((d) => d.data));
      // the stream (records read one at a time, twice) merges the same graph, array for array
      const streamed = await mergeBlockRagStream(async function* () {
        for await (const r of iterateBlockData(stateDir, 'rag')) yield r.data;
      });
      expect(streamed.ids).toEqual(ids);
      for (const k of ['nodeSize', 'nodeSum', 'u', 'v', 'area', 'sum', 'sumSq', 'min', 'max', 'hist'] as const) expect(streamed.rag[k]).toEqual(rag[k]);
      // the records are typed columns (version 2); the version-1 records (JSON arrays) written before merge to the same graph
      const records = (await readBlockData(stateDir, 'rag')).map((d) => d.data);
      expect((records[0] as { format: string }).format).toBe('wiring-rag-block');
      const v1 = records.map((r) => {
        const c = ragRecordColumns(r);
        const hist: number[][] = [];
        for (let e = 0; e < c.u.length; e++) {
          const h: number[] = [];
          for (let k = c.histStart[e]; k < c.histStart[e + 1]; k++) h.push(c.histBin[k], c.histCount[k]);
          hist.push(h);
        }
        return { ids: Array.from(c.ids, (x) => x.toString()), nodeSize: Array.from(c.nodeSize), nodeSum: Array.from(c.nodeSum), u: Array.from(c.u), v: Array.from(c.v),
          area: Array.from(c.area), sum: Array.from(c.sum), sumSq: Array.from(c.sumSq), min: Array.from(c.min), max: Array.from(c.max), hist, bins: c.bins };
      });
      const fromV1 = mergeBlockRags(v1);
      expect(fromV1.ids).toEqual(ids);
      for (const k of ['nodeSize', 'nodeSum', 'u', 'v', 'area', 'sum', 'sumSq', 'min', 'max', 'hist'] as const) expect(fromV1.rag[k]).toEqual(rag[k]);
      // without histograms: the same graph but its histograms, and the same mean agglomeration (merged in place)
      const bare = mergeBlockRags(records, { histograms: false });
      expect(bare.rag.bins).toBe(0);
      expect(bare.rag.hist.length).toBe(0);
      for (const k of ['nodeSize', 'nodeSum', 'u', 'v', 'area', 'sum', 'sumSq', 'min', 'max'] as const) expect(bare.rag[k]).toEqual(rag[k]);
      const bareRes = agglomerateRag(bare.rag, {}, { inPlace: true });
      const fullRes = agglomerateRag(rag);
      expect(bareRes.tree).toEqual(fullRes.tree);
      expect(() => agglomerateRag(bare.rag, { method: 'quantile' })).toThrow(/without contact histograms/);
      // a damaged column is refused with its name
      expect(() => mergeBlockRags([{ ...(records[0] as object), area: 'AAAA' }])).toThrow(/area/);
      // records that change between its two passes are refused, not merged
      let pass = 0;
      await expect(
        mergeBlockRagStream(async function* () {
          const all = (await readBlockData(stateDir, 'rag')).map((d) => d.data);
          yield* pass++ === 0 ? all : all.slice(1);
        }),
      ).rejects.toThrow(/changed between the two passes/);
      // the same graph: nodes, edges, areas, sums, histograms
      expect(rag.nNodes).toBe(wholeRag.nNodes);
      expect(rag.nEdges).toBe(wholeRag.nEdges);
      let area = 0;
      for (let e = 0; e < rag.nEdges; e++) area += rag.area[e];
      expect(area).toBe(statsSum);
      let size = 0;
      for (let l = 1; l <= rag.nNodes; l++) size += rag.nodeSize[l];
      expect(size).toBe(shape[0] * shape[1] * shape[2]);
      // a node's statistics match the whole-volume node with the same id
      const dense = (id: bigint): number => Number(id & 0xffffffffn);
      for (let l = 1; l <= rag.nNodes; l++) {
        expect(rag.nodeSize[l]).toBe(wholeRag.nodeSize[dense(ids[l])]);
        expect(rag.nodeSum[l]).toBeCloseTo(wholeRag.nodeSum[dense(ids[l])], 9);
      }
      // edges in increasing (u, v) order, each with the statistics of the whole-volume edge between the same supervoxels
      const wholeEdge = new Map<string, number>();
      for (let e = 0; e < wholeRag.nEdges; e++) wholeEdge.set(`${wholeRag.u[e]},${wholeRag.v[e]}`, e);
      for (let e = 0; e < rag.nEdges; e++) {
        if (e > 0) expect(rag.u[e] > rag.u[e - 1] || (rag.u[e] === rag.u[e - 1] && rag.v[e] > rag.v[e - 1])).toBe(true);
        const a = dense(ids[rag.u[e]]);
        const b = dense(ids[rag.v[e]]);
        const w = wholeEdge.get(a < b ? `${a},${b}` : `${b},${a}`);
        expect(w).toBeDefined();
        expect(rag.area[e]).toBe(wholeRag.area[w!]);
        expect(rag.max[e]).toBe(wholeRag.max[w!]);
        expect(rag.sum[e]).toBeCloseTo(wholeRag.sum[w!], 9);
        expect(rag.hist.subarray(e * 32, e * 32 + 32)).toEqual(wholeRag.hist.subarray(w! * 32, w! * 32 + 32));
      }
      const res = agglomerateRag(rag);
      const mapFile = path.join(dir, `map-${tag}.bin`);
      const mapHash = await writeSegmentMap(mapFile, ids, res.map);
      const out = path.join(dir, `seg-${tag}`);
      await PrecomputedLayer.create(out, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: vs, chunkSize: chunkForBlock(block) }));
      await runTasks([relabelTask({ supervoxels: svLayer, out, mapFile, mapHash, bounds, blockShape: block })], { stateDir, workers: 1 });
      const seg = (await (await PrecomputedLayer.open(out)).readBox(bounds)).data as BigUint64Array;
      expect(res.count).toBe(whole.count);
      // the same partition (VOI 0 both ways)
      const s = evaluateSegmentation(compactLabels(seg).labels, wholeSeg);
      expect(s.voi_split).toBeLessThan(1e-12);
      expect(s.voi_merge).toBeLessThan(1e-12);
      // segment ids are the cut's segment numbers
      const segIds = new Set(Array.from(seg, (v) => Number(v)));
      expect(Math.max(...segIds)).toBe(res.count);
    }
  }, 60_000);
});
