import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { boxFromShape, type Vec3 } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { compactLabels } from '../../kernels/components.js';
import { evaluateSegmentation } from '../../metrics/segmentation.js';
import { readBlockData, runTasks } from '../../scheduler/index.js';
import { tempDir } from '../../../test/data.js';
import { relabel } from './agglomerate.js';
import { DEFAULT_SUPERVOXELS, boundaryMaps, computeAgglomeration, computeSupervoxels } from './pipeline.js';
import { chunkForBlock, supervoxelTask } from './tasks.js';
import { voronoiBoundaryMap } from './testing.js';

/** Voronoi cells with 1-voxel membranes (0.95) and noisy interiors. */
function cellMap(shape: Vec3, n: number, seed: number): Float32Array {
  return voronoiBoundaryMap(shape, n, seed, () => 0.95);
}

describe('blockwise supervoxels through the scheduler', () => {
  it('unique ids per block; after agglomeration close to the whole-volume result for two block sizes', async () => {
    const shape: Vec3 = [48, 40, 16];
    const b = cellMap(shape, 14, 3);
    const dir = await tempDir();
    const bLayer = path.join(dir, 'boundaries');
    const bl = await PrecomputedLayer.create(bLayer, makeInfo({ type: 'image', dtype: 'float32', shape, voxelSize: [8, 8, 8], chunkSize: [16, 16, 16] }));
    await bl.writeBox(Volume.from('float32', shape, b, { voxelSize: [8, 8, 8] }));
    const maps = boundaryMaps(Volume.from('float32', shape, b));
    const params = { ...DEFAULT_SUPERVOXELS, sampling: [8, 8, 8] as Vec3 };
    const whole = computeSupervoxels(maps, params);
    const wholeSeg = relabel(whole.labels, computeAgglomeration(whole.labels, maps).map, new Uint32Array(whole.labels.length));
    for (const block of [[16, 16, 16], [48, 40, 16]] as Vec3[]) {
      const out = path.join(dir, `sv-${block.join('x')}`);
      await PrecomputedLayer.create(out, makeInfo({ type: 'segmentation', dtype: 'uint64', shape, voxelSize: [8, 8, 8], chunkSize: chunkForBlock(block) }));
      const task = supervoxelTask({ boundaries: bLayer, out, bounds: boxFromShape(shape), blockShape: block, margin: [8, 8, 8], params: { supervoxels: params } });
      const stateDir = path.join(dir, `state-${block.join('x')}`);
      await runTasks([task], { stateDir, workers: 1 });
      const data = await readBlockData(stateDir, 'supervoxels');
      const total = data.reduce((a, d) => a + (d.data as { supervoxels: number }).supervoxels, 0);
      const ids = (await (await PrecomputedLayer.open(out)).readBox(boxFromShape(shape))).data as BigUint64Array;
      const dense = compactLabels(ids);
      expect(dense.count).toBe(total); // ids never collide between blocks
      expect(dense.labels.every((l) => l > 0)).toBe(true);
      const seg = relabel(dense.labels, computeAgglomeration(dense.labels, maps).map, new Uint32Array(dense.labels.length));
      const s = evaluateSegmentation(seg, wholeSeg);
      expect(s.voi_split + s.voi_merge).toBeLessThan(0.15);
      if (block[0] === shape[0]) expect(s.voi_split + s.voi_merge).toBeLessThan(1e-9); // one block = the whole volume
    }
  }, 60_000);
});
