// Two `mesh` / `skeletonize` runs finishing on one layer at once: each builds its output folder
// privately and swaps it in, so neither deletes the other's files (this used to end one run with
// ENOENT on a rename) and the result is the same as one run's.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileListing as listing, tempDir } from '../../../test/data.js';
import { boxFromShape } from '../../core/box.js';
import { Volume } from '../../core/volume.js';
import { PrecomputedLayer, makeInfo } from '../../formats/precomputed/index.js';
import { runTasks } from '../../scheduler/index.js';
import { finishMeshes, finishSkeletons, planMesh, planSkeletons } from './tasks.js';


describe('concurrent mesh / skeleton writers of one layer', () => {
  it('finish together without errors and leave the same files as one writer', async () => {
    const dir = await tempDir();
    const layerDir = path.join(dir, 'seg');
    const shape: [number, number, number] = [24, 24, 16];
    const layer = await PrecomputedLayer.create(layerDir, makeInfo({ type: 'segmentation', dtype: 'uint32', shape, voxelSize: [8, 8, 8], chunkSize: [8, 8, 8] }));
    const vol = Volume.zeros('uint32', boxFromShape(shape));
    for (let z = 2; z < 14; z++) for (let y = 2; y < 22; y++) for (let x = 2; x < 22; x++) vol.data[vol.index(x, y, z)] = x < 12 ? 5 : 9;
    await layer.writeBox(vol);
    const mesh = await planMesh(layerDir, { blockShape: [8, 8, 8] });
    const skel = await planSkeletons(layerDir, { blockShape: [8, 8, 8] });
    await runTasks([mesh], { stateDir: path.join(dir, 'state-mesh'), workers: 1, json: true });
    await runTasks([skel], { stateDir: path.join(dir, 'state-skel'), workers: 1, json: true });
    await finishMeshes(layerDir, mesh, { lods: 2 });
    await finishSkeletons(layerDir, skel);
    const meshRef = await listing(path.join(layerDir, 'mesh'));
    const skelRef = await listing(path.join(layerDir, 'skeletons'));
    expect(meshRef.size).toBeGreaterThan(2);
    for (let round = 0; round < 4; round++) {
      const results = await Promise.allSettled([
        finishMeshes(layerDir, mesh, { lods: 2 }),
        finishMeshes(layerDir, mesh, { lods: 2 }),
        finishSkeletons(layerDir, skel),
        finishSkeletons(layerDir, skel),
      ]);
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(await listing(path.join(layerDir, 'mesh'))).toEqual(meshRef);
      expect(await listing(path.join(layerDir, 'skeletons'))).toEqual(skelRef);
    }
    // no staging or set-aside folders are left behind
    expect((await fs.readdir(layerDir)).filter((n) => /\.(tmp|old)-/.test(n))).toEqual([]);
    const info = JSON.parse(await fs.readFile(path.join(layerDir, 'info'), 'utf8'));
    expect([info.mesh, info.skeletons]).toEqual(['mesh', 'skeletons']);
  });
});
